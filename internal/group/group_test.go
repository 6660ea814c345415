package group

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestGroupLimitsAndCollects(t *testing.T) {
	t.Parallel()
	var now, peak atomic.Int32
	err := Each(20, 3, func(i int) error {
		n := now.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(5 * time.Millisecond)
		now.Add(-1)
		if i%7 == 0 {
			return errors.New("boom")
		}
		return nil
	})
	if p := peak.Load(); p > 3 || p < 2 {
		t.Errorf("peak concurrency %d; want at most 3 (and more than 1)", p)
	}
	var j interface{ Unwrap() []error }
	if !errors.As(err, &j) || len(j.Unwrap()) != 3 {
		t.Errorf("errors %v; want all three (0, 7, 14)", err)
	}
	if err := New(0).Wait(); err != nil {
		t.Errorf("empty group: %v", err)
	}
}

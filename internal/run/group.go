package run

import (
	"errors"
	"sync"
)

// group runs functions concurrently, at most limit at once (0: no limit),
// and collects every error: a run reports all its failures, where
// errgroup would keep only the first.
type group struct {
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
	sem  chan struct{}
}

func newGroup(limit int) *group {
	g := &group{}
	if limit > 0 {
		g.sem = make(chan struct{}, limit)
	}
	return g
}

// Go runs f in its own goroutine, waiting first for a free slot.
func (g *group) Go(f func() error) {
	g.wg.Add(1)
	if g.sem != nil {
		g.sem <- struct{}{}
	}
	go func() {
		defer g.wg.Done()
		if g.sem != nil {
			defer func() { <-g.sem }()
		}
		if err := f(); err != nil {
			g.mu.Lock()
			g.errs = append(g.errs, err)
			g.mu.Unlock()
		}
	}()
}

// Wait waits for every function and joins their errors.
func (g *group) Wait() error {
	g.wg.Wait()
	return errors.Join(g.errs...)
}

// Package group runs functions concurrently, at most a limit at once, and
// collects every error: a run reports all its failures, where errgroup
// would keep only the first. It is the one concurrency helper of the
// action.
package group

import (
	"errors"
	"sync"
)

// Group is a set of functions running at once; the zero Group has no
// limit.
type Group struct {
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
	sem  chan struct{}
}

// New returns a Group that runs at most limit functions at once (0: no
// limit).
func New(limit int) *Group {
	g := &Group{}
	if limit > 0 {
		g.sem = make(chan struct{}, limit)
	}
	return g
}

// Go runs f in its own goroutine, waiting first for a free slot.
func (g *Group) Go(f func() error) {
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

// Wait waits for every function and joins their errors, in the order they
// happened.
func (g *Group) Wait() error {
	g.wg.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	return errors.Join(g.errs...)
}

// Each runs f(0) … f(n-1), limit at a time, and joins their errors.
func Each(n, limit int, f func(i int) error) error {
	g := New(limit)
	for i := range n {
		g.Go(func() error { return f(i) })
	}
	return g.Wait()
}

package testenv

import (
	"sync"
	"testing"
)

var (
	loadedMu sync.Mutex
	loaded   = map[string]*loadedFile{}
)

type loadedFile struct {
	once sync.Once
	v    any
	err  error
}

// LoadOnce returns load(file), called once per process and file (a
// description or schema every test shares); an error fails t.
func LoadOnce[T any](t testing.TB, what, file string, load func(string) (T, error)) T {
	t.Helper()
	loadedMu.Lock()
	l := loaded[what+"\x00"+file]
	if l == nil {
		l = &loadedFile{}
		loaded[what+"\x00"+file] = l
	}
	loadedMu.Unlock()
	l.once.Do(func() { l.v, l.err = load(file) })
	if l.err != nil {
		t.Fatalf("%s: %v", what, l.err)
	}
	return l.v.(T)
}

// Command preview-access is the GitHub Action and its CLI. main only builds
// a signal-aware context and hands over to run.Main: one exit path.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/preview-access/preview-access/internal/run"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run.Main(ctx, run.Env{
		Args:     os.Args[1:],
		Getenv:   os.Getenv,
		Environ:  os.Environ,
		Stdout:   os.Stdout,
		Stderr:   os.Stderr,
		Terminal: isTerminal(os.Stdout),
		Version:  version,
	})
	stop()
	os.Exit(code)
}

// isTerminal reports whether f is a character device (a terminal), without
// a dependency for it.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

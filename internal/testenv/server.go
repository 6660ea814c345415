package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a program a test started that serves on a 127.0.0.1 port of
// its own until the test ends. Its output (stdout and stderr together) is
// kept, and shown when the test fails.
type Server struct {
	Name string
	Addr string // 127.0.0.1:PORT

	cmd   *exec.Cmd
	out   *syncBuffer
	done  chan struct{} // closed once the program has exited
	err   error         // why it exited; read only after done
	ready bool          // it answered: a failing test shows its output
}

// ServerSpec says how to run a server and how to tell it is ready.
type ServerSpec struct {
	Name string
	// Command builds the command that serves on addr (127.0.0.1:PORT).
	Command func(addr string) *exec.Cmd
	// Ready reports whether the server at addr answers; nil means it
	// accepts TCP connections.
	Ready func(addr string) error
	// Addr, when set, is where the server must listen (127.0.0.1:PORT),
	// e.g. an address another server was told of before this one started;
	// it is not moved to another port.
	Addr string
}

const (
	startAttempts = 3
	readyTimeout  = 30 * time.Second
	stopTimeout   = 5 * time.Second
)

// StartServer runs spec's command on a free 127.0.0.1 port and waits until
// it is ready; it is stopped when the test ends. A port is picked, then
// bound by the program a moment later, and another process can take it in
// between: a program that exits before it is ready is started again on
// another port, a few times.
func StartServer(t testing.TB, spec ServerSpec) *Server {
	t.Helper()
	var outputs []string
	for attempt := 1; attempt <= startAttempts; attempt++ {
		s, err := startOnce(t, spec)
		if err == nil {
			return s
		}
		outputs = append(outputs, fmt.Sprintf("attempt %d: %v\n%s", attempt, err, s.Output()))
		if !s.exited() || spec.Addr != "" {
			break // alive but not answering, or its port is fixed: another port would not help
		}
	}
	t.Fatalf("could not start %s:\n%s", spec.Name, strings.Join(outputs, "\n"))
	return nil
}

func startOnce(t testing.TB, spec ServerSpec) (*Server, error) {
	t.Helper()
	addr := spec.Addr
	if addr == "" {
		addr = FreeAddr(t)
	}
	s := &Server{Name: spec.Name, Addr: addr, cmd: spec.Command(addr), out: &syncBuffer{}, done: make(chan struct{})}
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", spec.Name, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	// Cleanups run last first: the output is shown after the server
	// stopped, with whatever it printed on the way out.
	t.Cleanup(func() {
		if s.ready && t.Failed() {
			t.Logf("%s (%s) output:\n%s", s.Name, s.Addr, s.Output())
		}
	})
	t.Cleanup(s.stop)
	ready := spec.Ready
	if ready == nil {
		ready = dials
	}
	deadline := time.Now().Add(readyTimeout)
	for {
		err := ready(addr)
		if err == nil {
			s.ready = true
			return s, nil
		}
		if s.exited() {
			return s, fmt.Errorf("%s exited before it was ready: %v", spec.Name, s.err)
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("%s did not get ready within %s: %v", spec.Name, readyTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// FreePort is a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeAddr is 127.0.0.1:PORT with a port that was free a moment ago, for a
// server whose address must be known before it starts (ServerSpec.Addr).
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}

func dials(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err
}

// URL is the server's base URL, http://127.0.0.1:PORT.
func (s *Server) URL() string { return "http://" + s.Addr }

// Output is everything the server printed so far.
func (s *Server) Output() string { return s.out.String() }

func (s *Server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// stop asks the server to shut down (SIGTERM) and kills it if it is still
// running after stopTimeout.
func (s *Server) stop() {
	if s.exited() {
		return
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.cmd.Process.Kill()
	}
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// syncBuffer is a bytes.Buffer that a server's output can be written to
// while a test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// childEnv is the environment of a server the tests start: only what
// finding programs needs, plus vars. The test process's own environment
// holds the OPA's admin token (EnvOPAToken), which no server may inherit.
func childEnv(vars ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH")}, vars...)
}

package apply

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"golang.org/x/time/rate"
)

// fakeIAM answers IAM's query protocol: DeleteRole and GetRole succeed
// after hold (or when release is closed), except that the roles in
// throttle are refused with Throttling on their first attempt.
type fakeIAM struct {
	mu        sync.Mutex
	now, peak int // DeleteRole requests in flight
	log       []string
	throttle  map[string]bool
	hold      time.Duration
	release   chan struct{}
	seen      chan string
}

func (f *fakeIAM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	action, role := r.Form.Get("Action"), r.Form.Get("RoleName")
	f.mu.Lock()
	f.log = append(f.log, action+" "+role)
	throttled := action == "DeleteRole" && f.throttle[role]
	delete(f.throttle, role)
	if action == "DeleteRole" {
		f.now++
		f.peak = max(f.peak, f.now)
	}
	f.mu.Unlock()
	if f.seen != nil {
		f.seen <- role
	}
	if f.release != nil {
		<-f.release
	}
	time.Sleep(f.hold)
	f.mu.Lock()
	if action == "DeleteRole" {
		f.now--
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	if throttled {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>`))
		return
	}
	w.Write([]byte(`<` + action + `Response><` + action + `Result></` + action + `Result><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></` + action + `Response>`))
}

func client(t *testing.T, f *fakeIAM, gate *WriteGate, backoff time.Duration) *iam.Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	if u, _ := url.Parse(srv.URL); u.Hostname() != "127.0.0.1" {
		t.Fatalf("test server on %s", u.Hostname())
	}
	return iam.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 3
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return backoff, nil })
			})
		},
	}, gate.Option())
}

func deleteRole(ctx context.Context, c *iam.Client, name string) error {
	_, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(name)})
	return err
}

// The gate bounds the writes in flight; reads pass it.
func TestWriteGateBoundsWrites(t *testing.T) {
	t.Parallel()
	f := &fakeIAM{hold: 5 * time.Millisecond}
	c := client(t, f, NewWriteGate(3), 0)
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := deleteRole(context.Background(), c, strconv.Itoa(i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if f.peak != 3 || len(f.log) != 30 {
		t.Errorf("peak %d of %d writes; want 3 of 30", f.peak, len(f.log))
	}
	if !IsWrite("DeleteRole") || IsWrite("GetRole") || IsWrite("ListRoles") || IsWrite("") {
		t.Error("IsWrite misjudges IAM's operations")
	}
}

// A write the SDK backs off from (a throttle) gives its slot up while it
// waits: another write goes through in the meantime.
func TestWriteGateIsFreeDuringBackoff(t *testing.T) {
	t.Parallel()
	f := &fakeIAM{throttle: map[string]bool{"a": true}, seen: make(chan string, 10)}
	c := client(t, f, NewWriteGate(1), 300*time.Millisecond)
	done := make(chan string, 2)
	go func() {
		if err := deleteRole(context.Background(), c, "a"); err != nil {
			t.Error(err)
		}
		done <- "a"
	}()
	if got := <-f.seen; got != "a" {
		t.Fatalf("first request for %q", got)
	}
	go func() {
		if err := deleteRole(context.Background(), c, "b"); err != nil {
			t.Error(err)
		}
		done <- "b"
	}()
	first, second := <-done, <-done
	f.mu.Lock()
	defer f.mu.Unlock()
	if want := []string{"DeleteRole a", "DeleteRole b", "DeleteRole a"}; first != "b" || second != "a" || !slices.Equal(f.log, want) {
		t.Errorf("finished %s then %s, requests %v; want b to pass while a backs off: %v", first, second, f.log, want)
	}
}

// A write whose deadline passes while it waits for a slot gets the
// context's error and is never sent.
func TestWriteGateHonoursTheDeadline(t *testing.T) {
	t.Parallel()
	f := &fakeIAM{release: make(chan struct{}), seen: make(chan string, 10)}
	c := client(t, f, NewWriteGate(1), 0)
	go deleteRole(context.Background(), c, "holder")
	<-f.seen
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := deleteRole(ctx, c, "late")
	close(f.release)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("DeleteRole while the gate is full = %v; want the deadline", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if slices.Contains(f.log, "DeleteRole late") {
		t.Error("the late call reached IAM")
	}
}

// The pacer leaves writes unpaced until a throttle, then holds them at
// the rate that succeeded in the last window, probes 1 % higher each
// second without a throttle, and does not compound throttles that come
// together (the adaptive retryer's cuts do).
func TestPacerHoldsTheAdmittedRate(t *testing.T) {
	t.Parallel()
	throttle := &smithyError{code: "Throttling"}
	p := newPacer()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

	// 40 writes in 4 s succeed: unpaced.
	for i := range 40 {
		p.done(at(i*100), nil)
	}
	if p.limit() != rate.Inf {
		t.Fatalf("limit %v before any throttle; want unpaced", p.limit())
	}
	// A throttle at 4 s: 30 successes in the last 3 s → 10 a second.
	p.done(at(4000), throttle)
	if got := float64(p.limit()); got < 9.99 || got > 10.01 {
		t.Fatalf("limit after a throttle %v; want 10 (the admitted rate)", got)
	}
	// A second throttle right after measures the same window again: the
	// rate stays (within one write of it), it is not cut again.
	p.done(at(4010), throttle)
	again := float64(p.limit())
	if again < 9.6 || again > 10.01 {
		t.Errorf("limit after two throttles at once %v; want about 10 still", again)
	}
	// A second later without a throttle: 1 % more.
	p.done(at(5100), nil)
	if got := float64(p.limit()); got < again*1.0099 || got > again*1.0101 {
		t.Errorf("limit after a quiet second %v; want 1 %% over %v", got, again)
	}
	// A throttle on the first writes, with nothing measured, paces nothing.
	q := newPacer()
	q.done(at(0), nil)
	q.done(at(10), throttle)
	if q.limit() != rate.Inf {
		t.Errorf("limit after a throttle with 1 success %v; want unpaced", q.limit())
	}
}

// smithyError is an API error with a code, as the SDK returns them.
type smithyError struct{ code string }

func (e *smithyError) Error() string                 { return e.code }
func (e *smithyError) ErrorCode() string             { return e.code }
func (e *smithyError) ErrorMessage() string          { return e.code }
func (e *smithyError) ErrorFault() smithy.ErrorFault { return smithy.FaultClient }

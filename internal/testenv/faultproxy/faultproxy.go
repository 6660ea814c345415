// Package faultproxy is a reverse proxy for tests that sits between a real
// AWS SDK client and moto, counts the IAM and STS calls that pass, and makes
// chosen calls fail the way AWS does: throttling, 5xx errors, connection
// resets, calls that hang, and a write rate limit.
//
// IAM and STS speak the AWS Query protocol: every call is a form-encoded POST
// whose "Action" field names the operation (CreateRole, GetRole, …). The
// proxy keys everything on that name. Requests without one (moto's own
// /moto-api/ endpoints) are forwarded untouched and not counted.
//
// Faults are queued per action and consumed in order, one per call: after
// Throttle("CreateRole", 2) and Fail("CreateRole", 1, 503), the next two
// CreateRole calls are throttled, the third gets a 503 and the fourth reaches
// moto. The action "*" matches calls that have no queued fault of their own.
//
// All methods are safe for concurrent use, including while calls are in
// flight.
package faultproxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Any as an action matches every call that has no fault queued for its own
// action.
const Any = "*"

// maxBody bounds how much of a request body is read to find its action; IAM
// documents are at most a few KiB, so a bigger body is a test bug.
const maxBody = 1 << 20

type kind int

const (
	throttle kind = iota
	fail
	reset
	hang
	hangAfter
	respond
)

type fault struct {
	kind   kind
	n      int // calls left
	status int
	d      time.Duration
	code   string // FailWith: the AWS error code; "" derives it from status
	body   string // Respond: the answer's body
}

// Proxy is a running fault-injecting proxy. Create it with New.
type Proxy struct {
	srv       *httptest.Server
	rp        *httputil.ReverseProxy
	transport *http.Transport
	done      chan struct{} // closed by Close: ends hangs and latency early
	closeOnce sync.Once

	mu      sync.Mutex
	counts  map[string]int
	faults  map[string][]*fault
	latency time.Duration
	limit   *bucket
	hook    func(action string)
}

// New starts a proxy on 127.0.0.1 in front of target (e.g. testenv.MotoURL(t))
// and stops it when the test ends.
func New(t testing.TB, target string) *Proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" || u.Host == "" {
		t.Fatalf("faultproxy: target %q is not an absolute URL", target)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	p := &Proxy{
		transport: tr,
		done:      make(chan struct{}),
		counts:    map[string]int{},
		faults:    map[string][]*fault{},
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			// The SDK signed the Host it sent to; keep it so the signature
			// still matches should the backend check it.
			pr.Out.Host = pr.In.Host
		},
		Transport: tr,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// Mostly the client giving up mid-call; nobody reads this then.
			http.Error(w, "faultproxy: "+err.Error(), http.StatusBadGateway)
		},
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Close)
	return p
}

// URL is the proxy's base URL, to use as the SDK's BaseEndpoint.
func (p *Proxy) URL() string { return p.srv.URL }

// Close stops the proxy; calls still sleeping in Hang or SetLatency end at
// once. New arranges for Close at the end of the test; calling it earlier is
// fine.
func (p *Proxy) Close() {
	p.closeOnce.Do(func() {
		close(p.done)
		p.srv.Close()
		p.transport.CloseIdleConnections()
	})
}

// Counts is how many calls of each action the proxy received since New or
// Reset, including those it answered with a fault.
func (p *Proxy) Counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.counts)
}

// Count is Counts()[action].
func (p *Proxy) Count(action string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[action]
}

// Writes is how many received calls were writes: every action except Get*
// and List*.
func (p *Proxy) Writes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for a, c := range p.counts {
		if IsWrite(a) {
			n += c
		}
	}
	return n
}

// IsWrite reports whether the proxy counts action as a write.
func IsWrite(action string) bool {
	return !strings.HasPrefix(action, "Get") && !strings.HasPrefix(action, "List")
}

// Reset sets all counts to zero. Faults, latency, limit and hook stay.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.counts)
}

// ClearFaults drops every queued fault, the latency and the write limit.
func (p *Proxy) ClearFaults() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.faults)
	p.latency = 0
	p.limit = nil
}

// SetLatency delays every call by d before it is answered or forwarded; 0
// turns it off.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
}

// Throttle answers the next n calls of action with HTTP 400 and the error
// code Throttling, which the SDK's retryers treat as throttling.
func (p *Proxy) Throttle(action string, n int) { p.add(action, &fault{kind: throttle, n: n}) }

// Fail answers the next n calls of action with status: 503 as
// ServiceUnavailable, other 5xx as InternalFailure, 403 as AccessDenied and
// other 4xx as ValidationError.
func (p *Proxy) Fail(action string, n, status int) {
	p.add(action, &fault{kind: fail, n: n, status: status})
}

// FailWith answers the next n calls of action with status and an AWS error
// of the given code and message, such as 409 LimitExceeded or 400
// MalformedPolicyDocument: errors the SDK does not retry.
func (p *Proxy) FailWith(action string, n, status int, code, message string) {
	p.add(action, &fault{kind: fail, n: n, status: status, code: code, body: message})
}

// Respond answers the next n calls of action with 200 and the given Query
// protocol XML body instead of forwarding them, for answers moto cannot be
// brought to give (a full role quota, say).
func (p *Proxy) Respond(action string, n int, body string) {
	p.add(action, &fault{kind: respond, n: n, body: body})
}

// ResetConnection answers the next n calls of action by resetting the TCP
// connection after the request was read.
func (p *Proxy) ResetConnection(action string, n int) {
	p.add(action, &fault{kind: reset, n: n})
}

// Hang holds the next n calls of action for d before forwarding them. A
// client that gives up first (a context deadline) gets an error and the call
// never reaches the backend.
func (p *Proxy) Hang(action string, n int, d time.Duration) {
	p.add(action, &fault{kind: hang, n: n, d: d})
}

// HangAfter forwards the next n calls of action at once but holds the answer
// for d: a client that gives up first gets an error although the call took
// effect, as when a response is lost.
func (p *Proxy) HangAfter(action string, n int, d time.Duration) {
	p.add(action, &fault{kind: hangAfter, n: n, d: d})
}

// LimitWrites throttles writes (see IsWrite) beyond perSecond calls a second,
// with bursts of up to one second's worth, like IAM's own rate limit; 0 or
// less turns it off. Queued faults take precedence and use no capacity.
func (p *Proxy) LimitWrites(perSecond float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if perSecond <= 0 {
		p.limit = nil
		return
	}
	p.limit = newBucket(perSecond, time.Now())
}

// BeforeForward calls fn with the action of each call just before it is
// forwarded to the backend (not for calls answered with a fault), in the
// call's goroutine; nil removes it. A test can use it to cancel a context
// between two writes.
func (p *Proxy) BeforeForward(fn func(action string)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hook = fn
}

func (p *Proxy) add(action string, f *fault) {
	if f.n <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults[action] = append(p.faults[action], f)
}

// admit counts a call and decides its fate under one lock, so that
// concurrent calls consume faults and limiter capacity exactly once each.
func (p *Proxy) admit(action string) (f fault, faulted, limited bool, latency time.Duration, hook func(string)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts[action]++
	for _, key := range []string{action, Any} {
		if q := p.faults[key]; len(q) > 0 {
			f, faulted = *q[0], true
			if q[0].n--; q[0].n == 0 {
				p.faults[key] = q[1:]
			}
			break
		}
	}
	if !faulted && p.limit != nil && IsWrite(action) {
		limited = !p.limit.take(time.Now())
	}
	return f, faulted, limited, p.latency, p.hook
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	action, err := readAction(r)
	if err != nil {
		http.Error(w, "faultproxy: "+err.Error(), http.StatusBadRequest)
		return
	}
	if action == "" {
		p.rp.ServeHTTP(w, r)
		return
	}
	f, faulted, limited, latency, hook := p.admit(action)
	if !p.sleep(w, r, latency) {
		return
	}
	switch {
	case limited:
		writeError(w, http.StatusBadRequest, "Throttling", "Rate exceeded")
		return
	case !faulted:
	case f.kind == throttle:
		writeError(w, http.StatusBadRequest, "Throttling", "Rate exceeded")
		return
	case f.kind == fail:
		code, msg := failure(f.status)
		if f.code != "" {
			code, msg = f.code, f.body
		}
		writeError(w, f.status, code, msg)
		return
	case f.kind == respond:
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("X-Amzn-Requestid", requestID())
		io.WriteString(w, f.body)
		return
	case f.kind == reset:
		resetConn(w)
		return
	case f.kind == hang:
		if !p.sleep(w, r, f.d) {
			return
		}
	case f.kind == hangAfter:
		p.forwardThenHang(w, r, action, hook, f.d)
		return
	}
	if hook != nil {
		hook(action)
	}
	p.rp.ServeHTTP(w, r)
}

// forwardThenHang completes the call against the backend even if the client
// leaves meanwhile, then answers after d.
func (p *Proxy) forwardThenHang(w http.ResponseWriter, r *http.Request, action string, hook func(string), d time.Duration) {
	if hook != nil {
		hook(action)
	}
	rec := httptest.NewRecorder()
	p.rp.ServeHTTP(rec, r.WithContext(context.WithoutCancel(r.Context())))
	if !p.sleep(w, r, d) {
		return
	}
	maps.Copy(w.Header(), rec.Header())
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// sleep waits d, or less if the client leaves or the proxy closes; it
// reports whether the full d passed. Cut short by Close, it answers 503 so
// that the client never mistakes the empty response for a success.
func (p *Proxy) sleep(w http.ResponseWriter, r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-r.Context().Done():
		return false
	case <-p.done:
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "faultproxy closed")
		return false
	}
}

// readAction finds the Query protocol action in the form body (or, for a
// GET, the URL) and puts the body back for forwarding.
func readAction(r *http.Request) (string, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return r.URL.Query().Get("Action"), nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	r.Body.Close()
	if err != nil {
		return "", fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxBody {
		return "", fmt.Errorf("body over %d bytes", maxBody)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
		if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") != "" {
			return form.Get("Action"), nil
		}
	}
	return r.URL.Query().Get("Action"), nil
}

func failure(status int) (code, msg string) {
	switch {
	case status == http.StatusServiceUnavailable:
		return "ServiceUnavailable", "Service is unavailable"
	case status >= 500:
		return "InternalFailure", "The request processing has failed because of an unknown error, exception or failure."
	case status == http.StatusForbidden:
		return "AccessDenied", "User is not authorized to perform this operation"
	default:
		return "ValidationError", "Request rejected by faultproxy"
	}
}

// writeError answers in the AWS Query protocol's error shape, which the SDK
// decodes into an APIError with this code.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	id := requestID()
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", id)
	w.WriteHeader(status)
	fmt.Fprintf(w, "<ErrorResponse><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>\n",
		typ, code, msg, id)
}

func requestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// resetConn closes the client's connection with an RST (SO_LINGER 0), so the
// client reads "connection reset by peer" rather than a clean EOF.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "faultproxy: cannot hijack: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	conn.Close()
}

// bucket is a token bucket: rate tokens a second, holding at most max(rate, 1).
type bucket struct {
	rate, capacity, tokens float64
	last                   time.Time
}

func newBucket(rate float64, now time.Time) *bucket {
	c := max(rate, 1)
	return &bucket{rate: rate, capacity: c, tokens: c, last: now}
}

func (b *bucket) take(now time.Time) bool {
	b.tokens = min(b.capacity, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

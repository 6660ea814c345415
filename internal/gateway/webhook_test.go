package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver is a webhook gateway as the README describes it: it verifies
// every request's signature, stores documents by id, and can be told to
// misbehave for the next requests.
type receiver struct {
	t      *testing.T
	mu     sync.Mutex
	docs   map[string][]byte
	faults []func(w http.ResponseWriter, r *http.Request) bool // true: handled
	calls  []string                                            // "METHOD path", every attempt
	noList bool
}

func newReceiver(t *testing.T) (*receiver, *httptest.Server) {
	rc := &receiver{t: t, docs: map[string][]byte{}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv
}

func (rc *receiver) inject(f ...func(w http.ResponseWriter, r *http.Request) bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.faults = append(rc.faults, f...)
}

func (rc *receiver) attempts() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.calls...)
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.calls = append(rc.calls, r.Method+" "+r.URL.RequestURI())
	var fault func(http.ResponseWriter, *http.Request) bool
	if len(rc.faults) > 0 {
		fault, rc.faults = rc.faults[0], rc.faults[1:]
	}
	rc.mu.Unlock()
	if err := Verify(testSecret, r.Header.Get(SignatureHeader), r.Method, r.URL.RequestURI(), body, time.Now(), time.Minute); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if fault != nil && fault(w, r) {
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	id, isDoc := strings.CutPrefix(r.URL.Path, "/hooks/previews/")
	switch {
	case r.URL.Path == "/hooks/previews" && r.Method == http.MethodGet:
		if rc.noList {
			http.Error(w, "no listing here", http.StatusMethodNotAllowed)
			return
		}
		if got := r.URL.Query().Get("repository"); got != "octo-org/shop" {
			http.Error(w, "want repository=octo-org/shop, got "+got, http.StatusBadRequest)
			return
		}
		ids := []string{}
		for id := range rc.docs {
			ids = append(ids, id)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ids": ids})
	case isDoc && r.Method == http.MethodPut:
		if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Idempotency-Key") != IdempotencyKey(body) {
			http.Error(w, "missing content type or idempotency key", http.StatusBadRequest)
			return
		}
		_, existed := rc.docs[id]
		rc.docs[id] = body
		if existed {
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusCreated)
		}
	case isDoc && r.Method == http.MethodGet:
		doc, ok := rc.docs[id]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		// Stored documents come back re-encoded, as a real store would.
		var v any
		_ = json.Unmarshal(doc, &v)
		_ = json.NewEncoder(w).Encode(v)
	case isDoc && r.Method == http.MethodDelete:
		if _, ok := rc.docs[id]; !ok {
			http.NotFound(w, r)
			return
		}
		delete(rc.docs, id)
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusTeapot)
	}
}

func status(code int, header map[string]string, msg string) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		http.Error(w, msg, code)
		return true
	}
}

func slow(d time.Duration) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-time.After(d):
			return false
		case <-r.Context().Done():
			return true // the client gave up; so does the receiver
		}
	}
}

func webhookDriverFor(t *testing.T, srv *httptest.Server) Driver {
	t.Helper()
	d, err := New(Config{
		Kind: "webhook", URL: srv.URL + "/hooks/", Secret: testSecret, Repository: "octo-org/shop",
		Timeout: 300 * time.Millisecond, retryWaitMin: 10 * time.Millisecond, retryWaitMax: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var testDoc = []byte(`{"apiVersion":"preview-access/v1","id":"gh-1-pr-42","host":"pr-42.example.com"}`)

func noSecrets(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error leaks a credential: %v", err)
	}
}

func TestWebhookRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rc, srv := newReceiver(t)
	d := webhookDriverFor(t, srv)

	if _, found, err := d.Get(ctx, "gh-1-pr-42"); found || err != nil {
		t.Fatalf("Get before Put = %v, %v; want not found", found, err)
	}
	if err := d.Put(ctx, "gh-1-pr-42", testDoc); err != nil {
		t.Fatalf("Put: %v", err)
	}
	got, found, err := d.Get(ctx, "gh-1-pr-42")
	if err != nil || !found || !SameDocument(got, testDoc) {
		t.Fatalf("Get = %s, %v, %v; want the document", got, found, err)
	}
	if string(got) == string(testDoc) {
		t.Fatal("receiver did not re-encode; the test proves less than it claims")
	}
	ids, err := d.List(ctx)
	if err != nil || len(ids) != 1 || ids[0] != "gh-1-pr-42" {
		t.Fatalf("List = %v, %v; want [gh-1-pr-42]", ids, err)
	}
	if err := d.Put(ctx, "gh-1-pr-42", testDoc); err != nil {
		t.Fatalf("second Put: %v", err)
	}
	if err := d.Delete(ctx, "gh-1-pr-42"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := d.Delete(ctx, "gh-1-pr-42"); err != nil {
		t.Fatalf("Delete of nothing (404): %v", err)
	}
	if _, found, err := d.Get(ctx, "gh-1-pr-42"); found || err != nil {
		t.Fatalf("Get after Delete = %v, %v; want not found", found, err)
	}
	want := []string{
		"GET /hooks/previews/gh-1-pr-42",
		"PUT /hooks/previews/gh-1-pr-42",
		"GET /hooks/previews/gh-1-pr-42",
		"GET /hooks/previews?repository=octo-org%2Fshop",
		"PUT /hooks/previews/gh-1-pr-42",
		"DELETE /hooks/previews/gh-1-pr-42",
		"DELETE /hooks/previews/gh-1-pr-42",
		"GET /hooks/previews/gh-1-pr-42",
	}
	if got := rc.attempts(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestWebhookFaults(t *testing.T) {
	t.Parallel()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("redirect was followed to another host: %s %s", r.Method, r.URL)
	}))
	t.Cleanup(other.Close)

	for _, tc := range []struct {
		name     string
		faults   []func(http.ResponseWriter, *http.Request) bool
		attempts int
		minWait  time.Duration
		err      string // "" means success
	}{
		{
			name:     "429 honours Retry-After",
			faults:   []func(http.ResponseWriter, *http.Request) bool{status(429, map[string]string{"Retry-After": "1"}, "slow down")},
			attempts: 2, minWait: time.Second,
		},
		{
			name:     "503 then success",
			faults:   []func(http.ResponseWriter, *http.Request) bool{status(503, nil, "busy"), status(502, nil, "bad gateway")},
			attempts: 3,
		},
		{
			name:     "slow response is retried",
			faults:   []func(http.ResponseWriter, *http.Request) bool{slow(2 * time.Second)},
			attempts: 2,
		},
		{
			name: "always slow gives up",
			faults: []func(http.ResponseWriter, *http.Request) bool{
				slow(2 * time.Second), slow(2 * time.Second), slow(2 * time.Second), slow(2 * time.Second), slow(2 * time.Second),
			},
			attempts: retryMax + 1, err: "timed out",
		},
		{
			name: "503 until giving up",
			faults: []func(http.ResponseWriter, *http.Request) bool{
				status(503, nil, "down"), status(503, nil, "down"), status(503, nil, "down"), status(503, nil, "down"), status(503, nil, "still down"),
			},
			attempts: retryMax + 1, err: "webhook: PUT /previews/gh-1-pr-42: 503 Service Unavailable: still down",
		},
		{
			name:     "400 is not retried and quotes the receiver",
			faults:   []func(http.ResponseWriter, *http.Request) bool{status(400, nil, "roles.admin.methods: unknown method FETCH\n")},
			attempts: 1, err: "webhook: PUT /previews/gh-1-pr-42: 400 Bad Request: roles.admin.methods: unknown method FETCH",
		},
		{
			name:     "403 is not retried",
			faults:   []func(http.ResponseWriter, *http.Request) bool{status(403, nil, "")},
			attempts: 1, err: "403 Forbidden",
		},
		{
			name: "redirect to another host is refused",
			faults: []func(http.ResponseWriter, *http.Request) bool{func(w http.ResponseWriter, r *http.Request) bool {
				http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
				return true
			}},
			attempts: 1, err: "refusing redirect to another host",
		},
		{
			name: "redirect turning PUT into GET is refused",
			faults: []func(http.ResponseWriter, *http.Request) bool{func(w http.ResponseWriter, r *http.Request) bool {
				http.Redirect(w, r, "/hooks/previews/elsewhere", http.StatusFound)
				return true
			}},
			attempts: 1, err: "refusing redirect that turns PUT into GET",
		},
		{
			name: "huge error body is capped in the message",
			faults: []func(http.ResponseWriter, *http.Request) bool{
				status(422, nil, strings.Repeat("x", 100_000)),
			},
			attempts: 1, err: "422 Unprocessable Entity: xxx",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rc, srv := newReceiver(t)
			rc.inject(tc.faults...)
			d := webhookDriverFor(t, srv)
			start := time.Now()
			err := d.Put(context.Background(), "gh-1-pr-42", testDoc)
			elapsed := time.Since(start)
			noSecrets(t, err)
			if tc.err == "" && err != nil {
				t.Fatalf("Put = %v; want success", err)
			}
			if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Put = %v; want an error containing %q", err, tc.err)
			}
			if err != nil && len(err.Error()) > 1000 {
				t.Errorf("error is %d characters long; want the receiver's message capped", len(err.Error()))
			}
			if got := len(rc.attempts()); got != tc.attempts {
				t.Errorf("attempts = %d; want %d (%v)", got, tc.attempts, rc.attempts())
			}
			if elapsed < tc.minWait {
				t.Errorf("Put took %s; want at least %s (Retry-After)", elapsed, tc.minWait)
			}
			rc.mu.Lock()
			_, stored := rc.docs["gh-1-pr-42"]
			rc.mu.Unlock()
			if stored != (tc.err == "") {
				t.Errorf("document stored = %v; want %v", stored, tc.err == "")
			}
		})
	}
}

func TestWebhookListUnsupported(t *testing.T) {
	t.Parallel()
	rc, srv := newReceiver(t)
	rc.noList = true
	d := webhookDriverFor(t, srv)
	if _, err := d.List(context.Background()); !errors.Is(err, ErrListUnsupported) {
		t.Errorf("List = %v; want ErrListUnsupported", err)
	}
}

func TestWebhookWrongSecret(t *testing.T) {
	t.Parallel()
	_, srv := newReceiver(t)
	d, err := New(Config{Kind: "webhook", URL: srv.URL + "/hooks", Secret: "wrong-SECRET-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	err = d.Put(context.Background(), "gh-1-pr-42", testDoc)
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized: invalid preview-access signature: signature does not match") {
		t.Errorf("Put with the wrong secret = %v; want 401 naming the signature", err)
	}
	noSecrets(t, err)
}

func TestWebhookContextCancel(t *testing.T) {
	t.Parallel()
	rc, srv := newReceiver(t)
	rc.inject(status(429, map[string]string{"Retry-After": "30"}, "later"))
	d := webhookDriverFor(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := d.Put(ctx, "gh-1-pr-42", testDoc)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Put = %v; want the context's deadline", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("Put waited %s past its context", time.Since(start))
	}
}

func TestWebhookRejectsBadInput(t *testing.T) {
	t.Parallel()
	rc, srv := newReceiver(t)
	d := webhookDriverFor(t, srv)
	ctx := context.Background()
	if err := d.Put(ctx, "../admin", testDoc); err == nil {
		t.Error("Put with a path-like id = nil error")
	}
	if err := d.Put(ctx, "gh-1-pr-42", []byte("{")); err == nil {
		t.Error("Put of invalid JSON = nil error")
	}
	if n := len(rc.attempts()); n != 0 {
		t.Errorf("bad input reached the receiver %d times", n)
	}
}

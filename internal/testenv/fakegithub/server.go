// Package fakegithub is a stateful, in-memory fake of the part of GitHub's
// REST API that preview-access uses: pull requests, repository contents,
// issue comments, deployments and deployment statuses, environments and
// deployment branch policies.
//
// It answers with GitHub's JSON shapes (field names from GitHub's REST
// reference, written out here rather than borrowed from go-github, so a
// mismatch between the two shows up in tests), paginates with Link headers,
// checks the Authorization header, can deny a token's permissions with
// GitHub's 403, and can inject 5xx responses, rate limits and latency. It
// serves both github.com paths (/repos/…) and GitHub Enterprise Server paths
// (/api/v3/repos/…). Every request is recorded.
//
// A request to an endpoint the fake does not implement fails the test
// (t.Errorf) and gets a 404, so a test cannot pass by accident.
//
// Every REST request and response is checked against GitHub's own OpenAPI
// description (package openapi; testenv.GitHubOpenAPI, so New skips the
// test under -short when the description is absent). A request GitHub
// would refuse fails the test and gets GitHub's 422 "Validation Failed"
// without reaching the fake's state; a response of the fake's that GitHub
// would not send fails the test too, as the fake is then wrong. Injected
// faults are sent unchecked: GitHub's edge answers those, outside the
// description. GraphQL queries (/graphql, /api/graphql) are checked
// against GitHub's GraphQL schema (package graphql) instead.
package fakegithub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/preview-access/preview-access/internal/testenv/graphql"
	"github.com/preview-access/preview-access/internal/testenv/openapi"
)

// DefaultToken is the token a Server accepts unless WithToken says otherwise.
const DefaultToken = "ghs_fakegithubtoken0000000000000000000000"

// Permission names, as GitHub Apps and the X-Accepted-GitHub-Permissions
// header spell them.
const (
	PermActions        = "actions"
	PermAdministration = "administration"
	PermContents       = "contents"
	PermDeployments    = "deployments"
	PermIssues         = "issues"
	PermMetadata       = "metadata"
	PermPullRequests   = "pull_requests"
)

// Access levels.
const (
	Read  = "read"
	Write = "write"
)

// Call is one request the server received.
type Call struct {
	Method string
	Path   string // without the /api/v3 prefix, e.g. /repos/o/r/pulls/42
	Raw    string // the path as sent, e.g. /api/v3/repos/o/r/pulls/42
	Query  string // raw query
	Status int    // status code sent
	Body   string // request body
}

// Fault is an injected failure.
type Fault struct {
	Method string // "" matches any method
	Path   string // path.Match pattern on Call.Path; "" matches any
	Times  int    // how many requests it hits; 0 means 1
	Status int    // status to answer, e.g. 502

	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// SecondaryRateLimit answers with GitHub's secondary rate limit body
	// (Status defaults to 403).
	SecondaryRateLimit bool
	// RateLimitReset, when set, answers as an exhausted primary rate limit:
	// x-ratelimit-remaining: 0 and x-ratelimit-reset (Status defaults to 403).
	RateLimitReset time.Time
	// Applied makes the request take effect before the fault is answered
	// (Status defaults to 502): a write that succeeded but whose answer
	// says it failed, as GitHub's edge sometimes does.
	Applied bool
}

// Option configures a Server.
type Option func(*Server)

// WithToken sets the token the server accepts.
func WithToken(tok string) Option { return func(s *Server) { s.token = tok } }

// WithPermissions restricts the token to these permissions (name → "read"
// or "write"); without it the token may do everything. Requests beyond them
// get GitHub's 403 "Resource not accessible by integration".
func WithPermissions(p map[string]string) Option {
	return func(s *Server) {
		s.perms = make(map[string]string, len(p))
		for k, v := range p {
			s.perms[k] = v
		}
	}
}

// WithActor sets the login and type ("Bot" or "User") that writes made with
// the token are attributed to. Default github-actions[bot], a Bot.
func WithActor(login, typ string) Option {
	return func(s *Server) { s.actor = user{Login: login, Type: typ} }
}

// WithEpoch starts the fake's clock at t (default 2024-05-01 12:00 UTC), for
// tests whose code compares GitHub's timestamps with its own clock.
func WithEpoch(t time.Time) Option { return func(s *Server) { s.epoch = t } }

// Server is the fake. All methods are safe for concurrent use.
type Server struct {
	t   testing.TB
	srv *httptest.Server
	mux *http.ServeMux
	api *openapi.Validator // GitHub's description, which every request and response must match
	gql *graphql.Schema    // GitHub's GraphQL schema, which every query must match

	// required maps a route pattern to the permissions that admit it
	// (any one of them suffices).
	required map[string][]string

	mu      sync.Mutex
	token   string
	perms   map[string]string
	actor   user
	epoch   time.Time // the clock's start; it moves one second per write
	latency time.Duration
	faults  []*Fault
	calls   []Call
	nextID  int64
	repos   map[string]*repo // by lower-case "owner/name"
}

// New starts a fake GitHub on 127.0.0.1, closed when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{
		t:        t,
		mux:      http.NewServeMux(),
		required: make(map[string][]string),
		token:    DefaultToken,
		actor:    user{Login: "github-actions[bot]", Type: "Bot", ID: 41898282},
		nextID:   1000,
		repos:    make(map[string]*repo),
		epoch:    defaultEpoch,
		api:      openapi.Check(t),
		gql:      graphql.Check(t),
	}
	for _, o := range opts {
		o(s)
	}
	if s.actor.ID == 0 {
		s.actor.ID = idFor(s.actor.Login)
	}
	s.routes()
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the server's root, e.g. http://127.0.0.1:41234. Use it as a
// go-github BaseURL (with a trailing slash), or URL()+"/api/v3/" with
// WithEnterpriseURLs.
func (s *Server) URL() string { return s.srv.URL }

// APIURL is the GitHub Enterprise Server style API root, URL()+"/api/v3",
// as GITHUB_API_URL would carry it.
func (s *Server) APIURL() string { return s.srv.URL + "/api/v3" }

// Token is the token the server accepts.
func (s *Server) Token() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

// SetPermissions replaces the token's permissions (nil: all).
func (s *Server) SetPermissions(p map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	WithPermissions(p)(s)
	if p == nil {
		s.perms = nil
	}
}

// SetLatency delays every response by d.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Inject adds a fault; faults are matched in the order added.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times <= 0 {
		f.Times = 1
	}
	s.faults = append(s.faults, &f)
}

// ResetFaults drops the faults not yet used up.
func (s *Server) ResetFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// FailNext answers the next times requests matching method and pattern
// with status (e.g. 502) and GitHub's error body.
func (s *Server) FailNext(method, pattern string, times, status int) {
	s.Inject(Fault{Method: method, Path: pattern, Times: times, Status: status})
}

// SecondaryRateLimitNext answers the next times matching requests with
// GitHub's 403 secondary rate limit response and Retry-After: retryAfter
// (seconds; "" sends no header).
func (s *Server) SecondaryRateLimitNext(method, pattern string, times int, retryAfter string) {
	s.Inject(Fault{Method: method, Path: pattern, Times: times, SecondaryRateLimit: true, RetryAfter: retryAfter})
}

// Calls returns every request received so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Writes returns the requests that were not GET or HEAD, in order, whatever
// their outcome.
func (s *Server) Writes() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		// A GraphQL query is a POST that reads.
		if c.Method != http.MethodGet && c.Method != http.MethodHead && !isGraphQL(c.Path) {
			out = append(out, c)
		}
	}
	return out
}

// ResetCalls forgets the recorded calls.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// route registers a handler with the permissions that admit it.
func (s *Server) route(pattern string, perms []string, h func(w http.ResponseWriter, r *http.Request, body []byte)) {
	s.required[pattern] = perms
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		body, _ := r.Context().Value(bodyKey{}).([]byte)
		h(w, r, body)
	})
}

type bodyKey struct{}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}

	body, _ := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	p := r.URL.Path
	if rest, ok := strings.CutPrefix(p, "/api/v3/"); ok {
		p = "/" + rest
	}
	// The response is held back until it has been checked, so that the
	// test hears of a wrong one before its client does.
	rec := httptest.NewRecorder()
	checkResponse := s.dispatch(rec, r, p, body)

	res := rec.Result()
	out := rec.Body.Bytes()
	if checkResponse {
		if err := s.api.Response(r.Method, apiPath(r), r.URL.RawQuery, res.StatusCode, res.Header, out); err != nil {
			s.t.Errorf("fakegithub: the fake's response to %s %s does not match GitHub's OpenAPI description: %v", r.Method, r.URL.Path, err)
		}
	}
	// Recorded before the client hears the answer: a test that reads the
	// calls right after its client returned sees this one.
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: r.Method, Path: p, Raw: r.URL.Path, Query: r.URL.RawQuery, Status: res.StatusCode, Body: string(body)})
	s.mu.Unlock()
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	w.Write(out)
}

// dispatch answers a request to p (its path without /api/v3) and reports
// whether the response is to be checked against GitHub's description: not
// when the fake does not implement the endpoint (the test has failed
// already), nor for an injected fault (GitHub's edge sends those, outside
// the description).
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, p string, body []byte) (checkResponse bool) {
	r2 := r.Clone(r.Context())
	r2.URL.Path = p
	r2.URL.RawPath = ""
	_, pattern := s.mux.Handler(r2)
	if pattern == "" {
		s.t.Errorf("fakegithub: request to an endpoint the fake does not implement: %s %s", r.Method, r.URL.Path)
		writeError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest")
		return false
	}
	api := s.api
	if isGraphQL(p) {
		api = nil
	}
	if api != nil {
		if err := api.Request(r.Method, apiPath(r), r.URL.RawQuery, r.Header, body); err != nil {
			if errors.Is(err, openapi.ErrUnknownOperation) {
				s.t.Errorf("fakegithub: %s %s is not in GitHub's OpenAPI description, so GitHub would answer 404: %v", r.Method, r.URL.Path, err)
				writeError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest")
				return false
			}
			s.t.Errorf("fakegithub: GitHub would refuse %s %s: %v", r.Method, r.URL.Path, err)
			writeValidation(w, docsURL(pattern), obj{"code": "invalid", "message": err.Error()})
			return true
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	serve := func(w http.ResponseWriter) {
		setStandardHeaders(w)
		ctx := context.WithValue(r2.Context(), bodyKey{}, body)
		ctx = context.WithValue(ctx, origPathKey{}, r.URL.Path)
		s.mux.ServeHTTP(w, r2.WithContext(ctx))
	}
	f := s.takeFault(r.Method, p)
	if f != nil && !f.Applied {
		writeFault(w, f)
		return false
	}
	if !s.authorized(r.Header.Get("Authorization")) {
		writeError(w, http.StatusUnauthorized, "Bad credentials", "https://docs.github.com/rest")
		return api != nil
	}
	if need := s.required[pattern]; !s.allowed(need) {
		w.Header().Set("X-Accepted-GitHub-Permissions", strings.Join(need, "; "))
		writeError(w, http.StatusForbidden, "Resource not accessible by integration", docsURL(pattern))
		return api != nil
	}
	if f != nil {
		// The write takes effect; its answer is lost.
		serve(httptest.NewRecorder())
		writeFault(w, f)
		return false
	}
	serve(w)
	return api != nil
}

// isGraphQL reports whether p is GitHub's GraphQL endpoint (/graphql, or
// /api/graphql on GitHub Enterprise Server), which the REST description
// does not cover.
func isGraphQL(p string) bool { return p == "/graphql" || p == "/api/graphql" }

// apiPath is the request's path as sent (escaped), without /api/v3.
func apiPath(r *http.Request) string {
	p := r.URL.EscapedPath()
	if rest, ok := strings.CutPrefix(p, "/api/v3/"); ok {
		p = "/" + rest
	}
	return p
}

func (s *Server) takeFault(method, p string) *Fault {
	for i, f := range s.faults {
		if f.Method != "" && f.Method != method {
			continue
		}
		if f.Path != "" {
			if ok, _ := path.Match(f.Path, p); !ok {
				continue
			}
		}
		f.Times--
		if f.Times <= 0 {
			s.faults = slices.Delete(s.faults, i, i+1)
		}
		return f
	}
	return nil
}

func writeFault(w http.ResponseWriter, f *Fault) {
	h := w.Header()
	if f.RetryAfter != "" {
		h.Set("Retry-After", f.RetryAfter)
	}
	switch {
	case f.SecondaryRateLimit:
		st := orDefault(f.Status, http.StatusForbidden)
		setRateHeaders(h, 4990, time.Now().Add(time.Hour))
		writeError(w, st, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:FAKE.",
			"https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits")
	case !f.RateLimitReset.IsZero():
		st := orDefault(f.Status, http.StatusForbidden)
		setRateHeaders(h, 0, f.RateLimitReset)
		writeError(w, st, "API rate limit exceeded for installation ID 1234567.",
			"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limits")
	default:
		st := orDefault(f.Status, http.StatusBadGateway)
		if st >= 500 {
			// GitHub's edge answers 5xx with an HTML page or a bare body.
			h.Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(st)
			fmt.Fprintf(w, "%d %s\n", st, http.StatusText(st))
			return
		}
		writeError(w, st, http.StatusText(st), "https://docs.github.com/rest")
	}
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func (s *Server) authorized(h string) bool {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || (!strings.EqualFold(scheme, "bearer") && !strings.EqualFold(scheme, "token")) {
		return false
	}
	return tok != "" && tok == s.token
}

// allowed reports whether the token holds one of need ("name=level").
func (s *Server) allowed(need []string) bool {
	if s.perms == nil || len(need) == 0 {
		return true
	}
	for _, n := range need {
		name, level, _ := strings.Cut(n, "=")
		have := s.perms[name]
		if have == Write || (have == Read && level == Read) {
			return true
		}
	}
	return false
}

func setStandardHeaders(w http.ResponseWriter) {
	setRateHeaders(w.Header(), 4999, time.Now().Add(time.Hour))
}

func setRateHeaders(h http.Header, remaining int, reset time.Time) {
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	h.Set("X-GitHub-Request-Id", "0000:FAKE:0000")
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Used", strconv.Itoa(5000-remaining))
	h.Set("X-RateLimit-Resource", "core")
}

// writeJSON answers with status and v encoded as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("fakegithub: encode response: %v", err))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// writeError answers with GitHub's error shape.
func writeError(w http.ResponseWriter, status int, message, doc string) {
	writeJSON(w, status, obj{"message": message, "documentation_url": doc, "status": strconv.Itoa(status)})
}

// writeValidation answers 422 with GitHub's validation error shape.
func writeValidation(w http.ResponseWriter, doc string, errs ...obj) {
	if errs == nil {
		errs = []obj{}
	}
	writeJSON(w, http.StatusUnprocessableEntity, obj{"message": "Validation Failed", "errors": errs, "documentation_url": doc, "status": "422"})
}

func docsURL(pattern string) string {
	switch {
	case strings.Contains(pattern, "deployment-branch-policies"):
		return "https://docs.github.com/rest/deployments/branch-policies"
	case strings.Contains(pattern, "/environments/"):
		return "https://docs.github.com/rest/deployments/environments"
	case strings.Contains(pattern, "/deployments"):
		return "https://docs.github.com/rest/deployments/deployments"
	case strings.Contains(pattern, "/comments"):
		return "https://docs.github.com/rest/issues/comments"
	case strings.Contains(pattern, "/contents/"):
		return "https://docs.github.com/rest/repos/contents"
	default:
		return "https://docs.github.com/rest/pulls/pulls"
	}
}

// page applies GitHub's pagination (per_page default 30, at most 100;
// page from 1) to n items, sets the Link header, and returns the slice
// bounds.
func page(w http.ResponseWriter, r *http.Request, n int) (lo, hi int) {
	q := r.URL.Query()
	per := 30
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		per = min(v, 100)
	}
	p := 1
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		p = v
	}
	last := max((n+per-1)/per, 1)
	lo = min((p-1)*per, n)
	hi = min(lo+per, n)

	link := func(pg int, rel string) string {
		u := url.URL{Scheme: "http", Host: r.Host, Path: originalPath(r)}
		qq := r.URL.Query()
		qq.Set("page", strconv.Itoa(pg))
		qq.Set("per_page", strconv.Itoa(per))
		u.RawQuery = qq.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if p > 1 {
		links = append(links, link(p-1, "prev"))
	}
	if p < last {
		links = append(links, link(p+1, "next"), link(last, "last"))
	}
	if p > 1 {
		links = append(links, link(1, "first"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	return lo, hi
}

// originalPath is the request path as the client sent it (with /api/v3
// when it used one), for Link headers.
func originalPath(r *http.Request) string {
	if v, ok := r.Context().Value(origPathKey{}).(string); ok {
		return v
	}
	return r.URL.Path
}

type origPathKey struct{}

// idFor gives a login or name a stable positive id.
func idFor(s string) int64 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return int64(h.Sum32()%90_000_000) + 10_000_000
}

// obj is a JSON object.
type obj = map[string]any

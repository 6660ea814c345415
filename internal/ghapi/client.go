// Package ghapi is the GitHub side of the action: the few REST operations it
// needs (pull requests, the access file, the sticky comment, deployments and
// environments), over go-github with a retrying transport.
//
// The Ensure/Upsert/Write/Deactivate/Delete operations are idempotent: they
// compare with what is there (read by them, or by the caller's observe) and
// return changed=false without writing when GitHub already matches. The
// plain Create/Set calls write unconditionally; the caller plans them from
// observed state, so a re-run on an unchanged pull request makes no writes.
// Errors say which token permission is missing; the token itself never
// appears in an error or a log line.
package ghapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/preview-access/preview-access/internal/endpoint"

	"github.com/google/go-github/v60/github"
	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-retryablehttp"
)

// Defaults for Options fields left zero.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultMaxRetries       = 4
	DefaultRetryWaitMin     = 1 * time.Second
	DefaultRetryWaitMax     = 30 * time.Second
	DefaultMaxRateLimitWait = 90 * time.Second
	DefaultUserAgent        = "preview-access"

	// secondaryRateLimitWait is how long GitHub asks a client to wait after a
	// secondary rate limit response that names no time ("wait for at least
	// one minute before retrying").
	secondaryRateLimitWait = time.Minute
)

// ErrNoToken is returned by New when Options.Token is empty. Callers that can
// run without GitHub (local CLI use) skip the GitHub steps on it.
var ErrNoToken = errors.New("no GitHub token: set the github-token input (default ${{ github.token }}) or GITHUB_TOKEN")

// Options configures a Client.
type Options struct {
	// Token authenticates every request (Authorization: Bearer).
	Token string
	// APIURL is GITHUB_API_URL. "" or https://api.github.com is github.com;
	// anything else is GitHub Enterprise Server (…/api/v3) or GHE.com.
	APIURL string
	// HTTPClient, when set, provides the base transport (tests, proxies).
	// Its Timeout is replaced by Timeout.
	HTTPClient *http.Client
	// Timeout bounds each attempt of each request. Default DefaultTimeout.
	Timeout time.Duration
	// MaxRetries is how many times a failed request is retried: 0 means
	// DefaultMaxRetries, a negative value disables retries.
	MaxRetries int
	// RetryWaitMin and RetryWaitMax bound the exponential backoff after 5xx
	// and network errors.
	RetryWaitMin, RetryWaitMax time.Duration
	// MaxRateLimitWait is the longest wait a rate limit response may ask for
	// and still be retried; a longer one fails at once (retrying early only
	// prolongs a secondary rate limit).
	MaxRateLimitWait time.Duration
	// UserAgent is sent with every request. Default DefaultUserAgent.
	UserAgent string

	// sleep, when set, replaces the wait a retry would take (tests record
	// the wait asked for and return a tiny one).
	sleep func(time.Duration) time.Duration
}

// Client performs the action's GitHub operations.
type Client struct {
	gh         *github.Client
	graphqlURL string
	// pause waits between a failed write and the next attempt after
	// re-reading; tests shorten it.
	pause func(ctx context.Context, attempt int) error

	identityOnce sync.Once
	identity     Identity
	identityErr  error
}

// New returns a Client for o. It makes no request.
func New(o Options) (*Client, error) {
	if o.Token == "" {
		return nil, ErrNoToken
	}
	if strings.ContainsAny(o.Token, " \t\r\n") {
		return nil, errors.New("the GitHub token contains whitespace")
	}
	o = withDefaults(o)

	base := o.HTTPClient
	if base == nil {
		base = cleanhttp.DefaultPooledClient()
	}
	attempt := *base
	attempt.Timeout = o.Timeout

	policy := retryPolicy{maxRateLimitWait: o.MaxRateLimitWait, sleep: o.sleep}
	retrying := func(check retryablehttp.CheckRetry) *retryablehttp.RoundTripper {
		return &retryablehttp.RoundTripper{Client: &retryablehttp.Client{
			HTTPClient:   &attempt,
			Logger:       nil, // nothing about requests reaches the log
			RetryWaitMin: o.RetryWaitMin,
			RetryWaitMax: o.RetryWaitMax,
			RetryMax:     max(o.MaxRetries, 0),
			CheckRetry:   check,
			Backoff:      policy.backoff,
			ErrorHandler: lastResponse,
		}}
	}
	api := &http.Client{Transport: byMethod{
		reads:  retrying(policy.checkRetry),
		writes: retrying(policy.checkRetryWrite),
	}}
	gh := github.NewClient(api).WithAuthToken(o.Token)
	gh.UserAgent = o.UserAgent

	enterprise, err := apiURL(o.APIURL)
	if err != nil {
		return nil, err
	}
	graphqlURL := "https://api.github.com/graphql"
	if enterprise != "" {
		root := strings.TrimSuffix(strings.TrimSuffix(enterprise, "/"), "/api/v3")
		if gh, err = gh.WithEnterpriseURLs(enterprise, root+"/api/uploads/"); err != nil {
			return nil, fmt.Errorf("GITHUB_API_URL %q: %w", o.APIURL, err)
		}
		// GitHub Enterprise Server serves GraphQL at /api/graphql.
		graphqlURL = root + "/api/graphql"
	}
	c := &Client{gh: gh, graphqlURL: graphqlURL}
	c.pause = func(ctx context.Context, attempt int) error {
		wait := policy.backoff(o.RetryWaitMin, o.RetryWaitMax, attempt, nil)
		select {
		case <-time.After(wait):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return c, nil
}

// maxWriteAttempts bounds how often retryWrite sends one write.
const maxWriteAttempts = 3

// retryWrite sends a write that must not happen twice. When it fails in a
// way that may hide a write GitHub did (a 5xx, a connection lost after
// sending), happened reads GitHub; the write is sent again only when
// happened says it did not take effect, at most maxWriteAttempts times in
// all. write and happened return go-github's errors as they are.
func (c *Client) retryWrite(ctx context.Context, write func() error, happened func() (bool, error)) error {
	for attempt := 1; ; attempt++ {
		err := write()
		if err == nil || !mayHaveApplied(err) || attempt == maxWriteAttempts {
			return err
		}
		if perr := c.pause(ctx, attempt); perr != nil {
			return err
		}
		ok, rerr := happened()
		if rerr != nil {
			return err // the write's error says more than the read's
		}
		if ok {
			return nil
		}
	}
}

// mayHaveApplied reports whether a failed request may still have changed
// GitHub: a 5xx, or a transport error after the request left.
func mayHaveApplied(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) {
		return er.Response != nil && er.Response.StatusCode >= 500
	}
	var rl *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	if errors.As(err, &rl) || errors.As(err, &abuse) {
		return false
	}
	return !notSent(err)
}

// byMethod sends requests that change something and must not be
// repeated blindly (POST creates a comment, a deployment, a status) with
// a retry policy of their own; everything else, GraphQL queries included,
// with the ordinary one.
type byMethod struct{ reads, writes http.RoundTripper }

func (b byMethod) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && !strings.HasSuffix(req.URL.Path, "/graphql") {
		return b.writes.RoundTrip(req)
	}
	return b.reads.RoundTrip(req)
}

func withDefaults(o Options) Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = DefaultMaxRetries
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	if o.RetryWaitMin <= 0 {
		o.RetryWaitMin = DefaultRetryWaitMin
	}
	if o.RetryWaitMax <= 0 {
		o.RetryWaitMax = DefaultRetryWaitMax
	}
	if o.RetryWaitMax < o.RetryWaitMin {
		o.RetryWaitMax = o.RetryWaitMin
	}
	if o.MaxRateLimitWait <= 0 {
		o.MaxRateLimitWait = DefaultMaxRateLimitWait
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	return o
}

// apiURL validates GITHUB_API_URL and returns "" for github.com, or the
// enterprise base URL otherwise. Plain http is accepted only for loopback
// hosts (test servers): anything else would send the token in clear text.
func apiURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("GITHUB_API_URL %q is not an http(s) URL like https://api.github.com or https://HOST/api/v3", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !endpoint.Loopback(u.Hostname()) {
			return "", fmt.Errorf("GITHUB_API_URL %q uses plain http: the token would travel unencrypted; use https", raw)
		}
	default:
		return "", fmt.Errorf("GITHUB_API_URL %q is not an http(s) URL", raw)
	}
	if strings.EqualFold(u.Host, "api.github.com") && strings.Trim(u.Path, "/") == "" {
		return "", nil
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u.String(), nil
}

// retryPolicy decides which responses are retried and how long to wait.
//
// Retried: network errors (not TLS or redirect failures), 5xx except 501,
// and rate limit responses (403 or 429) whose requested wait is at most
// maxRateLimitWait. A rate limit response is one GitHub documents as such:
// a Retry-After header; x-ratelimit-remaining: 0 with x-ratelimit-reset; or a
// body naming a secondary rate limit. Every other 4xx is returned at once.
type retryPolicy struct {
	maxRateLimitWait time.Duration
	sleep            func(time.Duration) time.Duration
}

func (p retryPolicy) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil || resp == nil {
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	switch c := resp.StatusCode; {
	case c >= 500 && c != http.StatusNotImplemented:
		return true, nil
	case c == http.StatusForbidden || c == http.StatusTooManyRequests:
		wait, limited := rateLimitWait(resp, time.Now())
		if !limited && c == http.StatusForbidden && secondaryRateLimitBody(resp) {
			wait, limited = secondaryRateLimitWait, true
		}
		if !limited && c == http.StatusTooManyRequests {
			wait, limited = secondaryRateLimitWait, true
		}
		return limited && wait <= p.maxRateLimitWait, nil
	}
	return false, nil
}

// checkRetryWrite retries a non-idempotent request only when GitHub
// cannot have acted on it: a rate limit response (refused before it was
// processed) or a connection that never opened. A 5xx, a timeout or a
// connection lost after sending may hide a write that happened; the caller
// then reads before it writes again (see Client.retryWrite).
func (p retryPolicy) checkRetryWrite(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		return notSent(err), nil
	}
	if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests {
		return p.checkRetry(ctx, resp, nil)
	}
	return false, nil
}

// notSent reports whether a transport error happened before the request
// left: a failed dial or name lookup.
func notSent(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &dns) || (errors.As(err, &op) && op.Op == "dial")
}

func (p retryPolicy) backoff(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	var wait time.Duration
	switch {
	case resp != nil && (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests):
		// checkRetry retried it, so it is a rate limit: wait what GitHub
		// asked, or the documented minute when it named no time.
		w, ok := rateLimitWait(resp, time.Now())
		if !ok {
			w = secondaryRateLimitWait
		}
		wait = w
	case resp != nil && resp.Header.Get("Retry-After") != "":
		w, _ := rateLimitWait(resp, time.Now())
		wait = min(w, hi)
	default:
		wait = retryablehttp.DefaultBackoff(lo, hi, attempt, nil)
	}
	if p.sleep != nil {
		return p.sleep(wait)
	}
	return wait
}

// rateLimitWait reads the wait a response asks for: Retry-After (seconds or
// an HTTP date), else x-ratelimit-reset when x-ratelimit-remaining is 0.
func rateLimitWait(resp *http.Response, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(resp.Header.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
			return time.Duration(secs) * time.Second, true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0), true
		}
	}
	if resp.Header.Get("X-Ratelimit-Remaining") == "0" {
		if reset, err := strconv.ParseInt(resp.Header.Get("X-Ratelimit-Reset"), 10, 64); err == nil && reset > 0 {
			return max(time.Unix(reset, 0).Sub(now), 0), true
		}
	}
	return 0, false
}

// secondaryRateLimitBody reports whether a 403's body names a secondary rate
// limit, leaving the body readable for the caller.
func secondaryRateLimitBody(resp *http.Response) bool {
	if resp.Body == nil {
		return false
	}
	buf, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(buf), resp.Body), resp.Body}
	s := strings.ToLower(string(buf))
	return strings.Contains(s, "secondary rate limit") || strings.Contains(s, "abuse detection")
}

// lastResponse hands the final response to go-github when retries run out,
// so the caller sees GitHub's own error (status, message) rather than
// "giving up after N attempts".
func lastResponse(resp *http.Response, err error, _ int) (*http.Response, error) {
	if err != nil && resp != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp, err
}

type readCloser struct {
	io.Reader
	io.Closer
}

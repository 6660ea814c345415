// Package ghretry is how the action retries GitHub's REST and GraphQL
// API: 5xx and network errors with backoff, rate limits as long as GitHub
// asks (up to a bound), and writes only when GitHub cannot have acted on
// them (over go-retryablehttp).
package ghretry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/hashicorp/go-retryablehttp"
)

// SecondaryRateLimitWait is how long GitHub asks a client to wait after a
// secondary rate limit response that names no time ("wait for at least
// one minute before retrying").
const SecondaryRateLimitWait = time.Minute

// Options bound the retries.
type Options struct {
	RetryWaitMin, RetryWaitMax time.Duration
	MaxRetries                 int
	// MaxRateLimitWait is the longest wait a rate limit response may ask
	// for and still be retried.
	MaxRateLimitWait time.Duration
	// Sleep, when set, replaces the wait a retry would take (tests).
	Sleep func(time.Duration) time.Duration
}

// Client sends every request of base's transport through the retry
// policies: requests that change something and must not be repeated
// blindly (POST creates a comment, a deployment, a status) with a policy
// of their own; everything else, GraphQL queries included, with the
// ordinary one.
func Client(base *http.Client, o Options) *http.Client {
	retrying := func(check retryablehttp.CheckRetry) *retryablehttp.RoundTripper {
		return &retryablehttp.RoundTripper{Client: &retryablehttp.Client{
			HTTPClient:   base,
			Logger:       nil, // nothing about requests reaches the log
			RetryWaitMin: o.RetryWaitMin,
			RetryWaitMax: o.RetryWaitMax,
			RetryMax:     max(o.MaxRetries, 0),
			CheckRetry:   check,
			Backoff:      o.Backoff,
			ErrorHandler: lastResponse,
		}}
	}
	return &http.Client{Transport: byMethod{reads: retrying(o.checkRetry), writes: retrying(o.checkRetryWrite)}}
}

// MayHaveApplied reports whether a failed request may still have changed
// GitHub: a 5xx, or a transport error after the request left.
func MayHaveApplied(err error) bool {
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

// checkRetry decides which responses are retried.
//
// Retried: network errors (not TLS or redirect failures), 5xx except 501,
// and rate limit responses (403 or 429) whose requested wait is at most
// maxRateLimitWait. A rate limit response is one GitHub documents as such:
// a Retry-After header; x-ratelimit-remaining: 0 with x-ratelimit-reset; or a
// body naming a secondary rate limit. Every other 4xx is returned at once.
func (p Options) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
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
		wait, limited := Wait(resp, time.Now())
		if !limited && c == http.StatusForbidden && secondaryRateLimitBody(resp) {
			wait, limited = SecondaryRateLimitWait, true
		}
		if !limited && c == http.StatusTooManyRequests {
			wait, limited = SecondaryRateLimitWait, true
		}
		return limited && wait <= p.MaxRateLimitWait, nil
	}
	return false, nil
}

// checkRetryWrite retries a non-idempotent request only when GitHub
// cannot have acted on it: a rate limit response (refused before it was
// processed) or a connection that never opened. A 5xx, a timeout or a
// connection lost after sending may hide a write that happened; the caller
// then reads before it writes again (see ghapi's retryWrite).
func (p Options) checkRetryWrite(ctx context.Context, resp *http.Response, err error) (bool, error) {
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

// Backoff is how long to wait before attempt: what a rate limit response
// asks for, else exponential backoff between lo and hi.
func (p Options) Backoff(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	var wait time.Duration
	switch {
	case resp != nil && (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests):
		// checkRetry retried it, so it is a rate limit: wait what GitHub
		// asked, or the documented minute when it named no time.
		w, ok := Wait(resp, time.Now())
		if !ok {
			w = SecondaryRateLimitWait
		}
		wait = w
	case resp != nil && resp.Header.Get("Retry-After") != "":
		w, _ := Wait(resp, time.Now())
		wait = min(w, hi)
	default:
		wait = retryablehttp.DefaultBackoff(lo, hi, attempt, nil)
	}
	if p.Sleep != nil {
		return p.Sleep(wait)
	}
	return wait
}

// Wait reads the wait a response asks for: Retry-After (seconds or
// an HTTP date), else x-ratelimit-reset when x-ratelimit-remaining is 0.
func Wait(resp *http.Response, now time.Time) (time.Duration, bool) {
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

// ResetIn says when a rate limit ends, from Retry-After or
// x-ratelimit-reset (or reset, when the caller knows it): "; it resets at
// 10:42:00 UTC, in 3m0s: re-run after that".
func ResetIn(resp *http.Response, reset time.Time) string {
	now := time.Now()
	if resp != nil {
		if wait, ok := Wait(resp, now); ok {
			reset = now.Add(wait)
		}
	}
	if reset.IsZero() {
		return ": re-run in a few minutes"
	}
	return fmt.Sprintf(": it resets at %s, in %s; re-run after that", reset.UTC().Format("15:04:05 MST"), max(reset.Sub(now), 0).Round(time.Second))
}

package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/hashicorp/go-retryablehttp"
)

// Retry bounds: a gateway that is down for longer than this fails the run,
// and the next run converges.
const (
	retryMax      = 4 // retries after the first attempt
	retryWaitMin  = 500 * time.Millisecond
	retryWaitMax  = 15 * time.Second
	maxRetryAfter = time.Minute // longest Retry-After honoured as given

	maxBody    = 8 << 20 // largest response body read (an OPA list of many previews)
	maxMessage = 300     // characters of a gateway's error message quoted in ours
)

// errRedirect is what CheckRedirect returns; it is never retried.
var errRedirect = errors.New("refusing redirect")

// httpDoer sends requests to one base URL with retries, timeouts and capped
// response bodies.
type httpDoer struct {
	base   *url.URL
	client *retryablehttp.Client
	name   string // "opa" or "webhook", for errors
	// prepare, when set, runs on every attempt's request (signing).
	prepare retryablehttp.PrepareRetry
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func newDoer(c Config, name string, prepare retryablehttp.PrepareRetry) *httpDoer {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	var hc http.Client
	if c.HTTPClient != nil {
		hc = *c.HTTPClient
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		tr.TLSHandshakeTimeout = 10 * time.Second
		tr.ResponseHeaderTimeout = timeout
		tr.Proxy = http.ProxyFromEnvironment
		hc.Transport = tr
	}
	if hc.Timeout == 0 || hc.Timeout > timeout {
		hc.Timeout = timeout
	}
	hc.CheckRedirect = checkRedirect
	base, _ := url.Parse(c.URL) // ValidateConfig parsed it already
	base.Path = strings.TrimSuffix(base.Path, "/")
	base.RawPath = ""

	rc := &retryablehttp.Client{
		HTTPClient:   &hc,
		Logger:       nil, // the caller reports; retry chatter would only be noise
		RetryWaitMin: retryWaitMin,
		RetryWaitMax: retryWaitMax,
		RetryMax:     retryMax,
		CheckRetry:   checkRetry,
		Backoff:      backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
		PrepareRetry: prepare,
	}
	if c.retryWaitMin > 0 {
		rc.RetryWaitMin = c.retryWaitMin
	}
	if c.retryWaitMax > 0 {
		rc.RetryWaitMax = c.retryWaitMax
	}
	return &httpDoer{base: base, client: rc, name: name, prepare: prepare}
}

// checkRedirect follows a redirect only to the same scheme and host with the
// same method: a PUT turned into a GET by a 302 would look like success, and
// a policy must never be sent somewhere the user did not configure.
func checkRedirect(req *http.Request, via []*http.Request) error {
	first := via[0]
	switch {
	case len(via) >= 5:
		return fmt.Errorf("%w: more than 5 redirects", errRedirect)
	case req.URL.Host != first.URL.Host || req.URL.Scheme != first.URL.Scheme:
		return fmt.Errorf("%w to another host (%s://%s)", errRedirect, req.URL.Scheme, req.URL.Host)
	case req.Method != first.Method:
		return fmt.Errorf("%w that turns %s into %s", errRedirect, first.Method, req.Method)
	}
	return nil
}

func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if errors.Is(err, errRedirect) {
		return false, err
	}
	return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
}

func backoff(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	return min(retryablehttp.DefaultBackoff(lo, hi, attempt, resp), maxRetryAfter)
}

// do sends one logical request (with retries) and reads at most maxBody of
// the answer. Only transport failures are errors; the caller judges status.
func (h *httpDoer) do(ctx context.Context, method, path string, query url.Values, body []byte, header http.Header) (response, error) {
	u := *h.base
	u.Path += path
	u.RawQuery = query.Encode()
	var rawBody any
	if body != nil {
		rawBody = body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, u.String(), rawBody)
	if err != nil {
		return response{}, fmt.Errorf("%s: build %s %s: %w", h.name, method, path, err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("User-Agent", "preview-access")
	if h.prepare != nil {
		// The first attempt is signed like every retry.
		if err := h.prepare(req.Request); err != nil {
			return response{}, fmt.Errorf("%s: prepare %s %s: %w", h.name, method, path, err)
		}
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s: %s %s: %w", h.name, method, u.Redacted(), cleanErr(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return response{}, fmt.Errorf("%s: %s %s: read response: %w", h.name, method, u.Redacted(), err)
	}
	if len(b) > maxBody {
		return response{}, fmt.Errorf("%s: %s %s: response larger than %d bytes", h.name, method, u.Redacted(), maxBody)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// cleanErr unwraps url.Error, whose text repeats the method and URL we
// already name.
func cleanErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("timed out: %w", ue.Err)
		}
		return ue.Err
	}
	return err
}

// statusError describes an unexpected answer, quoting the gateway's message.
func (h *httpDoer) statusError(method, path string, r response, message string) error {
	if message == "" {
		message = string(r.body)
	}
	message = quoteMessage(message)
	if message != "" {
		return fmt.Errorf("%s: %s %s: %s: %s", h.name, method, path, statusText(r.status), message)
	}
	return fmt.Errorf("%s: %s %s: %s", h.name, method, path, statusText(r.status))
}

func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("%d %s", code, t)
	}
	return fmt.Sprintf("status %d", code)
}

// quoteMessage makes a gateway's message safe to print on one line.
func quoteMessage(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
	if len(s) > maxMessage {
		s = strings.ToValidUTF8(s[:maxMessage], "") + "…"
	}
	return s
}

func is2xx(code int) bool { return code >= 200 && code < 300 }

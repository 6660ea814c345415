package run

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/preview-access/preview-access/internal/testenv"
)

// The gateway end to end, as a person meets it: they sign in with an OIDC
// identity provider (mockoidc, in this process) through oauth2-proxy, and
// call the FastAPI example (examples/fastapi), whose guard asks the test
// OPA about every request, in Envoy's ext_authz shape, with the document
// the run wrote. Only the identity provider is a fake; every clock is the
// real one.

// TestE2EGateway: the PR's people get what their roles allow, everybody
// else a 403 that says why, and after teardown, after the preview's expiry
// and after the sign-in's own expiry, nobody gets anything.
func TestE2EGateway(t *testing.T) {
	t.Parallel()
	t.Run("lifecycle", func(t *testing.T) {
		t.Parallel()
		testE2ELifecycle(t)
	})
	t.Run("expiry", func(t *testing.T) {
		t.Parallel()
		testE2EExpiry(t)
	})
}

func testE2ELifecycle(t *testing.T) {
	g := startE2EGateway(t, 0)
	h := newHarness(t)
	g.publishTo(h)
	h.gh.SetFile(h.owner, h.repo, "main", ".github/preview-access.yml", "grants:\n  reader:\n    teams: ["+h.owner+"/qa]\n")
	h.event("pull_request_target", "pull_request_target.opened.json")
	if code := h.run(); code != 0 {
		t.Fatalf("opened: exit %d", code)
	}
	g.checkDocument(h)
	id := fmt.Sprintf("gh-%d-pr-42", h.repoID)

	// Without signing in, nothing reaches the preview.
	anon := &http.Client{Timeout: 10 * time.Second, CheckRedirect: noRedirects}
	if status, body := g.call(anon, http.MethodGet, "/api/orders", "Accept", "application/json"); status != http.StatusUnauthorized {
		t.Errorf("GET without signing in: %d %s; want 401 from oauth2-proxy", status, body)
	}

	// The author (octocat) is admin: may read and write.
	author, status, body := g.signIn("octocat")
	if status != http.StatusOK || !strings.Contains(body, `"coffee"`) {
		t.Errorf("author GET /api/orders: %d %s; want 200 and the orders", status, body)
	}
	if status, body := g.call(author, http.MethodPost, "/api/orders"); status != http.StatusCreated {
		t.Errorf("author POST /api/orders: %d %s; want 201", status, body)
	}
	if status, body := g.call(author, http.MethodDelete, "/api/orders/1"); status != http.StatusNoContent {
		t.Errorf("author DELETE /api/orders/1: %d %s; want 204", status, body)
	}

	// The requested reviewer (alice) is reader: may read, not write.
	reviewer, status, body := g.signIn("alice")
	if status != http.StatusOK {
		t.Errorf("reviewer GET /api/orders: %d %s; want 200", status, body)
	}
	status, body = g.call(reviewer, http.MethodPost, "/api/orders")
	g.wantDenied("reviewer POST", status, body, guardLine{Who: "alice", Method: http.MethodPost, Role: "reader", Preview: id},
		"alice is reader on PR 42; reader may not POST /api/orders")

	// A member of the team the access file grants reader: the groups claim
	// arrives as X-Forwarded-Groups; a member of two groups is let in.
	if _, status, body := g.signIn("carol", h.owner+"/eng", h.owner+"/qa"); status != http.StatusOK {
		t.Errorf("team member GET /api/orders: %d %s; want 200", status, body)
	}

	// Somebody the identity provider knows but the PR does not: refused,
	// also when they send the author's or a team's identity headers
	// themselves (the proxy replaces them).
	stranger, status, body := g.signIn("mallory", "other-org/qa")
	g.wantDenied("stranger GET", status, body, guardLine{Who: "mallory", Method: http.MethodGet, Preview: id}, "mallory has no role on PR 42")
	status, body = g.call(stranger, http.MethodGet, "/api/orders",
		"X-Forwarded-User", "octocat", "X-Forwarded-Groups", h.owner+"/qa", "X-Forwarded-Preferred-Username", "octocat")
	g.wantDenied("stranger GET as octocat", status, body, guardLine{Who: "mallory", Method: http.MethodGet, Preview: id}, "mallory has no role on PR 42")
	status, body = g.call(stranger, http.MethodPost, "/api/orders")
	g.wantDenied("stranger POST", status, body, guardLine{Who: "mallory", Method: http.MethodPost, Preview: id}, "mallory has no role on PR 42")

	// A WebSocket handshake is decided as the GET it is: the reviewer may
	// open the feed (and gets the orders the author left), the stranger
	// may not, and the refusal is logged like any other.
	if status, msg := g.handshake(reviewer, "/api/orders/feed"); status != http.StatusSwitchingProtocols || !strings.Contains(msg, `"tea"`) {
		t.Errorf("reviewer opening /api/orders/feed: %d, first message %q; want 101 and the orders", status, msg)
	}
	if status, _ := g.handshake(stranger, "/api/orders/feed"); status != http.StatusForbidden {
		t.Errorf("stranger opening /api/orders/feed: %d; want 403", status)
	}
	g.wantLogged(guardLine{Event: "denied", Status: http.StatusForbidden, Who: "mallory", Preview: id, Method: http.MethodGet, Path: "/api/orders/feed", Reason: "mallory has no role on PR 42"})

	// The preview's server serves the proxy's host alone: called at its
	// own address, even with the author's headers, it asks OPA nothing.
	req, err := http.NewRequest(http.MethodGet, g.app.URL()+"/api/orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-User", "octocat")
	if resp, err := anon.Do(req); err != nil {
		t.Errorf("GET the preview's server directly: %v", err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("GET the preview's server directly: %s; want 421", resp.Status)
	}

	h.event("pull_request_target", "pull_request_target.closed.merged.json")
	if code := h.run(); code != 0 {
		t.Fatalf("closed: exit %d", code)
	}
	// Still signed in, but there is no preview any more.
	status, body = g.call(author, http.MethodGet, "/api/orders")
	g.wantDenied("author GET after teardown", status, body, guardLine{Who: "octocat", Method: http.MethodGet}, "no preview for host "+g.proxy.Addr)
}

func testE2EExpiry(t *testing.T) {
	const (
		ttl    = time.Hour        // the least the ttl input takes
		left   = 15 * time.Second // from now until the preview expires
		idpTTL = 3 * time.Second  // of the identity provider's tokens
	)
	// Refreshing a session older than a second, oauth2-proxy sees that the
	// identity provider's tokens expired (mockoidc refuses the expired
	// refresh token, the ID token no longer verifies) and drops it.
	g := startE2EGateway(t, idpTTL, "--cookie-refresh=1s")
	h := newHarness(t)
	// A preview expires ttl after the PR's last activity. The run's clock
	// and the PR's updated_at are put ttl-left in the past, so the expiry
	// falls `left` from the real now, by which OPA judges it.
	h.now = time.Now().UTC().Add(left - ttl).Truncate(time.Second)
	updated := h.now.Format(time.RFC3339)
	h.set("ttl", "1h")
	g.publishTo(h)
	h.event("pull_request_target", "pull_request_target.opened.json", replace(`"updated_at": "2024-05-02T10:21:40Z"`, `"updated_at": "`+updated+`"`))
	if code := h.run(); code != 0 {
		t.Fatalf("opened: exit %d", code)
	}
	expiresAt := g.checkDocument(h)
	if want := h.now.Add(ttl); !expiresAt.Equal(want) {
		t.Fatalf("expiresAt %s; want %s (updated_at %s + ttl)", expiresAt, want, updated)
	}

	author, status, body := g.signIn("octocat")
	signedIn := time.Now()
	if signedIn.After(expiresAt) {
		t.Fatalf("signed in at %s, after the preview expired (%s): the run took longer than %s", signedIn, expiresAt, left)
	}
	t.Logf("signed in %s before the preview expires", expiresAt.Sub(signedIn).Round(time.Millisecond))
	if status != http.StatusOK {
		t.Fatalf("author GET /api/orders before the expiry: %d %s; want 200", status, body)
	}

	// The sign-in's tokens have expired: the proxy sends the author to sign
	// in again, and the request never reaches the preview.
	time.Sleep(time.Until(signedIn.Add(idpTTL + time.Second)))
	resp, _ := g.do(author, http.MethodGet, "/api/orders")
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, g.idp.AuthorizationEndpoint()) {
		t.Errorf("GET with an expired sign-in: %s, Location %q; want 302 to %s", resp.Status, loc, g.idp.AuthorizationEndpoint())
	}

	// The preview has expired: a fresh sign-in gets nothing either.
	time.Sleep(time.Until(expiresAt.Add(100 * time.Millisecond)))
	_, status, body = g.signIn("octocat")
	// The role is still the one the author holds, which no longer helps.
	g.wantDenied("author GET after the expiry", status, body,
		guardLine{Who: "octocat", Method: http.MethodGet, Role: "admin", Preview: fmt.Sprintf("gh-%d-pr-42", h.repoID)}, "PR 42 expired at")
}

// e2eGateway is one identity provider, oauth2-proxy and FastAPI example,
// for one test: the proxy's address is the preview's host.
type e2eGateway struct {
	t     *testing.T
	idp   *mockoidc.MockOIDC
	proxy *testenv.Server
	app   *testenv.Server

	denials map[guardLine]int // requests refused so far, by their log line
}

// startE2EGateway starts the chain; idpTTL > 0 sets how long the identity
// provider's access, ID and refresh tokens live, proxyFlags are added to
// oauth2-proxy's.
func startE2EGateway(t *testing.T, idpTTL time.Duration, proxyFlags ...string) *e2eGateway {
	t.Helper()
	idp, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatalf("mockoidc: %v", err)
	}
	if idpTTL > 0 {
		idp.AccessTTL, idp.RefreshTTL = idpTTL, idpTTL
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := idp.Start(ln, nil); err != nil {
		t.Fatalf("mockoidc: %v", err)
	}
	t.Cleanup(func() { idp.Shutdown() })
	// People call the preview at the proxy's address, the one host its
	// guard serves.
	proxyAddr := testenv.FreeAddr(t)
	app := testenv.StartFastAPIExample(t, testenv.FastAPIOptions{OPAURL: testenv.OPAURL(t), OPAToken: testenv.OPAGatewayToken(t), Host: proxyAddr})
	c := idp.Config()
	proxy := testenv.StartOAuth2Proxy(t, testenv.OAuth2ProxyOptions{
		IssuerURL:    c.Issuer,
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		Upstream:     app.URL() + "/",
		Flags:        proxyFlags,
		Addr:         proxyAddr,
	})
	return &e2eGateway{t: t, idp: idp, proxy: proxy, app: app, denials: map[guardLine]int{}}
}

// publishTo makes h's runs publish to the test OPA, with the proxy's
// address as the preview URL, bound to h's repository by the OPA's admin,
// who vouches for oauth2-proxy's identity headers.
func (g *e2eGateway) publishTo(h *harness) {
	g.t.Helper()
	testenv.BindOPAHosts(g.t, h.repoID, g.proxy.Addr)
	testenv.VouchForProxyHeaders(g.t)
	h.set("preview-url", g.proxy.URL(), "gateway", "opa", "gateway-url", testenv.OPAURL(g.t), "gateway-token", testenv.OPARepositoryToken(g.t, h.repoID))
	installModule(g.t)
}

// checkDocument checks that the run published the proxy's address as the
// preview's host, and returns the preview's expiry.
func (g *e2eGateway) checkDocument(h *harness) time.Time {
	g.t.Helper()
	var doc struct {
		Host      string    `json:"host"`
		ExpiresAt time.Time `json:"expiresAt"`
	}
	if err := json.Unmarshal([]byte(h.outputs()["gateway-policy"]), &doc); err != nil {
		g.t.Fatalf("gateway-policy output: %v", err)
	}
	if doc.Host != g.proxy.Addr {
		g.t.Fatalf("document host %q; want the proxy's %q", doc.Host, g.proxy.Addr)
	}
	return doc.ExpiresAt
}

// signIn signs login in as a browser would, with a cookie jar that follows
// the redirects of a first GET /api/orders: to the identity provider, which
// signs in the user queued for it at once, back to the proxy's callback,
// and on to the preview. It returns the signed-in client, which follows no
// more redirects (a lost session shows as a 302, not as a new sign-in),
// and the preview's answer.
func (g *e2eGateway) signIn(login string, groups ...string) (*http.Client, int, string) {
	g.t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		g.t.Fatal(err)
	}
	var hops []string
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		hops = append(hops, req.URL.Host+req.URL.Path)
		if len(via) > 5 {
			return fmt.Errorf("more than 5 redirects: %v", hops)
		}
		return nil
	}}
	g.idp.QueueUser(&mockoidc.MockUser{
		Subject:           login, // what oauth2-proxy passes as X-Forwarded-User
		PreferredUsername: login,
		Email:             login + "@users.noreply.github.com",
		EmailVerified:     true,
		Groups:            groups,
	})
	status, body := g.call(c, http.MethodGet, "/api/orders")
	idp := strings.TrimPrefix(g.idp.Addr(), "http://")
	if want := []string{idp + mockoidc.AuthorizationEndpoint, g.proxy.Addr + "/oauth2/callback", g.proxy.Addr + "/api/orders"}; !slices.Equal(hops, want) {
		g.t.Fatalf("signing in %s went %v; want %v", login, hops, want)
	}
	c.CheckRedirect = noRedirects
	return c, status, body
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// call sends method path through the proxy, with header's name, value
// pairs (a POST carries a new order), and returns the status and body.
func (g *e2eGateway) call(c *http.Client, method, path string, header ...string) (int, string) {
	g.t.Helper()
	resp, body := g.do(c, method, path, header...)
	return resp.StatusCode, body
}

// do is call, with the whole response (its body read and closed).
func (g *e2eGateway) do(c *http.Client, method, path string, header ...string) (*http.Response, string) {
	g.t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(`{"item": "tea", "quantity": 1}`)
	}
	req, err := http.NewRequest(method, g.proxy.URL()+path, body)
	if err != nil {
		g.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp, string(b)
}

// guardLine is one JSON line the guard logs per refused request.
type guardLine struct {
	Event   string `json:"event"`
	Status  int    `json:"status"`
	Who     string `json:"who"`
	Preview string `json:"preview"`
	Method  string `json:"method"`
	Path    string `json:"path"`
	Role    string `json:"role"`
	Reason  string `json:"reason"`
}

// wantDenied checks that the preview refused a request to /api/orders
// with a 403 whose reason contains reason, and that the guard logged it, in
// one JSON line per such request: want's who, method, role and preview,
// and the reason the caller got.
func (g *e2eGateway) wantDenied(what string, status int, body string, want guardLine, reason string) {
	g.t.Helper()
	var resp struct {
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal([]byte(body), &resp); status != http.StatusForbidden || err != nil || !strings.Contains(resp.Detail, reason) {
		g.t.Errorf("%s: %d %s; want 403 with a detail containing %q", what, status, body, reason)
		return
	}
	want.Event, want.Status, want.Path, want.Reason = "denied", http.StatusForbidden, "/api/orders", resp.Detail
	g.denials[want]++
	lines := g.awaitLines(g.denials[want], func(got guardLine) bool {
		return got.Who == want.Who && got.Method == want.Method && got.Path == want.Path && got.Reason == want.Reason
	})
	if len(lines) != g.denials[want] {
		g.t.Errorf("%s: the guard logged %d lines for %s %s with reason %q; want %d, one per request", what, len(lines), want.Who, want.Method, want.Reason, g.denials[want])
		return
	}
	if got := lines[len(lines)-1]; got != want {
		g.t.Errorf("%s: guard log line %+v; want %+v", what, got, want)
	}
}

// awaitLines returns the guard's log lines that match, waiting a moment
// (a line can come just after the response) until there are at least n.
func (g *e2eGateway) awaitLines(n int, match func(guardLine) bool) []guardLine {
	g.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var lines []guardLine
		for _, l := range strings.Split(g.app.Output(), "\n") {
			var got guardLine
			if json.Unmarshal([]byte(l), &got) == nil && match(got) {
				lines = append(lines, got)
			}
		}
		if len(lines) >= n || time.Now().After(deadline) {
			return lines
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// handshake opens a WebSocket to path through the proxy and returns the
// answer's status and, once the socket is open, its first text message.
func (g *e2eGateway) handshake(c *http.Client, path string) (int, string) {
	g.t.Helper()
	key := make([]byte, 16)
	if _, err := rand.Read(key); err != nil {
		g.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, g.proxy.URL()+path, nil)
	if err != nil {
		g.t.Fatal(err)
	}
	for name, value := range map[string]string{
		"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key": base64.StdEncoding.EncodeToString(key),
	} {
		req.Header.Set(name, value)
	}
	resp, err := c.Do(req)
	if err != nil {
		g.t.Fatalf("WebSocket handshake for %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return resp.StatusCode, ""
	}
	// One unmasked text frame from the server (RFC 6455 section 5.2).
	conn := bufio.NewReader(resp.Body)
	var head [2]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		g.t.Fatalf("WebSocket %s: reading a frame: %v", path, err)
	}
	n := int(head[1] & 0x7f)
	if n == 126 {
		var ext [2]byte
		if _, err := io.ReadFull(conn, ext[:]); err != nil {
			g.t.Fatalf("WebSocket %s: reading a frame: %v", path, err)
		}
		n = int(binary.BigEndian.Uint16(ext[:]))
	}
	if head[0] != 0x81 || n == 127 {
		g.t.Fatalf("WebSocket %s: first frame starts %x; want a short final text frame", path, head)
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(conn, msg); err != nil {
		g.t.Fatalf("WebSocket %s: reading a frame: %v", path, err)
	}
	return resp.StatusCode, string(msg)
}

// wantLogged waits a moment for the guard to log want.
func (g *e2eGateway) wantLogged(want guardLine) {
	g.t.Helper()
	if len(g.awaitLines(1, func(got guardLine) bool { return got == want })) == 0 {
		g.t.Errorf("the guard logged no line %+v:\n%s", want, g.app.Output())
	}
}

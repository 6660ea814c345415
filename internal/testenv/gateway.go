package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// A gateway in front of a preview, as the README describes it: oauth2-proxy
// signs people in and passes who they are to the preview, whose guard
// (examples/fastapi) asks OPA about every request. scripts/test installs
// both; each test starts its own, since their flags name the test's
// identity provider and upstream.
const (
	EnvOAuth2ProxyBin = "PREVIEW_ACCESS_OAUTH2_PROXY_BIN" // oauth2-proxy executable
	EnvFastAPIPython  = "PREVIEW_ACCESS_FASTAPI_PYTHON"   // python3 with fastapi, uvicorn and httpx
)

// OAuth2ProxyBin is the path of the oauth2-proxy executable.
func OAuth2ProxyBin(t testing.TB) string {
	t.Helper()
	return lookup(t, EnvOAuth2ProxyBin, "scripts/test installs oauth2-proxy")
}

// FastAPIPython is the path of a python3 that can import fastapi, uvicorn
// and httpx.
func FastAPIPython(t testing.TB) string {
	t.Helper()
	return lookup(t, EnvFastAPIPython, "scripts/test installs Debian's python3-fastapi")
}

// FastAPIExampleDir is examples/fastapi of this repository.
func FastAPIExampleDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "examples", "fastapi")
}

// OAuth2ProxyOptions are what an oauth2-proxy needs from a test.
type OAuth2ProxyOptions struct {
	// The OIDC identity provider: its issuer (discovery is read from
	// ISSUER/.well-known/openid-configuration) and this client's
	// registration with it.
	IssuerURL, ClientID, ClientSecret string
	// Upstream is the preview the proxy sends signed-in requests to.
	Upstream string
	// Flags are added to StartOAuth2Proxy's own, e.g. --cookie-refresh=1s.
	Flags []string
	// Addr, when set, is where the proxy listens (127.0.0.1:PORT, e.g.
	// FreeAddr's): the preview's guard must know its host before the
	// proxy starts.
	Addr string
}

// StartOAuth2Proxy starts an oauth2-proxy in front of o.Upstream, until the
// test ends. People sign in with o's identity provider; the proxy then
// passes the ID token's sub claim as X-Forwarded-User and its groups claim
// as X-Forwarded-Groups (comma-separated), and replaces any such header a
// caller sent itself. The preview's URL is the returned server's URL().
func StartOAuth2Proxy(t testing.TB, o OAuth2ProxyOptions) *Server {
	t.Helper()
	bin := OAuth2ProxyBin(t)
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	return StartServer(t, ServerSpec{
		Name: "oauth2-proxy",
		Command: func(addr string) *exec.Cmd {
			args := append([]string{
				"--http-address=" + addr,
				"--provider=oidc",
				"--oidc-issuer-url=" + o.IssuerURL,
				"--client-id=" + o.ClientID,
				"--client-secret=" + o.ClientSecret,
				// groups is not among oauth2-proxy's default scopes, and
				// the identity provider leaves the claim out without it.
				"--scope=openid email profile groups",
				"--code-challenge-method=S256",
				"--redirect-url=http://" + addr + "/oauth2/callback",
				"--upstream=" + o.Upstream,
				// The guard matches the preview by the Host people called.
				"--pass-host-header=true",
				"--pass-user-headers=true",
				// Replace X-Forwarded-User, -Groups, … a caller sends:
				// whoever could set them would be whoever they name.
				"--skip-auth-strip-headers=true",
				"--reverse-proxy=false",
				"--email-domain=*",
				// Straight to the identity provider, as a client that
				// follows redirects can: no sign-in page to click.
				"--skip-provider-button",
				// 32 hex digits: a 32-byte AES key.
				"--cookie-secret=" + hex.EncodeToString(secret),
				"--cookie-secure=false", // http on 127.0.0.1
			}, o.Flags...)
			cmd := exec.Command(bin, args...)
			cmd.Env = childEnv()
			return cmd
		},
		Ready: func(addr string) error { return httpOK("http://" + addr + "/ping") },
		Addr:  o.Addr,
	})
}

// FastAPIOptions are what the FastAPI example needs from a test.
type FastAPIOptions struct {
	OPAURL   string
	OPAToken string // a gateway's token (OPAGatewayToken)
	// Host is the one host the preview serves (GUARD_HOST): the Host its
	// callers send through the proxy, which is the proxy's own address.
	Host string
	Env  []string // more GUARD_* settings, NAME=value
}

// StartFastAPIExample serves examples/fastapi with uvicorn until the test
// ends. Its output holds one JSON line per request the guard refused.
func StartFastAPIExample(t testing.TB, o FastAPIOptions) *Server {
	t.Helper()
	python := FastAPIPython(t)
	return StartServer(t, ServerSpec{
		Name: "fastapi example",
		Command: func(addr string) *exec.Cmd {
			host, port, _ := strings.Cut(addr, ":")
			cmd := exec.Command(python, "-m", "uvicorn", "app:app", "--app-dir", FastAPIExampleDir(), "--host", host, "--port", port)
			cmd.Env = childEnv(append([]string{
				"GUARD_OPA_URL=" + o.OPAURL,
				"GUARD_HOST=" + o.Host,
				"GUARD_OPA_TOKEN=" + o.OPAToken,
				"PYTHONDONTWRITEBYTECODE=1", // no __pycache__ in the source tree
				"PYTHONUNBUFFERED=1",
			}, o.Env...)...)
			return cmd
		},
	})
}

func httpOK(url string) error {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

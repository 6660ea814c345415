package run

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/sethvargo/go-githubactions"

	"github.com/preview-access/preview-access/internal/testenv"
	"github.com/preview-access/preview-access/internal/testenv/fakegithub"
)

// testUI is a ui inside Actions writing to buffers and an output file.
func testUI(t *testing.T) (*ui, *bytes.Buffer, string) {
	t.Helper()
	var out bytes.Buffer
	file := filepath.Join(t.TempDir(), "output")
	getenv := func(k string) string {
		if k == "GITHUB_OUTPUT" {
			return file
		}
		return ""
	}
	u := &ui{
		a:       githubactions.New(githubactions.WithGetenv(getenv), githubactions.WithWriter(&out)),
		actions: true, out: &out, errw: &out, getenv: getenv,
	}
	return u, &out, file
}

// TestSetOutputCannotForge: a value holding delimiter-like lines, whole
// heredoc blocks or name=value lines stays one value of its own output.
func TestSetOutputCannotForge(t *testing.T) {
	t.Parallel()
	values := []string{
		"plain",
		"x\nghadelimiter_00000000000000000000000000000000\nrole-arn<<EOF\nforged\nEOF",
		"_GitHubActionsFileCommandDelimeter_\nrole-arn=forged\n_GitHubActionsFileCommandDelimeter_",
		"EOF\nrole-name<<EOF\nforged\nEOF",
		"ghadelimiter_",
		"",
		"trailing newline\n",
		"\r\nrole-arn<<X\r\nforged\r\nX\r\n",
	}
	for i, v := range values {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			u, _, file := testUI(t)
			if err := u.setOutput("plan", v); err != nil {
				t.Fatal(err)
			}
			if err := u.setOutput("changed", "true"); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := parseOutputs(string(data))
			want := map[string]string{"plan": v, "changed": "true"}
			if len(got) != 2 || got["plan"] != v || got["changed"] != "true" {
				t.Errorf("outputs %q; want %q\nfile:\n%s", got, want, data)
			}
		})
	}
	// The delimiter is fresh for every output.
	u, _, file := testUI(t)
	u.setOutput("a", "1")
	u.setOutput("b", "2")
	data, _ := os.ReadFile(file)
	delims := regexp.MustCompile(`<<(\S+)`).FindAllStringSubmatch(string(data), -1)
	if len(delims) != 2 || delims[0][1] == delims[1][1] || len(delims[0][1]) < 30 {
		t.Errorf("delimiters %q; want two different random ones", delims)
	}
}

// commandLine reports whether the runner would read line as a workflow
// command: "::name::" after leading white space (.NET's TrimStart), or the
// legacy "##[name]" anywhere.
func commandLine(line string) bool {
	return strings.HasPrefix(strings.TrimLeftFunc(line, unicode.IsSpace), "::") || strings.Contains(line, "##[")
}

func TestInfoCannotStartCommand(t *testing.T) {
	t.Parallel()
	hostile := []string{
		"::error::pwned",
		"   ::add-mask::x",
		"\t::set-output name=role-arn::forged",
		"\r::warning::x",
		"ok\n::error file=a,line=1::x",
		"\u00a0::error::nbsp",
		"\u2028::error::line separator",
		"\u3000::notice::ideographic space",
		"\x1b[2K\r::error::after escape",
		"branch ##[error]legacy form",
		"##[set-output name=role-arn;]forged",
		"a\x00::error::nul",
		"\u0085::error::next line",
	}
	u, out, _ := testUI(t)
	for _, h := range hostile {
		u.Info("plan for %s", h)
		u.Info("%s", h)
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if commandLine(line) {
			t.Errorf("info printed a workflow command: %q", line)
		}
		if strings.IndexFunc(line, func(r rune) bool { return unicode.IsControl(r) }) >= 0 {
			t.Errorf("info printed a control character: %q", line)
		}
	}
}

// TestAnnotationsAreOneLine: errors, warnings and notices built from
// hostile text are one workflow command each, whose data cannot end it.
func TestAnnotationsAreOneLine(t *testing.T) {
	t.Parallel()
	u, out, _ := testUI(t)
	u.error(errors.Join(errors.New("a\n::error::forged"), fmt.Errorf("b: %w: %w", errors.New("c\r\n::add-mask::x"), errors.New("d"))))
	u.Warning("w\n::error::forged %s", "\u2028::notice::x")
	u.Notice("n\r::error::forged")
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	want := []string{"::error::", "::error::", "::warning::", "::notice::"}
	if len(lines) != len(want) {
		t.Fatalf("%d lines %q; want %d annotations", len(lines), lines, len(want))
	}
	for i, l := range lines {
		// "::" in the data is harmless: the command ends at the first.
		if !strings.HasPrefix(l, want[i]) {
			t.Errorf("line %d = %q; want one %s command", i, l, want[i])
		}
	}
	if !strings.Contains(lines[1], "b: ") {
		t.Errorf("the wrapped error lost its context: %q", lines[1])
	}
}

// everything is every place a run's text can reach: logs, summary,
// outputs, and the PR's comments.
func (h *harness) everything(r result) string {
	var b strings.Builder
	// add-mask lines name the secret on purpose; they are checked apart.
	for _, l := range strings.Split(r.stdout, "\n") {
		if !strings.HasPrefix(l, "::add-mask::") {
			b.WriteString(l + "\n")
		}
	}
	b.WriteString(r.stderr + "\n" + r.summary + "\n")
	for k, v := range r.outputs {
		b.WriteString(k + "=" + v + "\n")
	}
	for _, c := range h.gh.Comments(h.owner, h.repo, 42) {
		b.WriteString(c.Body + "\n")
	}
	for _, c := range h.gh.Calls() {
		b.WriteString(c.Method + " " + c.Raw + "?" + c.Query + "\n" + c.Body + "\n")
	}
	return b.String()
}

// wantMasked asserts that each secret is masked before the run prints
// anything else, and appears nowhere else.
func wantMasked(t *testing.T, h *harness, r result, secrets ...string) {
	t.Helper()
	lines := strings.Split(r.stdout, "\n")
	for _, s := range secrets {
		i := slicesIndex(lines, "::add-mask::"+s)
		if i < 0 {
			t.Errorf("secret %.6s… is never masked", s)
			continue
		}
		for _, l := range lines[:i] {
			if !strings.HasPrefix(l, "::add-mask::") {
				t.Errorf("%q is printed before the secret %.6s… is masked", l, s)
			}
		}
		if strings.Contains(h.everything(r), s) {
			t.Errorf("secret %.6s… appears in the run's logs, summary, outputs or GitHub calls", s)
		}
	}
}

func slicesIndex(s []string, v string) int {
	for i, e := range s {
		if e == v {
			return i
		}
	}
	return -1
}

// webhookReceiver is a gateway receiver that keeps what it is sent.
type webhookReceiver struct {
	mu   sync.Mutex
	docs map[string][]byte
	seen []string // headers and bodies of every request
}

func (w *webhookReceiver) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.mu.Lock()
	defer w.mu.Unlock()
	var hdr strings.Builder
	r.Header.Write(&hdr)
	w.seen = append(w.seen, r.Method+" "+r.URL.String()+"\n"+hdr.String()+"\n"+string(body))
	id := strings.TrimPrefix(r.URL.Path, "/previews/")
	switch r.Method {
	case http.MethodGet:
		if d, ok := w.docs[id]; ok {
			rw.Write(d)
			return
		}
		http.NotFound(rw, r)
	case http.MethodPut:
		w.docs[id] = body
	case http.MethodDelete:
		delete(w.docs, id)
	}
}

// TestSecretsNeverLeak: full lifecycles with each gateway that takes a
// secret; the secret is masked first and found nowhere.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	t.Run("opa", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.set("gateway", "opa", "gateway-url", testenv.OPAURL(t), "gateway-token", testenv.OPAToken(t))
		for _, ev := range []string{"pull_request_target.opened.json", "pull_request_target.closed.merged.json"} {
			h.event("pull_request_target", ev)
			r := h.runWith(runOpts{})
			if r.code != 0 {
				t.Fatalf("%s: exit %d", ev, r.code)
			}
			wantMasked(t, h, r, testenv.OPAToken(t), h.gh.Token())
		}
	})
	t.Run("webhook", func(t *testing.T) {
		t.Parallel()
		recv := &webhookReceiver{docs: map[string][]byte{}}
		srv := httptest.NewServer(recv)
		t.Cleanup(srv.Close)
		const secret = "whsec-0123456789abcdef-do-not-print"
		h := newHarness(t)
		h.set("gateway", "webhook", "gateway-url", srv.URL, "gateway-secret", secret)
		for _, ev := range []string{"pull_request_target.opened.json", "pull_request_target.closed.merged.json"} {
			h.event("pull_request_target", ev)
			r := h.runWith(runOpts{})
			if r.code != 0 {
				t.Fatalf("%s: exit %d", ev, r.code)
			}
			wantMasked(t, h, r, secret, h.gh.Token())
		}
		recv.mu.Lock()
		defer recv.mu.Unlock()
		if len(recv.seen) == 0 {
			t.Fatal("the webhook was never called")
		}
		for _, s := range recv.seen {
			if strings.Contains(s, secret) {
				t.Errorf("the secret was sent to the receiver:\n%s", s)
			}
		}
	})
}

// accountOutsideARN finds the account id where it is not part of an ARN.
var arnRE = regexp.MustCompile(`arn:[a-z-]+:[a-z0-9-]*:[a-z0-9-]*:[0-9]{12}:[^\s"'` + "`" + `,;)]*`)

// TestErrorsCarryNoCredentials: failing runs of several kinds print no
// credential anywhere, and the account id only inside ARNs.
func TestErrorsCarryNoCredentials(t *testing.T) {
	t.Parallel()
	const wrongToken = "ghs_wrongTOKENwrongTOKENwrongTOKEN0000"
	cases := []struct {
		name    string
		ghOpts  []fakegithub.Option
		setup   func(t *testing.T, h *harness)
		secrets func(t *testing.T, h *harness) []string
		want    string // in an error annotation
	}{
		{"gateway URL with a password", nil, func(t *testing.T, h *harness) {
			h.set("gateway", "opa", "gateway-url", "https://admin:hunter2-secret@opa.example.com", "gateway-token", "opa-token-0123456789")
		}, func(*testing.T, *harness) []string { return []string{"hunter2-secret", "opa-token-0123456789"} }, "gateway-url"},
		{"GitHub answers 401", []fakegithub.Option{fakegithub.WithToken("ghs_theRealTokenTheRealToken0000")}, func(t *testing.T, h *harness) {
			h.set("github-token", wrongToken)
		}, func(*testing.T, *harness) []string { return []string{wrongToken, "ghs_theRealTokenTheRealToken0000"} }, "401"},
		{"AWS denies CreateRole", nil, func(t *testing.T, h *harness) {
			h.proxy.Fail("CreateRole", 100, http.StatusForbidden)
		}, func(*testing.T, *harness) []string { return []string{testenv.SecretAccessKey} }, "AccessDenied"},
		{"AWS denies the reads", nil, func(t *testing.T, h *harness) {
			h.proxy.Fail("GetRole", 100, http.StatusForbidden)
			h.set("account-id", "")
		}, func(*testing.T, *harness) []string { return []string{testenv.SecretAccessKey} }, "AccessDenied"},
		{"OPA refuses the token", nil, func(t *testing.T, h *harness) {
			h.set("gateway", "opa", "gateway-url", testenv.OPAURL(t), "gateway-token", "wrong-opa-token-0123456789")
		}, func(t *testing.T, _ *harness) []string {
			return []string{"wrong-opa-token-0123456789", testenv.OPAToken(t)}
		}, "opa"},
		{"webhook echoes the request", nil, func(t *testing.T, h *harness) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var hdr strings.Builder
				r.Header.Write(&hdr)
				body, _ := io.ReadAll(r.Body)
				http.Error(w, "denied: "+hdr.String()+string(body), http.StatusUnauthorized)
			}))
			t.Cleanup(srv.Close)
			h.set("gateway", "webhook", "gateway-url", srv.URL, "gateway-secret", "whsec-echoed-0123456789abcdef")
		}, func(*testing.T, *harness) []string { return []string{"whsec-echoed-0123456789abcdef"} }, "401"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tc.ghOpts...)
			h.event("pull_request_target", "pull_request_target.opened.json")
			tc.setup(t, h)
			r := h.runWith(runOpts{})
			if r.code != ExitError {
				t.Fatalf("exit %d; want 1", r.code)
			}
			errs := strings.Join(r.errors(), "\n")
			if !strings.Contains(errs, tc.want) {
				t.Errorf("errors %q; want one mentioning %q", errs, tc.want)
			}
			all := h.everything(r)
			for _, s := range tc.secrets(t, h) {
				if strings.Contains(all, s) {
					t.Errorf("credential %.8s… appears in the run's output", s)
				}
			}
			if strings.Contains(all, testenv.SecretAccessKey) {
				t.Error("the AWS secret key appears in the run's output")
			}
			if rest := arnRE.ReplaceAllString(errs, "ARN"); strings.Contains(rest, "123456789012") {
				t.Errorf("an error shows the account id outside an ARN: %q", rest)
			}
		})
	}
}

// TestMoreBadInputsWriteNothing extends TestBadInputWritesNothing: empty
// where required, whitespace, wildcards, wrong partitions, and hostile
// gateway settings; one annotation per problem and no write anywhere.
func TestMoreBadInputsWriteNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		set  []string
		want []string
	}{
		{"boundary missing", []string{"permissions-boundary", ""}, []string{"input permissions-boundary: is required"}},
		{"boundary of whitespace", []string{"permissions-boundary", " \t\n"}, []string{"input permissions-boundary: is required"}},
		{"subject with a wildcard", []string{"subject-template", "repo:{owner}/*"}, []string{"input subject-template"}},
		{"subject with a newline", []string{"subject-template", "repo:{owner}/{repo}\n:pull_request"}, []string{"input subject-template"}},
		{"provider of another partition", []string{"oidc-provider-arn", "arn:aws-us-gov:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}, []string{"input oidc-provider-arn"}},
		{"managed policy wildcard", []string{"managed-policy-arns", "arn:aws:iam::aws:policy/*"}, []string{"input managed-policy-arns"}},
		{"account id with a space", []string{"account-id", "1234 5678 9012"}, []string{"input account-id"}},
		{"reserved tag", []string{"tags", "preview-access:pull-request=7"}, []string{"input tags"}},
		{"remote plain-http gateway", []string{"gateway", "opa", "gateway-url", "http://opa.example.com", "gateway-token", "t0k3n-0123456789"}, []string{"https"}},
		{"webhook without a secret", []string{"gateway", "webhook", "gateway-url", "https://gw.example.com"}, []string{"gateway-secret"}},
		{"role path naming the number", []string{"role-path", "/p/{number}/"}, []string{"input role-path"}},
		{"timeout too short", []string{"timeout", "1s"}, []string{"input timeout"}},
		{"five problems", []string{"mode", "deploy", "max-session-duration", "-1", "ttl", "0", "allow-forks", "yes", "concurrency", "x"},
			[]string{"input mode", "input allow-forks", "input max-session-duration", "input ttl", "input concurrency"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.event("pull_request_target", "pull_request_target.opened.json")
			h.set(tc.set...)
			h.resetCounts()
			r := h.runWith(runOpts{})
			if r.code != ExitError {
				t.Fatalf("exit %d; want 1", r.code)
			}
			got := r.errors()
			if len(got) != len(tc.want) {
				t.Fatalf("annotations %q; want %d", got, len(tc.want))
			}
			for _, w := range tc.want {
				found := false
				for _, g := range got {
					found = found || strings.Contains(g, w)
				}
				if !found {
					t.Errorf("annotations %q; want one containing %q", got, w)
				}
			}
			if iamW, ghW := h.writes(); iamW != 0 || len(ghW) != 0 {
				t.Errorf("writes after bad input: IAM %d %v, GitHub %v; want none", iamW, h.proxy.Counts(), ghW)
			}
			if h.role(42).Exists {
				t.Error("a role was created")
			}
		})
	}
}

// TestUnwritableFileCommands: a GITHUB_OUTPUT or GITHUB_STEP_SUMMARY that
// cannot be written is an error or a warning, never a panic.
func TestUnwritableFileCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir() // a directory: opening it for writing fails
	var out bytes.Buffer
	getenv := func(string) string { return dir }
	u := &ui{a: githubactions.New(githubactions.WithGetenv(getenv), githubactions.WithWriter(&out)), actions: true, out: &out, errw: &out, getenv: getenv}
	if err := u.setOutput("role-arn", "x"); err == nil {
		t.Error("setOutput into a directory: no error")
	}
	u.summary("# summary")
	if !strings.Contains(out.String(), "::warning::job summary not written") {
		t.Errorf("output %q; want a warning about the summary", out.String())
	}
}

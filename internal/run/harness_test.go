package run

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/gateway"
	"github.com/preview-access/preview-access/internal/observe"
	"github.com/preview-access/preview-access/internal/planner"
	"github.com/preview-access/preview-access/internal/testenv"
	"github.com/preview-access/preview-access/internal/testenv/fakegithub"
	"github.com/preview-access/preview-access/internal/testenv/faultproxy"
)

// harness runs the binary's code (Main) the way a runner does: INPUT_*
// variables, an event file, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files,
// against moto behind a fault proxy, the fake GitHub and (optionally) OPA.
// Each harness has its own repository (owner, name, id), so tests share
// the servers without sharing state.
type harness struct {
	t      *testing.T
	proxy  *faultproxy.Proxy
	gh     *fakegithub.Server
	iam    *iam.Client // a direct client, for assertions
	owner  string
	repo   string
	repoID int64
	dir    string

	mu     sync.Mutex
	env    map[string]string
	stdout bytes.Buffer
	stderr bytes.Buffer

	clockMu sync.Mutex // guards now while a run reads it
	now     time.Time
}

// advance moves the run's clock on, also while a run is reading it.
func (h *harness) advance(d time.Duration) {
	h.clockMu.Lock()
	defer h.clockMu.Unlock()
	h.now = h.now.Add(d)
}

func (h *harness) clock() time.Time {
	h.clockMu.Lock()
	defer h.clockMu.Unlock()
	return h.now
}

func newHarness(t *testing.T, ghOpts ...fakegithub.Option) *harness {
	t.Helper()
	moto := testenv.MotoURL(t)
	// The run's clock is today, 10:00 UTC, fixed for the test: real
	// servers (OPA's time.now_ns, webhook signature windows) agree with it
	// on any date to within a day, far inside every expiry, and a test
	// that moves it asks OPA through a seam with the same clock (allowed).
	// The hour is fixed because expiries count from the start of a day and
	// sweep tests step the clock across midnight. GitHub's clock starts a
	// day earlier, as if the PR's history had just happened.
	now := time.Now().UTC().Truncate(24 * time.Hour).Add(10 * time.Hour)
	h := &harness{
		t:      t,
		proxy:  faultproxy.New(t, moto),
		gh:     fakegithub.New(t, append([]fakegithub.Option{fakegithub.WithEpoch(now.Add(-24 * time.Hour))}, ghOpts...)...),
		iam:    testenv.IAMClient(t, moto),
		dir:    t.TempDir(),
		repoID: 100000000 + rand.Int64N(899999999),
		now:    now,
	}
	h.owner, h.repo = testenv.UniqueRepo(t)
	h.env = map[string]string{
		"GITHUB_ACTIONS":             "true",
		"GITHUB_REPOSITORY":          h.owner + "/" + h.repo,
		"GITHUB_REPOSITORY_ID":       strconv.FormatInt(h.repoID, 10),
		"GITHUB_API_URL":             h.gh.APIURL(),
		"GITHUB_OUTPUT":              filepath.Join(h.dir, "output"),
		"GITHUB_STEP_SUMMARY":        filepath.Join(h.dir, "summary"),
		"INPUT_GITHUB-TOKEN":         h.gh.Token(),
		"INPUT_ACCOUNT-ID":           "123456789012",
		"INPUT_PERMISSIONS-BOUNDARY": "arn:aws:iam::123456789012:policy/preview-boundary",
		"INPUT_PREVIEW-URL":          "https://pr-{number}." + h.repo + ".preview.test",
	}
	// The runner passes every input of action.yml, with its default when
	// the workflow gives none: so does the harness, or a test could pass
	// only because an input is unset where no real run leaves it unset.
	for _, in := range config.Inputs {
		k := "INPUT_" + strings.ToUpper(in.Name)
		if _, ok := h.env[k]; !ok && !strings.Contains(in.Default, "${{") {
			h.env[k] = in.Default
		}
	}
	return h
}

// set sets inputs (by input name) or other variables (names in capitals).
func (h *harness) set(kv ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := 0; i < len(kv); i += 2 {
		k := kv[i]
		if strings.ToLower(k) == k {
			k = "INPUT_" + strings.ToUpper(k)
		}
		h.env[k] = kv[i+1]
	}
}

// event writes a sample payload from testdata/events for this harness's
// repository, seeds the fake GitHub with it, and makes it the run's event.
func (h *harness) event(name, file string, edits ...func(string) string) {
	h.t.Helper()
	data, err := os.ReadFile(fakegithub.EventPath(file))
	if err != nil {
		h.t.Fatal(err)
	}
	s := strings.NewReplacer("octo-org", h.owner, `"shop"`, `"`+h.repo+`"`, "/shop", "/"+h.repo, "123456789", strconv.FormatInt(h.repoID, 10)).Replace(string(data))
	for _, e := range edits {
		s = e(s)
	}
	path := filepath.Join(h.dir, file)
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		h.t.Fatal(err)
	}
	if err := h.gh.SeedEvent([]byte(s)); err != nil {
		h.t.Logf("event not seeded into the fake GitHub (tests of broken payloads): %v", err)
	}
	h.set("GITHUB_EVENT_NAME", name, "GITHUB_EVENT_PATH", path)
}

// run runs Main once and returns its exit code; output files are emptied
// first so outputs() shows this run's only.
func (h *harness) run(args ...string) int {
	h.t.Helper()
	for _, f := range []string{"output", "summary"} {
		os.WriteFile(filepath.Join(h.dir, f), nil, 0o600)
	}
	h.stdout.Reset()
	h.stderr.Reset()
	env := Env{
		Args: args,
		Getenv: func(k string) string {
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.env[k]
		},
		Environ: func() []string {
			h.mu.Lock()
			defer h.mu.Unlock()
			var out []string
			for k, v := range h.env {
				out = append(out, k+"="+v)
			}
			return out
		},
		Stdout: &h.stdout,
		Stderr: &h.stderr,
		Now:    h.clock,
		LoadAWS: func(context.Context, string) (aws.Config, error) {
			return testenv.AWSConfig(h.t, h.proxy.URL()), nil
		},
	}
	code := Main(context.Background(), env)
	h.t.Logf("run %v → exit %d\nstdout:\n%s\nstderr:\n%s", args, code, h.stdout.String(), h.stderr.String())
	return code
}

// outputs parses GITHUB_OUTPUT (name<<DELIMITER … DELIMITER blocks).
func (h *harness) outputs() map[string]string {
	h.t.Helper()
	data, err := os.ReadFile(filepath.Join(h.dir, "output"))
	if err != nil {
		h.t.Fatal(err)
	}
	return parseOutputs(string(data))
}

func (h *harness) summary() string {
	data, _ := os.ReadFile(filepath.Join(h.dir, "summary"))
	return string(data)
}

func (h *harness) roleName(pr int) string {
	return fmt.Sprintf("preview-%s.%s-pr-%d", h.owner, h.repo, pr)
}

// role reads the role straight from moto.
func (h *harness) role(pr int) planner.RoleState {
	h.t.Helper()
	o, err := observe.Role(context.Background(), h.iam, h.roleName(pr), true)
	if err != nil {
		h.t.Fatal(err)
	}
	return o
}

// annotations are the workflow-command lines of kind ("error", …).
func (h *harness) annotations(kind string) []string {
	var out []string
	for _, l := range strings.Split(h.stdout.String(), "\n") {
		if strings.HasPrefix(l, "::"+kind+"::") {
			out = append(out, strings.TrimPrefix(l, "::"+kind+"::"))
		}
	}
	return out
}

// writes counts IAM writes and GitHub writes since the last reset.
func (h *harness) writes() (iamWrites int, ghWrites []string) {
	for _, c := range h.gh.Writes() {
		ghWrites = append(ghWrites, c.Method+" "+c.Path)
	}
	return h.proxy.Writes(), ghWrites
}

func (h *harness) resetCounts() {
	h.proxy.Reset()
	h.gh.ResetCalls()
}

// useOPA points the run at the test OPA as a repository on a shared OPA:
// the admin bound the repository's preview hosts, issued it a token of its
// own, and installed this version's module.
func (h *harness) useOPA() {
	h.t.Helper()
	testenv.BindOPAHosts(h.t, h.repoID, "pr-*."+h.repo+".preview.test")
	h.set("gateway", "opa", "gateway-url", testenv.OPAURL(h.t), "gateway-token", testenv.OPARepositoryToken(h.t, h.repoID))
	installModule(h.t)
}

// installModule installs this version's preview_access module in the
// test OPA, as its admin. Every test installs the same text, so tests
// running at once do not disturb each other.
func installModule(t *testing.T) {
	t.Helper()
	d, err := gateway.New(gateway.Config{Kind: gateway.KindOPA, URL: testenv.OPAURL(t), Token: testenv.OPAToken(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.(gateway.ModuleKeeper).InstallModule(context.Background()); err != nil {
		t.Fatal(err)
	}
}

package run

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/google/go-cmp/cmp"

	"github.com/preview-access/preview-access/internal/naming"
	"github.com/preview-access/preview-access/internal/observe"
	"github.com/preview-access/preview-access/internal/planner"
	"github.com/preview-access/preview-access/internal/testenv"
	"github.com/preview-access/preview-access/internal/testenv/faultproxy"
)

// Head SHAs of the opened and synchronize sample events.
const (
	openedSHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	syncSHA   = "9f2c3b1a7e4d5c6b8a90f1e2d3c4b5a6978e1f20"
)

// lockedBuffer is a bytes.Buffer safe for the concurrent writes of one run
// (apply reports from several goroutines).
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runOpts changes one run of runWith.
type runOpts struct {
	ctx context.Context // nil: context.Background()
	// env overrides the harness's variables for this run only; input
	// names in lower case as in harness.set.
	env map[string]string
	// httpTimeout replaces the harness's 30s per-request AWS timeout, so
	// that a call the proxy holds times out (and is retried) quickly.
	httpTimeout time.Duration
}

// result is everything one run left behind.
type result struct {
	code    int
	stdout  string
	stderr  string
	summary string
	outputs map[string]string
}

// errors are the run's error annotations.
func (r result) errors() []string {
	var out []string
	for _, l := range strings.Split(r.stdout, "\n") {
		if s, ok := strings.CutPrefix(l, "::error::"); ok {
			out = append(out, s)
		}
	}
	return out
}

// runWith runs Main like harness.run, but with a context of the caller's,
// per-run overrides, and output files, buffers and results of its own, so
// that several runs of one harness can race.
func (h *harness) runWith(o runOpts) result {
	h.t.Helper()
	ctx := o.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	dir, err := os.MkdirTemp(h.dir, "run")
	if err != nil {
		h.t.Fatal(err)
	}
	own := map[string]string{
		"GITHUB_OUTPUT":       filepath.Join(dir, "output"),
		"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"),
	}
	for k, v := range o.env {
		if strings.ToLower(k) == k {
			k = "INPUT_" + strings.ToUpper(k)
		}
		own[k] = v
	}
	var stdout, stderr lockedBuffer
	env := Env{
		Getenv: func(k string) string {
			if v, ok := own[k]; ok {
				return v
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.env[k]
		},
		Stdout: &stdout,
		Stderr: &stderr,
		Now:    func() time.Time { return h.now },
		LoadAWS: func(context.Context, string) (aws.Config, error) {
			cfg := testenv.AWSConfig(h.t, h.proxy.URL())
			if o.httpTimeout > 0 {
				cfg.HTTPClient = awshttp.NewBuildableClient().WithTimeout(o.httpTimeout)
			}
			return cfg, nil
		},
	}
	r := result{code: Main(ctx, env), stdout: stdout.String(), stderr: stderr.String()}
	out, _ := os.ReadFile(own["GITHUB_OUTPUT"])
	r.outputs = parseOutputs(string(out))
	sum, _ := os.ReadFile(own["GITHUB_STEP_SUMMARY"])
	r.summary = string(sum)
	h.t.Logf("run → exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	return r
}

// parseOutputs reads GITHUB_OUTPUT the way the runner does: name<<DELIM,
// the value's lines, DELIM.
func parseOutputs(data string) map[string]string {
	out := map[string]string{}
	lines := strings.Split(data, "\n")
	for i := 0; i < len(lines); i++ {
		name, delim, ok := strings.Cut(lines[i], "<<")
		if !ok {
			continue
		}
		var val []string
		for i++; i < len(lines) && lines[i] != delim; i++ {
			val = append(val, lines[i])
		}
		out[name] = strings.Join(val, "\n")
	}
	return out
}

// rolesUnderPath lists the harness repository's roles straight from moto:
// with the per-repository path, any role here is a preview of this test.
func (h *harness) rolesUnderPath() []string {
	h.t.Helper()
	var names []string
	p := iam.NewListRolesPaginator(h.iam, &iam.ListRolesInput{PathPrefix: aws.String("/preview-access/" + h.owner + "/" + h.repo + "/")})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			h.t.Fatal(err)
		}
		for _, r := range out.Roles {
			names = append(names, aws.ToString(r.RoleName))
		}
	}
	return names
}

// wantUp asserts, read by read against moto, that PR 42's role is exactly
// what up makes: the role, its trust, its one inline policy, the managed
// policies given, no instance profile, our tags, and no other role of the
// repository. Then a further up must plan zero IAM writes, which proves
// every compared field (trust, policy, tags, boundary, session) is equal.
func (h *harness) wantUp(t *testing.T, headSHA string, managed ...string) {
	t.Helper()
	role := h.role(42)
	if !role.Exists {
		t.Fatal("converged up: no role")
	}
	if got := h.rolesUnderPath(); len(got) != 1 || got[0] != h.roleName(42) {
		t.Errorf("roles of the repository %v; want exactly %s", got, h.roleName(42))
	}
	if role.Path != "/preview-access/"+h.owner+"/"+h.repo+"/" || role.Boundary != "arn:aws:iam::123456789012:policy/preview-boundary" {
		t.Errorf("role path %q, boundary %q", role.Path, role.Boundary)
	}
	var trust struct {
		Statement []struct {
			Condition map[string]map[string]string
		}
	}
	if err := json.Unmarshal(role.Trust, &trust); err != nil || len(trust.Statement) != 1 {
		t.Fatalf("trust %s: %v", role.Trust, err)
	}
	if diff := cmp.Diff(map[string]map[string]string{"StringEquals": {
		"token.actions.githubusercontent.com:aud":           "sts.amazonaws.com",
		"token.actions.githubusercontent.com:sub":           "repo:" + h.owner + "/" + h.repo + ":pull_request",
		"token.actions.githubusercontent.com:ref":           "refs/pull/42/merge",
		"token.actions.githubusercontent.com:repository_id": h.env["GITHUB_REPOSITORY_ID"],
	}}, trust.Statement[0].Condition); diff != "" {
		t.Errorf("trust conditions (-want +got):\n%s", diff)
	}
	if role.Policy == nil || len(role.OtherPolicies) != 0 {
		t.Errorf("inline policies: ours %t, others %v; want ours only", role.Policy != nil, role.OtherPolicies)
	}
	if len(managed) == 0 {
		managed = nil
	}
	if diff := cmp.Diff(managed, role.Managed); diff != "" {
		t.Errorf("managed policies (-want +got):\n%s", diff)
	}
	if len(role.InstanceProfiles) != 0 {
		t.Errorf("instance profiles %v; want none", role.InstanceProfiles)
	}
	for k, want := range map[string]string{
		naming.TagManagedBy: naming.ManagedByValue, naming.TagRepository: h.owner + "/" + h.repo,
		naming.TagRepositoryID: h.env["GITHUB_REPOSITORY_ID"], naming.TagPullRequest: "42", naming.TagHeadSHA: headSHA,
	} {
		if role.Tags[k] != want {
			t.Errorf("tag %s = %q; want %q", k, role.Tags[k], want)
		}
	}
	h.proxy.Reset()
	if r := h.runWith(runOpts{}); r.code != 0 {
		t.Fatalf("up after convergence: exit %d", r.code)
	}
	if n := h.proxy.Writes(); n != 0 {
		t.Errorf("up after convergence wrote %d times %v; want nothing: the state was not the desired one", n, h.proxy.Counts())
	}
}

// wantDown asserts that PR 42's role and its inline policy are gone and
// that no role of the repository is left.
func (h *harness) wantDown(t *testing.T) {
	t.Helper()
	if role := h.role(42); role.Exists || role.Policy != nil {
		t.Errorf("after down: role exists %t, inline policy %t; want neither", role.Exists, role.Policy != nil)
	}
	if got := h.rolesUnderPath(); len(got) != 0 {
		t.Errorf("orphaned roles %v", got)
	}
	_, err := h.iam.GetRolePolicy(context.Background(), &iam.GetRolePolicyInput{RoleName: aws.String(h.roleName(42)), PolicyName: aws.String(planner.PolicyName)})
	if !observe.IsNotFound(err) {
		t.Errorf("GetRolePolicy after down: %v; want NoSuchEntity", err)
	}
}

// fault is one way to break calls of an action.
type fault struct {
	name       string
	persistent bool // the run is expected to fail
	inject     func(p *faultproxy.Proxy, action string)
}

// faultKinds: transient faults the SDK's retries ride out, persistent ones
// that make the run fail, and a response lost after the call took effect.
// perCall is the client's per-request timeout in these tests; a hang is
// longer.
const perCall = 1500 * time.Millisecond

var faultKinds = []fault{
	{"throttled once", false, func(p *faultproxy.Proxy, a string) { p.Throttle(a, 1) }},
	{"500 twice", false, func(p *faultproxy.Proxy, a string) { p.Fail(a, 2, 500) }},
	{"503 persistently", true, func(p *faultproxy.Proxy, a string) { p.Fail(a, 100, 503) }},
	{"connection reset once", false, func(p *faultproxy.Proxy, a string) { p.ResetConnection(a, 1) }},
	{"connection reset persistently", true, func(p *faultproxy.Proxy, a string) { p.ResetConnection(a, 100) }},
	{"hung past the timeout once", false, func(p *faultproxy.Proxy, a string) { p.Hang(a, 1, 3*perCall) }},
	{"response lost once", false, func(p *faultproxy.Proxy, a string) { p.HangAfter(a, 1, 3*perCall) }},
}

// TestIAMFaults breaks each IAM call of up and of down in each way. The run
// either succeeds despite it or fails with an error naming the call; then,
// with the fault gone, one more run converges to exactly the desired state.
func TestIAMFaults(t *testing.T) {
	t.Parallel()
	type target struct {
		mode   string // "up", "sync" (a second up with a new head SHA) or "down"
		action string
		label  string // the action, or how to tell it apart
		// arm injects the fault; nil: at once.
		arm func(h *harness, inject func())
	}
	targets := []target{
		{"up", "GetRole", "GetRole", nil},
		{"up", "GetRolePolicy", "GetRolePolicy", nil},
		{"up", "ListRolePolicies", "ListRolePolicies", nil},
		{"up", "ListAttachedRolePolicies", "ListAttachedRolePolicies", nil},
		{"up", "CreateRole", "CreateRole", nil},
		{"up", "PutRolePolicy", "PutRolePolicy", nil},
		// The waiter's GetRole follows CreateRole; the fault is queued
		// when CreateRole goes out, after observe's GetRole.
		{"up", "GetRole", "GetRole (waiter)", func(h *harness, inject func()) {
			var once sync.Once
			h.proxy.BeforeForward(func(a string) {
				if a == "CreateRole" {
					once.Do(inject)
				}
			})
		}},
		{"sync", "TagRole", "TagRole", nil},
		{"down", "ListInstanceProfilesForRole", "ListInstanceProfilesForRole", nil},
		{"down", "DeleteRolePolicy", "DeleteRolePolicy", nil},
		{"down", "DeleteRole", "DeleteRole", nil},
	}
	for _, tg := range targets {
		for _, f := range faultKinds {
			t.Run(tg.mode+"/"+tg.label+"/"+f.name, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t)
				h.event("pull_request_target", "pull_request_target.opened.json")
				wantSHA := openedSHA
				switch tg.mode {
				case "sync":
					if code := h.run(); code != 0 {
						t.Fatalf("opened: exit %d", code)
					}
					h.event("pull_request_target", "pull_request_target.synchronize.json")
					wantSHA = syncSHA
				case "down":
					if code := h.run(); code != 0 {
						t.Fatalf("opened: exit %d", code)
					}
					h.event("pull_request_target", "pull_request_target.closed.merged.json")
				}
				inject := func() { f.inject(h.proxy, tg.action) }
				if tg.arm != nil {
					tg.arm(h, inject)
				} else {
					inject()
				}
				h.proxy.Reset()
				r := h.runWith(runOpts{httpTimeout: perCall})
				if h.proxy.Count(tg.action) == 0 {
					t.Fatalf("the run never called %s; the case tests nothing", tg.action)
				}
				switch {
				case r.code == 0 && f.persistent:
					t.Errorf("a persistent fault on %s: exit 0; want a failure", tg.label)
				case r.code != 0:
					errs := strings.Join(r.errors(), "\n")
					if r.code != ExitError || !strings.Contains(errs, tg.action) {
						t.Errorf("exit %d, errors %q; want exit 1 and an error naming %s", r.code, errs, tg.action)
					}
					if !f.persistent {
						t.Logf("the run failed on a transient fault (allowed, the next run must converge)")
					}
				}
				h.proxy.ClearFaults()
				h.proxy.BeforeForward(nil)
				if r.code != 0 {
					if r2 := h.runWith(runOpts{}); r2.code != 0 {
						t.Fatalf("run after the fault: exit %d; want convergence", r2.code)
					}
				}
				if tg.mode == "down" {
					h.wantDown(t)
				} else {
					h.wantUp(t, wantSHA)
				}
			})
		}
	}
}

// TestRunDeadline: a call that hangs past the run's own deadline (the
// timeout input) ends the run with a clear error, and the next run
// converges.
func TestRunDeadline(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.event("pull_request_target", "pull_request_target.opened.json")
	h.proxy.HangAfter("CreateRole", 1, time.Minute)
	start := time.Now()
	r := h.runWith(runOpts{env: map[string]string{"timeout": "10s"}})
	if took := time.Since(start); took > 25*time.Second {
		t.Errorf("the run took %s; want the 10s deadline to end it", took)
	}
	if errs := strings.Join(r.errors(), "\n"); r.code != ExitError || !strings.Contains(errs, "CreateRole") || !strings.Contains(errs, "deadline") {
		t.Errorf("exit %d, errors %q; want a failure naming CreateRole and the deadline", r.code, errs)
	}
	h.proxy.ClearFaults()
	if r := h.runWith(runOpts{}); r.code != 0 {
		t.Fatalf("re-run: exit %d", r.code)
	}
	h.wantUp(t, openedSHA)
}

// cancelBeforeWrite cancels the run's context just before the nth IAM
// write goes out, as a SIGTERM would; fired reports whether it did.
func cancelBeforeWrite(h *harness, n int) (context.Context, func() bool) {
	ctx, cancel := context.WithCancel(context.Background())
	h.t.Cleanup(cancel)
	var writes atomic.Int32
	var fired atomic.Bool
	h.proxy.BeforeForward(func(a string) {
		if faultproxy.IsWrite(a) && int(writes.Add(1)) == n {
			fired.Store(true)
			cancel()
		}
	})
	return ctx, fired.Load
}

// managedPolicy creates a customer managed policy of the test's own in
// moto and returns its ARN.
func managedPolicy(t *testing.T, h *harness) string {
	t.Helper()
	out, err := h.iam.CreatePolicy(context.Background(), &iam.CreatePolicyInput{
		PolicyName:     aws.String(h.owner + "-" + h.repo + "-extra"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Policy.Arn)
}

// TestKilledBetweenWrites stops a run right before each of its IAM writes
// (a context cancelled as by SIGTERM), for a fresh up, an up that updates
// a role, and a down. One more run then converges.
func TestKilledBetweenWrites(t *testing.T) {
	t.Parallel()
	const customPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::previews/{number}/*"}]}`
	scenarios := []struct {
		name   string
		writes int // IAM writes of the run
		// setup prepares the harness; it returns the managed policy ARN.
		setup func(t *testing.T, h *harness) string
		down  bool
	}{
		{"up creates", 3, func(t *testing.T, h *harness) string {
			arn := managedPolicy(t, h)
			h.set("managed-policy-arns", arn)
			h.event("pull_request_target", "pull_request_target.opened.json")
			return arn
		}, false},
		{"up updates", 4, func(t *testing.T, h *harness) string {
			arn := managedPolicy(t, h)
			h.event("pull_request_target", "pull_request_target.opened.json")
			if code := h.run(); code != 0 {
				t.Fatalf("opened: exit %d", code)
			}
			// UpdateRole, TagRole, PutRolePolicy, AttachRolePolicy.
			h.gh.SetFile(h.owner, h.repo, "main", ".github/preview-role.json", customPolicy)
			h.set("managed-policy-arns", arn, "max-session-duration", "7200", "tags", "team=web",
				"permissions-template", ".github/preview-role.json")
			h.event("pull_request_target", "pull_request_target.synchronize.json")
			return arn
		}, false},
		{"down", 3, func(t *testing.T, h *harness) string {
			arn := managedPolicy(t, h)
			h.set("managed-policy-arns", arn)
			h.event("pull_request_target", "pull_request_target.opened.json")
			if code := h.run(); code != 0 {
				t.Fatalf("opened: exit %d", code)
			}
			h.event("pull_request_target", "pull_request_target.closed.merged.json")
			return arn
		}, true},
	}
	for _, sc := range scenarios {
		t.Run(sc.name+"/count", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			sc.setup(t, h)
			h.proxy.Reset()
			if r := h.runWith(runOpts{}); r.code != 0 {
				t.Fatalf("exit %d", r.code)
			}
			if got := h.proxy.Writes(); got != sc.writes {
				t.Errorf("the run made %d IAM writes %v; the cases below assume %d", got, h.proxy.Counts(), sc.writes)
			}
		})
		for n := 1; n <= sc.writes; n++ {
			t.Run(fmt.Sprintf("%s/before write %d", sc.name, n), func(t *testing.T) {
				t.Parallel()
				h := newHarness(t)
				arn := sc.setup(t, h)
				ctx, fired := cancelBeforeWrite(h, n)
				r := h.runWith(runOpts{ctx: ctx})
				if !fired() {
					t.Fatalf("the run made fewer than %d IAM writes", n)
				}
				if r.code != ExitError || len(r.errors()) == 0 {
					t.Logf("killed run: exit %d (the write may have landed before the cancel)", r.code)
				}
				h.proxy.BeforeForward(nil)
				if r := h.runWith(runOpts{}); r.code != 0 {
					t.Fatalf("re-run: exit %d", r.code)
				}
				if sc.down {
					h.wantDown(t)
					return
				}
				if sc.name == "up updates" {
					role := h.role(42)
					if role.MaxSession != 7200 || role.Tags["team"] != "web" || !strings.Contains(string(role.Policy), "s3:PutObject") {
						t.Errorf("updated role: session %d, tag team %q, policy %s", role.MaxSession, role.Tags["team"], role.Policy)
					}
					h.wantUp(t, syncSHA, arn)
					return
				}
				h.wantUp(t, openedSHA, arn)
			})
		}
	}
}

// TestRacingUps: two up runs for one PR both find no role and both create
// it; the loser sees EntityAlreadyExists, re-reads and converges. Both
// succeed and there is one role.
func TestRacingUps(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.event("pull_request_target", "pull_request_target.opened.json")
	// Hold the first CreateRole until the second arrives, so both runs
	// planned against an absent role.
	arrived := make(chan struct{})
	var creates atomic.Int32
	h.proxy.BeforeForward(func(a string) {
		if a != "CreateRole" {
			return
		}
		switch creates.Add(1) {
		case 1:
			select {
			case <-arrived:
			case <-time.After(10 * time.Second):
			}
		case 2:
			close(arrived)
		}
	})
	var wg sync.WaitGroup
	results := make([]result, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = h.runWith(runOpts{})
		}()
	}
	wg.Wait()
	h.proxy.BeforeForward(nil)
	if got := creates.Load(); got != 2 {
		t.Fatalf("%d CreateRole calls; want 2 (the runs did not race)", got)
	}
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("run %d: exit %d, errors %q; want both to succeed", i, r.code, r.errors())
		}
	}
	if !strings.Contains(results[0].stdout+results[1].stdout, "appeared meanwhile") {
		t.Error("neither run reports converging after EntityAlreadyExists")
	}
	h.wantUp(t, openedSHA)
}

// TestDownRacingUp: a down (mode down, as a late closed event with the PR
// reopened meanwhile would run) and an up for one PR, interleaved in the
// worst orders. Either may fail with a clear error; one more down leaves
// nothing.
func TestDownRacingUp(t *testing.T) {
	t.Parallel()
	down := runOpts{env: map[string]string{"mode": "down"}}
	cases := []struct {
		name string
		run  func(t *testing.T, h *harness) (up, dn result)
	}{
		{"down deletes the role between up's CreateRole and PutRolePolicy", func(t *testing.T, h *harness) (up, dn result) {
			downDone := make(chan struct{})
			created := make(chan struct{})
			var once sync.Once
			h.proxy.BeforeForward(func(a string) {
				switch a {
				case "CreateRole":
					once.Do(func() { close(created) })
				case "PutRolePolicy":
					select {
					case <-downDone:
					case <-time.After(20 * time.Second):
					}
				}
			})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); up = h.runWith(runOpts{}) }()
			select {
			case <-created:
			case <-time.After(20 * time.Second):
				t.Error("up never created the role")
			}
			time.Sleep(200 * time.Millisecond) // let CreateRole land
			dn = h.runWith(down)
			close(downDone)
			wg.Wait()
			return up, dn
		}},
		{"up re-adds the policy between down's DeleteRolePolicy and DeleteRole", func(t *testing.T, h *harness) (up, dn result) {
			if code := h.run(); code != 0 {
				t.Fatalf("opened: exit %d", code)
			}
			upDone := make(chan struct{})
			policyGone := make(chan struct{})
			var once sync.Once
			h.proxy.BeforeForward(func(a string) {
				switch a {
				case "DeleteRole":
					once.Do(func() { close(policyGone) })
					select {
					case <-upDone:
					case <-time.After(20 * time.Second):
					}
				}
			})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); dn = h.runWith(down) }()
			select {
			case <-policyGone:
			case <-time.After(20 * time.Second):
				t.Error("down never got to DeleteRole")
			}
			up = h.runWith(runOpts{})
			close(upDone)
			wg.Wait()
			return up, dn
		}},
		{"free for all", func(t *testing.T, h *harness) (up, dn result) {
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); up = h.runWith(runOpts{}) }()
			go func() { defer wg.Done(); dn = h.runWith(down) }()
			wg.Wait()
			return up, dn
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.event("pull_request_target", "pull_request_target.opened.json")
			up, dn := tc.run(t, h)
			h.proxy.BeforeForward(nil)
			for name, r := range map[string]result{"up": up, "down": dn} {
				if r.code != 0 && (r.code != ExitError || len(r.errors()) == 0) {
					t.Errorf("%s: exit %d with no error annotation", name, r.code)
				}
			}
			if r := h.runWith(down); r.code != 0 {
				t.Fatalf("one more down: exit %d", r.code)
			}
			h.wantDown(t)
		})
	}
}

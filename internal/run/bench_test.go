package run

// Benchmarks of the performance targets of issue 5. They drive Main, the
// binary's own code path, against moto behind the fault proxy with a fixed
// added latency per call, and report wall time, IAM calls by action,
// writes, and the critical path in round trips (wall ÷ latency). They
// never assert a timing: run them with `make bench` (scripts/bench), which
// starts moto and writes the table of BENCHMARKS.md.
//
// Knobs (environment):
//   PREVIEW_ACCESS_BENCH_LATENCY         added latency per IAM call (default 50ms)
//   PREVIEW_ACCESS_BENCH_GITHUB_LATENCY  added latency per GitHub call (default: the same)
//   PREVIEW_ACCESS_BENCH_ROLES           roles in the sweep scenario (default 1000, 95% orphans)
//   PREVIEW_ACCESS_BENCH_WRITE_RATE      IAM writes per second the proxy admits in the sweep (default 10)
//   PREVIEW_ACCESS_BENCH_CONCURRENCY     the sweep's concurrency input (default: the input's default, 4)
//   PREVIEW_ACCESS_BENCH_OUT             file to append one Markdown table row per scenario to

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/preview-access/preview-access/internal/engine"
	"github.com/preview-access/preview-access/internal/naming"
	"github.com/preview-access/preview-access/internal/planner"
	"github.com/preview-access/preview-access/internal/preview"
	"github.com/preview-access/preview-access/internal/report"
	"github.com/preview-access/preview-access/internal/testenv"
	"github.com/preview-access/preview-access/internal/testenv/fakegithub"
	"github.com/preview-access/preview-access/internal/testenv/faultproxy"
)

// benchRepo is one repository's previews under benchmark: the harness's
// runner environment, for testing.B.
type benchRepo struct {
	tb     testing.TB
	proxy  *faultproxy.Proxy
	gh     *fakegithub.Server
	direct *iam.Client // straight to moto, for setup and checks
	owner  string
	repo   string
	repoID int64
	dir    string
	env    map[string]string
	now    time.Time
}

func newBenchRepo(tb testing.TB) *benchRepo {
	tb.Helper()
	moto := testenv.MotoURL(tb)
	now := time.Now().UTC()
	r := &benchRepo{
		tb:    tb,
		proxy: faultproxy.New(tb, moto),
		// GitHub's clock a day behind the run's, as the harness has it:
		// the PRs' history just happened.
		gh:     fakegithub.New(tb, fakegithub.WithEpoch(now.Add(-24*time.Hour))),
		direct: testenv.IAMClient(tb, moto),
		dir:    tb.TempDir(),
		repoID: 100000000 + rand.Int64N(899999999),
		now:    now,
	}
	r.owner, r.repo = testenv.UniqueRepo(tb)
	r.env = map[string]string{
		"GITHUB_ACTIONS":             "true",
		"GITHUB_REPOSITORY":          r.owner + "/" + r.repo,
		"GITHUB_REPOSITORY_ID":       strconv.FormatInt(r.repoID, 10),
		"GITHUB_API_URL":             r.gh.APIURL(),
		"GITHUB_OUTPUT":              filepath.Join(r.dir, "output"),
		"GITHUB_STEP_SUMMARY":        filepath.Join(r.dir, "summary"),
		"INPUT_GITHUB-TOKEN":         r.gh.Token(),
		"INPUT_ACCOUNT-ID":           "123456789012",
		"INPUT_PERMISSIONS-BOUNDARY": "arn:aws:iam::123456789012:policy/preview-boundary",
		"INPUT_PREVIEW-URL":          "https://pr-{number}." + r.repo + ".preview.test",
		// A gateway and an access file in the repository: what a run reads
		// when it grants human access too.
		"INPUT_GATEWAY":      "file",
		"INPUT_GATEWAY-FILE": filepath.Join(r.dir, "policy.json"),
	}
	r.gh.SetFile(r.owner, r.repo, "main", ".github/preview-access.yml", "grants:\n  reader:\n    teams: ["+r.owner+"/qa]\n")
	return r
}

// event makes the sample payload file, edited, this repository's event.
func (r *benchRepo) event(name, file string, edits ...func(string) string) {
	r.tb.Helper()
	data, err := os.ReadFile(fakegithub.EventPath(file))
	if err != nil {
		r.tb.Fatal(err)
	}
	s := strings.NewReplacer("octo-org", r.owner, `"shop"`, `"`+r.repo+`"`, "/shop", "/"+r.repo, "123456789", strconv.FormatInt(r.repoID, 10)).Replace(string(data))
	for _, e := range edits {
		s = e(s)
	}
	path := filepath.Join(r.dir, file)
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		r.tb.Fatal(err)
	}
	if name != "schedule" {
		if err := r.gh.SeedEvent([]byte(s)); err != nil {
			r.tb.Fatal(err)
		}
	}
	r.env["GITHUB_EVENT_NAME"], r.env["GITHUB_EVENT_PATH"] = name, path
}

func (r *benchRepo) prEvent(name, file string, n int) {
	r.event(name, file, replace(`"number": 42`, `"number": `+strconv.Itoa(n)))
}

// awsConfig is the production configuration (NewRetryer, the adaptive
// retryer every run uses) pointed at the proxy.
func (r *benchRepo) awsConfig() aws.Config {
	return aws.Config{
		Region:       testenv.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(testenv.AccessKeyID, testenv.SecretAccessKey, ""),
		BaseEndpoint: aws.String(r.proxy.URL()),
		Retryer:      engine.NewRetryer,
	}
}

// run runs Main once, timed; a failure ends the benchmark.
func (r *benchRepo) run(args ...string) time.Duration {
	r.tb.Helper()
	var stdout, stderr bytes.Buffer
	env := Env{
		Args:    args,
		Getenv:  func(k string) string { return r.env[k] },
		Stdout:  &stdout,
		Stderr:  &stderr,
		Now:     func() time.Time { return r.now },
		LoadAWS: func(context.Context, string) (aws.Config, error) { return r.awsConfig(), nil },
	}
	start := time.Now()
	code := Main(context.Background(), env)
	wall := time.Since(start)
	if code != 0 {
		r.tb.Fatalf("run %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, lastLines(stdout.String(), 40), stderr.String())
	}
	return wall
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{"…"}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

func (r *benchRepo) setLatency(iamLatency, ghLatency time.Duration) {
	r.proxy.SetLatency(iamLatency)
	r.gh.SetLatency(ghLatency)
}

func (r *benchRepo) resetCounts() {
	r.proxy.Reset()
	r.gh.ResetCalls()
}

// benchLatencies are the added latencies: IAM's and GitHub's.
func benchLatencies(tb testing.TB) (iamLatency, ghLatency time.Duration) {
	tb.Helper()
	iamLatency = envDuration(tb, "PREVIEW_ACCESS_BENCH_LATENCY", 50*time.Millisecond)
	ghLatency = envDuration(tb, "PREVIEW_ACCESS_BENCH_GITHUB_LATENCY", iamLatency)
	if iamLatency <= 0 {
		tb.Fatal("PREVIEW_ACCESS_BENCH_LATENCY must be positive: round trips are wall time ÷ latency")
	}
	return iamLatency, ghLatency
}

func envDuration(tb testing.TB, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return d
}

func envInt(tb testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q is not a positive number", name, v)
	}
	return n
}

// measurement is one scenario's totals over b.N runs.
type measurement struct {
	runs     int
	wall     time.Duration // with the added latency
	wallZero time.Duration // the same work without it: the local cost
	iam      map[string]int
	ghCalls  int
	ghWrites int
}

func (m *measurement) add(r *benchRepo, wall time.Duration) {
	m.runs++
	m.wall += wall
	if m.iam == nil {
		m.iam = map[string]int{}
	}
	for a, n := range r.proxy.Counts() {
		m.iam[a] += n
	}
	m.ghCalls += len(r.gh.Calls())
	m.ghWrites += len(r.gh.Writes())
}

func (m *measurement) iamWrites() int {
	n := 0
	for a, c := range m.iam {
		if faultproxy.IsWrite(a) {
			n += c
		}
	}
	return n
}

func (m *measurement) iamCalls() int {
	n := 0
	for _, c := range m.iam {
		n += c
	}
	return n
}

// byAction prints the IAM calls per run, by action, sorted.
func (m *measurement) byAction() string {
	var parts []string
	for _, a := range slices.Sorted(maps.Keys(m.iam)) {
		parts = append(parts, fmt.Sprintf("%s %s", a, perRun(m.iam[a], m.runs)))
	}
	return strings.Join(parts, ", ")
}

func perRun(total, runs int) string {
	if total%runs == 0 {
		return strconv.Itoa(total / runs)
	}
	return strconv.FormatFloat(float64(total)/float64(runs), 'f', 1, 64)
}

// report sends the per-run figures to the benchmark output and the
// BENCHMARKS.md table.
func (m *measurement) report(b *testing.B, scenario, target string, minimum int, iamLatency, ghLatency time.Duration) {
	wall := m.wall / time.Duration(m.runs)
	zero := m.wallZero / time.Duration(m.runs)
	rt := float64(wall) / float64(iamLatency)
	rtNet := float64(wall-zero) / float64(iamLatency)
	b.ReportMetric(float64(wall)/float64(time.Millisecond), "wall-ms/op")
	b.ReportMetric(rt, "round-trips/op")
	b.ReportMetric(rtNet, "net-round-trips/op")
	b.ReportMetric(float64(m.iamCalls())/float64(m.runs), "iam-calls/op")
	b.ReportMetric(float64(m.iamWrites())/float64(m.runs), "iam-writes/op")
	b.ReportMetric(float64(m.ghCalls)/float64(m.runs), "github-calls/op")
	b.Logf("%s: IAM calls per run: %s; GitHub calls %s (writes %s)", scenario, m.byAction(), perRun(m.ghCalls, m.runs), perRun(m.ghWrites, m.runs))
	row(b, "| %s | %d | %s / %s | %d ms | %d ms | %.1f | %.1f | %d | %s | %s | %s | %s (%s) |",
		scenario, m.runs, iamLatency, ghLatency, wall.Milliseconds(), zero.Milliseconds(), rt, rtNet, minimum, target,
		perRun(m.iamWrites(), m.runs), m.byAction(), perRun(m.ghCalls, m.runs), perRun(m.ghWrites, m.runs))
}

// row appends a line to PREVIEW_ACCESS_BENCH_OUT, if set.
func row(tb testing.TB, format string, args ...any) {
	path := os.Getenv("PREVIEW_ACCESS_BENCH_OUT")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, format+"\n", args...)
}

// BenchmarkUpNewPR: up of an opened PR that has nothing yet. Target: at most
// 3 round trips beyond the initial (concurrent) reads.
func BenchmarkUpNewPR(b *testing.B) {
	benchPR(b, "up, new PR", "reads + 3", 4, nil, func(r *benchRepo, n int) {
		r.prEvent("pull_request_target", "pull_request_target.opened.json", n)
	})
}

// BenchmarkUpUnchangedPR: the same event again: reads only.
func BenchmarkUpUnchangedPR(b *testing.B) {
	benchPR(b, "up, unchanged PR", "≤ 2, 0 writes", 1, livePreview, func(r *benchRepo, n int) {})
}

// livePreview opens PR n and runs up: the setup of every scenario that
// starts from a live preview.
func livePreview(r *benchRepo, n int) {
	r.prEvent("pull_request_target", "pull_request_target.opened.json", n)
	r.run()
}

// BenchmarkUpPush: a push to a PR with a live preview: a new head SHA.
func BenchmarkUpPush(b *testing.B) {
	benchPR(b, "up, push (new head SHA)", "≤ 4", 3, livePreview, func(r *benchRepo, n int) {
		r.prEvent("pull_request_target", "pull_request_target.synchronize.json", n)
	})
}

// BenchmarkDown: the closed event of a PR with a live preview.
func BenchmarkDown(b *testing.B) {
	benchPR(b, "down", "≤ 4", 4, livePreview, func(r *benchRepo, n int) {
		r.prEvent("pull_request_target", "pull_request_target.closed.merged.json", n)
	})
}

// benchPR measures one run per iteration on a fresh PR: setup (without
// latency, untimed), then the measured run, and the same again without
// latency on another PR for the local cost.
func benchPR(b *testing.B, scenario, target string, minimum int, setup, event func(r *benchRepo, n int)) {
	iamLatency, ghLatency := benchLatencies(b)
	r := newBenchRepo(b)
	var m measurement
	pr := 0
	once := func(lat, ghLat time.Duration) time.Duration {
		pr++
		r.setLatency(0, 0)
		if setup != nil {
			setup(r, pr)
		}
		event(r, pr)
		r.setLatency(lat, ghLat)
		r.resetCounts()
		return r.run()
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		zero := once(0, 0)
		b.StartTimer()
		wall := once(iamLatency, ghLatency)
		m.add(r, wall)
		m.wallZero += zero
	}
	b.StopTimer()
	var seq []string
	for _, c := range r.gh.Calls() {
		seq = append(seq, c.Method+" "+strings.TrimPrefix(c.Path, "/repos/"+r.owner+"/"+r.repo))
	}
	b.Logf("%s: GitHub calls of the last run, in order: %s", scenario, strings.Join(seq, "; "))
	m.report(b, scenario, target, minimum, iamLatency, ghLatency)
}

// BenchmarkSweep: 1,000 roles of which 950 are orphans (their PRs closed),
// the proxy admitting 10 IAM writes a second and answering Throttling
// beyond that. Target: the writes go at ≥ 80 % of that rate, with zero
// failures and zero orphans left.
func BenchmarkSweep(b *testing.B) {
	iamLatency, ghLatency := benchLatencies(b)
	total := envInt(b, "PREVIEW_ACCESS_BENCH_ROLES", 1000)
	rate := envInt(b, "PREVIEW_ACCESS_BENCH_WRITE_RATE", 10)
	open := max(total/20, 1)
	for range b.N {
		b.StopTimer()
		r := newBenchRepo(b)
		r.env["INPUT_TIMEOUT"] = "1h"
		r.env["INPUT_CONCURRENCY"] = os.Getenv("PREVIEW_ACCESS_BENCH_CONCURRENCY")
		setupStart := time.Now()
		r.seedPreviews(total, open)
		b.Logf("sweep: %d roles (%d open) made in %s", total, open, time.Since(setupStart).Round(time.Millisecond))
		r.event("schedule", "schedule.json")
		r.setLatency(iamLatency, ghLatency)
		r.proxy.LimitWrites(float64(rate))
		r.resetCounts()
		b.StartTimer()
		wall := r.run()
		b.StopTimer()
		r.proxy.LimitWrites(0)
		r.setLatency(0, 0)

		left := r.countRoles()
		var m measurement
		m.add(r, wall)
		needed := 2 * (total - open) // DeleteRolePolicy and DeleteRole per orphan
		achieved := float64(needed) / wall.Seconds()
		throttled := m.iamWrites() - needed
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.ReportMetric(achieved, "writes/s")
		b.ReportMetric(100*achieved/float64(rate), "%-of-limit")
		b.ReportMetric(float64(throttled), "throttled-writes")
		b.ReportMetric(float64(left-open), "orphans-left")
		b.Logf("sweep: IAM calls: %s; GitHub calls %d (writes %d)", m.byAction(), m.ghCalls, m.ghWrites)
		conc := cmp.Or(r.env["INPUT_CONCURRENCY"], "4")
		row(b, "| sweep %d roles, %d orphans, concurrency %s | %s / %s | %d/s | %.1f s | %d | %.2f/s (%.0f %%) | %d | 0 | %d | %s | %d (%d) |",
			total, total-open, conc, iamLatency, ghLatency, rate, wall.Seconds(), needed, achieved, 100*achieved/float64(rate), throttled, left-open, m.byAction(), m.ghCalls, m.ghWrites)
		if left != open {
			b.Errorf("sweep left %d roles; want the %d of open PRs", left, open)
		}
	}
}

// BenchmarkSweepNoop: a sweep with nothing to remove, over 100 closed PRs
// whose previews were all taken down (5 deployments each, all inactive,
// comments revoked). What it costs is GitHub requests: the workflow token
// allows 1,000 an hour, and the sweep runs hourly. Target: ≤ 25.
func BenchmarkSweepNoop(b *testing.B) {
	iamLatency, ghLatency := benchLatencies(b)
	const closed = 100
	for range b.N {
		b.StopTimer()
		r := newBenchRepo(b)
		for n := 1; n <= closed; n++ {
			r.gh.AddPullRequest(r.owner, r.repo, fakegithub.PullRequest{Number: n, State: "closed"})
			id := preview.Preview{RepositoryID: r.repoID, Number: n}.ID()
			r.gh.AddComment(r.owner, r.repo, n, "github-actions[bot]", report.Marker(id)+"\n<!-- preview-access-state:revoked -->\nrevoked")
			for range 5 {
				r.gh.AddDeployment(r.owner, r.repo, fakegithub.Deployment{
					Environment: fmt.Sprintf("preview-pr-%d", n), Description: "preview-access", TransientEnvironment: true,
					Statuses: []fakegithub.DeploymentStatus{{State: "success"}, {State: "inactive"}},
				})
			}
		}
		r.event("schedule", "schedule.json")
		r.setLatency(iamLatency, ghLatency)
		r.resetCounts()
		b.StartTimer()
		wall := r.run()
		b.StopTimer()
		var m measurement
		m.add(r, wall)
		b.ReportMetric(float64(m.ghCalls), "github-calls")
		b.ReportMetric(float64(m.iamCalls()), "iam-calls")
		row(b, "| no-op sweep, %d closed PRs × 5 deployments | %s / %s | %d ms | %d | %d | %s | %d (%d) |", closed, iamLatency, ghLatency, wall.Milliseconds(), m.ghCalls, m.iamCalls(), m.byAction(), m.ghCalls, m.ghWrites)
	}
}

// seedPreviews makes total previews as up would leave them — the role with
// the tool's path, tags and boundary, its inline policy, a sticky comment —
// straight in moto, many at once; PRs 1..open stay open, the rest closed.
func (r *benchRepo) seedPreviews(total, open int) {
	r.tb.Helper()
	ctx := context.Background()
	path := "/preview-access/" + r.owner + "/" + r.repo + "/"
	expires := naming.FormatExpiry(r.now.Add(7 * 24 * time.Hour))
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::previews/*"}]}`
	var (
		wg     sync.WaitGroup
		failed atomic.Int32
		sem    = make(chan struct{}, 32)
	)
	for n := 1; n <= total; n++ {
		state := "open"
		if n > open {
			state = "closed"
		}
		r.gh.AddPullRequest(r.owner, r.repo, fakegithub.PullRequest{Number: n, State: state})
		id := preview.Preview{RepositoryID: r.repoID, Number: n}.ID()
		r.gh.AddComment(r.owner, r.repo, n, "github-actions[bot]", report.Marker(id)+"\nPreview access granted.")
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			name := fmt.Sprintf("preview-%s.%s-pr-%d", r.owner, r.repo, n)
			tags := map[string]string{
				naming.TagManagedBy: naming.ManagedByValue, naming.TagRepository: r.owner + "/" + r.repo,
				naming.TagRepositoryID: strconv.FormatInt(r.repoID, 10), naming.TagPullRequest: strconv.Itoa(n),
				naming.TagHeadSHA: "6dcb09b5b57875f334f61aebed695e2e4193db5e", naming.TagExpiresAt: expires,
			}
			var tl []types.Tag
			for _, k := range slices.Sorted(maps.Keys(tags)) {
				tl = append(tl, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
			}
			trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com","token.actions.githubusercontent.com:ref":"refs/pull/%d/merge"}}}]}`, n)
			if _, err := r.direct.CreateRole(ctx, &iam.CreateRoleInput{
				RoleName: aws.String(name), Path: aws.String(path), AssumeRolePolicyDocument: aws.String(trust), Tags: tl,
				PermissionsBoundary: aws.String("arn:aws:iam::123456789012:policy/preview-boundary"), MaxSessionDuration: aws.Int32(3600),
			}); err != nil {
				r.tb.Error(err)
				failed.Add(1)
				return
			}
			if _, err := r.direct.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(planner.PolicyName), PolicyDocument: aws.String(policy)}); err != nil {
				r.tb.Error(err)
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		r.tb.FailNow()
	}
}

// countRoles counts the roles left under the repository's path.
func (r *benchRepo) countRoles() int {
	r.tb.Helper()
	n := 0
	p := iam.NewListRolesPaginator(r.direct, &iam.ListRolesInput{PathPrefix: aws.String("/preview-access/" + r.owner + "/" + r.repo + "/"), MaxItems: aws.Int32(1000)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			r.tb.Fatal(err)
		}
		n += len(out.Roles)
	}
	return n
}

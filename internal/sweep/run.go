package sweep

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/desired"
	"github.com/preview-access/preview-access/internal/engine"
	"github.com/preview-access/preview-access/internal/group"
	"github.com/preview-access/preview-access/internal/observe"
	"github.com/preview-access/preview-access/internal/plan"
	"github.com/preview-access/preview-access/internal/planner"
	"github.com/preview-access/preview-access/internal/policy"
	"github.com/preview-access/preview-access/internal/preview"
	"github.com/preview-access/preview-access/internal/report"
)

// MaxWritesInFlight bounds the sweep's concurrent IAM writes, whatever its
// concurrency (see apply.WriteGate). Two in flight are 40 a second at
// 50 ms per call, more than IAM admits, and few enough that a burst over
// the limit draws few throttles at once: each one the adaptive retryer
// sees cuts its rate by 30 %. Measured over five 100-role sweeps against
// 10 writes/s (BENCHMARKS.md): two in flight reach 87-100 % of the limit,
// mean 96 %; four, 89-99 %, mean 93 %.
const MaxWritesInFlight = 2

// Reserve is the part of the run's deadline a sweep keeps for the
// previews it has started: it starts no new one after the deadline minus
// the reserve, so none is left half-removed by the deadline.
func Reserve(timeout time.Duration) time.Duration {
	return min(max(timeout/5, 10*time.Second), 2*time.Minute)
}

// CommonPrefix is the part of a path template before its first
// placeholder, up to the last slash: where every repository's previews
// live, so a renamed repository's old path is found too.
func CommonPrefix(tmpl string) string {
	if i := strings.IndexByte(tmpl, '{'); i >= 0 {
		tmpl = tmpl[:i]
	}
	if i := strings.LastIndexByte(tmpl, '/'); i >= 0 {
		return tmpl[:i+1]
	}
	return "/"
}

// CheckTarget reports what a sweep lacks to know its repository.
func CheckTarget(p preview.Preview) error {
	var errs []error
	if !preview.ValidOwner(p.Owner) || !preview.ValidRepo(p.Repo) {
		errs = append(errs, fmt.Errorf("sweep needs the repository: %q/%q is not OWNER/REPO (give --repo, or run in Actions)", p.Owner, p.Repo))
	}
	if p.RepositoryID <= 0 {
		errs = append(errs, errors.New("sweep needs the numeric repository id (give --repository-id, or run in Actions)"))
	}
	return errors.Join(errs...)
}

// Sweep is one sweep of a repository: Prepare lists and plans, the caller
// prints the plan, Apply tears the previews down.
type Sweep struct {
	env     engine.Env
	clients *engine.Clients
	cfg     config.Config
	target  preview.Preview
	repoID  string
	jobs    []*job
	open    map[int]bool
	// Plan lists what the sweep removes.
	Plan plan.Plan
	// Result is what it did, and what it kept, failed and left.
	Result *Result
}

// Prepare lists the repository's previews (roles under its path, owned by
// tags; the open pull requests; the gateway's documents) and decides which
// to remove. Nothing is written.
func Prepare(ctx context.Context, env engine.Env, clients *engine.Clients, cfg config.Config, target preview.Preview) (*Sweep, error) {
	// The credentials' account is checked against account-id (and the
	// boundary's) with the listing, before any write.
	req := listRequest(cfg, target)
	listing, err := observe.List(ctx, clients.Readers(), req)
	if err == nil {
		cfg, err = cfg.WithAccount(listing.Account)
	}
	if err != nil {
		return nil, fmt.Errorf("sweep: %w (nothing was deleted)", err)
	}
	sw := &Sweep{env: env, clients: clients, cfg: cfg, target: target, repoID: strconv.FormatInt(target.RepositoryID, 10), Result: &Result{}, open: listing.Open}
	if listing.GatewayErr != nil {
		// A gateway outage must not keep roles alive: roles are still
		// swept, and the run ends unfinished.
		env.Log.Warning("sweep cannot list the gateway's policies, so it removes none of them this time: %v", listing.GatewayErr)
		sw.Result.add(&sw.Result.Failed, "gateway policies (not listed)", listing.GatewayErr)
	}
	sw.jobs = sw.decide(listing, req.OurPath)
	sw.Plan = sw.planOf(sw.jobs)
	return sw, nil
}

// Apply re-checks the open pull requests (a PR reopened since the listing
// keeps its preview: one more listing, not one call per PR) and tears the
// previews down, starting none after stopAt.
func (sw *Sweep) Apply(ctx context.Context, stopAt time.Time) error {
	if gh := sw.clients.GitHub; gh != nil && len(sw.jobs) > 0 {
		open, err := observe.OpenPRs(ctx, gh, sw.target.Owner, sw.target.Repo)
		if err != nil {
			return fmt.Errorf("sweep: re-check open pull requests: %w (nothing was deleted)", err)
		}
		sw.open = open
	}
	sw.run(ctx, stopAt)
	return nil
}

// job is the teardown of one pull request's preview: its roles (two
// when a renamed repository's old path holds one too) and, when no role
// is left, an orphaned gateway document.
type job struct {
	pr    int
	roles []Decision
	doc   string // the gateway document the listing found; "" for none
}

// expired reports whether the job removes a preview for its expiry rather
// than for its closed pull request.
func (j *job) expired() bool {
	return slices.ContainsFunc(j.roles, func(d Decision) bool { return d.Expired })
}

// decide groups what the listing found to remove by pull request.
func (sw *Sweep) decide(l observe.Listing, ourPath string) []*job {
	decisions := Classify(l.Roles, sw.repoID, l.Open, sw.env.Now())
	byPR := map[int]*job{}
	jobOf := func(n int) *job {
		if byPR[n] == nil {
			byPR[n] = &job{pr: n}
		}
		return byPR[n]
	}
	removed := map[int]bool{}
	for _, d := range decisions {
		switch {
		case d.Verdict == Skip && d.Path == ourPath:
			sw.env.Log.Warning("role %s under %s is not preview-access's for this repository (%s): left alone", d.Role, d.Path, d.Reason)
		case d.Verdict == Keep:
			sw.Result.Kept = append(sw.Result.Kept, fmt.Sprintf("%s (%s)", d.Role, d.Reason))
		case d.Verdict == Remove:
			j := jobOf(d.PR)
			j.roles = append(j.roles, d)
			removed[d.PR] = true
		}
	}
	for id, n := range GatewayIDs(l.GatewayIDs, sw.repoID, l.Open, removed) {
		jobOf(n).doc = id
	}
	out := slices.Collect(maps.Values(byPR))
	slices.SortFunc(out, func(a, b *job) int { return a.pr - b.pr })
	return out
}

// plan is what the sweep will remove, listed before anything is.
func (sw *Sweep) planOf(jobs []*job) plan.Plan {
	pl := plan.Plan{Mode: "sweep"}
	for _, j := range jobs {
		for _, d := range j.roles {
			pl.Add(plan.Change{Resource: "iam-role", Name: d.Role, Action: plan.Delete, Detail: d.Reason})
		}
		if j.doc != "" {
			pl.Add(plan.Change{Resource: "gateway-policy", Name: j.doc, Action: plan.Delete, Detail: fmt.Sprintf("pull request %d", j.pr)})
		}
	}
	if len(pl.Changes) == 0 {
		pl.Add(plan.Change{Resource: "previews", Name: sw.target.FullName(), Action: plan.NoOp, Detail: fmt.Sprintf("%d kept, nothing to remove", len(sw.Result.Kept))})
	}
	return pl
}

// run tears the jobs down, cfg.Concurrency at a time, starting none after
// stopAt: the rest is left for the next run, whole.
func (sw *Sweep) run(ctx context.Context, stopAt time.Time) {
	g := group.New(sw.cfg.Concurrency)
	for _, j := range sw.jobs {
		// Each job looks at the clock when its turn comes.
		g.Go(func() error {
			if !sw.env.Now().Before(stopAt) {
				sw.Result.leave(j.pr)
				return nil
			}
			sw.teardown(ctx, j, sw.open)
			return nil
		})
	}
	g.Wait()
}

// teardown removes one pull request's preview with Down: each of its
// roles, and with the first the GitHub records and the gateway document.
func (sw *Sweep) teardown(ctx context.Context, j *job, open map[int]bool) {
	p := sw.target
	p.Number = j.pr
	name, path, _ := desired.Names(sw.cfg, p)
	roles := j.roles[:0:0]
	for _, d := range j.roles {
		d = Recheck(d, open)
		if d.Verdict != Remove {
			sw.Result.add(&sw.Result.Kept, fmt.Sprintf("%s (%s)", d.Role, d.Reason), nil)
			continue
		}
		roles = append(roles, d)
	}
	if len(roles) == 0 {
		if j.doc == "" || (open != nil && open[j.pr]) {
			return // reopened meanwhile
		}
		sw.down(ctx, p, Decision{Role: name, Path: path, PR: j.pr}, false, j.expired())
		return
	}
	for _, d := range roles {
		sw.down(ctx, p, d, true, j.expired())
	}
}

// down runs the Down plan for one role of p (role false: only a gateway
// document was found, the role is gone).
func (sw *Sweep) down(ctx context.Context, p preview.Preview, d Decision, role, expired bool) {
	r := observe.Request{Owner: p.Owner, Repo: p.Repo, Number: p.Number, Teardown: true, GatewayID: p.ID()}
	if role {
		r.Role = d.Role
	}
	dd := sw.teardownDesired(p, d, expired)
	if sw.clients.Gateway == nil {
		r.GatewayID = ""
	}
	if dd.Comment != nil {
		r.Marker = dd.Comment.Marker
	}
	if dd.Deployment != nil {
		r.DeploymentEnvironment = dd.Deployment.Environment
	}
	r.Environment, r.TransientEnvironment = dd.Environment, dd.TransientEnvironment
	res, err := observe.Preview(ctx, sw.clients.Readers(), r)
	var result planner.Result
	if err == nil {
		result, err = planner.Down(dd, res.Observed)
	}
	if err != nil {
		sw.Result.add(&sw.Result.Failed, d.Role, fmt.Errorf("remove role %s: %w", d.Role, err))
		return
	}
	sw.Result.warn(result.Warnings...)
	sw.Result.note(result.Notices...)
	a := sw.clients.Applier(p, sw.Result)
	err = a.Apply(ctx, result.Plan)
	for _, what := range slices.Sorted(maps.Keys(res.Unread)) {
		err = errors.Join(err, fmt.Errorf("could not read the %s: %w", what, res.Unread[what]))
	}
	done := a.Done()
	if slices.Contains(done, "gateway-document") {
		sw.Result.add(&sw.Result.Removed, "gateway policy "+p.ID(), nil)
	}
	switch {
	case err != nil && role:
		sw.Result.add(&sw.Result.Failed, d.Role, fmt.Errorf("remove role %s: %w", d.Role, err))
	case err != nil:
		sw.Result.add(&sw.Result.Failed, "gateway policy "+p.ID(), fmt.Errorf("remove gateway policy %s: %w", p.ID(), err))
	case role:
		sw.Result.add(&sw.Result.Removed, d.Role, nil)
	}
}

// teardownDesired is what Down removes for one role the listing found:
// the names come from the listing (a renamed repository's old role keeps
// its old name and path), the rest from the configuration.
func (sw *Sweep) teardownDesired(p preview.Preview, d Decision, expired bool) planner.Desired {
	c := sw.cfg
	_, _, env := desired.Names(c, p)
	dd := planner.Desired{
		Role: planner.Role{Name: d.Role, Path: d.Path, Managed: c.ManagedPolicyARNs, RepositoryID: sw.repoID, PullRequest: strconv.Itoa(p.Number)},
	}
	if sw.clients.Gateway != nil {
		dd.Gateway = &planner.Gateway{Kind: c.Gateway, ID: p.ID()}
	}
	if sw.clients.GitHub == nil {
		return dd
	}
	dd.Environment = env
	if c.Deployment {
		dd.Deployment = &planner.Deployment{Environment: desired.EnvironmentName(c, p)}
		if env == "" {
			dd.TransientEnvironment = dd.Deployment.Environment
		}
	}
	if c.Comment {
		reason := report.ReasonSwept
		if expired {
			reason = report.ReasonExpired
		}
		rp := report.Preview{ID: p.ID(), Number: p.Number, Gateway: c.Gateway, RoleARN: d.ARN}
		if rp.RoleARN == "" && d.Role != "" {
			rp.RoleARN = d.Path + d.Role // what names the role when the listing gave no ARN
		}
		if c.TrustScope == policy.ScopeEnvironment {
			rp.Environment = env
		}
		dd.Comment = &planner.Comment{Number: p.Number, Marker: report.Marker(p.ID()), Preview: rp, Revocation: report.Revocation{Reason: reason, At: sw.env.Now()}}
	}
	return dd
}

// Result is what a sweep removed, kept, failed and left for the next run.
type Result struct {
	mu       sync.Mutex
	Removed  []string
	Kept     []string
	Failed   []string
	Left     []int // pull requests not started before the deadline, sorted
	Errs     []error
	Warnings []string
	Notices  []string
}

// LeftNames names the pull requests left for the next run.
func (r *Result) LeftNames() []string {
	out := make([]string, len(r.Left))
	for i, n := range r.Left {
		out[i] = fmt.Sprintf("pull request %d", n)
	}
	return out
}

func (r *Result) leave(pr int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, _ := slices.BinarySearch(r.Left, pr)
	r.Left = slices.Insert(r.Left, i, pr)
}

func (r *Result) note(ns ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Notices = append(r.Notices, ns...)
}

func (r *Result) warn(ws ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Warnings = append(r.Warnings, ws...)
}

// Info, Notice and Warning make the result apply's Log: what applying
// says is collected, and said once at the end, sorted.
func (r *Result) Info(string, ...any) {}
func (r *Result) Notice(format string, args ...any) {
	r.note(fmt.Sprintf(format, args...))
}
func (r *Result) Warning(format string, args ...any) {
	r.warn(fmt.Sprintf(format, args...))
}

func (r *Result) add(list *[]string, s string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*list = append(*list, s)
	if err != nil {
		r.Errs = append(r.Errs, err)
	}
}

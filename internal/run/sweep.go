package run

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

	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/preview-access/preview-access/internal/apply"
	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/desired"
	"github.com/preview-access/preview-access/internal/event"
	"github.com/preview-access/preview-access/internal/naming"
	"github.com/preview-access/preview-access/internal/observe"
	"github.com/preview-access/preview-access/internal/plan"
	"github.com/preview-access/preview-access/internal/planner"
	"github.com/preview-access/preview-access/internal/policy"
	"github.com/preview-access/preview-access/internal/preview"
	"github.com/preview-access/preview-access/internal/report"
	"github.com/preview-access/preview-access/internal/sweep"
)

// maxWritesInFlight bounds the sweep's concurrent IAM writes, whatever its
// concurrency (see apply.WriteGate): four writes in flight are 80 a
// second at 50 ms per call, more than IAM admits.
const maxWritesInFlight = 4

// sweepTarget is the repository a sweep cleans up after.
func sweepTarget(env Env, ev event.Event) (preview.Preview, error) {
	p := repository(env, ev)
	var errs []error
	if !preview.ValidOwner(p.Owner) || !preview.ValidRepo(p.Repo) {
		errs = append(errs, fmt.Errorf("sweep needs the repository: %q/%q is not OWNER/REPO (give --repo, or run in Actions)", p.Owner, p.Repo))
	}
	if p.RepositoryID <= 0 {
		errs = append(errs, errors.New("sweep needs the numeric repository id (give --repository-id, or run in Actions)"))
	}
	return p, errors.Join(errs...)
}

// sweepJob is the teardown of one pull request's preview: its roles (two
// when a renamed repository's old path holds one too) and, when no role
// is left, an orphaned gateway document.
type sweepJob struct {
	pr    int
	roles []sweep.Decision
	doc   string // the gateway document the listing found; "" for none
}

// expired reports whether the job removes a preview for its expiry rather
// than for its closed pull request.
func (j *sweepJob) expired() bool {
	return slices.ContainsFunc(j.roles, func(d sweep.Decision) bool { return d.Expired })
}

// runSweep removes every preview of the repository whose PR is closed or
// whose expiry passed. It lists (roles under the path, owned by tags; the
// open pull requests; the gateway's documents) and then tears each preview
// down with the same Down plan as the down mode. GitHub is read only for
// previews whose role or document still exists: a sweep with nothing to
// remove costs one listing of the open pull requests.
func runSweep(ctx context.Context, e *engine, ev event.Event) error {
	target, err := sweepTarget(e.env, ev)
	if err != nil {
		return err
	}
	start := e.env.Now()
	cfg := e.cfg
	ourPath := naming.Path(cfg.RolePathTemplate, naming.NameVars(target))
	prefix := commonPrefix(cfg.RolePathTemplate)
	if prefix == "/" {
		prefix = ourPath // never list the whole account
	}
	gate := apply.NewWriteGate(min(cfg.Concurrency, maxWritesInFlight))
	if err := e.connectSweep(ctx, target, gate); err != nil {
		return err
	}
	if e.gh == nil {
		e.u.warning("no GitHub token: sweep removes only expired previews")
	}
	listing, err := observe.List(ctx, e.readers(), observe.ListRequest{Owner: target.Owner, Repo: target.Repo, Prefix: prefix, OurPath: ourPath})
	if err != nil {
		return fmt.Errorf("sweep: %w (nothing was deleted)", err)
	}
	sw := &sweeper{engine: e, target: target, repoID: strconv.FormatInt(target.RepositoryID, 10), res: &sweepResult{}}
	if listing.GatewayErr != nil {
		// A gateway outage must not keep roles alive: roles are still
		// swept, and the run ends unfinished.
		e.u.warning("sweep cannot list the gateway's policies, so it removes none of them this time: %v", listing.GatewayErr)
		sw.res.add(&sw.res.failed, "gateway policies (not listed)", listing.GatewayErr)
	}
	jobs := sw.jobs(listing, ourPath)
	pl := sw.plan(jobs)
	var buf strings.Builder
	if err := pl.WriteText(&buf, e.u.colour); err != nil {
		return err
	}
	e.u.info("%s", strings.TrimSuffix(buf.String(), "\n"))
	if cfg.DryRun {
		return sweepReport(e.u, target, pl, sw.res, true)
	}
	// Re-check right before deleting: a PR reopened since the first
	// listing keeps its preview. One more listing, not one call per PR.
	if e.gh != nil && len(jobs) > 0 {
		if listing.Open, err = observe.OpenPRs(ctx, e.gh, target.Owner, target.Repo); err != nil {
			return fmt.Errorf("sweep: re-check open pull requests: %w (nothing was deleted)", err)
		}
	}
	sw.run(ctx, jobs, listing.Open, start.Add(cfg.Timeout-sweepReserve(cfg.Timeout)))
	return sw.finish(pl)
}

// sweepReserve is the part of the run's deadline a sweep keeps for the
// previews it has started: it starts no new one after the deadline minus
// the reserve, so none is left half-removed by the deadline.
func sweepReserve(timeout time.Duration) time.Duration {
	return min(max(timeout/5, 10*time.Second), 2*time.Minute)
}

// connectSweep builds the clients of a sweep: reads and writes go through
// two IAM clients, each with a retryer of its own, so that the adaptive
// retryer's rate limiter learns IAM's write limit from the write throttles
// alone; the writes pass the gate.
func (e *engine) connectSweep(ctx context.Context, target preview.Preview, gate *apply.WriteGate) error {
	if err := e.connect(ctx, target, gate.Option()); err != nil {
		return err
	}
	if e.iam == nil {
		return &config.InputError{Input: "mode", What: "sweep needs AWS credentials", Fix: "run sweep with the provisioner's credentials"}
	}
	e.reads = iam.NewFromConfig(e.awsCfg)
	return nil
}

// sweeper tears down the previews a sweep decided to remove.
type sweeper struct {
	*engine
	target preview.Preview
	repoID string
	res    *sweepResult
}

// jobs groups what the listing found to remove by pull request.
func (sw *sweeper) jobs(l observe.Listing, ourPath string) []*sweepJob {
	decisions := sweep.Classify(l.Roles, sw.repoID, l.Open, sw.env.Now())
	byPR := map[int]*sweepJob{}
	job := func(n int) *sweepJob {
		if byPR[n] == nil {
			byPR[n] = &sweepJob{pr: n}
		}
		return byPR[n]
	}
	removed := map[int]bool{}
	for _, d := range decisions {
		switch {
		case d.Verdict == sweep.Skip && d.Path == ourPath:
			sw.u.warning("role %s under %s is not preview-access's for this repository (%s): left alone", d.Role, d.Path, d.Reason)
		case d.Verdict == sweep.Keep:
			sw.res.kept = append(sw.res.kept, fmt.Sprintf("%s (%s)", d.Role, d.Reason))
		case d.Verdict == sweep.Remove:
			j := job(d.PR)
			j.roles = append(j.roles, d)
			removed[d.PR] = true
		}
	}
	for id, n := range sweep.GatewayIDs(l.GatewayIDs, sw.repoID, l.Open, removed) {
		job(n).doc = id
	}
	out := slices.Collect(maps.Values(byPR))
	slices.SortFunc(out, func(a, b *sweepJob) int { return a.pr - b.pr })
	return out
}

// plan is what the sweep will remove, listed before anything is.
func (sw *sweeper) plan(jobs []*sweepJob) plan.Plan {
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
		pl.Add(plan.Change{Resource: "previews", Name: sw.target.FullName(), Action: plan.NoOp, Detail: fmt.Sprintf("%d kept, nothing to remove", len(sw.res.kept))})
	}
	return pl
}

// run tears the jobs down, cfg.Concurrency at a time, starting none after
// stopAt: the rest is left for the next run, whole.
func (sw *sweeper) run(ctx context.Context, jobs []*sweepJob, open map[int]bool, stopAt time.Time) {
	sem := make(chan struct{}, sw.cfg.Concurrency)
	var wg sync.WaitGroup
	for i, j := range jobs {
		sem <- struct{}{}
		if !sw.env.Now().Before(stopAt) {
			<-sem
			for _, left := range jobs[i:] {
				sw.res.add(&sw.res.left, fmt.Sprintf("pull request %d", left.pr), nil)
			}
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			sw.teardown(ctx, j, open)
		}()
	}
	wg.Wait()
}

// teardown removes one pull request's preview with Down: each of its
// roles, and with the first the GitHub records and the gateway document.
func (sw *sweeper) teardown(ctx context.Context, j *sweepJob, open map[int]bool) {
	p := sw.target
	p.Number = j.pr
	name, path, _ := desired.Names(sw.cfg, p)
	roles := j.roles[:0:0]
	for _, d := range j.roles {
		d = sweep.Recheck(d, open)
		if d.Verdict != sweep.Remove {
			sw.res.add(&sw.res.kept, fmt.Sprintf("%s (%s)", d.Role, d.Reason), nil)
			continue
		}
		roles = append(roles, d)
	}
	if len(roles) == 0 {
		if j.doc == "" || (open != nil && open[j.pr]) {
			return // reopened meanwhile
		}
		sw.down(ctx, p, sweep.Decision{Role: name, Path: path, PR: j.pr}, false, j.expired())
		return
	}
	for _, d := range roles {
		sw.down(ctx, p, d, true, j.expired())
	}
}

// down runs the Down plan for one role of p (role false: only a gateway
// document was found, the role is gone).
func (sw *sweeper) down(ctx context.Context, p preview.Preview, d sweep.Decision, role, expired bool) {
	r := observe.Request{Owner: p.Owner, Repo: p.Repo, Number: p.Number, Teardown: true, GatewayID: p.ID()}
	if role {
		r.Role = d.Role
	}
	dd := sw.teardownDesired(p, d, expired)
	if sw.gw == nil {
		r.GatewayID = ""
	}
	if dd.Comment != nil {
		r.Marker = dd.Comment.Marker
	}
	if dd.Deployment != nil {
		r.DeploymentEnvironment = dd.Deployment.Environment
	}
	r.Environment, r.TransientEnvironment = dd.Environment, dd.TransientEnvironment
	res, err := observe.Preview(ctx, sw.readers(), r)
	var result planner.Result
	if err == nil {
		result, err = planner.Down(dd, res.Observed)
	}
	if err != nil {
		sw.res.add(&sw.res.failed, d.Role, fmt.Errorf("remove role %s: %w", d.Role, err))
		return
	}
	sw.res.warn(result.Warnings...)
	sw.res.warn(result.Notices...)
	a := &apply.Applier{IAM: sw.iam, GitHub: sw.gh, Gateway: sw.gw, Owner: p.Owner, Repo: p.Repo, Log: sw.res}
	err = a.Apply(ctx, result.Plan)
	for _, what := range slices.Sorted(maps.Keys(res.Unread)) {
		err = errors.Join(err, fmt.Errorf("could not read the %s: %w", what, res.Unread[what]))
	}
	done := a.Done()
	if slices.Contains(done, "gateway-document") {
		sw.res.add(&sw.res.removed, "gateway policy "+p.ID(), nil)
	}
	switch {
	case err != nil && role:
		sw.res.add(&sw.res.failed, d.Role, fmt.Errorf("remove role %s: %w", d.Role, err))
	case err != nil:
		sw.res.add(&sw.res.failed, "gateway policy "+p.ID(), fmt.Errorf("remove gateway policy %s: %w", p.ID(), err))
	case role:
		sw.res.add(&sw.res.removed, d.Role, nil)
	}
}

// teardownDesired is what Down removes for one role the listing found:
// the names come from the listing (a renamed repository's old role keeps
// its old name and path), the rest from the configuration.
func (sw *sweeper) teardownDesired(p preview.Preview, d sweep.Decision, expired bool) planner.Desired {
	c := sw.cfg
	_, _, env := desired.Names(c, p)
	dd := planner.Desired{
		Role: planner.Role{Name: d.Role, Path: d.Path, Managed: c.ManagedPolicyARNs, RepositoryID: sw.repoID, PullRequest: strconv.Itoa(p.Number)},
	}
	if sw.gw != nil {
		dd.Gateway = &planner.Gateway{Kind: c.Gateway, ID: p.ID()}
	}
	if sw.gh == nil {
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
		rp := report.Preview{ID: p.ID(), Number: p.Number, Gateway: c.Gateway}
		if c.TrustScope == policy.ScopeEnvironment {
			rp.Environment = env
		}
		dd.Comment = &planner.Comment{Number: p.Number, Marker: report.Marker(p.ID()), Preview: rp, Revocation: report.Revocation{Reason: reason, At: sw.env.Now()}}
	}
	return dd
}

// finish reports the sweep and says what it left.
func (sw *sweeper) finish(pl plan.Plan) error {
	res := sw.res
	slices.Sort(res.warnings)
	for _, w := range slices.Compact(res.warnings) {
		sw.u.warning("%s", w)
	}
	if len(res.left) > 0 {
		sw.u.warning("sweep stopped starting teardowns before its deadline (timeout %s): %d previews are left for the next run: %s", sw.cfg.Timeout, len(res.left), strings.Join(res.left, ", "))
	}
	if err := sweepReport(sw.u, sw.target, pl, res, false); err != nil {
		return err
	}
	if len(res.failed) > 0 {
		slices.Sort(res.failed)
		return fmt.Errorf("sweep left %d previews behind: %s; a re-run finishes the job: %w", len(res.failed), strings.Join(res.failed, ", "), errors.Join(res.errs...))
	}
	return nil
}

// commonPrefix is the part of a path template before its first
// placeholder, up to the last slash: where every repository's previews
// live, so a renamed repository's old path is found too.
func commonPrefix(tmpl string) string {
	if i := strings.IndexByte(tmpl, '{'); i >= 0 {
		tmpl = tmpl[:i]
	}
	if i := strings.LastIndexByte(tmpl, '/'); i >= 0 {
		return tmpl[:i+1]
	}
	return "/"
}

type sweepResult struct {
	mu       sync.Mutex
	removed  []string
	kept     []string
	failed   []string
	left     []string // not started before the deadline
	errs     []error
	warnings []string
}

func (r *sweepResult) warn(ws ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warnings = append(r.warnings, ws...)
}

// Info, Notice and Warning make the result apply's Log: what applying
// says is collected, and said once at the end, sorted.
func (r *sweepResult) Info(string, ...any) {}
func (r *sweepResult) Notice(format string, args ...any) {
	r.warn(fmt.Sprintf(format, args...))
}
func (r *sweepResult) Warning(format string, args ...any) {
	r.warn(fmt.Sprintf(format, args...))
}

func (r *sweepResult) add(list *[]string, s string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*list = append(*list, s)
	if err != nil {
		r.errs = append(r.errs, err)
	}
}

func sweepReport(u *ui, target preview.Preview, pl plan.Plan, res *sweepResult, dry bool) error {
	slices.Sort(res.removed)
	slices.Sort(res.kept)
	slices.Sort(res.failed)
	if err := u.setOutput("plan", pl.JSON()); err != nil {
		return err
	}
	if err := u.setOutput("changed", strconv.FormatBool(len(res.removed) > 0)); err != nil {
		return err
	}
	var md strings.Builder
	fmt.Fprintf(&md, "## Preview access: sweep of %s\n\n", plan.MarkdownCell(target.FullName()))
	if dry {
		md.WriteString("Dry run: nothing was removed. The plan:\n\n")
		md.WriteString(pl.Markdown())
	}
	list := func(title string, items []string) {
		fmt.Fprintf(&md, "\n**%s** (%d)\n\n", title, len(items))
		for _, it := range items {
			fmt.Fprintf(&md, "- %s\n", plan.MarkdownCell(it))
		}
	}
	if !dry {
		list("Removed", res.removed)
		list("Failed", res.failed)
		if len(res.left) > 0 {
			list("Left for the next run (deadline)", res.left)
		}
	}
	list("Kept", res.kept)
	u.summary(md.String())
	u.info("sweep: %d removed, %d kept, %d failed, %d left", len(res.removed), len(res.kept), len(res.failed), len(res.left))
	return nil
}

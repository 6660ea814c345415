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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"

	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/desired"
	"github.com/preview-access/preview-access/internal/event"
	"github.com/preview-access/preview-access/internal/gateway"
	"github.com/preview-access/preview-access/internal/ghapi"
	"github.com/preview-access/preview-access/internal/group"
	"github.com/preview-access/preview-access/internal/iamrole"
	"github.com/preview-access/preview-access/internal/naming"
	"github.com/preview-access/preview-access/internal/plan"
	"github.com/preview-access/preview-access/internal/policy"
	"github.com/preview-access/preview-access/internal/preview"
	"github.com/preview-access/preview-access/internal/report"
	"github.com/preview-access/preview-access/internal/sweep"
)

// readConcurrency bounds the GetRole calls of a sweep: reads are not what
// IAM throttles first, and a thousand roles should not take a thousand
// round trips.
const readConcurrency = 16

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

type sweepResult struct {
	mu       sync.Mutex
	removed  []string
	kept     []string
	failed   []string
	errs     []error
	warnings []string
}

func (r *sweepResult) warn(ws ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warnings = append(r.warnings, ws...)
}

func (r *sweepResult) add(list *[]string, s string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*list = append(*list, s)
	if err != nil {
		r.errs = append(r.errs, err)
	}
}

// runSweep removes every preview of the repository whose PR is closed or
// whose expiry passed: IAM roles (found by path, owned by tags), gateway
// documents, deployments, comments and environments.
func runSweep(ctx context.Context, env Env, u *ui, cfg config.Config, gh GitHubAPI, ev event.Event) error {
	target, err := sweepTarget(env, ev)
	if err != nil {
		return err
	}
	repoID := strconv.FormatInt(target.RepositoryID, 10)
	vars := naming.NameVars(target)
	ourPath := naming.Path(cfg.RolePathTemplate, vars)
	listPrefix := commonPrefix(cfg.RolePathTemplate)
	if listPrefix == "/" {
		listPrefix = ourPath // never list the whole account
	}

	awsCfg, err := env.LoadAWS(ctx, cfg.Region)
	if err != nil {
		return fmt.Errorf("load AWS configuration: %w", err)
	}
	// Reads and writes go through two clients, each with a retryer of its
	// own: the adaptive retryer's rate limiter then learns IAM's write
	// limit from the write throttles alone, instead of spending its
	// tokens on the reads that come with every deletion.
	api := iam.NewFromConfig(awsCfg)
	writeAPI := iam.NewFromConfig(awsCfg)
	var gw gateway.Driver
	if cfg.Gateway != "none" {
		gc := cfg.GatewayConfig()
		gc.HTTPClient, gc.Repository, gc.RepositoryID = env.HTTPClient, target.FullName(), target.RepositoryID
		if gw, err = gateway.New(gc); err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
	}

	// The open PRs, listed once. Failing here fails the sweep before it
	// deletes anything: without the list, closed cannot be told from open.
	var open map[int]bool
	if gh != nil {
		if open, err = openPRs(ctx, gh, target); err != nil {
			return fmt.Errorf("sweep: %w (nothing was deleted)", err)
		}
	} else {
		u.warning("no GitHub token: sweep removes only expired previews")
	}

	roles, err := listRoles(ctx, api, listPrefix, ourPath)
	if err != nil {
		return fmt.Errorf("sweep: %w (nothing was deleted)", err)
	}
	decisions := sweep.Classify(roles, repoID, open, env.Now())
	for _, d := range decisions {
		if d.Verdict == sweep.Skip && d.Path == ourPath {
			u.warning("role %s under %s is not preview-access's for this repository (%s): left alone", d.Role, d.Path, d.Reason)
		}
	}
	var gwIDs []string
	var gwListErr error
	if gw != nil {
		gwIDs, err = gw.List(ctx)
		switch {
		case errors.Is(err, gateway.ErrListUnsupported):
			gwIDs = nil
		case err != nil:
			// A gateway outage must not keep roles alive: roles are still
			// swept, and the run ends unfinished.
			gwListErr = fmt.Errorf("list gateway policies: %w", err)
			u.warning("sweep cannot list the gateway's policies, so it removes none of them this time: %v", err)
			gwIDs = nil
		}
	}

	res := &sweepResult{}
	if gwListErr != nil {
		res.add(&res.failed, "gateway policies (not listed)", gwListErr)
	}
	var toRemove []sweep.Decision
	removedPRs := map[int]bool{}
	for _, d := range decisions {
		switch d.Verdict {
		case sweep.Remove:
			toRemove = append(toRemove, d)
			removedPRs[d.PR] = true
		case sweep.Keep:
			res.kept = append(res.kept, fmt.Sprintf("%s (%s)", d.Role, d.Reason))
		}
	}
	orphanDocs := sweep.GatewayIDs(gwIDs, repoID, open, removedPRs)
	// Records that outlived their role and document: a teardown that
	// removed the role but failed on GitHub leaves a deployment "success"
	// and a comment that still offers access. Found through one listing of
	// the repository's recent deployments.
	staleEnvs, err := staleRecords(ctx, gh, cfg, target, open, removedPRs, orphanDocs, env.Now())
	if err != nil {
		res.add(&res.failed, "GitHub records (not listed)", err)
		u.warning("sweep cannot list the repository's deployments: %v", err)
	}

	pl := plan.Plan{Mode: "sweep"}
	for _, d := range toRemove {
		pl.Add(plan.Change{Resource: "iam-role", Name: d.Role, Action: plan.Delete, Detail: d.Reason})
	}
	for _, id := range slices.Sorted(maps.Keys(orphanDocs)) {
		pl.Add(plan.Change{Resource: "gateway-policy", Name: id, Action: plan.Delete, Detail: fmt.Sprintf("pull request %d", orphanDocs[id])})
	}
	for _, envName := range slices.Sorted(maps.Keys(staleEnvs)) {
		pl.Add(plan.Change{Resource: "github-deployment", Name: envName, Action: plan.Update, Detail: fmt.Sprintf("inactive: pull request %d is closed", staleEnvs[envName])})
	}
	if len(pl.Changes) == 0 {
		pl.Add(plan.Change{Resource: "previews", Name: target.FullName(), Action: plan.NoOp, Detail: fmt.Sprintf("%d kept, nothing to remove", len(res.kept))})
	}
	var buf strings.Builder
	if err := pl.WriteText(&buf, u.colour); err != nil {
		return err
	}
	u.info("%s", strings.TrimSuffix(buf.String(), "\n"))
	if cfg.DryRun {
		return sweepReport(u, target, pl, res, true)
	}

	// Re-check right before deleting: a PR reopened since the first
	// listing keeps its preview. One more listing, not one call per PR.
	if gh != nil && (len(toRemove) > 0 || len(orphanDocs) > 0 || len(staleEnvs) > 0) {
		fresh, err := openPRs(ctx, gh, target)
		if err != nil {
			return fmt.Errorf("sweep: re-check open pull requests: %w (nothing was deleted)", err)
		}
		open = fresh
	}

	// One job per pull request: its roles (two when a renamed
	// repository's old path holds one too), its gateway document, then its
	// GitHub records.
	jobs := map[int]*sweepJob{}
	jobOf := func(n int) *sweepJob {
		if jobs[n] == nil {
			jobs[n] = &sweepJob{pr: n}
		}
		return jobs[n]
	}
	for _, d := range toRemove {
		d = sweep.Recheck(d, open)
		if d.Verdict != sweep.Remove {
			res.add(&res.kept, fmt.Sprintf("%s (%s)", d.Role, d.Reason), nil)
			continue
		}
		j := jobOf(d.PR)
		j.roles = append(j.roles, d)
	}
	for id, n := range orphanDocs {
		if open != nil && open[n] && jobs[n] == nil {
			continue // reopened meanwhile, and no expired role goes
		}
		jobOf(n).doc = id
	}
	for _, n := range staleEnvs {
		if open == nil || !open[n] {
			jobOf(n) // GitHub records only
		}
	}
	sw := &sweeper{
		env: env, cfg: cfg, target: target, repoID: repoID, res: res, gh: gh, gw: gw,
		reads: api, writes: gateWrites(writeAPI, min(cfg.Concurrency, maxWritesInFlight)),
		iamSem: make(chan struct{}, cfg.Concurrency), otherSem: make(chan struct{}, cfg.Concurrency),
	}
	for _, n := range slices.Sorted(maps.Keys(jobs)) {
		sw.start(ctx, jobs[n])
	}
	sw.wg.Wait()
	slices.Sort(res.warnings)
	for _, w := range res.warnings {
		u.warning("%s", w)
	}
	if err := sweepReport(u, target, pl, res, false); err != nil {
		return err
	}
	if len(res.failed) > 0 {
		slices.Sort(res.failed)
		return fmt.Errorf("sweep left %d previews behind: %s; a re-run finishes the job: %w", len(res.failed), strings.Join(res.failed, ", "), errors.Join(res.errs...))
	}
	return nil
}

// staleRecords finds the environments of closed PRs that still have an
// active deployment although sweep removes nothing else of theirs: the
// repository's deployments of the last ttl and a day are listed once, and
// only the environments of closed PRs are read further.
func staleRecords(ctx context.Context, gh GitHubAPI, cfg config.Config, target preview.Preview, open, removed map[int]bool, docs map[string]int, now time.Time) (map[string]int, error) {
	if gh == nil || !cfg.Deployment || open == nil {
		return nil, nil
	}
	deps, err := gh.RecentDeployments(ctx, target.Owner, target.Repo, now.Add(-cfg.TTL-24*time.Hour))
	if err != nil {
		return nil, err
	}
	handled := map[int]bool{}
	for n := range removed {
		handled[n] = true
	}
	for _, n := range docs {
		handled[n] = true
	}
	pattern := naming.NumberPattern(cfg.EnvironmentTemplate, naming.NameVars(target))
	candidates := map[string]int{}
	for _, d := range deps {
		m := pattern.FindStringSubmatch(d.GetEnvironment())
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		if !open[n] && !handled[n] {
			candidates[d.GetEnvironment()] = n
		}
	}
	var (
		mu    sync.Mutex // guards stale
		stale = map[string]int{}
		g     = group.New(readConcurrency)
	)
	for envName, n := range candidates {
		g.Go(func() error {
			states, err := gh.Deployments(ctx, target.Owner, target.Repo, envName)
			if err != nil {
				return err
			}
			if len(ghapi.Active(states)) > 0 {
				mu.Lock()
				stale[envName] = n
				mu.Unlock()
			}
			return nil
		})
	}
	return stale, g.Wait()
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

func openPRs(ctx context.Context, gh GitHubAPI, p preview.Preview) (map[int]bool, error) {
	prs, err := gh.OpenPullRequests(ctx, p.Owner, p.Repo)
	if err != nil {
		return nil, err
	}
	open := make(map[int]bool, len(prs))
	for n := range prs {
		open[n] = true
	}
	return open, nil
}

// listRoles lists every role under prefix (all pages, the largest page
// size) and reads each one's tags with GetRole, concurrently. Roles outside
// ourPath that the credentials may not read (another repository's) are
// passed over.
func listRoles(ctx context.Context, api iamrole.API, prefix, ourPath string) ([]sweep.Role, error) {
	var names []sweep.Role
	pager := iam.NewListRolesPaginator(api, &iam.ListRolesInput{PathPrefix: aws.String(prefix), MaxItems: aws.Int32(1000)})
	for pager.HasMorePages() {
		out, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("iam ListRoles under %s: %w", prefix, err)
		}
		for _, r := range out.Roles {
			if strings.HasPrefix(aws.ToString(r.Path), prefix) {
				names = append(names, sweep.Role{Name: aws.ToString(r.RoleName), Path: aws.ToString(r.Path)})
			}
		}
	}
	g := group.New(readConcurrency)
	for i := range names {
		g.Go(func() error {
			out, err := api.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(names[i].Name)})
			switch {
			case iamrole.IsNotFound(err):
				names[i].Tags = map[string]string{naming.TagManagedBy: "(gone)"}
				return nil
			case err != nil && names[i].Path != ourPath && isAccessDenied(err):
				names[i].Tags = map[string]string{}
				return nil
			case err != nil:
				return fmt.Errorf("iam GetRole %s: %w", names[i].Name, err)
			}
			tags := map[string]string{}
			for _, t := range out.Role.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			names[i].Tags = tags
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	kept := names[:0]
	for _, r := range names {
		if r.Tags[naming.TagManagedBy] != "(gone)" {
			kept = append(kept, r)
		}
	}
	return kept, nil
}

func isAccessDenied(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "AccessDenied" || ae.ErrorCode() == "AccessDeniedException")
}

// maxWritesInFlight bounds the sweep's concurrent IAM writes, whatever its
// concurrency: reads and GitHub calls of up to 32 previews may overlap,
// but writes queue here, first come first served. Without it, under a
// write rate limit, dozens of calls wait inside the adaptive retryer for
// its tokens, which it hands out in no order, and some wait past the
// per-call timeout (iamrole.CallTimeout): measured with concurrency 32
// against 10 writes/s, 7 of 950 deletions failed so. Four writes in
// flight are 80 a second at 50 ms per call, more than IAM admits.
const maxWritesInFlight = 4

// gatedWrites lets at most cap(sem) of the writes a sweep makes (those of
// iamrole.PlanDown) run at once; the rest wait their turn in order.
type gatedWrites struct {
	iamrole.API
	sem chan struct{}
}

func gateWrites(api iamrole.API, n int) *gatedWrites {
	return &gatedWrites{API: api, sem: make(chan struct{}, max(n, 1))}
}

// acquire waits for a turn; Go serves blocked channel senders in order.
func (g *gatedWrites) acquire(ctx context.Context) (release func(), err error) {
	select {
	case g.sem <- struct{}{}:
		return func() { <-g.sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (g *gatedWrites) DeleteRolePolicy(ctx context.Context, in *iam.DeleteRolePolicyInput, opts ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error) {
	release, err := g.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return g.API.DeleteRolePolicy(ctx, in, opts...)
}

func (g *gatedWrites) DetachRolePolicy(ctx context.Context, in *iam.DetachRolePolicyInput, opts ...func(*iam.Options)) (*iam.DetachRolePolicyOutput, error) {
	release, err := g.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return g.API.DetachRolePolicy(ctx, in, opts...)
}

func (g *gatedWrites) DeleteRole(ctx context.Context, in *iam.DeleteRoleInput, opts ...func(*iam.Options)) (*iam.DeleteRoleOutput, error) {
	release, err := g.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return g.API.DeleteRole(ctx, in, opts...)
}

// sweepJob is the work of one pull request.
type sweepJob struct {
	pr    int
	roles []sweep.Decision
	doc   string // orphaned gateway document; "" for none
}

// expired reports whether the job removes a preview for its expiry rather
// than for its closed pull request.
func (j *sweepJob) expired() bool {
	for _, d := range j.roles {
		if d.Expired {
			return true
		}
	}
	return false
}

// sweeper removes previews with bounded concurrency: up to
// cfg.Concurrency roles at once, and apart from them up to as many
// pull requests' gateway documents and GitHub records, so that GitHub's
// latency never idles the IAM deletions that a rate limit paces.
type sweeper struct {
	env      Env
	cfg      config.Config
	target   preview.Preview
	repoID   string
	res      *sweepResult
	gh       GitHubAPI
	gw       gateway.Driver
	reads    iamrole.API
	writes   iamrole.API
	iamSem   chan struct{}
	otherSem chan struct{}
	wg       sync.WaitGroup
}

// start queues j: its roles first; its document and GitHub records after,
// the GitHub records only once every role of the PR is gone (they say
// access was revoked).
func (sw *sweeper) start(ctx context.Context, j *sweepJob) {
	sw.wg.Add(1)
	if len(j.roles) == 0 {
		sw.otherSem <- struct{}{}
		go func() {
			defer sw.wg.Done()
			defer func() { <-sw.otherSem }()
			sw.finish(ctx, j, true)
		}()
		return
	}
	sw.iamSem <- struct{}{}
	go func() {
		defer sw.wg.Done()
		ok := true
		for _, d := range j.roles {
			warnings, err := removeRole(ctx, sw.reads, sw.writes, d, sw.repoID, sw.cfg.ManagedPolicyARNs)
			sw.res.warn(warnings...)
			if err != nil {
				sw.res.add(&sw.res.failed, d.Role, fmt.Errorf("remove role %s: %w", d.Role, err))
				ok = false
				continue
			}
			sw.res.add(&sw.res.removed, d.Role, nil)
		}
		<-sw.iamSem
		if j.doc == "" && (sw.gh == nil || !ok) {
			return
		}
		sw.otherSem <- struct{}{}
		defer func() { <-sw.otherSem }()
		sw.finish(ctx, j, ok)
	}()
}

// finish deletes j's gateway document and, when its roles are gone,
// updates its GitHub records; the two concurrently.
func (sw *sweeper) finish(ctx context.Context, j *sweepJob, rolesGone bool) {
	var wg sync.WaitGroup
	if j.doc != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			what := "gateway policy " + j.doc
			if err := sw.gw.Delete(ctx, j.doc); err != nil {
				sw.res.add(&sw.res.failed, what, fmt.Errorf("delete %s: %w", what, err))
			} else {
				sw.res.add(&sw.res.removed, what, nil)
			}
		}()
	}
	if sw.gh != nil && rolesGone {
		what := fmt.Sprintf("GitHub records of pull request %d", j.pr)
		if err := githubTeardown(ctx, sw.gh, sw.cfg, sw.target, j.pr, j.expired(), sw.env.Now()); err != nil {
			sw.res.add(&sw.res.failed, what, err)
		} else if len(j.roles) == 0 && j.doc == "" {
			// Records were all this job was for: say what it fixed.
			sw.res.add(&sw.res.removed, what, nil)
		}
	}
	wg.Wait()
}

// removeRole tears down one role after reading it again: ownership is
// checked on what IAM says now, not on the listing.
func removeRole(ctx context.Context, reads, writes iamrole.API, d sweep.Decision, repoID string, managed []string) (warnings []string, err error) {
	o, err := iamrole.Observe(ctx, reads, d.Role, true)
	if err != nil {
		return nil, err
	}
	// The path is the one the listing found it under (an old path for a
	// renamed repository): a role IAM now reports elsewhere is refused.
	steps, warnings, err := iamrole.PlanDown(d.Role, o, iamrole.Teardown{Path: d.Path, RepositoryID: repoID, PullRequest: strconv.Itoa(d.PR), Managed: managed})
	if err != nil {
		return warnings, err
	}
	return warnings, iamrole.Apply(ctx, writes, steps)
}

// githubTeardown marks a removed preview's deployments inactive, edits its
// sticky comment to say access was revoked, and deletes its environment.
func githubTeardown(ctx context.Context, gh GitHubAPI, cfg config.Config, target preview.Preview, pr int, expired bool, now time.Time) error {
	p := target
	p.Number = pr
	envName := desired.EnvironmentName(cfg, p)
	// The three records are independent: update them at once.
	g := group.New(0)
	do := g.Go
	if cfg.Deployment {
		do(func() error {
			_, err := gh.DeactivateDeployments(ctx, p.Owner, p.Repo, envName)
			return err
		})
	}
	if cfg.Comment {
		do(func() error {
			marker := report.Marker(p.ID())
			c, err := gh.Comment(ctx, p.Owner, p.Repo, pr, marker)
			if err != nil || c == nil || report.State(c.GetBody()) == report.RevokedState {
				return err
			}
			rp := report.Preview{ID: p.ID(), Number: pr, Gateway: cfg.Gateway}
			if cfg.TrustScope == policy.ScopeEnvironment {
				rp.Environment = envName
			}
			reason := report.ReasonSwept
			if expired {
				reason = report.ReasonExpired
			}
			_, err = gh.WriteComment(ctx, p.Owner, p.Repo, pr, c, marker, report.DownComment(rp, report.Revocation{Reason: reason, At: now}))
			return err
		})
	}
	if cfg.TrustScope == policy.ScopeEnvironment {
		do(func() error {
			_, err := gh.DeleteEnvironment(ctx, p.Owner, p.Repo, envName)
			return err
		})
	}
	return g.Wait()
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
	}
	list("Kept", res.kept)
	u.summary(md.String())
	u.info("sweep: %d removed, %d kept, %d failed", len(res.removed), len(res.kept), len(res.failed))
	return nil
}

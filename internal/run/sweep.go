package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/preview-access/preview-access/internal/apply"
	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/engine"
	"github.com/preview-access/preview-access/internal/event"
	"github.com/preview-access/preview-access/internal/plan"
	"github.com/preview-access/preview-access/internal/preview"
	"github.com/preview-access/preview-access/internal/report"
	"github.com/preview-access/preview-access/internal/sweep"
)

// runSweep removes every preview of the repository whose PR is closed or
// whose expiry passed (package sweep), and reports.
func runSweep(ctx context.Context, c *command, ev event.Event) error {
	target := repository(c.env, ev)
	if err := sweep.CheckTarget(target); err != nil {
		return err
	}
	start := c.env.Now()
	env := c.engineEnv()
	gate := apply.NewWriteGate(min(c.cfg.Concurrency, sweep.MaxWritesInFlight))
	if err := c.clients.Connect(ctx, env, c.cfg, target, false, gate.Option()); err != nil {
		return err
	}
	if c.clients.IAM == nil {
		return &config.InputError{Input: "mode", What: "sweep needs AWS credentials", Fix: "run sweep with the provisioner's credentials"}
	}
	c.clients.SplitReads()
	if c.clients.GitHub == nil {
		c.u.Warning("no GitHub token: sweep removes only expired previews")
	}
	sw, err := sweep.Prepare(ctx, env, &c.clients, c.cfg, target)
	if err != nil {
		return err
	}
	var buf strings.Builder
	if err := sw.Plan.WriteText(&buf, c.u.colour); err != nil {
		return err
	}
	c.u.Info("%s", strings.TrimSuffix(buf.String(), "\n"))
	if c.cfg.DryRun {
		return sweepReport(c.u, target, sw.Plan, sw.Result, true)
	}
	c.u.wrote = true
	if err := sw.Apply(ctx, start.Add(c.cfg.Timeout-sweep.Reserve(c.cfg.Timeout))); err != nil {
		return err
	}
	return finishSweep(c, target, sw)
}

// finishSweep reports the sweep and says what it left.
func finishSweep(c *command, target preview.Preview, sw *sweep.Sweep) error {
	res := sw.Result
	slices.Sort(res.Warnings)
	for _, w := range slices.Compact(res.Warnings) {
		c.u.Warning("%s", w)
	}
	slices.Sort(res.Notices)
	for _, n := range slices.Compact(res.Notices) {
		c.u.Notice("%s", n)
	}
	if left := res.LeftNames(); len(left) > 0 {
		c.u.Warning("sweep stopped starting teardowns before its deadline (timeout %s): %d previews are left for the next run: %s", c.cfg.Timeout, len(left), strings.Join(left, ", "))
	}
	if err := sweepReport(c.u, target, sw.Plan, res, false); err != nil {
		return err
	}
	if len(res.Failed) > 0 {
		slices.Sort(res.Failed)
		next := "a re-run finishes the job"
		if errs := errors.Join(res.Errs...); engine.NeedsChange(errs) {
			next = "a re-run fails the same way until what the errors name is changed"
		}
		return fmt.Errorf("sweep left %d previews behind: %s; %s: %w", len(res.Failed), strings.Join(res.Failed, ", "), next, errors.Join(res.Errs...))
	}
	return nil
}

func sweepReport(u *ui, target preview.Preview, pl plan.Plan, res *sweep.Result, dry bool) error {
	slices.Sort(res.Removed)
	slices.Sort(res.Kept)
	slices.Sort(res.Failed)
	if err := u.setOutput("plan", pl.JSON()); err != nil {
		return err
	}
	if err := u.setOutput("changed", strconv.FormatBool(len(res.Removed) > 0)); err != nil {
		return err
	}
	u.summary(report.SweepSummary(report.Sweep{
		Repository: target.FullName(), DryRun: dry, Plan: pl,
		Removed: res.Removed, Failed: res.Failed, Left: res.LeftNames(), Kept: res.Kept,
	}))
	u.Info("sweep: %d removed, %d kept, %d failed, %d left", len(res.Removed), len(res.Kept), len(res.Failed), len(res.Left))
	return nil
}

// runStatus lists who has access to the repository's previews right now
// (package sweep's listing, read only), and reports it as text or JSON,
// in the job summary and in the status output.
func runStatus(ctx context.Context, c *command, ev event.Event) error {
	target := repository(c.env, ev)
	if err := sweep.CheckTarget(target); err != nil {
		return err
	}
	if err := c.clients.Connect(ctx, c.engineEnv(), c.cfg, target, false); err != nil {
		return err
	}
	if c.clients.IAM == nil {
		return &config.InputError{Input: "mode", What: "status reads the roles and needs AWS credentials", Fix: "run it with the provisioner's (or a read-only IAM) role"}
	}
	st, err := sweep.Status(ctx, c.engineEnv(), &c.clients, c.cfg, target)
	if err != nil {
		return err
	}
	for _, w := range st.Warnings {
		c.u.Warning("%s", w)
	}
	js, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if c.output == "json" {
		fmt.Fprintln(c.env.Stdout, string(js))
	} else {
		c.u.Info("%s", strings.TrimSuffix(report.StatusText(st), "\n"))
	}
	c.u.summary(report.StatusSummary(st))
	return c.u.setOutput("status", string(js))
}

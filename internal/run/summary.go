package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/engine"
	"github.com/preview-access/preview-access/internal/planner"
	"github.com/preview-access/preview-access/internal/report"
)

// reporter prints and reports one session.
type reporter struct {
	c *command
	s *engine.Session
}

// finish prints the plan, applies it (unless a dry run) and reports.
func finish(ctx context.Context, c *command, s *engine.Session) error {
	r := reporter{c, s}
	if err := r.printPlan(); err != nil {
		return err
	}
	unread := slices.Clone(s.Unread)
	if s.Config.DryRun {
		for _, err := range unread {
			c.u.Warning("%v", err)
		}
		r.printDocuments()
		return r.report(false, false)
	}
	c.u.wrote = true
	if err := s.Apply(ctx); err != nil {
		_ = r.report(true, false)
		return errors.Join(append([]error{err}, unread...)...)
	}
	if len(unread) > 0 {
		_ = r.report(true, false)
		for i, err := range unread {
			unread[i] = fmt.Errorf("access is revoked, but %w", err)
		}
		return errors.Join(unread...)
	}
	return r.report(true, true)
}

func (r reporter) printPlan() error {
	if r.c.output == "json" {
		b, err := json.Marshal(r.s.PlanOutput())
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(r.c.env.Stdout, string(b))
		return err
	}
	var buf bytes.Buffer
	if err := r.s.Plan.WriteText(&buf, r.c.u.colour); err != nil {
		return err
	}
	r.c.u.Info("%s", strings.TrimSuffix(buf.String(), "\n"))
	return nil
}

// printDocuments shows what a dry run would write.
func (r reporter) printDocuments() {
	if r.c.output == "json" || r.s.Mode != config.ModeUp {
		return
	}
	r.c.u.Info("\nRole ARN: %s", r.s.State.RoleARN)
	r.c.u.Info("\nTrust policy:\n%s", indent(r.s.State.Role.Trust))
	r.c.u.Info("\nPermission policy (%s):\n%s", planner.PolicyName, indent(r.s.State.Role.Policy))
	if r.s.GatewayDoc != nil {
		r.c.u.Info("\nGateway policy (%s):\n%s", r.s.Config.Gateway, indent(r.s.GatewayDoc))
	}
}

func indent(doc []byte) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, doc, "  ", "  "); err != nil {
		return string(doc)
	}
	return "  " + buf.String()
}

// report writes the outputs and the job summary.
// attempted says apply ran (so writes may have happened even if it
// failed); applied that it succeeded.
func (r reporter) report(attempted, applied bool) error {
	changed := attempted && r.s.Plan.Changed()
	up := r.s.Mode == config.ModeUp
	value := func(v string) string {
		if !up {
			return ""
		}
		return v
	}
	gwOut := ""
	if up && r.s.GatewayDoc != nil {
		var buf bytes.Buffer
		if err := json.Compact(&buf, r.s.GatewayDoc); err == nil {
			gwOut = buf.String()
		}
		if r.s.Config.Gateway == "file" {
			gwOut = r.s.Config.GatewayFile
		}
	}
	outs := [][2]string{
		{"role-arn", value(r.s.State.RoleARN)},
		{"role-name", value(r.s.State.RoleName)},
		{"environment", value(r.s.State.Environment)},
		{"preview-url", value(r.s.State.PreviewURL)},
		{"gateway-policy", gwOut},
		{"changed", strconv.FormatBool(changed)},
		{"plan", r.s.Plan.JSON()},
	}
	for _, o := range outs {
		if err := r.c.u.setOutput(o[0], o[1]); err != nil {
			return err
		}
	}
	sum := report.Run{
		Mode: r.s.Mode, Repository: r.s.Preview.FullName(), Number: r.s.Preview.Number,
		DryRun: r.s.Config.DryRun, Failed: attempted && !applied, Plan: r.s.Plan, Changed: changed, Warnings: r.c.u.warnings,
	}
	for _, o := range outs[:4] {
		sum.Outputs = append(sum.Outputs, report.Output{Name: o[0], Value: o[1]})
	}
	if up && r.s.GatewayDoc != nil {
		sum.Access = r.s.ReportPreview().Access
		if sum.Access == nil {
			sum.Access = []report.Access{}
		}
	}
	r.c.u.summary(report.Summary(sum))
	return nil
}

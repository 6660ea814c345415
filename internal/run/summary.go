package run

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/plan"
	"github.com/preview-access/preview-access/internal/planner"
	"github.com/preview-access/preview-access/internal/report"
)

// summaryAccessRows bounds the job summary's access table: GitHub takes a
// summary of up to 1 MiB per step.
const summaryAccessRows = 10000

// accessSummary is the job summary's full list of who may open the
// preview, which the sticky comment points to when it only summarises.
func accessSummary(access []report.Access) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n**Who can open the preview** (%d)\n\n| who | roles |\n|---|---|\n", len(access))
	for i, a := range access {
		if i == summaryAccessRows {
			fmt.Fprintf(&b, "\n…and %d more: see the gateway-policy output.\n", len(access)-i)
			break
		}
		fmt.Fprintf(&b, "| %s | %s |\n", report.CodeCell(a.Subject), plan.MarkdownCell(strings.Join(a.Roles, ", ")))
	}
	return b.String()
}

func (s *session) printPlan() error {
	if s.output == "json" {
		_, err := fmt.Fprintln(s.env.Stdout, s.plan.JSON())
		return err
	}
	var buf bytes.Buffer
	if err := s.plan.WriteText(&buf, s.u.colour); err != nil {
		return err
	}
	s.u.info("%s", strings.TrimSuffix(buf.String(), "\n"))
	return nil
}

// printDocuments shows what a dry run would write.
func (s *session) printDocuments() {
	if s.output == "json" || s.mode != config.ModeUp {
		return
	}
	s.u.info("\nRole ARN: %s", s.state.RoleARN)
	s.u.info("\nTrust policy:\n%s", indent(s.state.Role.Trust))
	s.u.info("\nPermission policy (%s):\n%s", planner.PolicyName, indent(s.state.Role.Policy))
	if s.gwDoc != nil {
		s.u.info("\nGateway policy (%s):\n%s", s.cfg.Gateway, indent(s.gwDoc))
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
func (s *session) report(attempted, applied bool) error {
	changed := attempted && s.plan.Changed()
	up := s.mode == config.ModeUp
	value := func(v string) string {
		if !up {
			return ""
		}
		return v
	}
	gwOut := ""
	if up && s.gwDoc != nil {
		var buf bytes.Buffer
		if err := json.Compact(&buf, s.gwDoc); err == nil {
			gwOut = buf.String()
		}
		if s.cfg.Gateway == "file" {
			gwOut = s.cfg.GatewayFile
		}
	}
	outs := [][2]string{
		{"role-arn", value(s.state.RoleARN)},
		{"role-name", value(s.state.RoleName)},
		{"environment", value(s.state.Environment)},
		{"preview-url", value(s.state.PreviewURL)},
		{"gateway-policy", gwOut},
		{"changed", strconv.FormatBool(changed)},
		{"plan", s.plan.JSON()},
	}
	for _, o := range outs {
		if err := s.u.setOutput(o[0], o[1]); err != nil {
			return err
		}
	}
	var md strings.Builder
	fmt.Fprintf(&md, "## Preview access: %s of %s pull request %d\n\n", s.mode, plan.MarkdownCell(s.p.FullName()), s.p.Number)
	switch {
	case s.cfg.DryRun:
		md.WriteString("Dry run: nothing was changed.\n\n")
	case attempted && !applied:
		md.WriteString("**The run failed**; the plan below was not fully applied. Each error says whether a re-run is enough or what to change first.\n\n")
	}
	md.WriteString(s.plan.Markdown())
	md.WriteString("\n| output | value |\n|---|---|\n")
	for _, o := range outs[:4] {
		if o[1] != "" {
			fmt.Fprintf(&md, "| %s | %s |\n", o[0], report.CodeCell(o[1]))
		}
	}
	fmt.Fprintf(&md, "| changed | %t |\n", changed)
	if up && s.gwDoc != nil {
		md.WriteString(accessSummary(s.reportPreview().Access))
	}
	if len(s.u.warnings) > 0 {
		md.WriteString("\n**Warnings**\n\n")
		for _, w := range s.u.warnings {
			fmt.Fprintf(&md, "- %s\n", plan.MarkdownCell(w))
		}
	}
	s.u.summary(md.String())
	return nil
}

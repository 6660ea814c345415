package report

import (
	"fmt"
	"strings"

	"github.com/preview-access/preview-access/internal/plan"
)

// Output is one action output as the job summary lists it.
type Output struct{ Name, Value string }

// Run is what the job summary of an up or down says.
type Run struct {
	Mode       string
	Repository string
	Number     int
	DryRun     bool
	Failed     bool // apply ran and did not finish
	Plan       plan.Plan
	Outputs    []Output // shown when not empty
	Changed    bool
	// Access is who may open the preview (up with a gateway); nil for none.
	Access   []Access
	Warnings []string
}

// summaryAccessRows bounds the job summary's access table: GitHub takes a
// summary of up to 1 MiB per step.
const summaryAccessRows = 10000

// Summary is the job summary of an up or down: the plan, the outputs, who
// may open the preview (in full, where the sticky comment may only
// summarise) and the run's warnings.
func Summary(r Run) string {
	var md strings.Builder
	fmt.Fprintf(&md, "## Preview access: %s of %s pull request %d\n\n", r.Mode, cell(r.Repository), r.Number)
	switch {
	case r.DryRun:
		md.WriteString("Dry run: nothing was changed.\n\n")
	case r.Failed:
		md.WriteString("**The run failed**; the plan below was not fully applied. Each error says whether a re-run is enough or what to change first.\n\n")
	}
	md.WriteString(r.Plan.Markdown())
	md.WriteString("\n| output | value |\n|---|---|\n")
	for _, o := range r.Outputs {
		if o.Value != "" {
			fmt.Fprintf(&md, "| %s | %s |\n", o.Name, codeCell(o.Value))
		}
	}
	fmt.Fprintf(&md, "| changed | %t |\n", r.Changed)
	if r.Access != nil {
		fmt.Fprintf(&md, "\n**Who can open the preview** (%d)\n\n| who | roles |\n|---|---|\n", len(r.Access))
		for i, a := range r.Access {
			if i == summaryAccessRows {
				fmt.Fprintf(&md, "\n…and %d more: see the gateway-policy output.\n", len(r.Access)-i)
				break
			}
			fmt.Fprintf(&md, "| %s | %s |\n", codeCell(a.Subject), cell(strings.Join(a.Roles, ", ")))
		}
	}
	warnings(&md, r.Warnings)
	return md.String()
}

func warnings(md *strings.Builder, ws []string) {
	if len(ws) == 0 {
		return
	}
	md.WriteString("\n**Warnings**\n\n")
	for _, w := range ws {
		fmt.Fprintf(md, "- %s\n", cell(w))
	}
}

// Sweep is what the job summary of a sweep says.
type Sweep struct {
	Repository string
	DryRun     bool
	Plan       plan.Plan // shown for a dry run
	Removed    []string
	Failed     []string
	Left       []string // not started before the deadline
	Kept       []string
}

// SweepSummary is the job summary of a sweep.
func SweepSummary(s Sweep) string {
	var md strings.Builder
	fmt.Fprintf(&md, "## Preview access: sweep of %s\n\n", cell(s.Repository))
	if s.DryRun {
		md.WriteString("Dry run: nothing was removed. The plan:\n\n")
		md.WriteString(s.Plan.Markdown())
	}
	list := func(title string, items []string) {
		fmt.Fprintf(&md, "\n**%s** (%d)\n\n", title, len(items))
		for _, it := range items {
			fmt.Fprintf(&md, "- %s\n", cell(it))
		}
	}
	if !s.DryRun {
		list("Removed", s.Removed)
		list("Failed", s.Failed)
		if len(s.Left) > 0 {
			list("Left for the next run (deadline)", s.Left)
		}
	}
	list("Kept", s.Kept)
	return md.String()
}

// Problem is one error of a failed run, as its job summary states it.
type Problem struct {
	Input string // the input at fault, when one is
	What  string
	Fix   string // what to change; "" when the error says it itself
}

// Failure is the job summary of a failed run, or the section a failed
// run adds below its plan: what failed, what to do, and whether anything
// was written. Wrote says writes were attempted (the plan was applied,
// in part or not at all); without them nothing changed.
func Failure(problems []Problem, wrote bool) string {
	var md strings.Builder
	md.WriteString("## Preview access: the run failed\n\n")
	if wrote {
		md.WriteString("Some of the plan may have been applied. A re-run re-reads everything and repeats only what did not happen; a failed teardown leaves the role without permissions until a re-run or the next sweep removes it.\n\n")
	} else {
		md.WriteString("It stopped before its first write: **nothing was created, changed or removed.**\n\n")
	}
	md.WriteString("| what failed | what to do |\n|---|---|\n")
	for _, p := range problems {
		what, fix := cell(p.What), cell(p.Fix)
		if p.Input != "" {
			what = "input " + codeCell(p.Input) + ": " + what
		}
		if fix == "" {
			fix = "fix what the error names, then re-run the job"
		}
		fmt.Fprintf(&md, "| %s | %s |\n", what, fix)
	}
	return md.String()
}

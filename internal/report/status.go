package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/preview-access/preview-access/internal/plan"
)

// Status is who has access to a repository's previews right now, read
// from IAM (the roles and their tags), the gateway (each preview's
// document) and GitHub (which pull requests are open).
type Status struct {
	Repository string          `json:"repository"`
	At         time.Time       `json:"at"`
	Previews   []StatusPreview `json:"previews"`
	// Warnings say what could not be read, so what the status says is
	// incomplete there.
	Warnings []string `json:"warnings,omitempty"`
}

// StatusPreview is one live preview: a role of this repository, or a
// gateway document whose role is gone.
type StatusPreview struct {
	PullRequest int       `json:"pullRequest"`
	State       string    `json:"state"` // open, closed, or unknown (no GitHub token)
	RoleName    string    `json:"roleName,omitempty"`
	RoleARN     string    `json:"roleArn,omitempty"`
	ExpiresAt   time.Time `json:"expiresAt,omitzero"`
	HeadSHA     string    `json:"headSha,omitempty"`
	// Gateway is the document's state: "present", "absent", "unreadable"
	// or "none" (no gateway configured).
	Gateway string   `json:"gateway"`
	Access  []Access `json:"access"`
	// NextSweep is why the next sweep removes the preview ("" when it
	// keeps it): its PR is closed, or it expired.
	NextSweep string `json:"nextSweep,omitempty"`
}

// StatusSummary is the status as the job summary shows it: one row per
// preview, with who holds which role and why, and the previews the next
// sweep removes marked.
func StatusSummary(s Status) string {
	var md strings.Builder
	fmt.Fprintf(&md, "## Preview access: status of %s\n\n", cell(s.Repository))
	fmt.Fprintf(&md, "%s at %s. ", count(len(s.Previews), "live preview", "live previews"), s.At.UTC().Format("2006-01-02 15:04 MST"))
	if n := removedNext(s); n > 0 {
		fmt.Fprintf(&md, "**The next sweep removes %d** (marked ⚠).", n)
	}
	md.WriteString("\n\n")
	if len(s.Previews) > 0 {
		md.WriteString("| PR | state | role | expires | who (roles — why) | next sweep |\n|---|---|---|---|---|---|\n")
		for _, p := range s.Previews {
			next := "keeps it"
			if p.NextSweep != "" {
				next = "⚠ removes it: " + cell(p.NextSweep)
			}
			fmt.Fprintf(&md, "| #%d | %s | %s | %s | %s | %s |\n", p.PullRequest, cell(p.State), codeCell(p.RoleARN), expires(p.ExpiresAt), whoCell(p), next)
		}
	}
	warnings(&md, s.Warnings)
	return md.String()
}

// StatusText is the status for a terminal: a line per preview, then who
// holds which role and why.
func StatusText(s Status) string {
	var b strings.Builder
	printf := func(format string, args ...any) { cleanPrintf(&b, format, args...) }
	printf("%s of %s at %s", count(len(s.Previews), "live preview", "live previews"), s.Repository, s.At.UTC().Format(time.RFC3339))
	if n := removedNext(s); n > 0 {
		printf("; the next sweep removes %d", n)
	}
	b.WriteString("\n")
	for _, p := range s.Previews {
		printf("\nPR %d (%s)  role %s  expires %s  gateway policy %s\n", p.PullRequest, p.State, dash(p.RoleARN), expires(p.ExpiresAt), p.Gateway)
		if p.NextSweep != "" {
			printf("  next sweep removes it: %s\n", p.NextSweep)
		}
		for _, a := range p.Access {
			printf("  %-40s %-20s %s\n", a.Subject, strings.Join(a.Roles, ", "), strings.Join(a.Why, ", "))
		}
	}
	for _, w := range s.Warnings {
		printf("\nwarning: %s\n", w)
	}
	return b.String()
}

// cleanPrintf is fmt.Fprintf with every string argument cleaned of control
// characters: what the status shows comes from IAM tags, the gateway's
// documents and GitHub, and none of theirs may reach a terminal. The
// format's own line breaks stay.
func cleanPrintf(b *strings.Builder, format string, args ...any) {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = plan.Clean(s)
		}
	}
	fmt.Fprintf(b, format, args...)
}

func removedNext(s Status) int {
	n := 0
	for _, p := range s.Previews {
		if p.NextSweep != "" {
			n++
		}
	}
	return n
}

func whoCell(p StatusPreview) string {
	switch {
	case p.Gateway == "none":
		return "no gateway"
	case p.Gateway == "unreadable":
		return "unknown: the gateway policy could not be read"
	case len(p.Access) == 0:
		return "nobody"
	}
	parts := make([]string, 0, len(p.Access))
	for _, a := range p.Access {
		part := codeCell(a.Subject) + " " + cell(strings.Join(a.Roles, ", "))
		if len(a.Why) > 0 {
			part += " — " + cell(strings.Join(a.Why, ", "))
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, "<br>")
}

func expires(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(time.RFC3339)
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

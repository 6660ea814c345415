// Package report renders what a run tells people: the sticky PR comment and
// the job summary. Rendering is pure and deterministic; every value that
// came from GitHub goes through plan.MarkdownCell, so it can neither break
// the markdown nor mention (and notify) anyone.
package report

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/preview-access/preview-access/internal/ghapi"
	"github.com/preview-access/preview-access/internal/plan"
)

// Access is one subject's roles on the preview, e.g. "user:octocat" → admin.
type Access struct {
	Subject string
	Roles   []string
}

// Preview is what the comment and summary show about one preview.
type Preview struct {
	ID          string // preview id, for the comment's marker
	Repository  string
	Number      int
	RoleARN     string
	TrustScope  string
	Ref         string // refs/pull/N/merge
	Environment string // "" with trust-scope ref
	PreviewURL  string
	ExpiresAt   time.Time
	HeadSHA     string
	Gateway     string // "none", "opa", …
	Access      []Access
}

const stateMarker = "<!-- preview-access-state:"

// State extracts the state fingerprint from a comment body ("" if none).
func State(body string) string {
	i := strings.Index(body, stateMarker)
	if i < 0 {
		return ""
	}
	rest := body[i+len(stateMarker):]
	j := strings.Index(rest, " -->")
	if j < 0 {
		return ""
	}
	return rest[:j]
}

// Fingerprint identifies everything the comment says about the preview,
// except the plan of the run that wrote it. A comment whose fingerprint
// matches needs no edit, so a re-run on an unchanged PR writes nothing.
func Fingerprint(p Preview) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n", p.ID, p.RoleARN, p.TrustScope, p.Ref, p.Environment, p.PreviewURL, p.ExpiresAt.UTC().Format(time.RFC3339), p.HeadSHA, p.Gateway)
	for _, a := range sortedAccess(p.Access) {
		fmt.Fprintf(&b, "%s=%s\n", a.Subject, strings.Join(a.Roles, ","))
	}
	sum := sha256.Sum256([]byte(b.String()))
	return "up-" + hex.EncodeToString(sum[:8])
}

// Stable is the part of a comment body that describes the preview: all
// but the plan of the run that wrote it (up) or the time of teardown
// (down). Two bodies with the same stable part say the same, so the
// comment needs no edit; comparing the text itself, not only the
// fingerprint, means a look-alike comment cannot claim to be current.
func Stable(body string) string {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	for _, cut := range []string{"\n<details>", " were removed at "} {
		if i := strings.Index(body, cut); i >= 0 {
			body = body[:i]
		}
	}
	return strings.TrimSpace(body)
}

// RevokedState is the fingerprint of a comment that says access was revoked.
const RevokedState = "revoked"

func sortedAccess(a []Access) []Access {
	out := append([]Access(nil), a...)
	sort.Slice(out, func(i, j int) bool { return out[i].Subject < out[j].Subject })
	return out
}

func cell(s string) string { return plan.MarkdownCell(s) }

// code renders s as inline code; backticks cannot occur in the values
// shown this way (ARNs, refs, names), and are dropped if they do.
func code(s string) string {
	if s == "" {
		return "—"
	}
	return "`" + strings.ReplaceAll(plan.Clean(s), "`", "") + "`"
}

// codeCell is code(s) inside a table cell, where GitHub splits on a pipe
// even within a code span unless it is escaped (a role path may hold one).
func codeCell(s string) string { return strings.ReplaceAll(code(s), "|", "\\|") }

// CodeCell renders s as inline code inside a markdown table cell: the
// text stays as it is (no backslashes in what people copy) and a pipe
// cannot end the cell.
func CodeCell(s string) string { return codeCell(s) }

// UpComment is the sticky comment of a live preview.
func UpComment(p Preview, pl plan.Plan) string {
	var b strings.Builder
	b.WriteString(ghapi.Marker(p.ID) + "\n")
	b.WriteString(stateMarker + Fingerprint(p) + " -->\n")
	fmt.Fprintf(&b, "### 🔐 Preview access for #%d\n\n", p.Number)
	b.WriteString("| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| Role | %s |\n", codeCell(p.RoleARN))
	trust := fmt.Sprintf("%s: only jobs of %s in this repository", codeCell(p.TrustScope), codeCell(p.Ref))
	if p.Environment != "" {
		trust += " running in environment " + codeCell(p.Environment)
	}
	fmt.Fprintf(&b, "| Trust | %s |\n", trust)
	if p.Environment != "" {
		fmt.Fprintf(&b, "| Environment | %s |\n", codeCell(p.Environment))
	}
	if p.PreviewURL != "" {
		fmt.Fprintf(&b, "| Preview | %s |\n", cell(p.PreviewURL))
	}
	fmt.Fprintf(&b, "| Expires | %s (extended by each push) |\n", p.ExpiresAt.UTC().Format("2006-01-02 15:04 MST"))
	if p.HeadSHA != "" {
		fmt.Fprintf(&b, "| Commit | %s |\n", codeCell(shortSHA(p.HeadSHA)))
	}
	b.WriteString("\n")
	if p.Gateway == "" || p.Gateway == "none" {
		b.WriteString("No gateway is configured: the preview's human access is not managed by preview-access.\n")
	} else {
		fmt.Fprintf(&b, "**Who can open the preview** (gateway `%s`)\n\n| who | roles |\n|---|---|\n", cell(p.Gateway))
		for _, a := range sortedAccess(p.Access) {
			fmt.Fprintf(&b, "| %s | %s |\n", cell(a.Subject), cell(strings.Join(a.Roles, ", ")))
		}
	}
	b.WriteString("\n<details><summary>Last change</summary>\n\n")
	b.WriteString(pl.Markdown())
	b.WriteString("\n</details>\n")
	return b.String()
}

// DownComment is the sticky comment after teardown.
func DownComment(p Preview, at time.Time) string {
	var b strings.Builder
	b.WriteString(ghapi.Marker(p.ID) + "\n")
	b.WriteString(stateMarker + RevokedState + " -->\n")
	fmt.Fprintf(&b, "### 🔒 Preview access revoked for #%d\n\n", p.Number)
	fmt.Fprintf(&b, "The role %s", code(p.RoleARN))
	if p.Gateway != "" && p.Gateway != "none" {
		b.WriteString(" and the gateway policy")
	}
	if p.Environment != "" {
		fmt.Fprintf(&b, " and the environment %s", code(p.Environment))
	}
	fmt.Fprintf(&b, " were removed at %s.\n", at.UTC().Format("2006-01-02 15:04 MST"))
	return b.String()
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

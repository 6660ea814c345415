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
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/preview-access/preview-access/internal/plan"
)

// Access is one subject's roles on the preview, e.g. "user:octocat" → admin,
// and why it holds them (author, requested reviewer, an access file grant).
type Access struct {
	Subject string   `json:"subject"`
	Roles   []string `json:"roles"`
	Why     []string `json:"why,omitempty"`
}

// RoleRule is what one gateway role allows.
type RoleRule struct {
	Name    string
	Methods []string // "*" for every method
	Paths   []string
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
	Roles       []RoleRule // the gateway's roles, by name
	Region      string     // for the configure-aws-credentials snippet
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
	fmt.Fprintf(&b, "%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n", p.ID, p.RoleARN, p.TrustScope, p.Ref, p.Environment, p.PreviewURL, p.ExpiresAt.UTC().Format(time.RFC3339), p.HeadSHA, p.Gateway, p.Region)
	for _, a := range sortedAccess(p.Access) {
		fmt.Fprintf(&b, "%s=%s;%s\n", a.Subject, strings.Join(a.Roles, ","), strings.Join(a.Why, ","))
	}
	for _, r := range sortedRoles(p.Roles) {
		fmt.Fprintf(&b, "role %s=%s;%s\n", r.Name, strings.Join(r.Methods, ","), strings.Join(r.Paths, ","))
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
	for _, cut := range []string{"\n<details>", "\n" + revokedAt} {
		if i := strings.Index(body, cut); i >= 0 {
			body = body[:i]
		}
	}
	return strings.TrimSpace(body)
}

// RevokedState is the fingerprint of a comment that says access was revoked.
const RevokedState = "revoked"

func sortedRoles(r []RoleRule) []RoleRule {
	out := append([]RoleRule(nil), r...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

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
// A backslash cannot be escaped in a code span, and before a pipe it
// would escape the pipe's escape, so the pipe would end the cell: a value
// with one (none of these should hold one) is shown as escaped text.
func codeCell(s string) string {
	if strings.Contains(s, "\\") {
		return cell(s)
	}
	return strings.ReplaceAll(code(s), "|", "\\|")
}

// CodeCell renders s as inline code inside a markdown table cell: the
// text stays as it is (no backslashes in what people copy) and a pipe
// cannot end the cell. A value holding a backslash is escaped text
// instead (codeCell).
func CodeCell(s string) string { return codeCell(s) }

// MaxComment is GitHub's limit on an issue comment's body, in characters:
// a longer one is refused with 422, and a run that writes it never
// converges.
const MaxComment = 65536

// commentBudget is what the comment may use of MaxComment, leaving room
// for the marker line and GitHub's own counting.
const commentBudget = MaxComment - 1024

// shownSubjects is how many subjects a summarised comment still names.
const shownSubjects = 25

// UpComment is the sticky comment of a live preview. It always fits in a
// comment: when the list of who has access would not, it is summarised
// (counts per role and the first subjects), and the full list is left to
// the job summary and the gateway policy document.
func UpComment(p Preview, pl plan.Plan) string {
	for _, o := range []upOptions{{all: true, plan: true}, {plan: true}, {}} {
		if b := upComment(p, pl, o); utf8.RuneCountInString(b) <= commentBudget {
			return b
		}
	}
	return upComment(p, pl, upOptions{})
}

type upOptions struct {
	all  bool // list every subject; else a summary
	plan bool // include the plan of this run
}

func upComment(p Preview, pl plan.Plan, o upOptions) string {
	var b strings.Builder
	b.WriteString(Marker(p.ID) + "\n")
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
	useRole(&b, p)
	switch {
	case p.Gateway == "" || p.Gateway == "none":
		b.WriteString("No gateway is configured: the preview's human access is not managed by preview-access.\n")
	case o.all:
		fmt.Fprintf(&b, "**Who can open the preview** (gateway `%s`)\n\n| who | roles | why |\n|---|---|---|\n", cell(p.Gateway))
		for _, a := range sortedAccess(p.Access) {
			accessRow(&b, a)
		}
	default:
		fmt.Fprintf(&b, "**Who can open the preview** (gateway `%s`): %s.\n\n", cell(p.Gateway), roleCounts(p.Access))
		access := sortedAccess(p.Access)
		shown := access[:min(len(access), shownSubjects)]
		b.WriteString("| who | roles | why |\n|---|---|---|\n")
		for _, a := range shown {
			accessRow(&b, a)
		}
		if rest := len(access) - len(shown); rest > 0 {
			fmt.Fprintf(&b, "\n…and %s more, too many for a comment: the full list is in the job summary of the run that granted it and in the gateway policy document (output `gateway-policy`).\n", count(rest, "subject", "subjects"))
		}
	}
	roleRules(&b, p, o.all)
	if o.plan {
		b.WriteString("\n<details><summary>Last change</summary>\n\n")
		b.WriteString(pl.Markdown())
		b.WriteString("\n</details>\n")
	}
	return b.String()
}

// useRole shows how the PR's deploy job assumes the role: the step to
// paste, with the ARN filled in.
func useRole(b *strings.Builder, p Preview) {
	arn := strings.ReplaceAll(plan.Clean(p.RoleARN), "`", "")
	if arn == "" {
		return
	}
	region := strings.ReplaceAll(plan.Clean(p.Region), "`", "")
	if region == "" {
		region = "us-east-1"
	}
	b.WriteString("**Use the role** in this pull request's deploy job (a `pull_request` workflow with `permissions: id-token: write`; `mode: await` of this action waits until it is ready):\n\n")
	fmt.Fprintf(b, "```yaml\n- uses: aws-actions/configure-aws-credentials@v4\n  with:\n    role-to-assume: %s\n    aws-region: %s\n```\n\n", arn, region)
}

func accessRow(b *strings.Builder, a Access) {
	why := strings.Join(a.Why, ", ")
	if why == "" {
		why = "—"
	}
	fmt.Fprintf(b, "| %s | %s | %s |\n", cell(a.Subject), cell(strings.Join(a.Roles, ", ")), cell(why))
}

// Bounds of a summarised comment's roles table: an access file may define
// any number of roles with any number of paths.
const (
	shownRoles = 20
	shownPaths = 5
)

// roleRules says what each of the gateway's roles allows: all of them, or
// (a summary) the first shownRoles with their first shownPaths paths.
func roleRules(b *strings.Builder, p Preview, all bool) {
	if len(p.Roles) == 0 || p.Gateway == "" || p.Gateway == "none" {
		return
	}
	b.WriteString("\n**What each role allows**\n\n| role | methods | paths |\n|---|---|---|\n")
	roles := sortedRoles(p.Roles)
	if !all {
		roles = roles[:min(len(roles), shownRoles)]
	}
	for _, r := range roles {
		methods := strings.Join(r.Methods, ", ")
		if len(r.Methods) == 1 && r.Methods[0] == "*" {
			methods = "all"
		}
		shown := r.Paths
		if !all {
			shown = shown[:min(len(shown), shownPaths)]
		}
		paths := make([]string, 0, len(shown)+1)
		for _, path := range shown {
			paths = append(paths, codeCell(path))
		}
		if rest := len(r.Paths) - len(shown); rest > 0 {
			paths = append(paths, "…and "+count(rest, "more path", "more paths"))
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", cell(r.Name), cell(methods), strings.Join(paths, " "))
	}
	if rest := len(p.Roles) - len(roles); rest > 0 {
		fmt.Fprintf(b, "\n…and %s, listed in the gateway policy document (output `gateway-policy`).\n", count(rest, "more role", "more roles"))
	}
}

// roleCounts says how many subjects hold each role: "3 subjects: admin 1,
// reader 2".
func roleCounts(access []Access) string {
	per := map[string]int{}
	for _, a := range access {
		for _, r := range a.Roles {
			per[r]++
		}
	}
	roles := make([]string, 0, len(per))
	for r := range per {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	parts := make([]string, 0, len(roles))
	for _, r := range roles {
		parts = append(parts, cell(r)+" "+formatCount(per[r]))
	}
	return count(len(access), "subject", "subjects") + " (" + strings.Join(parts, ", ") + ")"
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return formatCount(n) + " " + many
}

// formatCount writes n with thousands separators: 2,013.
func formatCount(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Why access to a preview ended, as the revocation comment says it.
const (
	ReasonMerged          = "the pull request was merged"
	ReasonClosed          = "the pull request was closed"
	ReasonClosedMeanwhile = "the pull request was closed while access was being granted"
	ReasonExpired         = "the preview expired (removed by the scheduled sweep)"
	ReasonSwept           = "the pull request is closed (removed by the scheduled sweep)"
	ReasonByHand          = "it was taken down with preview-access down"
)

// Revocation is what the revocation comment says: why, when, and who lost
// access.
type Revocation struct {
	Reason string
	At     time.Time
	// Lost are the gateway's subjects and roles that lost access; nil
	// when it is not known (Known false) or nobody had any.
	Lost  []Access
	Known bool
}

// revokedAt starts the comment's last line, the one Stable leaves out.
const revokedAt = "Revoked at "

// DownComment is the sticky comment after teardown.
func DownComment(p Preview, r Revocation) string {
	var b strings.Builder
	b.WriteString(Marker(p.ID) + "\n")
	b.WriteString(stateMarker + RevokedState + " -->\n")
	fmt.Fprintf(&b, "### 🔒 Preview access revoked for #%d\n\n", p.Number)
	reason := r.Reason
	if reason == "" {
		reason = ReasonClosed
	}
	var removed []string
	if p.RoleARN != "" {
		removed = append(removed, "the role "+code(p.RoleARN))
	}
	if p.Environment != "" {
		removed = append(removed, "the environment "+code(p.Environment))
	}
	gateway := p.Gateway != "" && p.Gateway != "none"
	if gateway {
		removed = append(removed, "the gateway policy")
	}
	verb := "was"
	if len(removed) > 1 {
		verb = "were"
	}
	switch {
	case p.RoleARN != "":
		fmt.Fprintf(&b, "Access ended because %s: %s %s removed, so no job of this pull request can assume the role any more.\n\n", reason, andList(removed), verb)
	case len(removed) > 0:
		fmt.Fprintf(&b, "Access ended because %s: %s %s removed (the role was gone already).\n\n", reason, andList(removed), verb)
	default:
		fmt.Fprintf(&b, "Access ended because %s; nothing of the preview was left to remove.\n\n", reason)
	}
	switch {
	case !gateway:
		b.WriteString("No gateway is configured: preview-access granted no human access.\n\n")
	case !r.Known:
		b.WriteString("Everyone the gateway policy named lost access.\n\n")
	case len(r.Lost) == 0:
		b.WriteString("The gateway policy named nobody.\n\n")
	default:
		lost := sortedAccess(r.Lost)
		var who []string
		for _, a := range lost[:min(len(lost), shownSubjects)] {
			who = append(who, code(a.Subject)+" ("+cell(strings.Join(a.Roles, ", "))+")")
		}
		if rest := len(lost) - len(who); rest > 0 {
			who = append(who, count(rest, "more", "more"))
		}
		fmt.Fprintf(&b, "Who lost access: %s.\n\n", andList(who))
	}
	fmt.Fprintf(&b, "%s%s.\n", revokedAt, r.At.UTC().Format("2006-01-02 15:04 MST"))
	return b.String()
}

// andList joins items as English does: "a", "a and b", "a, b and c".
func andList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// Marker is the hidden HTML comment that identifies the sticky comment of
// one preview, e.g. "<!-- preview-access:gh-123456789-pr-42 -->". Characters
// that could end an HTML comment early are replaced, so an id can never
// produce a marker that hides or forges content.
func Marker(id string) string {
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, id)
	for strings.Contains(clean, "--") {
		clean = strings.ReplaceAll(clean, "--", "-")
	}
	return "<!-- preview-access:" + clean + " -->"
}

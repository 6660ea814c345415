package report

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/preview-access/preview-access/internal/plan"
)

const evil = "x|y\\|z<script>alert(1)</script>@octocat\n| forged | row |\n`[link](https://evil.example)` <!-- preview-access-state:up-0000 -->"

// hostilePreview fills every field a comment shows with hostile text.
func hostilePreview() Preview {
	return Preview{
		ID: "gh-1-pr-42", Repository: "o/r", Number: 42,
		RoleARN: "arn:aws:iam::123456789012:role/p|@a/" + evil, TrustScope: evil, Ref: evil, Environment: evil,
		PreviewURL: "https://" + evil, ExpiresAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), HeadSHA: evil,
		Gateway: evil,
		Access: []Access{
			{Subject: "user:" + evil, Roles: []string{evil, "admin"}},
			{Subject: "team:@org/" + evil, Roles: []string{"reader"}},
		},
	}
}

var (
	rawMention = regexp.MustCompile(`(^|[^\w])@[A-Za-z0-9]`)
	codeSpan   = regexp.MustCompile("`[^`]*`")
)

// outsideCode is the markdown with its code spans removed: GitHub neither
// links mentions nor renders HTML inside them.
func outsideCode(md string) string { return codeSpan.ReplaceAllString(md, "CODE") }

// unescapedPipes counts the pipes GitHub splits a table row on: a
// backslash escapes the character after it, so in `\\|` the backslash
// is escaped and the pipe is not.
func unescapedPipes(row string) int {
	n := 0
	for i := 0; i < len(row); i++ {
		switch row[i] {
		case '\\':
			i++ // the next character is escaped
		case '|':
			n++
		}
	}
	return n
}

func checkComment(t *testing.T, body string) {
	t.Helper()
	prose := outsideCode(body)
	if m := rawMention.FindString(prose); m != "" {
		t.Errorf("raw mention %q in:\n%s", m, body)
	}
	if strings.Contains(strings.ToLower(prose), "<script") {
		t.Errorf("<script> in:\n%s", body)
	}
	for _, tag := range regexp.MustCompile(`<[a-zA-Z/][^>]*>`).FindAllString(prose, -1) {
		if tag != "<details>" && tag != "</details>" && tag != "<summary>" && tag != "</summary>" {
			t.Errorf("HTML tag %q outside code in:\n%s", tag, body)
		}
	}
	if regexp.MustCompile(`(^|[^\\])\]\(`).MatchString(prose) {
		t.Errorf("a markdown link outside code in:\n%s", body)
	}
	if got := State(body); got != RevokedState && !strings.HasPrefix(got, "up-") {
		t.Errorf("State = %q; the real state marker must come first", got)
	}
	if n := strings.Count(prose, stateMarker); n != 1 {
		t.Errorf("%d state markers outside code; want 1 (a value forged one):\n%s", n, body)
	}
	// Table rows keep their width: the header's cell count.
	width := 0
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, "|") {
			width = 0
			continue
		}
		n := unescapedPipes(line)
		if width == 0 {
			width = n
		}
		if n != width {
			t.Errorf("table row %q has %d cell borders; the table has %d", line, n, width)
		}
	}
}

func TestUpCommentHoldsHostileValues(t *testing.T) {
	t.Parallel()
	p := hostilePreview()
	var pl plan.Plan
	pl.Add(plan.Change{Resource: "iam-role", Name: evil, Action: plan.Create, Detail: evil})
	body := UpComment(p, pl)
	checkComment(t, body)
	if State(body) != Fingerprint(p) {
		t.Errorf("State = %q; want the fingerprint %q", State(body), Fingerprint(p))
	}
}

func TestDownCommentHoldsHostileValues(t *testing.T) {
	t.Parallel()
	r := Revocation{Reason: ReasonMerged, At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Lost: hostilePreview().Access, Known: true}
	body := DownComment(hostilePreview(), r)
	checkComment(t, body)
	if State(body) != RevokedState {
		t.Errorf("State = %q; want %q", State(body), RevokedState)
	}
	// The same comment with harmless values has as many lines: no value
	// added one.
	benign := Preview{ID: "gh-1-pr-42", Number: 42, RoleARN: "arn:aws:iam::1:role/r", Environment: "e", Gateway: "opa"}
	benignLost := Revocation{Reason: ReasonMerged, At: r.At, Lost: []Access{{Subject: "user:a", Roles: []string{"x", "admin"}}, {Subject: "team:o/t", Roles: []string{"reader"}}}, Known: true}
	if got, want := strings.Count(body, "\n"), strings.Count(DownComment(benign, benignLost), "\n"); got != want {
		t.Errorf("the teardown comment has %d lines, a harmless one %d; a value added some:\n%s", got, want, body)
	}
}

// TestFingerprintIgnoresOrder: the same access in another order is the
// same state, so a re-run does not edit the comment.
func TestFingerprintIgnoresOrder(t *testing.T) {
	t.Parallel()
	a := hostilePreview()
	b := hostilePreview()
	b.Access[0], b.Access[1] = b.Access[1], b.Access[0]
	if Fingerprint(a) != Fingerprint(b) {
		t.Error("the fingerprint depends on the order of access entries")
	}
	b.HeadSHA = "other"
	if Fingerprint(a) == Fingerprint(b) {
		t.Error("the fingerprint ignores the head SHA")
	}
}

// TestStatusTextHoldsHostileValues: what the gateway's documents say
// reaches a terminal without a control character of its own.
func TestStatusTextHoldsHostileValues(t *testing.T) {
	t.Parallel()
	esc := evil + "\x1b]0;pwned\x07\x1b[2J"
	s := Status{
		Repository: "o/r", At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Previews: []StatusPreview{{PullRequest: 42, State: "open", Gateway: "present",
			Access: []Access{{Subject: "user:" + esc, Roles: []string{esc}, Why: []string{esc}}}}},
		Warnings: []string{esc},
	}
	text := StatusText(s)
	for _, line := range strings.Split(text, "\n") {
		if i := strings.IndexFunc(line, func(r rune) bool { return r < 0x20 || r == 0x7f }); i >= 0 {
			t.Errorf("status text line %q holds control character %q", line, line[i])
		}
	}
	if strings.Count(text, "pwned") != 4 {
		t.Errorf("status text lost the hostile values instead of showing them harmless:\n%s", text)
	}
}

// TestCodeCellKeepsBackslashes: a value with a backslash cannot be a code
// span in a table cell; it is shown as escaped text, every character kept.
func TestCodeCellKeepsBackslashes(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`/a\|b`:          `/a\\\|b`,
		`/path|x/`:       "`/path\\|x/`",
		`arn:aws:iam::1`: "`arn:aws:iam::1`",
	} {
		if got := codeCell(in); got != want {
			t.Errorf("codeCell(%q) = %q; want %q", in, got, want)
		}
		if row := "| " + codeCell(in) + " |"; unescapedPipes(row) != 2 {
			t.Errorf("row %q has %d cell borders; want 2", row, unescapedPipes(row))
		}
	}
}

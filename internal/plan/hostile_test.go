package plan

import (
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// hostile are values an attacker controls somewhere upstream: branch
// names, titles, logins, gateway answers.
var hostile = []string{
	"::error::pwned",
	"a\n::error::b",
	"a\r\n::add-mask::b",
	"\x1b[31mred\x1b[0m",
	"\u0085::error::nel",
	"\u2028::error::ls",
	"\u2029p",
	"a\x00b\x7fc\x9bd",
	"col|umn",
	`back\|slash`,
	"<script>alert(1)</script>",
	"<img src=x onerror=alert(1)>",
	"@octocat please",
	"cc @org/team",
	"[click](https://evil.example)",
	"![img](https://evil.example/x.png)",
	"`code` **bold** _it_",
	"<!-- preview-access:gh-1-pr-1 -->",
	"a\";echo${IFS}x;#",
	"$(id)",
	"😀 émoji",
}

func TestCleanRemovesEveryControl(t *testing.T) {
	t.Parallel()
	for _, s := range hostile {
		got := Clean(s)
		if strings.IndexFunc(got, func(r rune) bool {
			return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
		}) >= 0 {
			t.Errorf("Clean(%q) = %q: a control character or line separator is left", s, got)
		}
		if len([]rune(got)) != len([]rune(s)) {
			t.Errorf("Clean(%q) = %q: changed the length; want one space per character", s, got)
		}
	}
}

// unescapedPipes counts the pipes GitHub splits a table row on.
func unescapedPipes(row string) int { return unescaped(row, "|") }

// unescaped counts the characters of set in s that no backslash escapes:
// a backslash escapes the character after it, so in `\\|` the backslash
// is escaped and the pipe is not.
func unescaped(s, set string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\':
			i++ // the next character is escaped
		case strings.IndexByte(set, s[i]) >= 0:
			n++
		}
	}
	return n
}

var mention = regexp.MustCompile(`(^|[^\w])@[A-Za-z0-9]`)

func TestMarkdownCell(t *testing.T) {
	t.Parallel()
	for _, s := range hostile {
		got := MarkdownCell(s)
		switch {
		case strings.ContainsAny(got, "\r\n\u2028\u2029"):
			t.Errorf("MarkdownCell(%q) = %q: a line break", s, got)
		case strings.ContainsAny(got, "<>"):
			t.Errorf("MarkdownCell(%q) = %q: raw HTML", s, got)
		case mention.MatchString(got):
			t.Errorf("MarkdownCell(%q) = %q: a raw @mention", s, got)
		case unescapedPipes(got) != 0:
			t.Errorf("MarkdownCell(%q) = %q: a pipe that ends the cell", s, got)
		case unescaped(got, "[]`") != 0:
			t.Errorf("MarkdownCell(%q) = %q: unescaped link or code markup", s, got)
		}
	}
}

// TestMarkdownTableHoldsHostileValues: whatever the names and details,
// every row has exactly the header's four cells.
func TestMarkdownTableHoldsHostileValues(t *testing.T) {
	t.Parallel()
	var p Plan
	for _, s := range hostile {
		p.Add(Change{Resource: s, Name: s, Action: Create, Detail: s})
	}
	rows := strings.Split(strings.TrimSuffix(p.Markdown(), "\n"), "\n")
	if len(rows) != 2+len(hostile) {
		t.Fatalf("%d rows; want %d", len(rows), 2+len(hostile))
	}
	for i, r := range rows {
		if unescapedPipes(r) != 5 {
			t.Errorf("row %d %q has %d cell borders; want 5", i, r, unescapedPipes(r))
		}
	}
	var text strings.Builder
	if err := p.WriteText(&text, false); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(text.String(), "\n") {
		if strings.HasPrefix(strings.TrimLeftFunc(line, unicode.IsSpace), "::") {
			t.Errorf("plan text line reads as a workflow command: %q", line)
		}
		if strings.IndexFunc(line, unicode.IsControl) >= 0 {
			t.Errorf("plan text line holds a control character: %q", line)
		}
	}
	if got := p.JSON(); strings.ContainsAny(got, "\n\r") {
		t.Errorf("plan JSON spans lines: %q", got)
	}
}

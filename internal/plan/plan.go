// Package plan is the value that sits between observing and applying: a list
// of changes, one per resource, that prints the same way every time. It does
// no I/O of its own.
package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Action is what apply will do to one resource.
type Action string

const (
	NoOp   Action = "no-op"
	Create Action = "create"
	Update Action = "update"
	Delete Action = "delete"
)

// Change is one resource's planned action.
type Change struct {
	// ID names the change within its plan, for After.
	ID       string `json:"-"`
	Resource string `json:"resource"`         // kind, e.g. "iam-role", "inline-policy", "gateway-policy"
	Name     string `json:"name"`             // what it is called, e.g. the role name
	Action   Action `json:"action"`           // what will happen
	Detail   string `json:"detail,omitempty"` // why, in a few words
	// After lists the IDs of the changes that must succeed before this one
	// starts; a change whose dependency failed is not attempted.
	After []string `json:"-"`
	// Op is what applying the change does, as data (the planner's op
	// types); nil for a no-op.
	Op any `json:"-"`
	// Hidden changes are the second half of one shown (a new deployment's
	// status): applied, not printed or counted.
	Hidden bool `json:"-"`
}

// Shown are the changes a reader sees: all but the hidden ones.
func (p Plan) Shown() []Change {
	out := make([]Change, 0, len(p.Changes))
	for _, c := range p.Changes {
		if !c.Hidden {
			out = append(out, c)
		}
	}
	return out
}

// Plan is every change of one run, in apply order.
type Plan struct {
	Mode    string   `json:"mode"`
	Changes []Change `json:"changes"`
}

// Change returns the change with id.
func (p Plan) Change(id string) (Change, bool) {
	for _, c := range p.Changes {
		if c.ID == id {
			return c, true
		}
	}
	return Change{}, false
}

// Add appends a change.
func (p *Plan) Add(c Change) { p.Changes = append(p.Changes, c) }

// Writes counts the changes that are not no-ops.
func (p Plan) Writes() int {
	n := 0
	for _, c := range p.Shown() {
		if c.Action != NoOp {
			n++
		}
	}
	return n
}

// Changed reports whether applying the plan writes anything.
func (p Plan) Changed() bool { return p.Writes() > 0 }

// JSON renders the plan as compact JSON (the `plan` output).
func (p Plan) JSON() string {
	p.Changes = p.Shown()
	b, err := json.Marshal(p)
	if err != nil {
		// Only strings inside: Marshal cannot fail.
		panic(err)
	}
	return string(b)
}

// symbol is the diff-style prefix of an action, as in terraform plan.
func symbol(a Action) string {
	switch a {
	case Create:
		return "+"
	case Update:
		return "~"
	case Delete:
		return "-"
	default:
		return " "
	}
}

func colour(a Action) string {
	switch a {
	case Create:
		return "\x1b[32m"
	case Update:
		return "\x1b[33m"
	case Delete:
		return "\x1b[31m"
	default:
		return "\x1b[2m"
	}
}

// WriteText prints the plan as an aligned table. With colour set, each line
// is coloured by its action (for terminals).
func (p Plan) WriteText(w io.Writer, withColour bool) error {
	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  RESOURCE\tNAME\tACTION\tDETAIL\n")
	shown := p.Shown()
	for _, c := range shown {
		fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\n", symbol(c.Action), Clean(c.Resource), Clean(c.Name), c.Action, Clean(c.Detail))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	lines := strings.SplitAfter(sb.String(), "\n")
	for i, line := range lines {
		if line == "" {
			continue
		}
		if withColour && i > 0 {
			line = colour(shown[i-1].Action) + strings.TrimSuffix(line, "\n") + "\x1b[0m\n"
		}
		if _, err := io.WriteString(w, line); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "Plan (%s): %s.\n", p.Mode, p.Summary())
	return err
}

// Summary counts changes by action, e.g. "1 to create, 0 to update, 0 to delete".
func (p Plan) Summary() string {
	var c, u, d int
	for _, ch := range p.Shown() {
		switch ch.Action {
		case Create:
			c++
		case Update:
			u++
		case Delete:
			d++
		}
	}
	if c+u+d == 0 {
		return "no changes"
	}
	return fmt.Sprintf("%d to create, %d to update, %d to delete", c, u, d)
}

// Markdown renders the plan as a GitHub-flavoured markdown table.
func (p Plan) Markdown() string {
	var b strings.Builder
	b.WriteString("| resource | name | action | detail |\n|---|---|---|---|\n")
	for _, c := range p.Shown() {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", MarkdownCell(c.Resource), MarkdownCell(c.Name), c.Action, MarkdownCell(c.Detail))
	}
	return b.String()
}

// Clean makes s safe to print on one log line: control characters (which
// could start a workflow command after a newline, or move a terminal's
// cursor) become spaces.
func Clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}

// MarkdownCell escapes s for a markdown table cell: no line breaks, no pipes,
// no HTML or markdown markup that could hide or forge content. A backslash
// is escaped too: in a value's `\|` it would otherwise escape the backslash
// that escapes the pipe, and the pipe would end the cell.
func MarkdownCell(s string) string {
	s = Clean(s)
	r := strings.NewReplacer("\\", "\\\\", "|", "\\|", "<", "&lt;", ">", "&gt;", "`", "\\`", "*", "\\*", "_", "\\_", "[", "\\[", "]", "\\]", "@", "@\u200b")
	return r.Replace(s)
}

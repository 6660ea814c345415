package report

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/preview-access/preview-access/internal/plan"
)

func preview(subjects int) Preview {
	p := Preview{
		ID: "gh-1-pr-42", Repository: "o/r", Number: 42, RoleARN: "arn:aws:iam::123456789012:role/preview-access/o/r/preview-o.r-pr-42",
		TrustScope: "ref", Ref: "refs/pull/42/merge", PreviewURL: "https://pr-42.example.com", Gateway: "opa",
		ExpiresAt: time.Date(2026, 1, 9, 0, 0, 0, 0, time.UTC), HeadSHA: strings.Repeat("a", 40),
	}
	for i := range subjects {
		role := "reader"
		if i == 0 {
			role = "admin"
		}
		p.Access = append(p.Access, Access{Subject: fmt.Sprintf("user:someone-with-a-long-login-%05d", i), Roles: []string{role}})
	}
	return p
}

// TestUpCommentFits: an access file that lists thousands of users still
// gives a comment GitHub takes; it says how many hold which role and
// where the full list is.
func TestUpCommentFits(t *testing.T) {
	t.Parallel()
	for _, n := range []int{3, 1500, 2500, 20000} {
		body := UpComment(preview(n), plan.Plan{Mode: "up", Changes: []plan.Change{{Resource: "iam-role", Name: "r", Action: plan.Create}}})
		if c := utf8.RuneCountInString(body); c > MaxComment {
			t.Errorf("%d subjects: %d characters; GitHub takes %d", n, c, MaxComment)
		}
		checkComment(t, body)
		if n == 3 {
			if !strings.Contains(body, "someone-with-a-long-login-00002") || strings.Contains(body, "more, too many") {
				t.Errorf("3 subjects: not all listed:\n%s", body)
			}
			continue
		}
		full := fmt.Sprintf("%d", n)
		if len(full) > 3 {
			full = full[:len(full)-3] + "," + full[len(full)-3:]
		}
		if !strings.Contains(body, full+" subjects (admin 1, reader ") || !strings.Contains(body, "more, too many for a comment") || !strings.Contains(body, "job summary") {
			t.Errorf("%d subjects: no summary with counts and a pointer to the full list:\n%.2000s", n, body)
		}
		if State(body) != Fingerprint(preview(n)) {
			t.Errorf("%d subjects: the summarised comment lost its state marker", n)
		}
	}
}

// TestDownCommentSaysWhyAndWho: the revocation comment gives the reason,
// what was removed, and who lost access, in plain English.
func TestDownCommentSaysWhyAndWho(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	p := preview(2)
	p.Environment = "preview-pr-42"
	body := DownComment(p, Revocation{Reason: ReasonMerged, At: at, Lost: p.Access, Known: true})
	for _, want := range []string{
		"Access ended because the pull request was merged: the role `" + p.RoleARN + "`, the environment `preview-pr-42` and the gateway policy were removed",
		"Who lost access: `user:someone-with-a-long-login-00000` (admin) and `user:someone-with-a-long-login-00001` (reader).",
		"Revoked at 2026-12-02 10:00 UTC.",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("comment lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, " — ") || strings.Contains(body, "The role — and") {
		t.Errorf("broken English:\n%s", body)
	}
	only := preview(0)
	only.Gateway = "none"
	body = DownComment(only, Revocation{Reason: ReasonExpired, At: at})
	if !strings.Contains(body, "because the preview expired (removed by the scheduled sweep): the role `"+only.RoleARN+"` was removed") || !strings.Contains(body, "No gateway is configured") {
		t.Errorf("role-only comment:\n%s", body)
	}
	// The time is not part of what a re-run compares.
	later := DownComment(p, Revocation{Reason: ReasonMerged, At: at.Add(time.Hour), Lost: p.Access, Known: true})
	if Stable(later) != Stable(DownComment(p, Revocation{Reason: ReasonMerged, At: at, Lost: p.Access, Known: true})) {
		t.Error("the revocation time makes the comment differ")
	}
	many := preview(100)
	body = DownComment(many, Revocation{Reason: ReasonClosed, At: at, Lost: many.Access, Known: true})
	if !strings.Contains(body, " and 75 more.") {
		t.Errorf("100 lost: want the first %d and 75 more:\n%s", shownSubjects, body)
	}
}

func TestAndList(t *testing.T) {
	t.Parallel()
	for items, want := range map[string]string{"": "", "a": "a", "a,b": "a and b", "a,b,c": "a, b and c"} {
		var in []string
		if items != "" {
			in = strings.Split(items, ",")
		}
		if got := andList(in); got != want {
			t.Errorf("andList(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestMarker(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"gh-123456789-pr-42": "<!-- preview-access:gh-123456789-pr-42 -->",
		"a --> <b>":          "<!-- preview-access:a_-___b_ -->",
		"x----y":             "<!-- preview-access:x-y -->",
	}
	for id, want := range tests {
		if got := Marker(id); got != want {
			t.Errorf("Marker(%q): got %q; want %q", id, got, want)
		}
	}
}

// TestUpCommentFitsManyRoles: an access file with hundreds of roles of
// many long paths still gives a comment GitHub takes.
func TestUpCommentFitsManyRoles(t *testing.T) {
	t.Parallel()
	p := preview(2500)
	for i := range 200 {
		r := RoleRule{Name: fmt.Sprintf("role-%03d", i), Methods: []string{"GET", "POST"}}
		for j := range 10 {
			r.Paths = append(r.Paths, fmt.Sprintf("/%s/%d/**", strings.Repeat("p", 240), j))
		}
		p.Roles = append(p.Roles, r)
	}
	body := UpComment(p, plan.Plan{Mode: "up"})
	if c := utf8.RuneCountInString(body); c > MaxComment {
		t.Errorf("200 roles of 10 paths: %d characters; GitHub takes %d", c, MaxComment)
	}
	checkComment(t, body)
	if !strings.Contains(body, "…and 180 more roles") || !strings.Contains(body, "…and 5 more paths") {
		t.Errorf("the summarised comment does not say roles and paths were left out:\n%.3000s", body)
	}
}

// TestUpCommentIsActionable: a reviewer reading the comment learns how the
// deploy job assumes the role (the step with the ARN filled in), what each
// gateway role allows, and why each person is listed.
func TestUpCommentIsActionable(t *testing.T) {
	t.Parallel()
	p := preview(0)
	p.Region = "eu-west-1"
	p.Access = []Access{
		{Subject: "user:octocat", Roles: []string{"admin"}, Why: []string{"author"}},
		{Subject: "team:o/qa", Roles: []string{"tester"}, Why: []string{"access file grants.tester.teams"}},
	}
	p.Roles = []RoleRule{
		{Name: "tester", Methods: []string{"GET", "POST"}, Paths: []string{"/api/**", "/health"}},
		{Name: "admin", Methods: []string{"*"}, Paths: []string{"/**"}},
	}
	body := UpComment(p, plan.Plan{Mode: "up"})
	checkComment(t, body)
	for _, want := range []string{
		"```yaml\n- uses: aws-actions/configure-aws-credentials@v4\n  with:\n    role-to-assume: " + p.RoleARN + "\n    aws-region: eu-west-1\n```",
		"| who | roles | why |",
		"| user:octocat | admin | author |",
		"| team:o/qa | tester | access file grants.tester.teams |",
		"| role | methods | paths |\n|---|---|---|\n| admin | all | `/**` |\n| tester | GET, POST | `/api/**` `/health` |",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("comment lacks\n%s\nin\n%s", want, body)
		}
	}
	// A change of what a role allows or of why someone is listed is a
	// change of the comment.
	q := p
	q.Roles = []RoleRule{{Name: "admin", Methods: []string{"GET"}, Paths: []string{"/**"}}}
	r := p
	r.Access = []Access{{Subject: "user:octocat", Roles: []string{"admin"}, Why: []string{"assignee"}}}
	if Fingerprint(q) == Fingerprint(p) || Fingerprint(r) == Fingerprint(p) {
		t.Error("the fingerprint ignores the roles' rules or the reasons")
	}
}

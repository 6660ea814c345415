package run

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/preview-access/preview-access/internal/gateway"
	"github.com/preview-access/preview-access/internal/report"
	"github.com/preview-access/preview-access/internal/testenv"
)

// TestStatus: the status lists every live preview of the repository with
// its role, expiry and who has which gateway role and why, read from moto,
// the real OPA and the fake GitHub; it marks what the next sweep removes
// (a closed PR, an expired preview) and writes nothing.
func TestStatus(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.useOPA()
	h.gh.SetFile(h.owner, h.repo, "main", ".github/preview-access.yml", "grants:\n  reader:\n    teams: ["+h.owner+"/qa]\n")
	h.set("ttl", "1h")
	h.open(3)
	h.set("ttl", "7d")
	h.open(1, 2)
	h.gh.ClosePullRequest(h.owner, h.repo, 2, true)
	h.advance(2 * time.Hour) // 1 live; 2 closed; 3 open but expired
	// A document under the repository that preview-access did not name:
	// the gateway reads it, so the status must not hide it.
	testenv.OPAAdmin(t, http.MethodPut, fmt.Sprintf("%s/%d/previews/hand-written", gateway.OPARepositoriesPath, h.repoID),
		map[string]any{"host": "demo.preview.example.com", "bindings": map[string]any{"user:mallory": []string{"admin"}}})
	for i := range 21 { // more than a warning names
		testenv.OPAAdmin(t, http.MethodPut, fmt.Sprintf("%s/%d/previews/zz-%02d", gateway.OPARepositoriesPath, h.repoID, i), map[string]any{})
	}

	h.resetCounts()
	h.event("schedule", "schedule.json")
	h.set("mode", "status")
	r := h.runWith(runOpts{})
	if r.code != 0 {
		t.Fatalf("status: exit %d\n%s", r.code, h.everything(r))
	}
	if iamW, ghW := h.writes(); iamW != 0 || len(ghW) != 0 {
		t.Errorf("status wrote: IAM %d, GitHub %v; want nothing", iamW, ghW)
	}
	var st report.Status
	if err := json.Unmarshal([]byte(r.outputs["status"]), &st); err != nil {
		t.Fatalf("status output is not JSON: %v\n%s", err, r.outputs["status"])
	}
	if st.Repository != h.owner+"/"+h.repo || len(st.Previews) != 3 {
		t.Fatalf("status of %s lists %d previews; want 3:\n%s", st.Repository, len(st.Previews), r.outputs["status"])
	}
	want := []struct {
		pr    int
		state string
		next  string
	}{
		{1, "open", ""},
		{2, "closed", "pull request 2 is closed"},
		{3, "open", "expired at "},
	}
	for i, w := range want {
		p := st.Previews[i]
		if p.PullRequest != w.pr || p.State != w.state || (w.next == "") != (p.NextSweep == "") || !strings.HasPrefix(p.NextSweep, w.next) {
			t.Errorf("preview %d: PR %d %s, next sweep %q; want PR %d %s, %q…", i, p.PullRequest, p.State, p.NextSweep, w.pr, w.state, w.next)
		}
		if !strings.HasSuffix(p.RoleARN, ":role"+h.path()+h.roleName(w.pr)) || p.ExpiresAt.IsZero() || p.Gateway != "present" {
			t.Errorf("PR %d: role %q, expires %v, gateway %q; want the role's ARN, its expiry and the document present", w.pr, p.RoleARN, p.ExpiresAt, p.Gateway)
		}
		who := map[string]string{}
		for _, a := range p.Access {
			who[a.Subject] = strings.Join(a.Roles, ",") + " because " + strings.Join(a.Why, ",")
		}
		for subj, wantWho := range map[string]string{
			"user:octocat":            "admin because author",
			"user:bob":                "reader because assignee",
			"team:" + h.owner + "/qa": "reader because access file grants.reader.teams",
		} {
			if who[subj] != wantWho {
				t.Errorf("PR %d: %s holds %q; want %q", w.pr, subj, who[subj], wantWho)
			}
		}
	}
	if !slices.ContainsFunc(st.Warnings, func(w string) bool {
		return strings.Contains(w, "preview-access did not name") && strings.Contains(w, ": hand-written") && strings.HasSuffix(w, ", zz-18 and 2 more")
	}) {
		t.Errorf("status warnings %q; want one naming the document hand-written", st.Warnings)
	}
	sum := r.summary
	for _, s := range []string{"## Preview access: status of", "3 live previews", "**The next sweep removes 2**", "| #1 | open |", "⚠ removes it: expired at", "hand-written"} {
		if !strings.Contains(sum, s) {
			t.Errorf("job summary lacks %q:\n%s", s, sum)
		}
	}

	// After the sweep, status lists only what is left: PR 1.
	h.set("mode", "auto")
	if code := h.sweep(); code != 0 {
		t.Fatalf("sweep: exit %d", code)
	}
	h.set("mode", "status")
	r = h.runWith(runOpts{})
	st = report.Status{}
	if err := json.Unmarshal([]byte(r.outputs["status"]), &st); err != nil || len(st.Previews) != 1 || st.Previews[0].PullRequest != 1 || st.Previews[0].NextSweep != "" {
		t.Errorf("status after the sweep: %v, %s; want PR 1 alone", err, r.outputs["status"])
	}
}

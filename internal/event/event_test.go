package event

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func load(t *testing.T, name, file string) Event {
	t.Helper()
	e, err := Load(name, filepath.Join("..", "..", "testdata", "events", file))
	if err != nil {
		t.Fatalf("Load(%s): %v", file, err)
	}
	return e
}

func TestModes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, file string
		mode       string
		ok         bool
	}{
		{"pull_request_target", "pull_request_target.opened.json", "up", true},
		{"pull_request_target", "pull_request_target.synchronize.json", "up", true},
		{"pull_request_target", "pull_request_target.reopened.json", "up", true},
		{"pull_request_target", "pull_request_target.ready_for_review.json", "up", true},
		{"pull_request_target", "pull_request_target.labeled.json", "up", true},
		{"pull_request_target", "pull_request_target.opened.draft.json", "up", true},
		{"pull_request_target", "pull_request_target.closed.merged.json", "down", true},
		{"pull_request_target", "pull_request_target.closed.unmerged.json", "down", true},
		{"pull_request", "pull_request.opened.json", "up", true},
		{"pull_request", "pull_request.closed.merged.json", "down", true},
		{"workflow_dispatch", "workflow_dispatch.json", "up", true},
		{"schedule", "schedule.json", "sweep", true},
		{"push", "schedule.json", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			mode, ok, reason := Mode(load(t, tc.name, tc.file))
			if mode != tc.mode || ok != tc.ok {
				t.Errorf("Mode = %q, %t (%s); want %q, %t", mode, ok, reason, tc.mode, tc.ok)
			}
		})
	}
}

func TestPreviewFromEvent(t *testing.T) {
	t.Parallel()
	p := load(t, "pull_request_target", "pull_request_target.opened.json").Preview
	if p == nil {
		t.Fatal("no preview")
	}
	got := []any{p.Owner, p.Repo, p.RepositoryID, p.Number, p.Author, p.Reviewers, p.Assignees, p.Fork, p.HeadSHA, p.BaseRef}
	want := []any{"octo-org", "shop", int64(123456789), 42, "octocat", []string{"alice"}, []string{"bob"}, false, "6dcb09b5b57875f334f61aebed695e2e4193db5e", "main"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("preview (-want +got):\n%s", diff)
	}
	if fork := load(t, "pull_request_target", "pull_request_target.opened.fork.json").Preview; !fork.Fork {
		t.Error("fork PR not recognised as a fork")
	}
	if bot := load(t, "pull_request_target", "pull_request_target.opened.dependabot.json").Preview; bot.Author != "dependabot[bot]" {
		t.Errorf("dependabot author = %q", bot.Author)
	}
	hostile := load(t, "pull_request_target", "pull_request_target.opened.hostile.json").Preview
	if !strings.Contains(hostile.HeadRef, "echo") || hostile.Validate() != nil {
		t.Errorf("hostile branch names are carried, not validated away: %q, %v", hostile.HeadRef, hostile.Validate())
	}
}

func TestBadPayloads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(s string) string {
		f, _ := os.CreateTemp(dir, "*.json")
		f.WriteString(s)
		f.Close()
		return f.Name()
	}
	cases := []struct {
		name, event, path, want string
	}{
		{"no event path", "pull_request_target", "", "GITHUB_EVENT_PATH is not set"},
		{"missing file", "pull_request_target", filepath.Join(dir, "nope.json"), "read event file"},
		{"not JSON", "pull_request_target", write("{"), "not a pull_request_target payload"},
		{"no pull request", "pull_request", write(`{"action":"opened"}`), "has no pull_request object"},
		{"bad owner", "pull_request_target", write(`{"action":"opened","pull_request":{"number":1,"base":{"repo":{"id":1,"name":"r","owner":{"login":"bad owner"}}}}}`), "not a valid GitHub login"},
		{"bad dispatch pr", "workflow_dispatch", write(`{"inputs":{"pr":"4x"}}`), "not a pull request number"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(tc.event, tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load err = %v; want it to contain %q", err, tc.want)
			}
		})
	}
	// An empty pr input of a dispatch means "no PR": sweep.
	e, err := Load("workflow_dispatch", write(`{"inputs":{"pr":""}}`))
	if mode, _, _ := Mode(e); err != nil || mode != "sweep" {
		t.Errorf("empty dispatch pr: mode %q, err %v; want sweep", mode, err)
	}
}

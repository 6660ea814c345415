package event

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preview-access/preview-access/internal/testenv"
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

// TestEventsNotActedOnAreNotRead: a payload of an event the action does not
// act on is never a reason to fail, whatever its shape (GitHub sends
// repository.organization as a login string in push payloads).
func TestEventsNotActedOnAreNotRead(t *testing.T) {
	t.Parallel()
	for _, payload := range []string{
		`{"ref":"refs/heads/main","repository":{"id":1,"name":"r","owner":{"login":"o"},"organization":"Octocoders"}}`,
		`{`, ``, `[]`, `"x"`,
	} {
		e, err := Parse("push", []byte(payload))
		if err != nil {
			t.Errorf("Parse(push, %q) = %v; want no error", payload, err)
			continue
		}
		if _, ok, reason := Mode(e); ok || !strings.Contains(reason, "not one preview-access acts on") {
			t.Errorf("push %q: mode ok %t (%s); want a notice", payload, ok, reason)
		}
	}
	// A schedule payload of another shape still sweeps: the repository
	// then comes from GITHUB_REPOSITORY.
	e, err := Parse("schedule", []byte(`{"schedule":"17 * * * *","repository":{"organization":"Octocoders","owner":"x"}}`))
	if mode, ok, _ := Mode(e); err != nil || !ok || mode != "sweep" || e.Repo != nil {
		t.Errorf("odd schedule payload: mode %q ok %t repo %v err %v; want sweep with no repository", mode, ok, e.Repo, err)
	}
}

// TestEveryActedEventHasAMode keeps acted and Mode in step.
func TestEveryActedEventHasAMode(t *testing.T) {
	t.Parallel()
	for name := range acted {
		e := Event{Name: name, Action: "opened", PR: 1}
		if _, ok, reason := Mode(e); !ok {
			t.Errorf("acted event %s has no mode: %s", name, reason)
		}
	}
}

// TestRealWebhookPayloads feeds every example payload GitHub documents
// (@octokit/webhooks-examples) to Parse under its own event name: pull
// request events give a preview and the mode their action asks for, and no
// other event's payload, whatever its shape, fails the run.
func TestRealWebhookPayloads(t *testing.T) {
	t.Parallel()
	dir := testenv.WebhookExamples(t)
	var index []byte
	var err error
	for _, p := range []string{filepath.Join(dir, "api.github.com", "index.json"), filepath.Join(dir, "package", "api.github.com", "index.json")} {
		if index, err = os.ReadFile(p); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("no api.github.com/index.json under %s: %v", dir, err)
	}
	var events []struct {
		Name     string            `json:"name"`
		Examples []json.RawMessage `json:"examples"`
	}
	if err := json.Unmarshal(index, &events); err != nil {
		t.Fatal(err)
	}
	modes := map[string]string{"opened": "up", "reopened": "up", "synchronize": "up", "ready_for_review": "up", "labeled": "up", "closed": "down"}
	payloads := 0
	for _, ev := range events {
		for i, raw := range ev.Examples {
			payloads++
			names := []string{ev.Name}
			if ev.Name == "pull_request" {
				names = append(names, "pull_request_target")
			}
			for _, name := range names {
				e, err := Parse(name, raw)
				if err != nil {
					t.Errorf("%s example %d: Parse: %v", name, i, err)
					continue
				}
				mode, ok, reason := Mode(e)
				switch {
				case name == "pull_request" || name == "pull_request_target":
					if e.Preview == nil {
						t.Errorf("%s example %d (%s): no preview", name, i, e.Action)
					}
					if want := modes[e.Action]; mode != want || ok != (want != "") {
						t.Errorf("%s %s: mode %q, %t (%s); want %q", name, e.Action, mode, ok, reason, want)
					}
				case name == "workflow_dispatch":
					if !ok {
						t.Errorf("%s example %d: %s", name, i, reason)
					}
				default:
					if ok {
						t.Errorf("%s example %d: mode %q; want a notice", name, i, mode)
					}
				}
			}
		}
	}
	if payloads < 100 {
		t.Errorf("only %d example payloads: the fixture is not what it should be", payloads)
	}
}

package fakegithub_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v60/github"

	"github.com/preview-access/preview-access/internal/testenv/fakegithub"
)

// pr is what a test expects of a payload's pull request.
type pr struct {
	Action, HeadRef, HeadRepo, Author, AuthorType, State, Title string
	Number                                                      int
	Fork, Draft, Merged                                         bool
	Reviewers, Assignees                                        []string
}

func TestEventPayloadsDecode(t *testing.T) {
	t.Parallel()
	same := pr{
		Action: "opened", Number: 42, HeadRef: "feature/login", HeadRepo: "octo-org/shop", Author: "octocat", AuthorType: "User",
		State: "open", Title: "Add login page", Reviewers: []string{"alice"}, Assignees: []string{"bob"},
	}
	with := func(f func(*pr)) pr {
		p := same
		f(&p)
		return p
	}
	tests := map[string]pr{
		"pull_request_target.opened.json":           same,
		"pull_request.opened.json":                  same,
		"pull_request_target.synchronize.json":      with(func(p *pr) { p.Action = "synchronize" }),
		"pull_request_target.reopened.json":         with(func(p *pr) { p.Action = "reopened" }),
		"pull_request_target.ready_for_review.json": with(func(p *pr) { p.Action = "ready_for_review" }),
		"pull_request_target.labeled.json":          with(func(p *pr) { p.Action = "labeled" }),
		"pull_request_target.closed.merged.json":    with(func(p *pr) { p.Action, p.State, p.Merged = "closed", "closed", true }),
		"pull_request.closed.merged.json":           with(func(p *pr) { p.Action, p.State, p.Merged = "closed", "closed", true }),
		"pull_request_target.closed.unmerged.json":  with(func(p *pr) { p.Action, p.State = "closed", "closed" }),
		"pull_request_target.opened.draft.json": with(func(p *pr) {
			p.Draft, p.HeadRef, p.Title, p.Reviewers, p.Assignees = true, "feature/checkout", "WIP: checkout redesign", nil, nil
		}),
		"pull_request_target.opened.fork.json": with(func(p *pr) {
			p.Fork, p.HeadRepo, p.Title, p.Assignees = true, "octocat/shop", "Fix typo in README", nil
		}),
		"pull_request_target.opened.dependabot.json": with(func(p *pr) {
			p.Author, p.AuthorType, p.HeadRef = "dependabot[bot]", "Bot", "dependabot/go_modules/golang.org/x/net-0.23.0"
			p.Title, p.Reviewers, p.Assignees = "Bump golang.org/x/net from 0.22.0 to 0.23.0", nil, nil
		}),
		"pull_request_target.opened.hostile.json": with(func(p *pr) {
			p.HeadRef, p.Title, p.Reviewers, p.Assignees = `a";echo${IFS}x;#`, "$(id)\n::error::pwned", nil, nil
		}),
	}

	files, err := filepath.Glob(fakegithub.EventPath("*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no event payloads found: %v", err)
	}
	covered := map[string]bool{}
	for _, file := range files {
		name := filepath.Base(file)
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		eventName, _, _ := strings.Cut(name, ".")
		switch eventName {
		case "pull_request", "pull_request_target":
			want, ok := tests[name]
			if !ok {
				t.Errorf("%s: no expectations in this test", name)
				continue
			}
			covered[name] = true
			ev, err := github.ParseWebHook(eventName, data)
			if err != nil {
				t.Errorf("%s: ParseWebHook: %v", name, err)
				continue
			}
			var (
				action string
				p      *github.PullRequest
				repo   *github.Repository
				sender *github.User
			)
			switch e := ev.(type) {
			case *github.PullRequestTargetEvent:
				action, p, repo, sender = e.GetAction(), e.GetPullRequest(), e.GetRepo(), e.GetSender()
			case *github.PullRequestEvent:
				action, p, repo, sender = e.GetAction(), e.GetPullRequest(), e.GetRepo(), e.GetSender()
			default:
				t.Errorf("%s: decoded as %T", name, ev)
				continue
			}
			if repo.GetID() != 123456789 || repo.GetFullName() != "octo-org/shop" || repo.GetOwner().GetID() != 987654 ||
				repo.GetDefaultBranch() != "main" || sender.GetLogin() == "" {
				t.Errorf("%s: repository %d %s owner %d default %s", name, repo.GetID(), repo.GetFullName(), repo.GetOwner().GetID(), repo.GetDefaultBranch())
			}
			if p.GetBase().GetRepo().GetID() != repo.GetID() || p.GetBase().GetRef() != "main" || len(p.GetHead().GetSHA()) != 40 {
				t.Errorf("%s: base %s@%s head sha %q", name, p.GetBase().GetRepo().GetFullName(), p.GetBase().GetRef(), p.GetHead().GetSHA())
			}
			got := pr{
				Action: action, Number: p.GetNumber(), HeadRef: p.GetHead().GetRef(), HeadRepo: p.GetHead().GetRepo().GetFullName(),
				Author: p.GetUser().GetLogin(), AuthorType: p.GetUser().GetType(), State: p.GetState(), Title: p.GetTitle(),
				Fork:  p.GetHead().GetRepo().GetFork() && p.GetHead().GetRepo().GetID() != repo.GetID(),
				Draft: p.GetDraft(), Merged: p.GetMerged(),
			}
			for _, u := range p.RequestedReviewers {
				got.Reviewers = append(got.Reviewers, u.GetLogin())
			}
			for _, u := range p.Assignees {
				got.Assignees = append(got.Assignees, u.GetLogin())
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", name, diff)
			}
		case "workflow_dispatch":
			covered[name] = true
			ev, err := github.ParseWebHook(eventName, data)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			e := ev.(*github.WorkflowDispatchEvent)
			var inputs map[string]string
			if err := json.Unmarshal(e.Inputs, &inputs); err != nil || inputs["pr"] != "42" || e.GetRepo().GetID() != 123456789 || e.GetRef() != "refs/heads/main" {
				t.Errorf("%s: inputs %s (%v), repo %d, ref %s", name, e.Inputs, err, e.GetRepo().GetID(), e.GetRef())
			}
		case "schedule":
			covered[name] = true
			// Not a webhook: Actions writes {"schedule": "<cron>"}.
			var e struct {
				Schedule string `json:"schedule"`
			}
			if err := json.Unmarshal(data, &e); err != nil || e.Schedule != "17 * * * *" {
				t.Errorf("%s: got %+v, %v", name, e, err)
			}
		default:
			t.Errorf("%s: unknown event name %q", name, eventName)
		}
	}
	for name := range tests {
		if !covered[name] {
			t.Errorf("%s: payload missing from testdata/events", name)
		}
	}
}

func TestSeedEvent(t *testing.T) {
	t.Parallel()
	srv := fakegithub.New(t)
	if err := srv.SeedEventFile(fakegithub.EventPath("pull_request_target.opened.fork.json")); err != nil {
		t.Fatal(err)
	}
	gh := clients(t, srv)["GHES"]
	p, _, err := gh.PullRequests.Get(t.Context(), "octo-org", "shop", 42)
	if err != nil {
		t.Fatal(err)
	}
	if p.GetHead().GetRepo().GetFullName() != "octocat/shop" || !p.GetHead().GetRepo().GetFork() ||
		p.GetBase().GetRepo().GetID() != 123456789 || p.GetHead().GetSHA() != "a1f3c5e7b9d0f2a4c6e8b0d2f4a6c8e0b2d4f6a8" {
		t.Errorf("seeded fork PR: head %s fork %v base id %d sha %s", p.GetHead().GetRepo().GetFullName(),
			p.GetHead().GetRepo().GetFork(), p.GetBase().GetRepo().GetID(), p.GetHead().GetSHA())
	}
	if err := srv.SeedEventFile(fakegithub.EventPath("pull_request_target.closed.merged.json")); err != nil {
		t.Fatal(err)
	}
	p, _, err = gh.PullRequests.Get(t.Context(), "octo-org", "shop", 42)
	if err != nil || p.GetState() != "closed" || !p.GetMerged() {
		t.Errorf("after closed.merged: state %q merged %v, %v", p.GetState(), p.GetMerged(), err)
	}
}

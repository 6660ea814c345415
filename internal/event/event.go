// Package event reads the GitHub event that started the run and turns it
// into a Preview and the mode the run should take. Payload values are
// hostile: they are decoded into go-github's types and validated before
// anything else sees them.
package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/preview-access/preview-access/internal/preview"
)

// Event is what the run needs to know about its trigger.
type Event struct {
	Name    string           // GITHUB_EVENT_NAME
	Action  string           // the payload's action, for pull request events
	Preview *preview.Preview // nil when the event carries no pull request
	PR      int              // the PR number a workflow_dispatch asked for
	Repo    *Repository      // the payload's repository; nil when it has none
}

// Repository is the little of a payload's repository object the run
// reads. go-github's Repository is not used for it: GitHub sends some
// fields with other shapes in some events (repository.organization is a
// login string in push payloads), and a field the run never reads must
// not make a payload unreadable.
type Repository struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Owner struct {
		Login string `json:"login"`
		ID    int64  `json:"id"`
	} `json:"owner"`
}

// acted are the events Mode can act on; any other is a notice, whatever
// its payload holds.
var acted = map[string]bool{"pull_request": true, "pull_request_target": true, "workflow_dispatch": true, "schedule": true}

// maxEventSize bounds what is read from GITHUB_EVENT_PATH.
const maxEventSize = 25 << 20

// Load reads the event file at path for an event named name.
func Load(name, path string) (Event, error) {
	e := Event{Name: name}
	if path == "" {
		return e, errors.New("no event file: GITHUB_EVENT_PATH is not set (the CLI takes --event FILE or --repo and --pr)")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return e, fmt.Errorf("read event file: %w", err)
	}
	if len(data) > maxEventSize {
		return e, fmt.Errorf("event file %s is larger than %d bytes", path, maxEventSize)
	}
	return Parse(name, data)
}

// Parse decodes an event payload. Only the events the action acts on
// are read; another event's payload is not looked at, so no shape of it
// can fail the run.
func Parse(name string, data []byte) (Event, error) {
	e := Event{Name: name}
	switch name {
	case "pull_request", "pull_request_target":
		var pe struct {
			Action      string              `json:"action"`
			PullRequest *github.PullRequest `json:"pull_request"`
			Repo        json.RawMessage     `json:"repository"`
		}
		if err := json.Unmarshal(data, &pe); err != nil {
			return e, fmt.Errorf("event file is not a %s payload: %w", name, err)
		}
		e.Action = pe.Action
		e.Repo = repository(pe.Repo)
		if pe.PullRequest == nil {
			return e, fmt.Errorf("%s event has no pull_request object", name)
		}
		p, err := FromPullRequest(pe.PullRequest)
		if err != nil {
			return e, err
		}
		e.Preview = &p
		e.PR = p.Number
	case "workflow_dispatch":
		var we struct {
			Inputs map[string]any  `json:"inputs"`
			Repo   json.RawMessage `json:"repository"`
		}
		if err := json.Unmarshal(data, &we); err != nil {
			return e, fmt.Errorf("event file is not a workflow_dispatch payload: %w", err)
		}
		e.Repo = repository(we.Repo)
		if v, ok := we.Inputs["pr"]; ok && v != nil && strings.TrimSpace(fmt.Sprint(v)) != "" {
			s := strings.TrimSpace(fmt.Sprint(v))
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				return e, fmt.Errorf("workflow_dispatch input pr %q is not a pull request number", s)
			}
			e.PR = n
		}
	case "schedule":
		// The repository is a convenience here: without it the run reads
		// GITHUB_REPOSITORY and GITHUB_REPOSITORY_ID.
		var se struct {
			Repo json.RawMessage `json:"repository"`
		}
		if json.Unmarshal(data, &se) == nil {
			e.Repo = repository(se.Repo)
		}
	}
	return e, nil
}

// repository reads a payload's repository object leniently: nil when it is
// missing or not an object of the expected shape.
func repository(raw json.RawMessage) *Repository {
	if len(raw) == 0 {
		return nil
	}
	var r Repository
	if json.Unmarshal(raw, &r) != nil || r.Owner.Login == "" {
		return nil
	}
	return &r
}

// FromPullRequest builds a validated Preview from a pull request as the
// API or a webhook payload returns it.
func FromPullRequest(pr *github.PullRequest) (preview.Preview, error) {
	base := pr.GetBase().GetRepo()
	head := pr.GetHead().GetRepo()
	p := preview.Preview{
		Owner:         base.GetOwner().GetLogin(),
		Repo:          base.GetName(),
		RepositoryID:  base.GetID(),
		OwnerID:       base.GetOwner().GetID(),
		Number:        pr.GetNumber(),
		HeadRef:       pr.GetHead().GetRef(),
		HeadSHA:       pr.GetHead().GetSHA(),
		BaseRef:       pr.GetBase().GetRef(),
		DefaultBranch: base.GetDefaultBranch(),
		Author:        pr.GetUser().GetLogin(),
		// A deleted head repository is treated as a fork: nothing proves
		// the code came from this repository.
		Fork:      head == nil || head.GetID() != base.GetID(),
		Draft:     pr.GetDraft(),
		State:     pr.GetState(),
		Merged:    pr.GetMerged(),
		UpdatedAt: pr.GetUpdatedAt().Time,
	}
	var logins []string
	for _, u := range pr.RequestedReviewers {
		logins = append(logins, u.GetLogin())
	}
	p.Reviewers = preview.SortedUnique(logins)
	logins = nil
	for _, u := range pr.Assignees {
		logins = append(logins, u.GetLogin())
	}
	p.Assignees = preview.SortedUnique(logins)
	var teams []string
	for _, t := range pr.RequestedTeams {
		teams = append(teams, p.Owner+"/"+t.GetSlug())
	}
	p.Teams = preview.SortedUnique(teams)
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("pull request in the event: %w", err)
	}
	return p, nil
}

// Mode picks up, down or sweep for an auto run; ok is false when the event
// asks for nothing (the reason says why).
func Mode(e Event) (mode string, ok bool, reason string) {
	switch e.Name {
	case "pull_request", "pull_request_target":
		switch e.Action {
		case "closed":
			return "down", true, ""
		case "opened", "reopened", "synchronize", "ready_for_review", "labeled":
			return "up", true, ""
		default:
			return "", false, fmt.Sprintf("%s action %q does not change access", e.Name, e.Action)
		}
	case "workflow_dispatch":
		if e.PR == 0 {
			return "sweep", true, ""
		}
		return "up", true, ""
	case "schedule":
		return "sweep", true, ""
	}
	return "", false, fmt.Sprintf("event %q is not one preview-access acts on (pull_request_target, pull_request, workflow_dispatch, schedule)", e.Name)
}

package fakegithub

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// EventPath is the absolute path of a sample payload in the repository's
// testdata/events, e.g. EventPath("pull_request_target.opened.json"), for
// GITHUB_EVENT_PATH in end-to-end tests.
func EventPath(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "events", name)
}

// SeedEventFile is SeedEvent on the payload in file.
func (s *Server) SeedEventFile(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	return s.SeedEvent(data)
}

// SeedEvent makes the server's state agree with a pull_request or
// pull_request_target payload: the repository and the pull request as the
// event describes them. Payloads without a pull request only add the
// repository.
func (s *Server) SeedEvent(data []byte) error {
	var ev struct {
		Repository *struct {
			ID            int64  `json:"id"`
			Name          string `json:"name"`
			Private       bool   `json:"private"`
			DefaultBranch string `json:"default_branch"`
			Owner         struct {
				Login string `json:"login"`
				ID    int64  `json:"id"`
				Type  string `json:"type"`
			} `json:"owner"`
		} `json:"repository"`
		PullRequest *struct {
			Number    int       `json:"number"`
			Title     string    `json:"title"`
			Body      string    `json:"body"`
			State     string    `json:"state"`
			Draft     bool      `json:"draft"`
			Merged    bool      `json:"merged"`
			CreatedAt time.Time `json:"created_at"`
			UpdatedAt time.Time `json:"updated_at"`
			User      struct {
				Login string `json:"login"`
				Type  string `json:"type"`
			} `json:"user"`
			Head struct {
				Ref  string `json:"ref"`
				SHA  string `json:"sha"`
				Repo *struct {
					FullName string `json:"full_name"`
					ID       int64  `json:"id"`
				} `json:"repo"`
			} `json:"head"`
			Base struct {
				Ref string `json:"ref"`
				SHA string `json:"sha"`
			} `json:"base"`
			RequestedReviewers []struct {
				Login string `json:"login"`
			} `json:"requested_reviewers"`
			RequestedTeams []struct {
				Slug string `json:"slug"`
			} `json:"requested_teams"`
			Assignees []struct {
				Login string `json:"login"`
			} `json:"assignees"`
			Labels []struct {
				Name string `json:"name"`
			} `json:"labels"`
		} `json:"pull_request"`
	}
	if err := json.Unmarshal(data, &ev); err != nil {
		return fmt.Errorf("fakegithub: decode event: %w", err)
	}
	if ev.Repository == nil {
		return errors.New("fakegithub: event has no repository")
	}
	r := ev.Repository
	s.AddRepo(Repo{
		Owner: r.Owner.Login, Name: r.Name, ID: r.ID, OwnerID: r.Owner.ID, OwnerType: r.Owner.Type,
		DefaultBranch: r.DefaultBranch, Private: r.Private,
	})
	p := ev.PullRequest
	if p == nil {
		return nil
	}
	pr := PullRequest{
		Number: p.Number, Title: p.Title, Body: p.Body, State: p.State, Draft: p.Draft, Merged: p.Merged,
		Author: p.User.Login, AuthorType: p.User.Type,
		HeadRef: p.Head.Ref, HeadSHA: p.Head.SHA, BaseRef: p.Base.Ref, BaseSHA: p.Base.SHA,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
	if p.Head.Repo != nil && p.Head.Repo.ID != r.ID {
		pr.HeadRepo = p.Head.Repo.FullName
	}
	for _, u := range p.RequestedReviewers {
		pr.RequestedReviewers = append(pr.RequestedReviewers, u.Login)
	}
	for _, t := range p.RequestedTeams {
		pr.RequestedTeams = append(pr.RequestedTeams, t.Slug)
	}
	for _, u := range p.Assignees {
		pr.Assignees = append(pr.Assignees, u.Login)
	}
	for _, l := range p.Labels {
		pr.Labels = append(pr.Labels, l.Name)
	}
	s.AddPullRequest(r.Owner.Login, r.Name, pr)
	return nil
}

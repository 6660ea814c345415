package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/desired"
	"github.com/preview-access/preview-access/internal/planner"
	"github.com/preview-access/preview-access/internal/preview"
	"github.com/preview-access/preview-access/templates"
)

// AwaitState checks what mode await needs and renders the names of p's
// role (the same as up renders: the role's name does not depend on its
// permissions).
func AwaitState(cfg config.Config, github bool, p preview.Preview, now time.Time) (desired.State, error) {
	switch {
	case !github:
		return desired.State{}, &config.InputError{Input: "github-token", What: "mode await reads the pull request's deployments", Fix: "pass the workflow's token, with permissions deployments: read"}
	case cfg.AccountID == "":
		return desired.State{}, &config.InputError{Input: "account-id", What: "mode await needs the account id to name the role (it uses no AWS credentials)", Fix: "set account-id to the roles' account"}
	case !cfg.Deployment:
		return desired.State{}, &config.InputError{Input: "deployment", What: "mode await waits for the provisioner's deployment", Fix: "leave deployment: true, here and in the provisioner"}
	case p.Fork && !cfg.AllowForks:
		return desired.State{}, fmt.Errorf("pull request %d comes from a fork: the provisioner creates no preview for it (allow-forks)", p.Number)
	}
	tmpl, err := templates.FS.ReadFile(templates.DefaultPermissions)
	if err != nil {
		return desired.State{}, err
	}
	return desired.Build(cfg, p, tmpl, now)
}

// AwaitPoll bounds the wait between two reads of the deployments: the
// first comes after a second, then each twice as late, up to this.
const AwaitPoll = 10 * time.Second

// Await waits, until ctx ends, for the provisioner's deployment of p's head
// commit to the PR's environment to succeed: the provisioner sets its
// status to success only once the role, its policy and the gateway are in
// place, so a deploy job that waits for it never assumes a role that is
// not there yet. It fails at once when that deployment failed, or was made
// inactive (the pull request closed, or a newer push superseded it).
func Await(ctx context.Context, log Log, gh GitHubAPI, p preview.Preview, environment string) error {
	if p.HeadSHA == "" {
		return errors.New("await: the event carries no head commit of the pull request")
	}
	start, wait := time.Now(), time.Second
	log.Info("waiting for the provisioner's deployment of %s to %s to succeed", short(p.HeadSHA), environment)
	for {
		ds, err := gh.Deployments(ctx, p.Owner, p.Repo, environment)
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("await: %w", err)
		}
		for _, d := range ds {
			if d.SHA != p.HeadSHA || d.Description != planner.DeploymentDescription {
				continue
			}
			switch d.State {
			case "success":
				log.Info("the provisioner's deployment %d of %s succeeded after %s: the role is ready", d.ID, short(p.HeadSHA), time.Since(start).Round(time.Second))
				return nil
			case "failure", "error":
				return fmt.Errorf("await: the provisioner's deployment %d of %s ended in %s: its run failed, so the role may not be ready (see the preview-access workflow's run for this commit)", d.ID, short(p.HeadSHA), d.State)
			case "inactive":
				return fmt.Errorf("await: the provisioner's deployment %d of %s is inactive: the pull request was closed, or a newer push superseded this commit", d.ID, short(p.HeadSHA))
			}
			break // the newest deployment of the commit decides
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("await: no successful deployment of %s to %s after %s (is the preview-access workflow running on pull_request_target for this pull request, with deployment: true?): %w",
				short(p.HeadSHA), environment, time.Since(start).Round(time.Second), ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, AwaitPoll)
	}
}

func short(sha string) string { return sha[:min(len(sha), 12)] }

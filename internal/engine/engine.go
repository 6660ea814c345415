// Package engine runs one preview's up or down: it observes (package
// observe), plans (package planner) and applies (package apply), with the
// clients the command built once. The command prints the plan between
// Prepare and Apply and reports afterwards; sweep runs the same Down for
// each preview it removes.
package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/preview-access/preview-access/internal/apply"
	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/gateway"
	"github.com/preview-access/preview-access/internal/observe"
	"github.com/preview-access/preview-access/internal/preview"
	"github.com/preview-access/preview-access/internal/report"
)

// IAMAPI is every IAM call of the action: observe's reads and apply's
// writes. *iam.Client satisfies it.
type IAMAPI interface {
	observe.IAM
	apply.IAM
}

var _ IAMAPI = (*iam.Client)(nil)

// GitHubAPI is what a run needs from GitHub: observe's reads and apply's
// writes. *ghapi.Client satisfies it.
type GitHubAPI interface {
	observe.GitHub
	apply.GitHub
}

// Log is where the engine says what it noticed (apply's Log).
type Log = apply.Log

// Env is what the engine takes from its process.
type Env struct {
	Now        func() time.Time
	HTTPClient *http.Client // base client for the gateway; nil = default
	// LoadAWS loads the AWS configuration for a region.
	LoadAWS func(ctx context.Context, region string) (aws.Config, error)
	// ReadFile reads local files; LocalFiles says the run may (the CLI
	// outside Actions, without a token, reads the working copy).
	ReadFile   func(path string) ([]byte, error)
	LocalFiles bool
	Log        Log
}

// Clients are the run's clients, each built once; a nil one is not used.
type Clients struct {
	IAM IAMAPI // nil when planning without AWS credentials
	// Reads, when set, is the client observe reads with (sweep's, apart
	// from its gated writes); else IAM.
	Reads   observe.IAM
	STS     observe.STS
	GitHub  GitHubAPI // nil: no token, GitHub steps skipped
	Gateway gateway.Driver
	// Offline: planning without AWS credentials (or the built-in
	// sample): the plan assumes an empty account.
	Offline bool

	awsCfg aws.Config
}

// Connect builds the gateway driver for repo and the AWS clients. In a
// dry run missing AWS credentials are not an error when the account id is
// known: the plan is computed against an empty account. sample skips AWS
// altogether. opts configure the IAM client (sweep's write gate).
func (c *Clients) Connect(ctx context.Context, env Env, cfg config.Config, repo preview.Preview, sample bool, opts ...func(*iam.Options)) error {
	if cfg.Gateway != config.GatewayNone {
		d, err := gateway.New(gateway.Config{
			Kind: cfg.Gateway, URL: cfg.GatewayURL, Token: cfg.GatewayToken, Secret: cfg.GatewaySecret, Path: cfg.GatewayFile,
			HTTPClient: env.HTTPClient, Repository: repo.FullName(), RepositoryID: repo.RepositoryID,
		})
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		c.Gateway = d
	}
	if sample {
		c.Offline = true
		return nil
	}
	awsCfg, err := env.LoadAWS(ctx, cfg.Region)
	if err == nil {
		_, err = awsCfg.Credentials.Retrieve(ctx)
	}
	switch {
	case err != nil && cfg.DryRun && cfg.AccountID != "":
		c.Offline = true
		env.Log.Warning("no AWS credentials: the plan assumes no role exists yet (%v)", firstLine(err))
		return nil
	case err != nil && cfg.DryRun:
		return &config.InputError{Input: "account-id", What: "planning without AWS credentials needs the account id", Fix: "set account-id, or provide credentials"}
	case err != nil:
		return fmt.Errorf("load AWS credentials: %w", err)
	}
	c.awsCfg = awsCfg
	c.IAM = iam.NewFromConfig(awsCfg, opts...)
	c.STS = sts.NewFromConfig(awsCfg)
	return nil
}

// SplitReads gives observe an IAM client of its own, without opts (the
// write gate): reads and writes then have a retryer each, so that the
// adaptive retryer's rate limiter learns IAM's write limit from the write
// throttles alone.
func (c *Clients) SplitReads() {
	if c.IAM != nil {
		c.Reads = iam.NewFromConfig(c.awsCfg)
	}
}

// Readers are the clients observe reads with.
func (c *Clients) Readers() observe.Clients {
	o := observe.Clients{Gateway: c.Gateway}
	if c.IAM != nil {
		o.IAM, o.STS = c.IAM, c.STS
	}
	if c.Reads != nil {
		o.IAM = c.Reads
	}
	if c.GitHub != nil {
		o.GitHub = c.GitHub
	}
	return o
}

// Applier is an interpreter for one repository's plans.
func (c *Clients) Applier(p preview.Preview, log Log) *apply.Applier {
	a := &apply.Applier{Gateway: c.Gateway, Owner: p.Owner, Repo: p.Repo, Log: log}
	if c.IAM != nil {
		a.IAM = c.IAM
	}
	if c.GitHub != nil {
		a.GitHub = c.GitHub
	}
	return a
}

func firstLine(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

// Flatten lists the errors joined in err, one per problem. Only
// errors.Join lists are split: their message is exactly their parts, one
// per line. An error wrapping several (fmt.Errorf with two %w) carries a
// message of its own and stays whole.
func Flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		parts := j.Unwrap()
		msgs := make([]string, 0, len(parts))
		for _, e := range parts {
			msgs = append(msgs, e.Error())
		}
		if err.Error() == strings.Join(msgs, "\n") {
			var out []error
			for _, e := range parts {
				out = append(out, Flatten(e)...)
			}
			return out
		}
	}
	return []error{err}
}

// Problems turns a run's error into what its failure summary lists: an
// input's error names the input and its fix.
func Problems(err error) []report.Problem {
	var out []report.Problem
	for _, e := range Flatten(err) {
		var ie *config.InputError
		if errors.As(e, &ie) && e.Error() == ie.Error() {
			out = append(out, report.Problem{Input: ie.Input, What: ie.What, Fix: ie.Fix})
			continue
		}
		out = append(out, report.Problem{What: e.Error()})
	}
	return out
}

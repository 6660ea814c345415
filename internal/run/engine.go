package run

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/preview-access/preview-access/internal/apply"
	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/gateway"
	"github.com/preview-access/preview-access/internal/observe"
	"github.com/preview-access/preview-access/internal/preview"
)

// IAMAPI is every IAM call of the action: observe's reads and apply's
// writes. *iam.Client satisfies it.
type IAMAPI interface {
	observe.IAM
	apply.IAM
}

var _ IAMAPI = (*iam.Client)(nil)

// engine is what a run is wired with: its configuration, where it
// reports, and the clients, each built once and passed on as interfaces.
type engine struct {
	env    Env
	u      *ui
	cfg    config.Config
	output string

	iam IAMAPI // nil when planning without AWS credentials
	// reads, when set, is the client observe reads with (sweep's, apart
	// from the gated writes); else iam.
	reads   observe.IAM
	awsCfg  aws.Config
	sts     observe.STS
	gh      GitHubAPI // nil: no token, GitHub steps skipped
	gw      gateway.Driver
	offline bool // planning without AWS credentials
}

// connect builds the gateway driver for repo and the AWS clients. In plan
// mode missing AWS credentials are not an error: the plan is computed
// against an empty account. opts configure the IAM client (sweep's write
// gate).
func (e *engine) connect(ctx context.Context, repo preview.Preview, opts ...func(*iam.Options)) error {
	if e.cfg.Gateway != gateway.KindNone {
		gc := e.cfg.GatewayConfig()
		gc.HTTPClient = e.env.HTTPClient
		gc.Repository, gc.RepositoryID = repo.FullName(), repo.RepositoryID
		d, err := gateway.New(gc)
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		e.gw = d
	}
	if e.cfg.Offline {
		e.offline = true
		return nil
	}
	awsCfg, err := e.loadAWS(ctx)
	if err != nil {
		if e.cfg.DryRun && e.cfg.AccountID != "" {
			e.offline = true
			e.u.warning("no AWS credentials: the plan assumes no role exists yet (%v)", firstLine(err))
			return nil
		}
		if e.cfg.DryRun {
			return &config.InputError{Input: "account-id", What: "planning without AWS credentials needs the account id", Fix: "set account-id, or provide credentials"}
		}
		return fmt.Errorf("load AWS credentials: %w", err)
	}
	e.awsCfg = awsCfg
	e.iam = iam.NewFromConfig(awsCfg, opts...)
	e.sts = sts.NewFromConfig(awsCfg)
	return nil
}

func (e *engine) loadAWS(ctx context.Context) (aws.Config, error) {
	awsCfg, err := e.env.LoadAWS(ctx, e.cfg.Region)
	if err == nil {
		_, err = awsCfg.Credentials.Retrieve(ctx)
	}
	return awsCfg, err
}

// readers are the clients observe reads with.
func (e *engine) readers() observe.Clients {
	c := observe.Clients{Gateway: e.gw}
	if e.iam != nil {
		c.IAM, c.STS = e.iam, e.sts
	}
	if e.reads != nil {
		c.IAM = e.reads
	}
	if e.gh != nil {
		c.GitHub = e.gh
	}
	return c
}

func firstLine(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

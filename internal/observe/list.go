package observe

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/preview-access/preview-access/internal/gateway"
	"github.com/preview-access/preview-access/internal/group"
)

// ReadConcurrency bounds the GetRole calls of a listing: reads are not
// what IAM throttles first, and a thousand roles should not take a
// thousand round trips.
const ReadConcurrency = 32

// ListRequest says what a sweep lists.
type ListRequest struct {
	Owner, Repo string
	// Prefix is the path the roles are listed under (where every
	// repository's previews live, so that a renamed repository's old path
	// is found too); OurPath is this repository's own.
	Prefix, OurPath string
	// Account asks for the credentials' account too (GetCallerIdentity).
	Account bool
}

// ListedRole is a role found under the tool's path, with the tags GetRole
// returned (ListRoles does not return tags).
type ListedRole struct {
	Name string
	Path string
	ARN  string
	Tags map[string]string
}

// Listing is what a sweep found.
type Listing struct {
	Roles []ListedRole
	// Open holds the open pull requests; nil when unknown (no token).
	Open map[int]bool
	// GatewayIDs are the gateway's preview ids (nil where the driver
	// cannot list); GatewayErr says why they could not be listed.
	GatewayIDs []string
	GatewayErr error
	// Account is the credentials' account, when asked for.
	Account string
}

// List lists the open pull requests first (failing to list them fails the
// listing before any AWS call: without them closed cannot be told from
// open), then, at once, the roles under the prefix with their tags and the
// gateway's documents. A gateway that cannot be listed only leaves its
// documents out.
func List(ctx context.Context, c Clients, r ListRequest) (Listing, error) {
	var (
		l   Listing
		g   group.Group
		err error
	)
	if c.GitHub != nil {
		if l.Open, err = OpenPRs(ctx, c.GitHub, r.Owner, r.Repo); err != nil {
			return l, err
		}
	}
	g.Go(func() (err error) {
		l.Roles, err = listRoles(ctx, c.IAM, r.Prefix, r.OurPath)
		return err
	})
	if r.Account {
		g.Go(func() error {
			out, err := c.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				return fmt.Errorf("sts GetCallerIdentity (the credentials' account is checked against account-id): %w", err)
			}
			l.Account = aws.ToString(out.Account)
			return nil
		})
	}
	if c.Gateway != nil {
		g.Go(func() error {
			ids, err := c.Gateway.List(ctx)
			switch {
			case errors.Is(err, gateway.ErrListUnsupported):
			case err != nil:
				l.GatewayErr = fmt.Errorf("list gateway policies: %w", err)
			default:
				l.GatewayIDs = ids
			}
			return nil
		})
	}
	return l, g.Wait()
}

// OpenPRs is the set of the repository's open pull requests.
func OpenPRs(ctx context.Context, gh GitHub, owner, repo string) (map[int]bool, error) {
	prs, err := gh.OpenPullRequests(ctx, owner, repo)
	if err != nil {
		return nil, err
	}
	open := make(map[int]bool, len(prs))
	for n := range prs {
		open[n] = true
	}
	return open, nil
}

// listRoles lists every role under prefix (all pages, the largest page
// size) and reads each one's tags with GetRole, ReadConcurrency at a
// time. Roles outside ourPath that the credentials may not read (another
// repository's) are passed over; a role gone meanwhile is left out.
func listRoles(ctx context.Context, api IAM, prefix, ourPath string) ([]ListedRole, error) {
	var names []ListedRole
	pager := iam.NewListRolesPaginator(api, &iam.ListRolesInput{PathPrefix: aws.String(prefix), MaxItems: aws.Int32(1000)})
	for pager.HasMorePages() {
		out, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("iam ListRoles under %s: %w", prefix, err)
		}
		for _, r := range out.Roles {
			if strings.HasPrefix(aws.ToString(r.Path), prefix) {
				names = append(names, ListedRole{Name: aws.ToString(r.RoleName), Path: aws.ToString(r.Path), ARN: aws.ToString(r.Arn)})
			}
		}
	}
	gone := make([]bool, len(names))
	err := group.Each(len(names), ReadConcurrency, func(i int) error {
		ctx, cancel := context.WithTimeout(ctx, CallTimeout)
		defer cancel()
		out, err := api.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(names[i].Name)})
		switch {
		case IsNotFound(err):
			gone[i] = true
			return nil
		case err != nil && names[i].Path != ourPath && isAccessDenied(err):
			names[i].Tags = map[string]string{}
			return nil
		case err != nil:
			return fmt.Errorf("iam GetRole %s: %w", names[i].Name, err)
		}
		names[i].Tags = Tags(out.Role.Tags)
		return nil
	})
	if err != nil {
		return nil, err
	}
	kept := names[:0]
	for i, r := range names {
		if !gone[i] {
			kept = append(kept, r)
		}
	}
	return kept, nil
}

func isAccessDenied(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "AccessDenied" || ae.ErrorCode() == "AccessDeniedException")
}

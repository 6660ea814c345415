package sweep

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/engine"
	"github.com/preview-access/preview-access/internal/gateway"
	"github.com/preview-access/preview-access/internal/group"
	"github.com/preview-access/preview-access/internal/naming"
	"github.com/preview-access/preview-access/internal/observe"
	"github.com/preview-access/preview-access/internal/preview"
	"github.com/preview-access/preview-access/internal/report"
)

// maxForeignNamed bounds how many foreign gateway documents a status
// warning names.
const maxForeignNamed = 20

// Status reads who has access to the repository's previews right now:
// the same listing as a sweep (roles under the path with their tags, the
// open pull requests, the gateway's documents), and each preview's
// gateway document. Every preview the next sweep would remove says why.
// It writes nothing.
func Status(ctx context.Context, env engine.Env, clients *engine.Clients, cfg config.Config, target preview.Preview) (report.Status, error) {
	// The account is checked as a sweep checks it: a status of another
	// account's roles would mislead.
	listing, err := observe.List(ctx, clients.Readers(), listRequest(cfg, target))
	if err == nil {
		_, err = cfg.WithAccount(listing.Account)
	}
	if err != nil {
		return report.Status{}, fmt.Errorf("status: %w", err)
	}
	now := env.Now()
	st := report.Status{Repository: target.FullName(), At: now.UTC()}
	if listing.Open == nil {
		st.Warnings = append(st.Warnings, "no GitHub token: the pull requests' state is unknown, and only an expiry shows what the next sweep removes")
	}
	if listing.GatewayErr != nil {
		st.Warnings = append(st.Warnings, listing.GatewayErr.Error())
	}
	repoID := strconv.FormatInt(target.RepositoryID, 10)
	byPR := map[int]*report.StatusPreview{}
	entry := func(pr int) *report.StatusPreview {
		if e, ok := byPR[pr]; ok {
			return e
		}
		e := &report.StatusPreview{PullRequest: pr, State: prState(listing.Open, pr), Gateway: "none", Access: []report.Access{}}
		byPR[pr] = e
		return e
	}
	tags := map[string]map[string]string{}
	for _, r := range listing.Roles {
		tags[r.Name] = r.Tags
	}
	for _, d := range Classify(listing.Roles, repoID, listing.Open, now) {
		if d.Verdict == Skip {
			continue
		}
		e := entry(d.PR)
		e.RoleName, e.RoleARN = d.Role, d.ARN
		e.HeadSHA = tags[d.Role][naming.TagHeadSHA]
		if exp, ok := naming.Expiry(tags[d.Role]); ok {
			e.ExpiresAt = exp.UTC()
		}
		if d.Verdict == Remove {
			e.NextSweep = d.Reason
		}
	}
	// A document whose role is gone is live access all the same.
	orphans := GatewayIDs(listing.GatewayIDs, repoID, listing.Open, nil)
	var foreign []string
	for _, id := range listing.GatewayIDs {
		pr, ok := DocumentPR(id, repoID)
		if !ok {
			foreign = append(foreign, id)
			continue
		}
		if _, hasRole := byPR[pr]; hasRole {
			continue
		}
		e := entry(pr)
		if _, removes := orphans[id]; removes {
			e.NextSweep = fmt.Sprintf("pull request %d is closed (its role is gone, its gateway policy is not)", pr)
		}
	}
	if len(foreign) > 0 {
		// Not a preview of ours, and no sweep removes it, but the gateway
		// reads it all the same: an audit must not miss it. Named up to a
		// bound: whoever holds the repository's token chose the ids.
		slices.Sort(foreign)
		named := strings.Join(foreign[:min(len(foreign), maxForeignNamed)], ", ")
		if rest := len(foreign) - maxForeignNamed; rest > 0 {
			named += fmt.Sprintf(" and %d more", rest)
		}
		st.Warnings = append(st.Warnings, fmt.Sprintf("the gateway holds documents under this repository that preview-access did not name (not gh-%s-pr-<number>), which may grant access and which no sweep removes: %s",
			repoID, named))
	}
	previews := make([]*report.StatusPreview, 0, len(byPR))
	for _, e := range byPR {
		previews = append(previews, e)
	}
	slices.SortFunc(previews, func(a, b *report.StatusPreview) int { return a.PullRequest - b.PullRequest })
	if clients.Gateway != nil {
		st.Warnings = append(st.Warnings, readAccess(ctx, clients.Gateway, target, previews)...)
	}
	for _, e := range previews {
		st.Previews = append(st.Previews, *e)
	}
	return st, nil
}

// readAccess reads each preview's gateway document, a few at a time.
func readAccess(ctx context.Context, gw gateway.Driver, target preview.Preview, previews []*report.StatusPreview) []string {
	var (
		mu       sync.Mutex
		warnings []string
	)
	_ = group.Each(len(previews), observe.ReadConcurrency, func(i int) error {
		e := previews[i]
		p := target
		p.Number = e.PullRequest
		doc, found, err := gw.Get(ctx, p.ID())
		var d gateway.Document
		if err == nil && found {
			d, err = gateway.Unmarshal(doc)
		}
		switch {
		case err != nil:
			e.Gateway = "unreadable"
			mu.Lock()
			warnings = append(warnings, fmt.Sprintf("pull request %d: read gateway policy %s: %v", e.PullRequest, p.ID(), err))
			mu.Unlock()
		case !found:
			e.Gateway = "absent"
		default:
			e.Gateway, e.Access = "present", d.Access()
			if e.ExpiresAt.IsZero() {
				e.ExpiresAt = d.ExpiresAt.UTC()
			}
		}
		return nil
	})
	slices.Sort(warnings)
	return warnings
}

func prState(open map[int]bool, pr int) string {
	switch {
	case open == nil:
		return "unknown"
	case open[pr]:
		return "open"
	}
	return "closed"
}

// listRequest is what sweep and status list: the roles under the path
// where every repository's previews live (never the whole account), this
// repository's own path, and the credentials' account.
func listRequest(cfg config.Config, target preview.Preview) observe.ListRequest {
	ourPath := naming.Path(cfg.RolePathTemplate, naming.NameVars(target))
	prefix := CommonPrefix(cfg.RolePathTemplate)
	if prefix == "/" {
		prefix = ourPath
	}
	return observe.ListRequest{Owner: target.Owner, Repo: target.Repo, Prefix: prefix, OurPath: ourPath, Account: true}
}

package planner

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/preview-access/preview-access/internal/naming"
	"github.com/preview-access/preview-access/internal/plan"
	"github.com/preview-access/preview-access/internal/report"
	"github.com/preview-access/preview-access/internal/testenv/golden"
)

const (
	roleName = "preview-octo-org.shop-pr-42"
	rolePath = "/preview-access/octo-org/shop/"
	boundary = "arn:aws:iam::123456789012:policy/preview-access-boundary-octo-org.shop"
	envName  = "preview-octo-org-shop-pr-42"
	ref      = "refs/pull/42/merge"
	headSHA  = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	newSHA   = "c0ffee0000000000000000000000000000000000"
	url      = "https://pr-42.preview.example.com"
	docID    = "gh-123456789-pr-42"
	expires  = "2026-12-09T00:00:00Z"
)

var at = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

func tags(sha, exp string) map[string]string {
	return map[string]string{
		naming.TagManagedBy: naming.ManagedByValue, naming.TagRepository: "octo-org/shop", naming.TagRepositoryID: "123456789",
		naming.TagPullRequest: "42", naming.TagHeadSHA: sha, naming.TagExpiresAt: exp,
	}
}

// desiredUp is a preview with everything on: trust-scope ref, an OPA
// gateway with its module, a deployment and a comment.
func desiredUp() Desired {
	return Desired{
		Role: Role{
			Name: roleName, Path: rolePath, Description: "Preview access for octo-org/shop pull request 42 (managed by preview-access)",
			Trust: []byte(`{"Version":"2012-10-17","Statement":[{"Sid":"PreviewDeployJob"}]}`), Policy: []byte(`{"Version":"2012-10-17","Statement":[{"Sid":"Preview"}]}`),
			Boundary: boundary, MaxSession: 3600, Tags: tags(headSHA, expires), RepositoryID: "123456789", PullRequest: "42",
		},
		WaitForRole: true,
		Ref:         ref,
		Deployment:  &Deployment{Environment: envName, SHA: headSHA, URL: url},
		Comment: &Comment{Number: 42, Marker: report.Marker(docID), Preview: report.Preview{
			ID: docID, Repository: "octo-org/shop", Number: 42, RoleARN: "arn:aws:iam::123456789012:role" + rolePath + roleName,
			TrustScope: "ref", Ref: ref, PreviewURL: url, ExpiresAt: time.Date(2026, 12, 9, 0, 0, 0, 0, time.UTC), HeadSHA: headSHA, Gateway: "opa",
			Access: []report.Access{{Subject: "user:octocat", Roles: []string{"admin"}}},
		}},
		Gateway: &Gateway{Kind: "opa", ID: docID, Document: []byte(`{"bindings":{"user:octocat":["admin"]}}`), Module: true},
	}
}

// live is what observe finds after a successful up of desiredUp.
func live(d Desired) Observed {
	up := report.UpComment(d.Comment.Preview, plan.Plan{})
	return Observed{
		Role: RoleState{
			Exists: true, Path: d.Role.Path, Description: d.Role.Description, Trust: d.Role.Trust, MaxSession: d.Role.MaxSession,
			Boundary: d.Role.Boundary, Tags: tags(headSHA, expires), Policy: d.Role.Policy,
		},
		Quota:       RoleQuota{Read: true, Roles: 100, Quota: 1000},
		Deployments: []DeploymentState{{ID: 7, SHA: headSHA, State: "success", URL: url}},
		Comments:    []CommentState{{ID: 70, Body: up}},
		Gateway: GatewayState{Found: true, Document: []byte(`{ "bindings": {"user:octocat": ["admin"]} }`), Access: d.Comment.Preview.Access, AccessKnown: true,
			ModuleRead: true, ModuleExists: true, ModuleCurrent: true},
	}
}

// down is desiredUp as a teardown knows it.
func down() Desired {
	d := desiredUp()
	d.Comment.Revocation = report.Revocation{Reason: report.ReasonMerged, At: at}
	d.TransientEnvironment = envName
	return d
}

type scenario struct {
	name string
	down bool
	d    Desired
	o    Observed
}

func scenarios() []scenario {
	var out []scenario
	add := func(name string, isDown bool, d Desired, o Observed) {
		out = append(out, scenario{name, isDown, d, o})
	}

	// up
	add("up-new-pr", false, desiredUp(), Observed{Quota: RoleQuota{Read: true, Roles: 10, Quota: 1000}})
	add("up-unchanged", false, desiredUp(), live(desiredUp()))
	{
		d := desiredUp()
		d.Role.Tags = tags(newSHA, "2026-12-10T00:00:00Z")
		d.Deployment.SHA, d.Comment.Preview.HeadSHA = newSHA, newSHA
		add("up-push", false, d, live(desiredUp()))
	}
	{
		d := desiredUp()
		d.Environment = envName
		d.Comment.Preview.Environment, d.Comment.Preview.TrustScope = envName, "environment"
		add("up-environment-new", false, d, Observed{})
		o := live(d)
		o.Environment = Environment{Exists: true, CustomBranchPolicies: true, Policies: []BranchPolicy{{ID: 1, Name: "refs/heads/*", Type: "branch"}}}
		add("up-environment-widened", false, d, o)
	}
	{
		// Drift on every field, and a role without the boundary: the
		// boundary goes first, every boundary-keyed change after it.
		o := live(desiredUp())
		o.Role.Boundary = ""
		o.Role.Trust = []byte(`{"Version":"2012-10-17","Statement":[{"Sid":"Other"}]}`)
		o.Role.MaxSession, o.Role.Description = 43200, "changed by hand"
		o.Role.Tags = tags(headSHA, expires)
		o.Role.Tags["preview-access:stale"] = "x"
		o.Role.Tags["team"] = "kept"
		o.Role.Policy = []byte(`{"Version":"2012-10-17","Statement":[{"Sid":"Wider"}]}`)
		o.Role.Managed = []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"}
		o.Role.OtherPolicies = []string{"by-hand"}
		d := desiredUp()
		d.Role.Managed = []string{"arn:aws:iam::123456789012:policy/preview-extra"}
		add("up-drift", false, d, o)
	}
	{
		d := desiredUp()
		d.Role.Boundary = ""
		add("up-keeps-boundary", false, d, live(desiredUp()))
	}
	{
		// The role was created, then the run failed before its policy:
		// the next run puts the policy only.
		o := live(desiredUp())
		o.Role.Policy = nil
		o.Deployments = []DeploymentState{{ID: 8, SHA: headSHA, Description: DeploymentDescription}, {ID: 7, SHA: "old", State: "success", URL: url}}
		add("up-after-partial-failure", false, desiredUp(), o)
	}
	{
		// Another run created the role between observe and CreateRole:
		// apply re-observes, and the re-plan converges what it found.
		o := Observed{Quota: RoleQuota{Read: true, Roles: 10, Quota: 1000}}
		o.Role = live(desiredUp()).Role
		o.Role.Tags = tags(headSHA, "2026-12-08T00:00:00Z")
		add("up-race-replan", false, desiredUp(), o)
	}
	{
		o := live(desiredUp())
		o.Gateway.Document = []byte(`{"bindings":{"user:mallory":["admin"]}}`)
		o.Gateway.ModuleCurrent = false
		o.Deployments = []DeploymentState{{ID: 9, SHA: headSHA, State: "success", URL: url}, {ID: 8, SHA: "old", State: "success", URL: url}, {ID: 7, SHA: "older", State: "inactive"}}
		o.Comments = append(o.Comments, CommentState{ID: 71, Body: "duplicate"}, CommentState{ID: 72, Body: "another"})
		o.ForeignComments = 2
		add("up-gateway-drift-duplicates", false, desiredUp(), o)
	}
	{
		o := live(desiredUp())
		o.Gateway.ModuleExists, o.Gateway.ModuleCurrent = false, false
		o.Comments[0].Body = strings.Replace(o.Comments[0].Body, "octocat", "mallory", 1)
		add("up-module-missing-lookalike-comment", false, desiredUp(), o)
	}
	{
		d := desiredUp()
		d.Deployment.SHA = ""
		d.Gateway, d.Comment, d.WaitForRole = nil, nil, false
		add("up-no-github-no-gateway", false, d, Observed{Quota: RoleQuota{Read: true, Err: "AccessDenied"}})
		add("up-quota-near", false, d, Observed{Quota: RoleQuota{Read: true, Roles: 899, Quota: 1000}})
	}

	// down
	{
		o := live(desiredUp())
		o.TransientEnvironment = Environment{Exists: true}
		add("down", true, down(), o)
	}
	{
		d := down()
		d.Environment, d.TransientEnvironment = envName, ""
		o := live(desiredUp())
		o.Environment = Environment{Exists: true, CustomBranchPolicies: true, Policies: []BranchPolicy{{ID: 1, Name: ref, Type: "branch"}}}
		add("down-environment", true, d, o)
	}
	{
		o := live(desiredUp())
		o.Role = RoleState{}
		o.Deployments[0].State = "inactive"
		o.Comments[0].Body = report.DownComment(down().Comment.Preview, report.Revocation{Reason: report.ReasonMerged, At: at.Add(-time.Hour), Known: true, Lost: o.Gateway.Access})
		add("down-role-gone-document-left", true, down(), o)
	}
	{
		o := live(desiredUp())
		o.Unread = map[string]error{UnreadComment: errors.New("502 Bad Gateway")}
		o.Comments = nil
		o.TransientNote = "environment " + envName + " (which GitHub made for the preview's deployments) is left: the token cannot read it"
		add("down-comment-unreadable", true, down(), o)
	}
	{
		d := down()
		d.Environment, d.TransientEnvironment = envName, ""
		o := live(desiredUp())
		o.Environment = Environment{Exists: true}
		o.Unread = map[string]error{UnreadGateway: errors.New("connection refused")}
		add("down-gateway-unreadable", true, d, o)
	}
	{
		o := live(desiredUp())
		o.Comments = nil
		o.Gateway.Access, o.Gateway.AccessKnown = nil, false
		o.Role.Managed = []string{"arn:aws:iam::aws:policy/AdministratorAccess"}
		add("down-never-announced-out-of-band-policy", true, down(), o)
	}
	{
		d := down()
		d.Comment, d.Deployment, d.TransientEnvironment = nil, nil, ""
		add("down-already-gone", true, d, Observed{})
	}
	return out
}

// TestGolden renders every scenario's plan — each change with its ID,
// dependencies and operation — and its warnings and notices.
func TestGolden(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			plan := Up
			if sc.down {
				plan = Down
			}
			r, err := plan(sc.d, sc.o)
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			checkDAG(t, r)
			golden.Check(t, filepath.Join("..", "..", "testdata", "golden", "planner", sc.name+".txt"), render(r))
		})
	}
}

// checkDAG: every dependency names an earlier change of the same plan,
// IDs are unique, and a change that writes has an ID and an operation.
func checkDAG(t *testing.T, r Result) {
	t.Helper()
	seen := map[string]bool{}
	for _, c := range r.Plan.Changes {
		for _, a := range c.After {
			if !seen[a] {
				t.Errorf("change %s waits for %q, which is not an earlier change", c.ID, a)
			}
		}
		if c.ID != "" && seen[c.ID] {
			t.Errorf("duplicate change ID %s", c.ID)
		}
		seen[c.ID] = true
		if (c.Action == plan.NoOp) != (c.Op == nil) || (c.Action != plan.NoOp && c.ID == "") {
			t.Errorf("change %+v: a write needs an ID and an operation, a no-op neither", c)
		}
	}
}

func render(r Result) []byte {
	var b strings.Builder
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	for _, n := range r.Notices {
		fmt.Fprintf(&b, "notice: %s\n", n)
	}
	for _, c := range r.Plan.Changes {
		hidden := ""
		if c.Hidden {
			hidden = " (hidden)"
		}
		fmt.Fprintf(&b, "\n%s %s %s %s%s: %s\n", c.ID, c.Action, c.Resource, c.Name, hidden, c.Detail)
		if len(c.After) > 0 {
			fmt.Fprintf(&b, "  after: %s\n", strings.Join(c.After, ", "))
		}
		if c.Op != nil {
			renderOp(&b, c.Op)
		}
	}
	return []byte(b.String())
}

// renderOp shows an operation as JSON, with a document as its text and a
// comment's body as a block of its own.
func renderOp(b *strings.Builder, op any) {
	var body string
	switch o := op.(type) {
	case PutDocument:
		op = struct {
			ID, Kind, Document string
		}{o.ID, o.Kind, string(o.Document)}
	case WriteComment:
		body, o.Body = o.Body, "(below)"
		op = o
	}
	data, _ := json.Marshal(op)
	fmt.Fprintf(b, "  op: %s %s\n", reflect.TypeOf(op).Name(), data)
	if body != "" {
		fmt.Fprintf(b, "  body:\n    %s\n", strings.ReplaceAll(strings.TrimSpace(body), "\n", "\n    "))
	}
}

func TestRefusals(t *testing.T) {
	notOurs := live(desiredUp())
	notOurs.Role.Tags = map[string]string{naming.TagManagedBy: naming.ManagedByValue, naming.TagRepositoryID: "999", naming.TagPullRequest: "42"}
	elsewhere := live(desiredUp())
	elsewhere.Role.Path = "/other/"
	foreign := live(desiredUp())
	foreign.Role.OtherPolicies, foreign.Role.InstanceProfiles = []string{"by-hand"}, []string{"ec2"}
	full := Observed{Quota: RoleQuota{Read: true, Roles: 1000, Quota: 1000}}
	for _, tc := range []struct {
		name string
		down bool
		o    Observed
		want string
	}{
		{"up on another repository's role", false, notOurs, "names another repository"},
		{"down of another repository's role", true, notOurs, "names another repository"},
		{"up on a role under another path", false, elsewhere, "IAM cannot move a role"},
		{"down of a role under another path", true, elsewhere, "lives under path /other/"},
		{"down of a role with attachments the tool never makes", true, foreign, "inline policy by-hand, instance profile ec2"},
		{"up in a full account", false, full, "its whole quota of 1000"},
	} {
		plan := Up
		if tc.down {
			plan = Down
		}
		r, err := plan(desiredUp(), tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) || len(r.Plan.Changes) != 0 {
			t.Errorf("%s: plan %v, error %v; want no plan and an error mentioning %q", tc.name, r.Plan.Changes, err, tc.want)
		}
	}
	var oe *OwnershipError
	if _, err := Down(desiredUp(), notOurs); !errors.As(err, &oe) {
		t.Errorf("another repository's role: %v; want an *OwnershipError", err)
	}
}

// Up twice converges: what the first plan writes, observed, plans nothing.
func TestUpOfLiveIsNoOp(t *testing.T) {
	r, err := Up(desiredUp(), live(desiredUp()))
	if err != nil || r.Plan.Changed() || len(r.Warnings) != 0 {
		t.Fatalf("Up of a live preview: %+v, %v; want only no-ops", r, err)
	}
	r, err = Down(down(), Observed{})
	if err != nil || r.Plan.Changed() {
		t.Fatalf("Down of nothing: %+v, %v; want only no-ops", r, err)
	}
}

// The planner is pure: it imports no SDK, no go-github and no net/http,
// directly or not.
func TestPure(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, bad := range []string{"net/http", "github.com/aws/aws-sdk-go-v2/aws", "github.com/google/go-github/v60/github", "os/exec"} {
		if slices.Contains(deps, bad) {
			t.Errorf("the planner depends on %s", bad)
		}
	}
}

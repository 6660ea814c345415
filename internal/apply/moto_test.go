package apply

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/google/go-cmp/cmp"

	"github.com/preview-access/preview-access/internal/naming"
	"github.com/preview-access/preview-access/internal/observe"
	"github.com/preview-access/preview-access/internal/plan"
	"github.com/preview-access/preview-access/internal/planner"
	"github.com/preview-access/preview-access/internal/testenv"
	"github.com/preview-access/preview-access/internal/testenv/faultproxy"
)

// setup gives a test its own role name and path behind a fault proxy in
// front of the shared moto server.
func setup(t *testing.T) (*faultproxy.Proxy, *iam.Client, *planner.Role) {
	t.Helper()
	proxy := faultproxy.New(t, testenv.MotoURL(t))
	client := testenv.IAMClient(t, proxy.URL())
	owner, repo := testenv.UniqueRepo(t)
	d := &planner.Role{
		Description: "d", MaxSession: 3600,
		Policy: []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`),
		Tags: map[string]string{
			naming.TagManagedBy: naming.ManagedByValue, naming.TagRepositoryID: "7", naming.TagPullRequest: "1",
			naming.TagExpiresAt: "2026-12-01T00:00:00Z",
		},
		RepositoryID: "7", PullRequest: "1",
	}
	d.Name = "preview-" + owner + "." + repo + "-pr-1"
	d.Path = "/preview-access/" + owner + "/" + repo + "/"
	d.Trust = []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}}]}`)
	return proxy, client, d
}

// nopLog drops what applying says.
type nopLog struct{}

func (nopLog) Info(string, ...any)    {}
func (nopLog) Notice(string, ...any)  {}
func (nopLog) Warning(string, ...any) {}

func applier(api *iam.Client) *Applier { return &Applier{IAM: api, Log: nopLog{}} }

// planUp observes the role and plans Up for it alone.
func planUp(t *testing.T, ctx context.Context, api *iam.Client, d *planner.Role) (planner.Result, error) {
	t.Helper()
	o, err := observe.Role(ctx, api, d.Name, false)
	if err != nil {
		t.Fatalf("observe: %v", err)
	}
	return planner.Up(planner.Desired{Role: *d}, planner.Observed{Role: o})
}

func planDown(t *testing.T, ctx context.Context, api *iam.Client, d *planner.Role) (planner.Result, error) {
	t.Helper()
	o, err := observe.Role(ctx, api, d.Name, true)
	if err != nil {
		t.Fatalf("observe: %v", err)
	}
	return planner.Down(planner.Desired{Role: *d}, planner.Observed{Role: o})
}

func converge(t *testing.T, ctx context.Context, api *iam.Client, d *planner.Role) []plan.Change {
	t.Helper()
	r, err := planUp(t, ctx, api, d)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	if err := applier(api).Apply(ctx, r.Plan); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return r.Plan.Shown()
}

func TestUpIsIdempotentAgainstMoto(t *testing.T) {
	t.Parallel()
	proxy, client, d := setup(t)
	ctx := context.Background()

	converge(t, ctx, client, d)
	if diff := cmp.Diff(map[string]int{"CreateRole": 1, "PutRolePolicy": 1}, writes(proxy)); diff != "" {
		t.Errorf("first up: writes (-want +got):\n%s", diff)
	}

	proxy.Reset()
	got := converge(t, ctx, client, d)
	if proxy.Writes() != 0 {
		t.Errorf("second up made %d writes %v; want 0", proxy.Writes(), proxy.Counts())
	}
	if len(got) != 1 || got[0].Action != plan.NoOp {
		t.Errorf("second up planned %v; want one no-op", got)
	}
	// The reads of an unchanged role all run in one concurrent round.
	if diff := cmp.Diff(map[string]int{"GetRole": 1, "GetRolePolicy": 1, "ListRolePolicies": 1, "ListAttachedRolePolicies": 1}, proxy.Counts()); diff != "" {
		t.Errorf("second up: calls (-want +got):\n%s", diff)
	}

	// A changed field is the only thing written.
	proxy.Reset()
	d.MaxSession = 7200
	d.Tags[naming.TagHeadSHA] = "0123456789012345678901234567890123456789"
	converge(t, ctx, client, d)
	if diff := cmp.Diff(map[string]int{"UpdateRole": 1, "TagRole": 1}, writes(proxy)); diff != "" {
		t.Errorf("update: writes (-want +got):\n%s", diff)
	}
	o, err := observe.Role(ctx, client, d.Name, false)
	if err != nil {
		t.Fatal(err)
	}
	if o.MaxSession != 7200 || o.Tags[naming.TagHeadSHA] == "" || o.Path != d.Path {
		t.Errorf("after update: %+v", o)
	}
}

func TestDownAgainstMoto(t *testing.T) {
	t.Parallel()
	proxy, client, d := setup(t)
	ctx := context.Background()
	converge(t, ctx, client, d)

	proxy.Reset()
	r, err := planDown(t, ctx, client, d)
	if err != nil {
		t.Fatal(err)
	}
	if err := applier(client).Apply(ctx, r.Plan); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"DeleteRolePolicy": 1, "DeleteRole": 1}, writes(proxy)); diff != "" {
		t.Errorf("down: writes (-want +got):\n%s", diff)
	}
	if o, err := observe.Role(ctx, client, d.Name, true); err != nil || o.Exists {
		t.Errorf("after down: exists=%t err=%v; want gone", o.Exists, err)
	}

	// Down of nothing succeeds and writes nothing.
	proxy.Reset()
	r, err = planDown(t, ctx, client, d)
	if err != nil || applier(client).Apply(ctx, r.Plan) != nil || proxy.Writes() != 0 {
		t.Errorf("down of nothing: err=%v writes=%d; want success and no writes", err, proxy.Writes())
	}
}

func TestForeignRoleIsLeftAlone(t *testing.T) {
	t.Parallel()
	proxy, client, d := setup(t)
	ctx := context.Background()
	// A role someone made by hand, with the same name, no ownership tags.
	if _, err := client.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(d.Name), Path: aws.String(d.Path), AssumeRolePolicyDocument: aws.String(string(d.Trust))}); err != nil {
		t.Fatal(err)
	}
	proxy.Reset()
	if _, err := planUp(t, ctx, client, d); err == nil {
		t.Error("Up of a foreign role succeeded; want an ownership error")
	}
	if _, err := planDown(t, ctx, client, d); err == nil {
		t.Error("Down of a foreign role succeeded; want an ownership error")
	}
	if proxy.Writes() != 0 {
		t.Errorf("%d writes to a foreign role; want 0", proxy.Writes())
	}
}

func TestDownStopsOnForeignAttachments(t *testing.T) {
	t.Parallel()
	proxy, client, d := setup(t)
	ctx := context.Background()
	converge(t, ctx, client, d)
	if _, err := client.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(d.Name), PolicyName: aws.String("hand-made"), PolicyDocument: aws.String(string(d.Policy))}); err != nil {
		t.Fatal(err)
	}
	proxy.Reset()
	if _, err := planDown(t, ctx, client, d); err == nil {
		t.Fatal("Down succeeded with a foreign inline policy; want an error naming it")
	}
	if proxy.Writes() != 0 {
		t.Errorf("%d writes; want 0: nothing is removed when teardown refuses", proxy.Writes())
	}
}

func TestRetriesUnderFaults(t *testing.T) {
	t.Parallel()
	for _, action := range []string{"CreateRole", "PutRolePolicy", "GetRole"} {
		t.Run(action, func(t *testing.T) {
			t.Parallel()
			proxy, client, d := setup(t)
			proxy.Fail(action, 2, 500)
			converge(t, context.Background(), client, d)
			if got := proxy.Count(action); got != 3 {
				t.Errorf("%s called %d times; want 3 (two 500s retried)", action, got)
			}
			o, err := observe.Role(context.Background(), client, d.Name, false)
			if err != nil || !o.Exists || o.Policy == nil {
				t.Errorf("after retries: exists=%t policy=%t err=%v", o.Exists, o.Policy != nil, err)
			}
		})
	}
}

func TestCreateRaceIsReported(t *testing.T) {
	t.Parallel()
	_, client, d := setup(t)
	ctx := context.Background()
	r, err := planUp(t, ctx, client, d)
	if err != nil {
		t.Fatal(err)
	}
	// Another run creates the role between observe and apply.
	converge(t, ctx, client, d)
	err = applier(client).Apply(ctx, r.Plan)
	if err == nil || !isRaced(err) {
		t.Fatalf("Apply after a concurrent create = %v; want ErrRaced", err)
	}
	// Observing again converges with no error.
	converge(t, ctx, client, d)
}

func writes(p *faultproxy.Proxy) map[string]int {
	out := map[string]int{}
	for a, n := range p.Counts() {
		if faultproxy.IsWrite(a) {
			out[a] = n
		}
	}
	return out
}

func isRaced(err error) bool { return errors.Is(err, ErrRaced) }

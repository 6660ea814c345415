package iamrole

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/google/go-cmp/cmp"

	"github.com/preview-access/preview-access/internal/naming"
	"github.com/preview-access/preview-access/internal/plan"
	"github.com/preview-access/preview-access/internal/testenv"
	"github.com/preview-access/preview-access/internal/testenv/faultproxy"
)

// setup gives a test its own role name and path behind a fault proxy in
// front of the shared moto server.
func setup(t *testing.T) (*faultproxy.Proxy, *iam.Client, Desired) {
	t.Helper()
	proxy := faultproxy.New(t, testenv.MotoURL(t))
	client := testenv.IAMClient(t, proxy.URL())
	owner, repo := testenv.UniqueRepo(t)
	d := desired()
	d.Name = "preview-" + owner + "." + repo + "-pr-1"
	d.Path = "/preview-access/" + owner + "/" + repo + "/"
	d.ManagedPolicies = nil // moto has no AWS managed policies to attach
	d.Boundary = ""
	d.Trust = []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}}]}`)
	return proxy, client, d
}

func converge(t *testing.T, ctx context.Context, api API, d Desired) []plan.Change {
	t.Helper()
	o, err := Observe(ctx, api, d.Name, false)
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	steps, _, err := PlanUp(d, o, time.Now())
	if err != nil {
		t.Fatalf("PlanUp: %v", err)
	}
	if err := Apply(ctx, api, steps); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return Changes(steps)
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
	o, err := Observe(ctx, client, d.Name, false)
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
	o, err := Observe(ctx, client, d.Name, true)
	if err != nil {
		t.Fatal(err)
	}
	steps, _, err := PlanDown(d.Name, o, d.Teardown())
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(ctx, client, steps); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"DeleteRolePolicy": 1, "DeleteRole": 1}, writes(proxy)); diff != "" {
		t.Errorf("down: writes (-want +got):\n%s", diff)
	}
	if o, err := Observe(ctx, client, d.Name, true); err != nil || o.Exists {
		t.Errorf("after down: exists=%t err=%v; want gone", o.Exists, err)
	}

	// Down of nothing succeeds and writes nothing.
	proxy.Reset()
	o, _ = Observe(ctx, client, d.Name, true)
	steps, _, err = PlanDown(d.Name, o, d.Teardown())
	if err != nil || Apply(ctx, client, steps) != nil || proxy.Writes() != 0 {
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
	o, err := Observe(ctx, client, d.Name, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := PlanUp(d, o, time.Now()); err == nil {
		t.Error("PlanUp of a foreign role succeeded; want an ownership error")
	}
	if _, _, err := PlanDown(d.Name, o, d.Teardown()); err == nil {
		t.Error("PlanDown of a foreign role succeeded; want an ownership error")
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
	o, err := Observe(ctx, client, d.Name, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := PlanDown(d.Name, o, d.Teardown()); err == nil {
		t.Fatal("PlanDown succeeded with a foreign inline policy; want an error naming it")
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
			o, err := Observe(context.Background(), client, d.Name, false)
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
	o, err := Observe(ctx, client, d.Name, false)
	if err != nil {
		t.Fatal(err)
	}
	steps, _, _ := PlanUp(d, o, time.Now())
	// Another run creates the role between observe and apply.
	converge(t, ctx, client, d)
	err = Apply(ctx, client, steps)
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

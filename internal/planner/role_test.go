package planner

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preview-access/preview-access/internal/naming"
	"github.com/preview-access/preview-access/internal/plan"
)

// roleOnly is a Desired with the role and nothing else.
func roleOnly() Desired {
	return Desired{Role: Role{
		Name: "preview-o-r-pr-1", Path: "/preview-access/o/r/", Description: "d",
		Trust:    []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRoleWithWebIdentity"}]}`),
		Policy:   []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`),
		Boundary: "arn:aws:iam::123456789012:policy/b", MaxSession: 3600,
		Managed: []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"},
		Tags: map[string]string{
			naming.TagManagedBy: naming.ManagedByValue, naming.TagRepositoryID: "7", naming.TagPullRequest: "1",
			naming.TagExpiresAt: "2026-12-01T00:00:00Z",
		},
		RepositoryID: "7", PullRequest: "1",
	}}
}

// observedFrom is what IAM reports for a role made exactly as d says.
func observedFrom(d Desired) RoleState {
	r := d.Role
	tags := map[string]string{}
	for k, v := range r.Tags {
		tags[k] = v
	}
	return RoleState{
		Exists: true, Path: r.Path, Description: r.Description,
		Trust: r.Trust, MaxSession: r.MaxSession, Boundary: r.Boundary, Tags: tags, Policy: r.Policy,
		Managed: append([]string(nil), r.Managed...),
	}
}

// changes are a plan's shown changes as a reader sees them: resource,
// name, action and detail.
func changes(t *testing.T, r Result) []plan.Change {
	t.Helper()
	var out []plan.Change
	for _, c := range r.Plan.Shown() {
		out = append(out, plan.Change{Resource: c.Resource, Name: c.Name, Action: c.Action, Detail: c.Detail})
	}
	return out
}

// after maps each change of r, by resource and action, to what it waits
// for.
func after(r Result) map[string][]string {
	out := map[string][]string{}
	for _, c := range r.Plan.Changes {
		out[c.Resource+" "+string(c.Action)] = c.After
	}
	return out
}

func planUp(d Desired, o RoleState) (Result, error) { return Up(d, Observed{Role: o}) }

func planDown(d Desired, o RoleState) (Result, error) { return Down(d, Observed{Role: o}) }

func TestPlanUp(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		mutate func(*RoleState)
		want   []plan.Change
	}{
		{"absent", func(o *RoleState) { *o = RoleState{} }, []plan.Change{
			{Resource: "iam-role", Name: "preview-o-r-pr-1", Action: plan.Create, Detail: "path /preview-access/o/r/, 4 tags, max session 3600s, boundary b"},
			{Resource: "inline-policy", Name: "preview-o-r-pr-1", Action: plan.Create, Detail: "inline policy preview-access"},
			{Resource: "managed-policy", Name: "preview-o-r-pr-1", Action: plan.Create, Detail: "attach arn:aws:iam::aws:policy/ReadOnlyAccess"},
		}},
		{"unchanged", func(o *RoleState) {}, []plan.Change{{Resource: "iam-role", Name: "preview-o-r-pr-1", Action: plan.NoOp, Detail: "up to date"}}},
		{"same meaning, other form (as IAM returns it)", func(o *RoleState) {
			o.Policy = []byte(`{"Statement":{"Resource":["*"],"Action":["s3:GetObject"],"Effect":"Allow"},"Version":"2012-10-17"}`)
		}, []plan.Change{{Resource: "iam-role", Name: "preview-o-r-pr-1", Action: plan.NoOp, Detail: "up to date"}}},
		{"trust drift", func(o *RoleState) { o.Trust = []byte(`{"Version":"2012-10-17","Statement":[]}`) }, []plan.Change{
			{Resource: "trust-policy", Name: "preview-o-r-pr-1", Action: plan.Update, Detail: "trust conditions differ"},
		}},
		{"session and boundary and policy", func(o *RoleState) {
			o.MaxSession, o.Boundary, o.Policy = 7200, "", nil
		}, []plan.Change{
			// The boundary first: the changes after it need it on the role.
			{Resource: "permissions-boundary", Name: "preview-o-r-pr-1", Action: plan.Create, Detail: "b"},
			{Resource: "iam-role", Name: "preview-o-r-pr-1", Action: plan.Update, Detail: "max session 7200s → 3600s"},
			{Resource: "inline-policy", Name: "preview-o-r-pr-1", Action: plan.Create, Detail: "inline policy preview-access"},
		}},
		{"tags: stale own tag removed, foreign kept", func(o *RoleState) {
			o.Tags["preview-access:old"] = "x"
			o.Tags["cost-center"] = "42"
			o.Tags[naming.TagPullRequest] = "1"
		}, []plan.Change{{Resource: "tags", Name: "preview-o-r-pr-1", Action: plan.Delete, Detail: "remove preview-access:old"}}},
		{"managed policies converge", func(o *RoleState) { o.Managed = []string{"arn:aws:iam::aws:policy/Other"} }, []plan.Change{
			{Resource: "managed-policy", Name: "preview-o-r-pr-1", Action: plan.Create, Detail: "attach arn:aws:iam::aws:policy/ReadOnlyAccess"},
			{Resource: "managed-policy", Name: "preview-o-r-pr-1", Action: plan.Delete, Detail: "detach arn:aws:iam::aws:policy/Other"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := roleOnly()
			o := observedFrom(d)
			tc.mutate(&o)
			r, err := planUp(d, o)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, changes(t, r)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlanRefusesForeignRoles(t *testing.T) {
	t.Parallel()
	d := roleOnly()
	cases := map[string]func(*RoleState){
		"untagged":   func(o *RoleState) { o.Tags = map[string]string{} },
		"other repo": func(o *RoleState) { o.Tags[naming.TagRepositoryID] = "8" },
		"other PR":   func(o *RoleState) { o.Tags[naming.TagPullRequest] = "2" },
		"not ours":   func(o *RoleState) { o.Tags[naming.TagManagedBy] = "terraform" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := observedFrom(d)
			mutate(&o)
			if _, err := planUp(d, o); err == nil || !strings.Contains(err.Error(), d.Role.Name) {
				t.Errorf("Up err = %v; want an ownership error naming %s", err, d.Role.Name)
			}
			if _, err := planDown(d, o); err == nil || !strings.Contains(err.Error(), d.Role.Name) {
				t.Errorf("Down err = %v; want an ownership error naming %s", err, d.Role.Name)
			}
		})
	}
}

func TestPlanDown(t *testing.T) {
	t.Parallel()
	d := roleOnly()
	name := d.Role.Name
	r, err := planDown(d, observedFrom(d))
	if err != nil {
		t.Fatal(err)
	}
	want := []plan.Change{
		{Resource: "inline-policy", Name: name, Action: plan.Delete, Detail: "inline policy preview-access"},
		{Resource: "managed-policy", Name: name, Action: plan.Delete, Detail: "detach arn:aws:iam::aws:policy/ReadOnlyAccess"},
		{Resource: "iam-role", Name: name, Action: plan.Delete, Detail: "role and its trust"},
	}
	if diff := cmp.Diff(want, changes(t, r)); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	if deps := after(r)["iam-role delete"]; !slices.Contains(deps, "inline-policy") || len(deps) != 2 {
		t.Errorf("DeleteRole waits for %v; want the policies gone first", deps)
	}
	if len(r.Warnings) != 0 {
		t.Errorf("warnings %q; want none: the managed policy is the configured one", r.Warnings)
	}

	o := observedFrom(d)
	o.OtherPolicies = []string{"hand-made"}
	o.InstanceProfiles = []string{"web"}
	if _, err := planDown(d, o); err == nil || !strings.Contains(err.Error(), "inline policy hand-made, instance profile web") {
		t.Errorf("Down with foreign attachments: err = %v; want both named", err)
	}
	if r, err := planDown(d, RoleState{}); err != nil || r.Plan.Changed() || len(r.Plan.Changes) != 1 {
		t.Errorf("Down of nothing = %v, %v; want one no-op", r.Plan.Changes, err)
	}
}

// TestPlanDownChecksThePath: a role with the tool's name and forged tags
// at another path is not removed; the error names the role and its path.
func TestPlanDownChecksThePath(t *testing.T) {
	t.Parallel()
	d := roleOnly()
	o := observedFrom(d)
	o.Path = "/somebody-else/"
	r, err := planDown(d, o)
	var own *OwnershipError
	if !errors.As(err, &own) || !strings.Contains(err.Error(), d.Role.Name) || !strings.Contains(err.Error(), "/somebody-else/") || r.Plan.Changes != nil {
		t.Errorf("Down at another path = %v, %v; want an ownership error naming the role and /somebody-else/", r.Plan.Changes, err)
	}
}

// TestPlanDownDetachesOutOfBandPolicies: revocation wins over an attachment
// someone made by hand, and the warning names it.
func TestPlanDownDetachesOutOfBandPolicies(t *testing.T) {
	t.Parallel()
	d := roleOnly()
	o := observedFrom(d)
	o.Managed = append(o.Managed, "arn:aws:iam::aws:policy/AdministratorAccess")
	r, err := planDown(d, o)
	if err != nil {
		t.Fatal(err)
	}
	warnings := r.Warnings
	detached := 0
	for _, c := range changes(t, r) {
		if c.Resource == "managed-policy" && c.Action == plan.Delete {
			detached++
		}
	}
	if detached != 2 {
		t.Errorf("%d detaches; want 2 (the configured policy and the out-of-band one)", detached)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "AdministratorAccess") || !strings.Contains(warnings[0], "out of band") {
		t.Errorf("warnings %q; want one naming AdministratorAccess as attached out of band", warnings)
	}
}

// TestPlanUpPutsTheBoundaryFirst: every change IAM authorises on the
// role's boundary waits for the boundary to be on the role.
func TestPlanUpPutsTheBoundaryFirst(t *testing.T) {
	t.Parallel()
	d := roleOnly()
	o := observedFrom(d)
	o.Boundary = ""
	o.Trust = []byte(`{"Version":"2012-10-17","Statement":[]}`)
	o.MaxSession = 7200
	o.Policy = []byte(`{"Version":"2012-10-17","Statement":[]}`)
	o.Managed = []string{"arn:aws:iam::aws:policy/AdministratorAccess"}
	r, err := planUp(d, o)
	if err != nil {
		t.Fatal(err)
	}
	deps := after(r)
	if d, ok := deps["permissions-boundary create"]; !ok || len(d) != 0 {
		t.Errorf("the boundary waits for %v (planned %t); want it first", d, ok)
	}
	for _, k := range []string{"trust-policy update", "iam-role update", "inline-policy update", "managed-policy delete"} {
		if d, ok := deps[k]; !ok || !slices.Contains(d, "boundary") {
			t.Errorf("%s waits for %v (planned %t); want after the boundary", k, d, ok)
		}
	}
}

func TestDiffTags(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		desired, have map[string]string
		set           map[string]string
		remove        []string
	}{
		{"equal", map[string]string{"a": "1"}, map[string]string{"a": "1"}, map[string]string{}, nil},
		{"changed and added", map[string]string{"a": "2", "b": "1"}, map[string]string{"a": "1"}, map[string]string{"a": "2", "b": "1"}, nil},
		{"own stale removed sorted, foreign kept", map[string]string{}, map[string]string{"preview-access:z": "1", "preview-access:a": "1", "team": "x"}, map[string]string{}, []string{"preview-access:a", "preview-access:z"}},
		{"expiry only moves forward", map[string]string{naming.TagExpiresAt: "2026-01-01T00:00:00Z"}, map[string]string{naming.TagExpiresAt: "2026-02-01T00:00:00Z"}, map[string]string{}, nil},
		{"expiry extended", map[string]string{naming.TagExpiresAt: "2026-03-01T00:00:00Z"}, map[string]string{naming.TagExpiresAt: "2026-02-01T00:00:00Z"}, map[string]string{naming.TagExpiresAt: "2026-03-01T00:00:00Z"}, nil},
		{"malformed expiry replaced", map[string]string{naming.TagExpiresAt: "2026-03-01T00:00:00Z"}, map[string]string{naming.TagExpiresAt: "soon"}, map[string]string{naming.TagExpiresAt: "2026-03-01T00:00:00Z"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			have := map[string]string{}
			for k, v := range tc.have {
				have[k] = v
			}
			set, remove := DiffTags(tc.desired, have)
			if diff := cmp.Diff(tc.set, set); diff != "" {
				t.Errorf("set (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.remove, remove); diff != "" {
				t.Errorf("remove (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.have, have); diff != "" {
				t.Errorf("DiffTags changed its input (-before +after):\n%s", diff)
			}
		})
	}
}

// TestGrantsFollowABoundaryChange: the provisioner may put or attach
// policies only on a role that already carries the boundary.
func TestGrantsFollowABoundaryChange(t *testing.T) {
	t.Parallel()
	d := roleOnly()
	o := observedFrom(d)
	o.Boundary, o.Policy, o.Managed = "arn:aws:iam::123456789012:policy/old", nil, nil
	r, err := planUp(d, o)
	if err != nil {
		t.Fatal(err)
	}
	deps := after(r)
	if !slices.Contains(deps["inline-policy create"], "boundary") || !slices.Contains(deps["managed-policy create"], "boundary") {
		t.Errorf("dependencies %v; want the boundary before the grants", deps)
	}
}

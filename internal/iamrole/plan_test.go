package iamrole

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preview-access/preview-access/internal/naming"
	"github.com/preview-access/preview-access/internal/plan"
)

func desired() Desired {
	return Desired{
		Name: "preview-o-r-pr-1", Path: "/preview-access/o/r/", Description: "d",
		Trust:    []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRoleWithWebIdentity"}]}`),
		Policy:   []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`),
		Boundary: "arn:aws:iam::123456789012:policy/b", MaxSession: 3600,
		ManagedPolicies: []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"},
		Tags: map[string]string{
			naming.TagManagedBy: naming.ManagedByValue, naming.TagRepositoryID: "7", naming.TagPullRequest: "1",
			naming.TagExpiresAt: "2026-12-01T00:00:00Z",
		},
		RepositoryID: "7", PullRequest: "1",
	}
}

// observedFrom is what IAM reports for a role made exactly as d says.
func observedFrom(d Desired) Observed {
	tags := map[string]string{}
	for k, v := range d.Tags {
		tags[k] = v
	}
	return Observed{
		Exists: true, ARN: "arn:aws:iam::123456789012:role" + d.Path + d.Name, Path: d.Path, Description: d.Description,
		Trust: d.Trust, MaxSession: d.MaxSession, Boundary: d.Boundary, Tags: tags, Policy: d.Policy,
		Managed: append([]string(nil), d.ManagedPolicies...),
	}
}

func changes(t *testing.T, steps []Step) []plan.Change {
	t.Helper()
	return Changes(steps)
}

func TestPlanUp(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		mutate func(*Observed)
		want   []plan.Change
	}{
		{"absent", func(o *Observed) { *o = Observed{} }, []plan.Change{
			{Resource: "iam-role", Name: "preview-o-r-pr-1", Action: plan.Create, Detail: "path /preview-access/o/r/, 4 tags, max session 3600s, boundary b"},
			{Resource: "inline-policy", Name: "preview-o-r-pr-1", Action: plan.Create, Detail: "inline policy preview-access"},
			{Resource: "managed-policy", Name: "preview-o-r-pr-1", Action: plan.Create, Detail: "attach arn:aws:iam::aws:policy/ReadOnlyAccess"},
		}},
		{"unchanged", func(o *Observed) {}, []plan.Change{{Resource: "iam-role", Name: "preview-o-r-pr-1", Action: plan.NoOp, Detail: "up to date"}}},
		{"same meaning, other form (as IAM returns it)", func(o *Observed) {
			o.Policy = []byte(`{"Statement":{"Resource":["*"],"Action":["s3:GetObject"],"Effect":"Allow"},"Version":"2012-10-17"}`)
		}, []plan.Change{{Resource: "iam-role", Name: "preview-o-r-pr-1", Action: plan.NoOp, Detail: "up to date"}}},
		{"trust drift", func(o *Observed) { o.Trust = []byte(`{"Version":"2012-10-17","Statement":[]}`) }, []plan.Change{
			{Resource: "trust-policy", Name: "preview-o-r-pr-1", Action: plan.Update, Detail: "trust conditions differ"},
		}},
		{"session and boundary and policy", func(o *Observed) {
			o.MaxSession, o.Boundary, o.Policy = 7200, "", nil
		}, []plan.Change{
			// The boundary first: the changes after it need it on the role.
			{Resource: "permissions-boundary", Name: "preview-o-r-pr-1", Action: plan.Create, Detail: "b"},
			{Resource: "iam-role", Name: "preview-o-r-pr-1", Action: plan.Update, Detail: "max session 7200s → 3600s"},
			{Resource: "inline-policy", Name: "preview-o-r-pr-1", Action: plan.Create, Detail: "inline policy preview-access"},
		}},
		{"tags: stale own tag removed, foreign kept", func(o *Observed) {
			o.Tags["preview-access:old"] = "x"
			o.Tags["cost-center"] = "42"
			o.Tags[naming.TagPullRequest] = "1"
		}, []plan.Change{{Resource: "tags", Name: "preview-o-r-pr-1", Action: plan.Delete, Detail: "remove preview-access:old"}}},
		{"managed policies converge", func(o *Observed) { o.Managed = []string{"arn:aws:iam::aws:policy/Other"} }, []plan.Change{
			{Resource: "managed-policy", Name: "preview-o-r-pr-1", Action: plan.Create, Detail: "attach arn:aws:iam::aws:policy/ReadOnlyAccess"},
			{Resource: "managed-policy", Name: "preview-o-r-pr-1", Action: plan.Delete, Detail: "detach arn:aws:iam::aws:policy/Other"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := desired()
			o := observedFrom(d)
			tc.mutate(&o)
			steps, _, err := PlanUp(d, o, now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, changes(t, steps)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlanRefusesForeignRoles(t *testing.T) {
	t.Parallel()
	d := desired()
	cases := map[string]func(*Observed){
		"untagged":   func(o *Observed) { o.Tags = map[string]string{} },
		"other repo": func(o *Observed) { o.Tags[naming.TagRepositoryID] = "8" },
		"other PR":   func(o *Observed) { o.Tags[naming.TagPullRequest] = "2" },
		"not ours":   func(o *Observed) { o.Tags[naming.TagManagedBy] = "terraform" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := observedFrom(d)
			mutate(&o)
			if _, _, err := PlanUp(d, o, time.Now()); err == nil || !strings.Contains(err.Error(), d.Name) {
				t.Errorf("PlanUp err = %v; want an ownership error naming %s", err, d.Name)
			}
			if _, _, err := PlanDown(d.Name, o, d.Teardown()); err == nil || !strings.Contains(err.Error(), d.Name) {
				t.Errorf("PlanDown err = %v; want an ownership error naming %s", err, d.Name)
			}
		})
	}
}

func TestPlanDown(t *testing.T) {
	t.Parallel()
	d := desired()
	steps, warnings, err := PlanDown(d.Name, observedFrom(d), d.Teardown())
	if err != nil {
		t.Fatal(err)
	}
	want := []plan.Change{
		{Resource: "inline-policy", Name: d.Name, Action: plan.Delete, Detail: "inline policy preview-access"},
		{Resource: "managed-policy", Name: d.Name, Action: plan.Delete, Detail: "detach arn:aws:iam::aws:policy/ReadOnlyAccess"},
		{Resource: "iam-role", Name: d.Name, Action: plan.Delete, Detail: "role and its trust"},
	}
	if diff := cmp.Diff(want, changes(t, steps)); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	if steps[2].Phase <= steps[0].Phase {
		t.Error("DeleteRole must run after the policies are gone")
	}
	if len(warnings) != 0 {
		t.Errorf("warnings %q; want none: the managed policy is the configured one", warnings)
	}

	o := observedFrom(d)
	o.OtherPolicies = []string{"hand-made"}
	o.InstanceProfiles = []string{"web"}
	if _, _, err := PlanDown(d.Name, o, d.Teardown()); err == nil || !strings.Contains(err.Error(), "inline policy hand-made, instance profile web") {
		t.Errorf("PlanDown with foreign attachments: err = %v; want both named", err)
	}
	if steps, _, err := PlanDown(d.Name, Observed{}, d.Teardown()); err != nil || steps[0].Change.Action != plan.NoOp {
		t.Errorf("PlanDown of nothing = %v, %v; want one no-op", steps, err)
	}
}

// TestPlanDownChecksThePath: a role with the tool's name and forged tags
// at another path is not removed; the error names the role and its path.
func TestPlanDownChecksThePath(t *testing.T) {
	t.Parallel()
	d := desired()
	o := observedFrom(d)
	o.Path = "/somebody-else/"
	steps, _, err := PlanDown(d.Name, o, d.Teardown())
	var own *OwnershipError
	if !errors.As(err, &own) || !strings.Contains(err.Error(), d.Name) || !strings.Contains(err.Error(), "/somebody-else/") || steps != nil {
		t.Errorf("PlanDown at another path = %v, %v; want an ownership error naming the role and /somebody-else/", steps, err)
	}
}

// TestPlanDownDetachesOutOfBandPolicies: revocation wins over an attachment
// someone made by hand, and the warning names it.
func TestPlanDownDetachesOutOfBandPolicies(t *testing.T) {
	t.Parallel()
	d := desired()
	o := observedFrom(d)
	o.Managed = append(o.Managed, "arn:aws:iam::aws:policy/AdministratorAccess")
	steps, warnings, err := PlanDown(d.Name, o, d.Teardown())
	if err != nil {
		t.Fatal(err)
	}
	detached := 0
	for _, c := range changes(t, steps) {
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
	d := desired()
	o := observedFrom(d)
	o.Boundary = ""
	o.Trust = []byte(`{"Version":"2012-10-17","Statement":[]}`)
	o.MaxSession = 7200
	o.Policy = []byte(`{"Version":"2012-10-17","Statement":[]}`)
	o.Managed = []string{"arn:aws:iam::aws:policy/AdministratorAccess"}
	steps, _, err := PlanUp(d, o, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	phase := map[string]int{}
	for _, st := range steps {
		phase[st.Change.Resource+" "+string(st.Change.Action)] = st.Phase
	}
	if phase["permissions-boundary create"] != 0 {
		t.Errorf("the boundary is put in phase %d; want 0", phase["permissions-boundary create"])
	}
	for _, k := range []string{"trust-policy update", "iam-role update", "inline-policy update", "managed-policy delete"} {
		if p, ok := phase[k]; !ok || p < 1 {
			t.Errorf("%s: phase %d (planned %t); want after the boundary", k, p, ok)
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
	d := desired()
	o := observedFrom(d)
	o.Boundary, o.Policy, o.Managed = "arn:aws:iam::123456789012:policy/old", nil, nil
	steps, _, err := PlanUp(d, o, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	phase := map[string]int{}
	for _, s := range steps {
		phase[s.Change.Resource] = s.Phase
	}
	if phase["permissions-boundary"] >= phase["inline-policy"] || phase["permissions-boundary"] >= phase["managed-policy"] {
		t.Errorf("phases %v; want the boundary before the grants", phase)
	}
}

package iamrole

import (
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
			{Resource: "iam-role", Name: "preview-o-r-pr-1", Action: plan.Update, Detail: "max session 7200s → 3600s"},
			{Resource: "permissions-boundary", Name: "preview-o-r-pr-1", Action: plan.Create, Detail: "b"},
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
			if _, err := PlanDown(d.Name, o, "7", "1"); err == nil || !strings.Contains(err.Error(), d.Name) {
				t.Errorf("PlanDown err = %v; want an ownership error naming %s", err, d.Name)
			}
		})
	}
}

func TestPlanDown(t *testing.T) {
	t.Parallel()
	d := desired()
	steps, err := PlanDown(d.Name, observedFrom(d), "7", "1")
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

	o := observedFrom(d)
	o.OtherPolicies = []string{"hand-made"}
	o.InstanceProfiles = []string{"web"}
	if _, err := PlanDown(d.Name, o, "7", "1"); err == nil || !strings.Contains(err.Error(), "inline policy hand-made, instance profile web") {
		t.Errorf("PlanDown with foreign attachments: err = %v; want both named", err)
	}
	if steps, err := PlanDown(d.Name, Observed{}, "7", "1"); err != nil || steps[0].Change.Action != plan.NoOp {
		t.Errorf("PlanDown of nothing = %v, %v; want one no-op", steps, err)
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

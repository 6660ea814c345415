package bootstrap

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preview-access/preview-access/internal/preview"
	"github.com/preview-access/preview-access/internal/testenv/golden"
)

func ptr[T any](v T) *T { return &v }

// base is a complete, valid set of options.
func base() Options {
	return Options{
		AccountID:                "123456789012",
		Owner:                    "octo-org",
		Repo:                     "shop",
		RepositoryID:             987654321,
		AllowedManagedPolicyARNs: []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"},
	}
}

// configs are the option sets every document test runs over.
func configs() map[string]Options {
	noID := base()
	noID.RepositoryID = 0
	noID.CreateOIDCProvider = ptr(false)
	noID.AllowedManagedPolicyARNs = nil
	gov := base()
	gov.Region = "us-gov-west-1"
	gov.AllowedManagedPolicyARNs = []string{"arn:aws-us-gov:iam::123456789012:policy/preview-extra"}
	gov.PreviewResources = []string{"arn:aws-us-gov:s3:::shop-previews", "arn:aws-us-gov:s3:::shop-previews/pr-" + PullRequestVariable + "/*"}
	gov.SharedPreviewResources = []string{"arn:aws-us-gov:dynamodb:us-gov-west-1:123456789012:table/shop-previews"}
	gov.DefaultBranch = "trunk"
	gov.BoundaryName = "shop-preview-boundary"
	return map[string]Options{"default": base(), "no-repo-id": noID, "gov": gov}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mod  func(*Options)
		want []string // substrings, one per expected problem; nil means valid
	}{
		{name: "valid", mod: func(*Options) {}},
		{name: "valid without repository id", mod: func(o *Options) { o.RepositoryID = 0 }},
		{name: "account", mod: func(o *Options) { o.AccountID = "12345" }, want: []string{"account id"}},
		{name: "partition", mod: func(o *Options) { o.Partition = "aws-moon" }, want: []string{"partition"}},
		{name: "region not in partition", mod: func(o *Options) { o.Region = "cn-north-1"; o.Partition = "aws" }, want: []string{"not in partition"}},
		{name: "bad region", mod: func(o *Options) { o.Region = "Mars 1" }, want: []string{"region"}},
		{name: "owner", mod: func(o *Options) { o.Owner = "-bad-" }, want: []string{"owner"}},
		{name: "repo", mod: func(o *Options) { o.Repo = "a b" }, want: []string{"repository name"}},
		{name: "negative id", mod: func(o *Options) { o.RepositoryID = -1 }, want: []string{"repository id"}},
		{name: "branch wildcard", mod: func(o *Options) { o.DefaultBranch = "release/*" }, want: []string{"default branch"}},
		{name: "branch full ref", mod: func(o *Options) { o.DefaultBranch = "refs/heads/main" }, want: []string{"default branch"}},
		{name: "workflow outside workflows dir", mod: func(o *Options) { o.WorkflowFile = "ci.yml" }, want: []string{"workflow file"}},
		{name: "boundary name", mod: func(o *Options) { o.BoundaryName = "a b" }, want: []string{"boundary name"}},
		{name: "role name too long", mod: func(o *Options) { o.ProvisionerRoleName = strings.Repeat("r", 65) }, want: []string{"provisioner role name"}},
		{name: "managed policy wildcard", mod: func(o *Options) { o.AllowedManagedPolicyARNs = []string{"arn:aws:iam::aws:policy/*"} }, want: []string{"managed policy"}},
		{name: "managed policy other partition", mod: func(o *Options) { o.AllowedManagedPolicyARNs = []string{"arn:aws-cn:iam::aws:policy/ReadOnlyAccess"} }, want: []string{"not in partition"}},
		{name: "resource star", mod: func(o *Options) { o.PreviewResources = []string{"*"} }, want: []string{"not an ARN"}},
		{name: "resource all buckets", mod: func(o *Options) { o.PreviewResources = []string{"arn:aws:s3:::*"} }, want: []string{"wildcard"}},
		{name: "resource iam", mod: func(o *Options) { o.PreviewResources = []string{"arn:aws:iam::123456789012:role/x"} }, want: []string{"belongs to iam"}},
		{name: "resource every PR shares", mod: func(o *Options) { o.PreviewResources = []string{"arn:aws:s3:::b", "arn:aws:s3:::b/*"} }, want: []string{"does not name the pull request"}},
		{name: "shared resource given as shared", mod: func(o *Options) {
			o.PreviewResources = []string{"arn:aws:s3:::b", "arn:aws:s3:::b/pr-" + PullRequestVariable + "/*"}
			o.SharedPreviewResources = []string{"arn:aws:dynamodb:us-east-1:123456789012:table/t"}
		}},
		{name: "shared resource iam", mod: func(o *Options) { o.SharedPreviewResources = []string{"arn:aws:iam::123456789012:role/x"} }, want: []string{"shared preview resource \"arn:aws:iam::123456789012:role/x\" belongs to iam"}},
		{name: "resource sts", mod: func(o *Options) { o.PreviewResources = []string{"arn:aws:sts::123456789012:assumed-role/x"} }, want: []string{"belongs to sts"}},
		{name: "subject wildcard", mod: func(o *Options) { o.Subjects = []string{"repo:octo-org/shop:*"} }, want: []string{"subject"}},
		{name: "oidc host with scheme", mod: func(o *Options) { o.OIDCHost = "https://token.actions.githubusercontent.com" }, want: []string{"OIDC host"}},
		{
			name: "all problems at once",
			mod: func(o *Options) {
				o.AccountID = ""
				o.Owner = ""
				o.PreviewResources = []string{"*"}
			},
			want: []string{"account id", "owner", "not an ARN"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := base()
			tc.mod(&o)
			err := o.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v; want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil; want errors mentioning %q", tc.want)
			}
			var joined interface{ Unwrap() []error }
			if !errors.As(err, &joined) || len(joined.Unwrap()) != len(tc.want) {
				t.Errorf("Validate() = %v; want exactly %d problems", err, len(tc.want))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v; want it to mention %q", err, w)
				}
			}
			if _, rerr := CloudFormation(o); rerr == nil {
				t.Error("CloudFormation rendered invalid options; want an error")
			}
			if _, rerr := JSON(o); rerr == nil {
				t.Error("JSON rendered invalid options; want an error")
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	o := Options{AccountID: "123456789012", Owner: "Octo-Org", Repo: "Shop", Region: "cn-north-1"}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, got, want string }{
		{"boundary", o.BoundaryARN(), "arn:aws-cn:iam::123456789012:policy/preview-access-boundary-Octo-Org.Shop"},
		{"provisioner", o.ProvisionerRoleARN(), "arn:aws-cn:iam::123456789012:role/preview-access-Octo-Org.Shop"},
		{"provider", o.OIDCProviderARN(), "arn:aws-cn:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},
		{"roles", o.PreviewRoleARNPattern(), "arn:aws-cn:iam::123456789012:role/preview-access/Octo-Org/Shop/*"},
		{"resources", strings.Join(o.withDefaults().PreviewResources, " "), "arn:aws-cn:s3:::123456789012-previews arn:aws-cn:s3:::123456789012-previews/Octo-Org/Shop/pr-${aws:PrincipalTag/preview-access:pull-request}/*"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %q; want %q", tc.name, tc.got, tc.want)
		}
	}
	if !*o.withDefaults().CreateOIDCProvider {
		t.Error("CreateOIDCProvider defaults to false; want true")
	}
	notes := strings.Join(o.Notes(), "\n")
	if !strings.Contains(notes, "repository_id") {
		t.Errorf("Notes() = %q; want a note that repository_id is not pinned", notes)
	}
}

// stmt returns the statement with the sid, failing the test when absent.
func stmt(t *testing.T, d Document, sid string) Statement {
	t.Helper()
	for _, s := range d.Statement {
		if s.Sid == sid {
			return s
		}
	}
	t.Fatalf("no statement %q", sid)
	return Statement{}
}

// denying returns the Deny statements that name the action (exactly, via a
// service wildcard or by NotAction) for the resource.
func denying(d Document, action, resource string) []Statement {
	var out []Statement
	for _, s := range d.Statement {
		if s.Effect != "Deny" {
			continue
		}
		hit := false
		for _, a := range s.Action {
			svc, _, _ := strings.Cut(action, ":")
			if a == action || a == svc+":*" || a == "*" {
				hit = true
			}
		}
		if s.NotAction != nil && !slices.Contains(s.NotAction, action) {
			hit = true
		}
		if !hit {
			continue
		}
		if slices.Contains(s.Resource, "*") || slices.Contains(s.Resource, resource) ||
			(s.NotResource != nil && !slices.Contains(s.NotResource, resource)) {
			out = append(out, s)
		}
	}
	return out
}

func TestBoundary(t *testing.T) {
	t.Parallel()
	for name, o := range configs() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := Boundary(o)
			res := o.withDefaults().PreviewResources
			for _, tc := range []struct {
				action, resource string
			}{
				{"iam:CreateRole", "*"},
				{"iam:PassRole", "*"},
				{"iam:PutRolePolicy", "*"},
				{"organizations:LeaveOrganization", "*"},
				{"sts:AssumeRole", "*"},
				{"sts:AssumeRole", res[0]},
				{"s3:GetObject", "arn:" + o.withDefaults().Partition + ":s3:::someone-elses-bucket/x"},
				{"ec2:RunInstances", "*"},
				{"s3:ListAllMyBuckets", "*"},
			} {
				if len(denying(d, tc.action, tc.resource)) == 0 {
					t.Errorf("boundary does not deny %s on %s", tc.action, tc.resource)
				}
			}
			if got := denying(d, "sts:GetCallerIdentity", "*"); len(got) != 0 {
				t.Errorf("boundary denies sts:GetCallerIdentity through %q; want it to keep working", got[0].Sid)
			}
			// PR 42's role, read through the evaluator: its own preview
			// resources are not denied.
			pr42 := map[string][]string{"aws:PrincipalTag/" + TagPullRequest: {"42"}}
			for _, r := range res {
				if isBucket(r) {
					continue
				}
				obj := strings.ReplaceAll(strings.TrimSuffix(r, "*"), PullRequestVariable, "42") + "x"
				if got := evaluate(d, req{action: "s3:GetObject", resource: obj, ctx: pr42}); got == explicitDeny {
					t.Errorf("boundary denies s3:GetObject on preview resource %s of PR 42", obj)
				}
			}
			// The fence names the repository's resources with * for the
			// PR, so it holds without policy variables.
			var fence Values
			for _, r := range preview.SortedUnique(append(slices.Clone(res), o.withDefaults().SharedPreviewResources...)) {
				fence = append(fence, strings.ReplaceAll(r, PullRequestVariable, "*"))
			}
			outside := stmt(t, d, "DenyOutsidePreviewResources")
			if diff := cmp.Diff(fence, outside.NotResource); diff != "" {
				t.Errorf("NotResource (-want +got):\n%s", diff)
			}
			for _, s := range d.Statement {
				if s.Effect != "Allow" {
					continue
				}
				if s.NotAction != nil || s.NotResource != nil {
					t.Errorf("%s: Allow with NotAction/NotResource", s.Sid)
				}
				if slices.Contains(s.Resource, "*") && !slices.Equal(s.Action, []string{"sts:GetCallerIdentity"}) {
					t.Errorf("%s: allows %v on *; want only sts:GetCallerIdentity on *", s.Sid, s.Action)
				}
				for _, a := range s.Action {
					if a == "*" || strings.HasPrefix(a, "iam:") || strings.HasPrefix(a, "sts:Assume") || strings.HasPrefix(a, "organizations:") {
						t.Errorf("%s: allows %s", s.Sid, a)
					}
				}
			}
		})
	}
}

func TestProvisionerTrust(t *testing.T) {
	t.Parallel()
	for name, o := range configs() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := ProvisionerTrust(o)
			od := o.withDefaults()
			if len(d.Statement) != 1 {
				t.Fatalf("got %d statements; want exactly 1", len(d.Statement))
			}
			s := d.Statement[0]
			if s.Effect != "Allow" || !slices.Equal(s.Action, []string{"sts:AssumeRoleWithWebIdentity"}) || s.Principal == nil || s.Principal.Federated != o.OIDCProviderARN() {
				t.Errorf("statement = %+v; want Allow sts:AssumeRoleWithWebIdentity for %s", s, o.OIDCProviderARN())
			}
			if len(s.Condition) != 1 || s.Condition["StringEquals"] == nil {
				t.Fatalf("condition operators = %v; want only StringEquals", s.Condition)
			}
			h := DefaultOIDCHost + ":"
			want := map[string]Values{
				h + "aud":              {"sts.amazonaws.com"},
				h + "ref":              {"refs/heads/" + od.DefaultBranch},
				h + "job_workflow_ref": {"octo-org/shop/.github/workflows/preview-access.yml@refs/heads/" + od.DefaultBranch},
				h + "sub":              {"repo:octo-org/shop:pull_request", "repo:octo-org/shop:ref:refs/heads/" + od.DefaultBranch},
			}
			if o.RepositoryID != 0 {
				want[h+"repository_id"] = Values{"987654321"}
			}
			if diff := cmp.Diff(want, s.Condition["StringEquals"]); diff != "" {
				t.Errorf("StringEquals (-want +got):\n%s", diff)
			}
			for k, vs := range s.Condition["StringEquals"] {
				for _, v := range vs {
					if strings.ContainsAny(v, "*?") || strings.Contains(v, "refs/pull/") {
						t.Errorf("%s = %q admits a wildcard or a pull request ref", k, v)
					}
				}
			}
		})
	}
}

func TestProvisionerPermissions(t *testing.T) {
	t.Parallel()
	readOnly := []string{"iam:GetAccountSummary", "iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole", "iam:ListRolePolicies", "iam:ListRoles", "sts:GetCallerIdentity"}
	for name, o := range configs() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := ProvisionerPermissions(o)
			roles := o.PreviewRoleARNPattern()
			boundary := o.BoundaryARN()
			od := o.withDefaults()

			// Every call the tool makes is allowed somewhere, on the narrowest
			// resource.
			for _, a := range ProvisionerCalls {
				found := false
				if a == "iam:AttachRolePolicy" && len(od.AllowedManagedPolicyARNs) == 0 {
					continue // allowed only with an allow-list
				}
				for _, s := range d.Statement {
					if s.Effect == "Allow" && slices.Contains(s.Action, a) {
						found = true
						want := roles
						if a == "iam:ListRoles" || a == "iam:GetAccountSummary" || a == "sts:GetCallerIdentity" {
							want = "*"
						}
						if !slices.Equal(s.Resource, []string{want}) {
							t.Errorf("%s: %s on %v; want %s", s.Sid, a, s.Resource, want)
						}
					}
				}
				if !found {
					t.Errorf("no Allow for %s, which the tool calls", a)
				}
			}

			for _, s := range d.Statement {
				if s.Effect != "Allow" {
					continue
				}
				if s.NotAction != nil || s.NotResource != nil {
					t.Errorf("%s: Allow with NotAction/NotResource", s.Sid)
				}
				for op := range s.Condition {
					if op != "StringEquals" && op != "ArnEquals" {
						t.Errorf("%s: Allow condition operator %s; want only StringEquals/ArnEquals", s.Sid, op)
					}
				}
				for _, a := range s.Action {
					if strings.Contains(a, "*") {
						t.Errorf("%s: wildcard action %s in an Allow", s.Sid, a)
					}
					if !slices.Contains(readOnly, a) && slices.Contains(s.Resource, "*") {
						t.Errorf("%s: write action %s on *", s.Sid, a)
					}
					if !slices.Contains(readOnly, a) && a != "iam:CreateRole" && a != "iam:TagRole" {
						eq := s.Condition["StringEquals"]
						if !slices.Equal(eq["iam:ResourceTag/"+TagManagedBy], []string{ManagedByValue}) || !slices.Equal(eq["iam:ResourceTag/"+TagRepository], []string{"octo-org/shop"}) {
							t.Errorf("%s: %s allowed on roles the tool does not own: %v", s.Sid, a, s.Condition)
						}
					}
				}
			}

			create := stmt(t, d, "CreatePreviewRoleWithBoundaryAndOwnerTags")
			if diff := cmp.Diff(map[string]map[string]Values{"StringEquals": {
				"iam:PermissionsBoundary":         {boundary},
				"aws:RequestTag/" + TagManagedBy:  {ManagedByValue},
				"aws:RequestTag/" + TagRepository: {"octo-org/shop"},
			}}, create.Condition); diff != "" {
				t.Errorf("CreateRole condition (-want +got):\n%s", diff)
			}
			pb := stmt(t, d, "KeepBoundaryOnOwnedPreviewRoles")
			if got := pb.Condition["StringEquals"]["iam:PermissionsBoundary"]; !slices.Equal(got, []string{boundary}) {
				t.Errorf("PutRolePermissionsBoundary boundary = %v; want %s", got, boundary)
			}

			// Each deny, with the resource it must cover and the condition
			// operator it must use.
			for _, tc := range []struct {
				action, resource string
				op               string // the deny's condition operator, "" for unconditional
			}{
				{"iam:DeleteRolePermissionsBoundary", roles, ""},
				{"iam:CreatePolicyVersion", boundary, ""},
				{"iam:DeletePolicy", boundary, ""},
				{"iam:DeletePolicyVersion", boundary, ""},
				{"iam:SetDefaultPolicyVersion", boundary, ""},
				{"iam:PassRole", roles, ""},
				{"sts:AssumeRole", roles, ""},
				{"iam:CreateUser", "*", ""},
				{"iam:CreateAccessKey", "*", ""},
				{"iam:CreateLoginProfile", "*", ""},
				{"iam:CreateOpenIDConnectProvider", "*", ""},
				{"iam:UpdateOpenIDConnectProviderThumbprint", "*", ""},
				{"iam:DeleteOpenIDConnectProvider", "*", ""},
				{"iam:CreateRole", "*", "StringNotEquals"},
				{"iam:PutRolePermissionsBoundary", "*", "StringNotEquals"},
				{"iam:PutRolePolicy", "*", "StringNotEquals"},
				{"iam:AttachRolePolicy", "*", "StringNotEquals"},
				{"iam:UpdateAssumeRolePolicy", "*", "StringNotEquals"},
				{"iam:UpdateRole", "*", "StringNotEquals"},
				{"iam:DeleteRole", "*", "StringNotEquals"},
				{"iam:DetachRolePolicy", "*", "StringNotEquals"},
				{"iam:DeleteRolePolicy", "*", "StringNotEquals"},
				{"iam:UntagRole", roles, "ForAnyValue:StringEqualsIgnoreCase"},
				{"iam:TagRole", roles, "StringNotEquals"},
			} {
				ds := denying(d, tc.action, tc.resource)
				ok := false
				for _, s := range ds {
					if tc.op == "" && s.Condition == nil || tc.op != "" && s.Condition[tc.op] != nil {
						ok = true
					}
				}
				if !ok {
					t.Errorf("no Deny of %s on %s with condition %q", tc.action, tc.resource, tc.op)
				}
			}

			attach := []Statement{stmt(t, d, "DenyAttachOutsideAllowList")}
			if len(od.AllowedManagedPolicyARNs) == 0 {
				if attach[0].Condition != nil {
					t.Errorf("no allow-list but AttachRolePolicy deny is conditional: %v", attach[0].Condition)
				}
				for _, s := range d.Statement {
					if s.Effect == "Allow" && slices.Contains(s.Action, "iam:AttachRolePolicy") {
						t.Errorf("%s allows AttachRolePolicy with an empty allow-list", s.Sid)
					}
				}
			} else {
				if diff := cmp.Diff(Values(od.AllowedManagedPolicyARNs), attach[0].Condition["ArnNotEquals"]["iam:PolicyARN"]); diff != "" {
					t.Errorf("AttachRolePolicy deny allow-list (-want +got):\n%s", diff)
				}
				allow := stmt(t, d, "AttachAllowedManagedPolicies")
				if diff := cmp.Diff(Values(od.AllowedManagedPolicyARNs), allow.Condition["ArnEquals"]["iam:PolicyARN"]); diff != "" {
					t.Errorf("AttachRolePolicy allow-list (-want +got):\n%s", diff)
				}
			}

			// A negated operator is true when the key is missing; each one
			// on a request or resource tag must be paired with Null=false so
			// it only fires when the tag is there.
			for _, s := range d.Statement {
				for k := range s.Condition["StringNotEquals"] {
					if strings.Contains(k, "Tag/") && !slices.Equal(s.Condition["Null"][k], []string{"false"}) {
						t.Errorf("%s: StringNotEquals on %s without Null=false", s.Sid, k)
					}
				}
			}
		})
	}
}

// TestDocumentSizes checks the documents against IAM's size quotas.
func TestDocumentSizes(t *testing.T) {
	t.Parallel()
	for name, o := range configs() {
		for doc, limit := range map[string]int{"boundary": 6144, "trust": 2048, "permissions": 10240} {
			var d Document
			switch doc {
			case "boundary":
				d = Boundary(o)
			case "trust":
				d = ProvisionerTrust(o)
			default:
				d = ProvisionerPermissions(o)
			}
			b, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			// IAM counts characters without whitespace; compact JSON is that.
			if len(b) > limit {
				t.Errorf("%s/%s: %d characters; IAM's limit is %d", name, doc, len(b), limit)
			}
		}
	}
}

func TestGolden(t *testing.T) {
	t.Parallel()
	for name, o := range configs() {
		for ext, render := range map[string]func(Options) ([]byte, error){"cfn.yaml": CloudFormation, "json": JSON} {
			t.Run(name+"."+ext, func(t *testing.T) {
				got, err := render(o)
				if err != nil {
					t.Fatal(err)
				}
				checkGolden(t, filepath.Join("..", "..", "testdata", "bootstrap", name+"."+ext), got)
			})
		}
	}
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	golden.Check(t, path, got)
}

func cfnLint(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PREVIEW_ACCESS_CFN_LINT"); p != "" {
		return p
	}
	if p, err := exec.LookPath("cfn-lint"); err == nil {
		return p
	}
	if testing.Short() {
		t.Skip("cfn-lint not found; skipped in -short mode")
	}
	t.Fatal("cfn-lint not found (set PREVIEW_ACCESS_CFN_LINT or put cfn-lint on PATH): run make test, which installs it")
	return ""
}

func TestCloudFormationLint(t *testing.T) {
	t.Parallel()
	lint := cfnLint(t)
	dir := t.TempDir()
	for name, o := range configs() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := CloudFormation(o)
			if err != nil {
				t.Fatal(err)
			}
			f := filepath.Join(dir, name+".yaml")
			if err := os.WriteFile(f, b, 0o644); err != nil {
				t.Fatal(err)
			}
			// Informational checks too: the template must be clean, not just
			// deployable.
			cmd := exec.Command(lint, "--include-checks", "I", "--", f)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil || out.Len() > 0 {
				t.Errorf("cfn-lint %s: %v\n%s", name, err, out.String())
			}
		})
	}
}

// TestBoundaryKeepsTheSharedBucketSafe: on the bucket every repository's
// previews share, a preview may list, never change the bucket itself.
func TestBoundaryKeepsTheSharedBucketSafe(t *testing.T) {
	t.Parallel()
	o := Options{AccountID: "123456789012", Owner: "octo-org", Repo: "shop"}
	d := Boundary(o)
	bucket := "arn:aws:s3:::123456789012-previews"
	for _, s := range d.Statement {
		if s.Effect != "Allow" || !slices.Contains(s.Resource, bucket) {
			continue
		}
		for _, a := range s.Action {
			if a != "s3:ListBucket" && a != "s3:ListBucketVersions" && a != "s3:GetBucketLocation" {
				t.Errorf("%s allows %s on the shared bucket", s.Sid, a)
			}
		}
	}
	objects := stmt(t, d, "AllowWithinPreviewResources")
	if !slices.Equal(objects.Resource, Values{bucket + "/octo-org/shop/pr-" + PullRequestVariable + "/*"}) {
		t.Errorf("object statement resources %v; want the pull request's own prefix only", objects.Resource)
	}
}

// TestStackName: one stack per repository, so a second repository's
// bootstrap never replaces the first's, even where the names reduce alike.
func TestStackName(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	for _, r := range [][2]string{{"octo-org", "shop"}, {"octo", "org-shop"}, {"Octo-Org", "Shop"}, {"octo-org", "shop.v2"}, {"octo-org", "shop_v2"}, {"a", strings.Repeat("r", 100)}} {
		o := base()
		o.Owner, o.Repo = r[0], r[1]
		name := o.StackName()
		if !regexp.MustCompile(`^[a-zA-Z][-a-zA-Z0-9]{0,127}$`).MatchString(name) {
			t.Errorf("%s/%s: stack name %q is not a CloudFormation stack name", r[0], r[1], name)
		}
		key := strings.ToLower(r[0] + "/" + r[1])
		if other, ok := seen[name]; ok && other != key {
			t.Errorf("%s and %s share the stack %s", other, key, name)
		}
		seen[name] = key
	}
}

// TestAudienceAndSubjectTemplate: the action's audience and
// subject-template reach the provisioner's trust and the provider.
func TestAudienceAndSubjectTemplate(t *testing.T) {
	t.Parallel()
	o := base()
	o.Audience = "sts.amazonaws.com.cn-like"
	o.SubjectTemplate = "repository_id:{repository_id}:context:pull_request"
	cond := ProvisionerTrust(o).Statement[0].Condition["StringEquals"]
	h := DefaultOIDCHost
	if got := cond[h+":aud"]; !slices.Equal(got, Values{o.Audience}) {
		t.Errorf("aud = %v; want %s", got, o.Audience)
	}
	if got, want := cond[h+":sub"], (Values{"repository_id:987654321:context:pull_request", "repository_id:987654321:context:ref:refs/heads/main"}); !slices.Equal(got, want) {
		t.Errorf("sub = %v; want %v", got, want)
	}
	cfn, err := CloudFormation(o)
	if err != nil || !strings.Contains(string(cfn), "- sts.amazonaws.com.cn-like") {
		t.Errorf("the provider's client id is not the audience: %v\n%s", err, cfn)
	}
	for _, bad := range []Options{
		{SubjectTemplate: "repo:{owner}/{repo}:environment:x"},
		{SubjectTemplate: "repo:{owner}/{repo}:{head_ref}:pull_request"},
		{SubjectTemplate: "repository_id:{repository_id}:context:pull_request", RepositoryID: -1},
		{Audience: "sts.*"},
	} {
		b := base()
		b.SubjectTemplate, b.Audience = bad.SubjectTemplate, bad.Audience
		if bad.RepositoryID < 0 {
			b.RepositoryID = 0
		}
		if err := b.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil; want an error", bad)
		}
	}
}

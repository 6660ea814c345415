package terraform

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"sigs.k8s.io/yaml"

	"github.com/preview-access/preview-access/internal/bootstrap"
)

func options(provider bool) bootstrap.Options {
	return bootstrap.Options{
		AccountID: "123456789012", Owner: "octo-org", Repo: "shop", RepositoryID: 987654321,
		AllowedManagedPolicyARNs: []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"}, CreateOIDCProvider: &provider,
	}
}

// parse parses src with HCL's own parser and returns its blocks by type
// and labels.
func parse(t *testing.T, src []byte) map[string]*hclsyntax.Block {
	t.Helper()
	f, diags := hclsyntax.ParseConfig(src, "preview-access.tf", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("HCL does not parse: %v\n%s", diags, src)
	}
	blocks := map[string]*hclsyntax.Block{}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		blocks[b.Type+" "+strings.Join(b.Labels, " ")] = b
	}
	return blocks
}

// literal evaluates attribute name of b, which must need no variables.
func literal(t *testing.T, b *hclsyntax.Block, name string) string {
	t.Helper()
	a, ok := b.Body.Attributes[name]
	if !ok {
		t.Fatalf("%s %v has no %s", b.Type, b.Labels, name)
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		t.Fatalf("%s.%s: %v", b.Labels, name, diags)
	}
	return v.AsString()
}

func jsonOf(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return v
}

// TestMatchesCloudFormation: the Terraform configuration parses as HCL and
// declares the same resources, names and policy documents as the
// CloudFormation template, whose documents cfn-lint checks.
func TestMatchesCloudFormation(t *testing.T) {
	for _, provider := range []bool{true, false} {
		o := options(provider)
		src, err := Render(o)
		if err != nil {
			t.Fatal(err)
		}
		blocks := parse(t, src)
		cfnYAML, err := bootstrap.CloudFormation(o)
		if err != nil {
			t.Fatal(err)
		}
		var cfn struct {
			Resources map[string]struct {
				Properties map[string]any
			}
		}
		if err := yaml.Unmarshal(cfnYAML, &cfn); err != nil {
			t.Fatal(err)
		}
		boundary, role := cfn.Resources["PreviewBoundary"].Properties, cfn.Resources["ProvisionerRole"].Properties
		b := blocks["resource aws_iam_policy boundary"]
		r := blocks["resource aws_iam_role provisioner"]
		rp := blocks["resource aws_iam_role_policy provisioner"]
		if b == nil || r == nil || rp == nil {
			t.Fatalf("provider %t: blocks %v; want the boundary, the role and its policy", provider, keys(blocks))
		}
		for _, c := range []struct {
			what     string
			got, cfn any
		}{
			{"boundary name", literal(t, b, "name"), boundary["ManagedPolicyName"]},
			{"boundary policy", jsonOf(t, literal(t, b, "policy")), boundary["PolicyDocument"]},
			{"role name", literal(t, r, "name"), role["RoleName"]},
			{"trust", jsonOf(t, literal(t, r, "assume_role_policy")), role["AssumeRolePolicyDocument"]},
			{"provisioner policy", jsonOf(t, literal(t, rp, "policy")), role["Policies"].([]any)[0].(map[string]any)["PolicyDocument"]},
		} {
			if !reflect.DeepEqual(c.got, c.cfn) {
				t.Errorf("provider %t: %s differs from CloudFormation's:\n got %v\nwant %v", provider, c.what, c.got, c.cfn)
			}
		}
		p := blocks["resource aws_iam_openid_connect_provider github"]
		if (p != nil) != provider {
			t.Errorf("provider block present %t; want %t", p != nil, provider)
		}
		if p != nil {
			if lc := p.Body.Blocks; len(lc) != 1 || lc[0].Type != "lifecycle" {
				t.Error("the provider has no lifecycle block (prevent_destroy)")
			}
			if got := literal(t, p, "url"); got != "https://token.actions.githubusercontent.com" {
				t.Errorf("provider url %q", got)
			}
		}
		if blocks["output provisioner_role_arn"] == nil || blocks["output permissions_boundary_arn"] == nil {
			t.Errorf("outputs missing: %v", keys(blocks))
		}
	}
	// The boundary's ${aws:PrincipalTag/…} variables survive HCL: the
	// template escape turns them back into IAM's.
	src, _ := Render(options(false))
	if !strings.Contains(string(src), "$${aws:PrincipalTag/") {
		t.Error("the boundary's policy variables are not escaped for HCL")
	}
}

func keys(m map[string]*hclsyntax.Block) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRefusesBadOptions(t *testing.T) {
	o := options(true)
	o.AccountID = "12"
	if _, err := Render(o); err == nil || !strings.Contains(err.Error(), "12 digits") {
		t.Errorf("Render with a bad account id: %v", err)
	}
}

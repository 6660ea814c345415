// Package terraform renders bootstrap's one-time setup as Terraform (HCL):
// the same OIDC provider (optional), permissions boundary and provisioner
// role with the same policy documents as the CloudFormation template, for
// accounts managed with Terraform (preview-access bootstrap --format
// terraform).
package terraform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/preview-access/preview-access/internal/bootstrap"
)

// Render renders o as a Terraform configuration.
func Render(o bootstrap.Options) ([]byte, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("bootstrap options: %w", err)
	}
	d := o.Resolved()
	repo := d.Owner + "/" + d.Repo
	docs := map[string]bootstrap.Document{
		"boundary": bootstrap.Boundary(d), "trust": bootstrap.ProvisionerTrust(d), "permissions": bootstrap.ProvisionerPermissions(d),
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# preview-access bootstrap for %s in account %s (%s): terraform init && terraform apply\n", repo, d.AccountID, d.Partition)
	for _, n := range d.Notes() {
		fmt.Fprintf(&b, "# NOTE: %s\n", n)
	}
	b.WriteString("\nterraform {\n  required_providers {\n    aws = {\n      source = \"hashicorp/aws\"\n    }\n  }\n}\n")
	tags := "  tags = {\n    " + quote(bootstrap.TagManagedBy) + " = " + quote(bootstrap.ManagedByValue) + "\n    " + quote(bootstrap.TagRepository) + " = " + quote(repo) + "\n  }\n"
	depends := []string{"aws_iam_policy.boundary"}
	if *d.CreateOIDCProvider {
		// The provider is the account's: other repositories' roles and
		// configure-aws-credentials rely on it. prevent_destroy keeps a
		// destroy of this configuration from removing it.
		fmt.Fprintf(&b, "\nresource \"aws_iam_openid_connect_provider\" \"github\" {\n  url            = %s\n  client_id_list = [%s]\n%s\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n",
			quote("https://"+d.OIDCHost), quote(d.Audience), tags)
		depends = append(depends, "aws_iam_openid_connect_provider.github")
	}
	fmt.Fprintf(&b, "\nresource \"aws_iam_policy\" \"boundary\" {\n  name        = %s\n  description = %s\n  policy      = %s\n%s}\n",
		quote(d.BoundaryName), quote("Permissions boundary of every preview-access role of "+repo), heredoc(docs["boundary"]), tags)
	fmt.Fprintf(&b, "\nresource \"aws_iam_role\" \"provisioner\" {\n  name                 = %s\n  description          = %s\n  max_session_duration = 3600\n  assume_role_policy   = %s\n%s  depends_on           = [%s]\n}\n",
		quote(d.ProvisionerRoleName), quote("Assumed by "+repo+"'s "+d.WorkflowFile+" on "+d.DefaultBranch+" to create and remove preview roles"),
		heredoc(docs["trust"]), tags, strings.Join(depends, ", "))
	fmt.Fprintf(&b, "\nresource \"aws_iam_role_policy\" \"provisioner\" {\n  name   = \"preview-access-provisioner\"\n  role   = aws_iam_role.provisioner.id\n  policy = %s}\n", heredoc(docs["permissions"]))
	outputs := [][3]string{
		{"provisioner_role_arn", "role-to-assume for the trusted preview-access workflow", "aws_iam_role.provisioner.arn"},
		{"permissions_boundary_arn", "permissions-boundary input of the preview-access action", "aws_iam_policy.boundary.arn"},
		{"preview_role_path", "IAM path of this repository's preview roles", quote(d.PreviewRolePath())},
	}
	if *d.CreateOIDCProvider {
		outputs = append(outputs, [3]string{"oidc_provider_arn", "GitHub Actions OIDC provider", "aws_iam_openid_connect_provider.github.arn"})
	}
	for _, o := range outputs {
		fmt.Fprintf(&b, "\noutput %s {\n  description = %s\n  value       = %s\n}\n", quote(o[0]), quote(o[1]), o[2])
	}
	return b.Bytes(), nil
}

// heredoc is a policy document as an indented heredoc of its JSON. HCL
// would read ${…} and %{…} in it as template sequences (the boundary's
// ${aws:PrincipalTag/…} variables): they are written $${ and %%{, which
// HCL turns back into ${ and %{.
func heredoc(doc bootstrap.Document) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("    ", "  ")
	if err := enc.Encode(doc); err != nil {
		panic(err) // a document of strings: cannot fail
	}
	text := strings.NewReplacer("${", "$${", "%{", "%%{").Replace(buf.String())
	return "<<-POLICY\n    " + text + "  POLICY\n"
}

// quote is an HCL string literal: Go's quoting, with template sequences
// escaped as in heredoc.
func quote(s string) string {
	return strings.NewReplacer("${", "$${", "%{", "%%{").Replace(strconv.Quote(s))
}

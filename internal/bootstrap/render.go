package bootstrap

import (
	"bytes"
	"encoding/json"
	"fmt"

	"sigs.k8s.io/yaml"
)

// JSONOutput is what JSON renders: the three policy documents, named, and
// the notes.
type JSONOutput struct {
	BoundaryName           string   `json:"boundaryName"`
	BoundaryARN            string   `json:"boundaryArn"`
	Boundary               Document `json:"boundary"`
	ProvisionerRoleARN     string   `json:"provisionerRoleArn"`
	ProvisionerTrust       Document `json:"provisionerTrust"`
	ProvisionerPermissions Document `json:"provisionerPermissions"`
	OIDCProviderARN        string   `json:"oidcProviderArn"`
	Notes                  []string `json:"notes,omitempty"`
}

// JSON renders the plain policy documents for people who set the account up
// by other means than CloudFormation.
func JSON(o Options) ([]byte, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("bootstrap options: %w", err)
	}
	d := o.withDefaults()
	out := JSONOutput{
		BoundaryName:           d.BoundaryName,
		BoundaryARN:            d.BoundaryARN(),
		Boundary:               Boundary(d),
		ProvisionerRoleARN:     d.ProvisionerRoleARN(),
		ProvisionerTrust:       ProvisionerTrust(d),
		ProvisionerPermissions: ProvisionerPermissions(d),
		OIDCProviderARN:        d.OIDCProviderARN(),
		Notes:                  d.Notes(),
	}
	return marshal(out)
}

// marshal is json.MarshalIndent without HTML escaping: policy documents are
// read by people, and "&" or "<" escaped as \u0026 is just noise.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Logical ids in the template.
const (
	idProvider    = "GitHubOIDCProvider"
	idBoundary    = "PreviewBoundary"
	idProvisioner = "ProvisionerRole"
)

type cfnTemplate struct {
	AWSTemplateFormatVersion string                 `json:"AWSTemplateFormatVersion"`
	Description              string                 `json:"Description"`
	Resources                map[string]cfnResource `json:"Resources"`
	Outputs                  map[string]cfnOutput   `json:"Outputs"`
}

type cfnResource struct {
	Type      string   `json:"Type"`
	DependsOn []string `json:"DependsOn,omitempty"`
	// DeletionPolicy and UpdateReplacePolicy Retain keep a resource when
	// its stack goes or replaces it.
	DeletionPolicy      string         `json:"DeletionPolicy,omitempty"`
	UpdateReplacePolicy string         `json:"UpdateReplacePolicy,omitempty"`
	Properties          map[string]any `json:"Properties"`
}

type cfnOutput struct {
	Description string `json:"Description"`
	Value       any    `json:"Value"`
}

type cfnTag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// CloudFormation renders a complete template (YAML) with the OIDC provider
// (unless CreateOIDCProvider is false), the boundary and the provisioner
// role. The documents in it are exactly the ones JSON renders: literal ARNs
// rather than !Sub, so one set of golden files covers both and what a
// reviewer reads is what IAM gets.
func CloudFormation(o Options) ([]byte, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("bootstrap options: %w", err)
	}
	d := o.withDefaults()
	repo := d.Owner + "/" + d.Repo
	tags := []cfnTag{
		{Key: TagManagedBy, Value: ManagedByValue},
		{Key: TagRepository, Value: repo},
	}
	t := cfnTemplate{
		AWSTemplateFormatVersion: "2010-09-09",
		Description:              "preview-access one-time setup for " + repo + ": GitHub OIDC provider, preview permissions boundary, provisioner role",
		Resources: map[string]cfnResource{
			idBoundary: {
				Type: "AWS::IAM::ManagedPolicy",
				Properties: map[string]any{
					"ManagedPolicyName": d.BoundaryName,
					"Description":       "Permissions boundary of every preview-access role of " + repo,
					"PolicyDocument":    Boundary(d),
				},
			},
			idProvisioner: {
				Type: "AWS::IAM::Role",
				// The policy refers to the boundary by ARN; creating it first
				// keeps the role from existing, even briefly, with a policy
				// that names a boundary that is not there.
				DependsOn: []string{idBoundary},
				Properties: map[string]any{
					"RoleName":                 d.ProvisionerRoleName,
					"Description":              "Assumed by " + repo + "'s " + d.WorkflowFile + " on " + d.DefaultBranch + " to create and remove preview roles",
					"MaxSessionDuration":       3600,
					"AssumeRolePolicyDocument": ProvisionerTrust(d),
					"Policies": []map[string]any{{
						"PolicyName":     "preview-access-provisioner",
						"PolicyDocument": ProvisionerPermissions(d),
					}},
					"Tags": tags,
				},
			},
		},
		Outputs: map[string]cfnOutput{
			"ProvisionerRoleArn": {
				Description: "role-to-assume for the trusted preview-access workflow",
				Value:       map[string]any{"Fn::GetAtt": []string{idProvisioner, "Arn"}},
			},
			"PermissionsBoundaryArn": {
				Description: "permissions-boundary input of the preview-access action",
				Value:       map[string]any{"Ref": idBoundary},
			},
			"PreviewRolePath": {
				Description: "IAM path of this repository's preview roles",
				Value:       d.PreviewRolePath(),
			},
		},
	}
	if *d.CreateOIDCProvider {
		t.Resources[idProvider] = cfnResource{
			Type: "AWS::IAM::OIDCProvider",
			// The provider is the account's, not the repository's: other
			// repositories' roles and configure-aws-credentials rely on it,
			// so deleting this stack must not delete it.
			DeletionPolicy: "Retain", UpdateReplacePolicy: "Retain",
			// No ThumbprintList: it is optional in the resource schema, and
			// IAM verifies GitHub's JWKS endpoint against its own library of
			// trusted root CAs, so a pinned thumbprint is ignored and only
			// goes stale.
			Properties: map[string]any{
				"Url":          "https://" + d.OIDCHost,
				"ClientIdList": []string{d.Audience},
				"Tags":         tags,
			},
		}
		p := t.Resources[idProvisioner]
		p.DependsOn = append(p.DependsOn, idProvider)
		t.Resources[idProvisioner] = p
		t.Outputs["OIDCProviderArn"] = cfnOutput{
			Description: "GitHub Actions OIDC provider",
			Value:       map[string]any{"Ref": idProvider},
		}
	}
	j, err := marshal(t)
	if err != nil {
		return nil, err
	}
	y, err := yaml.JSONToYAML(j)
	if err != nil {
		return nil, fmt.Errorf("render template: %w", err)
	}
	var b bytes.Buffer
	b.WriteString("# preview-access bootstrap for " + repo + " in account " + d.AccountID + " (" + d.Partition + ")\n")
	b.WriteString("# Deploy: aws cloudformation deploy --template-file FILE --stack-name " + d.StackName() + " --capabilities CAPABILITY_NAMED_IAM\n")
	for _, n := range d.Notes() {
		b.WriteString("# NOTE: " + n + "\n")
	}
	b.Write(y)
	return b.Bytes(), nil
}

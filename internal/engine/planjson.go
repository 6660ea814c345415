package engine

import (
	"encoding/json"

	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/plan"
)

// PlanOutput is `--output json`: the plan, the role it is about, and for
// up the documents it renders, so a reviewer or a policy check (conftest,
// an IAM simulator) reads exactly what would be written.
type PlanOutput struct {
	plan.Plan
	RoleARN     string         `json:"roleArn"`
	RoleName    string         `json:"roleName"`
	Environment string         `json:"environment,omitempty"`
	PreviewURL  string         `json:"previewUrl,omitempty"`
	Documents   *PlanDocuments `json:"documents,omitempty"`
}

// PlanDocuments are the documents an up would write, as JSON values.
type PlanDocuments struct {
	Trust       json.RawMessage `json:"trust"`
	Permissions json.RawMessage `json:"permissions"`
	Gateway     json.RawMessage `json:"gateway,omitempty"`
}

// PlanOutput is the session's plan with what it is about, for JSON.
func (s *Session) PlanOutput() PlanOutput {
	p := s.Plan
	p.Changes = p.Shown()
	out := PlanOutput{Plan: p, RoleARN: s.State.RoleARN, RoleName: s.State.RoleName, Environment: s.State.Environment, PreviewURL: s.State.PreviewURL}
	if s.Mode == config.ModeUp && json.Valid(s.State.Role.Trust) && json.Valid(s.State.Role.Policy) {
		out.Documents = &PlanDocuments{Trust: s.State.Role.Trust, Permissions: s.State.Role.Policy}
		if json.Valid(s.GatewayDoc) {
			out.Documents.Gateway = s.GatewayDoc
		}
	}
	return out
}

// Package templates embeds the default documents the action renders: the
// preview role's permission policy and the gateway's Rego module. A
// repository overrides the permission template with the
// permissions-template input; the embedded copies make the binary work
// with no files at all.
package templates

import "embed"

// FS holds every default template, by path relative to this directory.
//
//go:embed permissions gateway sample
var FS embed.FS

// DefaultPermissions is the path in FS of the default inline policy.
const DefaultPermissions = "permissions/default.json"

// SampleEvent is the path in FS of the pull_request_target event that
// `preview-access plan` uses when given no event: it lets anyone see a plan
// with nothing but the binary.
const SampleEvent = "sample/event.json"

// GatewayRego is the path in FS of the Rego module the opa gateway driver
// installs as policy preview_access.
const GatewayRego = "gateway/preview_access.rego"

// GatewayAuthz is the path in FS of the system.authz policy an OPA that
// preview-access writes to starts with: it confines each repository's
// token to the repository's own documents.
const GatewayAuthz = "gateway/authz.rego"

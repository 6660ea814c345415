// Package templates embeds the default documents the action renders: the
// preview role's permission policy and the gateway's Rego module. A
// repository overrides the permission template with the
// permissions-template input; the embedded copies make the binary work
// with no files at all.
package templates

import "embed"

// FS holds every default template, by path relative to this directory.
//
//go:embed permissions
var FS embed.FS

// DefaultPermissions is the path in FS of the default inline policy.
const DefaultPermissions = "permissions/default.json"

# Authorization policy for the OPA server that scripts/test starts: every API
# call must carry "Authorization: Bearer $PREVIEW_ACCESS_OPA_TOKEN". The token
# is read from OPA's environment so that it never lands in a file.
package system.authz

default allow := false

token := opa.runtime().env.PREVIEW_ACCESS_OPA_TOKEN

allow if {
	token != ""
	input.identity == token
}

# Authorization policy (system.authz) for an OPA that preview-access writes
# to, shared by several repositories or not. Start OPA with it:
#
#   PREVIEW_ACCESS_OPA_ADMIN_TOKEN=… opa run --server \
#     --authentication=token --authorization=basic authz.rego
#
# Three kinds of bearer token:
#   - the admin: the token in OPA's environment, PREVIEW_ACCESS_OPA_ADMIN_TOKEN.
#     May do everything: install the preview_access module, bind hosts to
#     repositories (data.preview_access_admin.hosts) and issue tokens.
#   - a repository's token, for preview-access's gateway-token: may read and
#     write only its own subtree, data.preview_access.repositories[<id>],
#     and read (not replace) the preview_access module.
#   - a gateway's token: may ask for decisions, nothing else.
# The others are issued by the admin as data, under the token's SHA-256 (hex)
# so no token is stored in OPA:
#   data.preview_access_admin.tokens["<sha256>"] =
#     {"kind": "repository", "repository_id": "123456789"} | {"kind": "gateway"}
# `preview-access bootstrap --format opa` prints the admin's commands.
package system.authz

default allow := false

admin_token := opa.runtime().env.PREVIEW_ACCESS_OPA_ADMIN_TOKEN

allow if {
	is_string(admin_token)
	admin_token != ""
	input.identity == admin_token
}

identity := data.preview_access_admin.tokens[crypto.sha256(input.identity)] if {
	is_string(input.identity)
	input.identity != ""
}

# Health checks carry no data.
allow if {
	identity
	input.method == "GET"
	input.path == ["health"]
}

# A repository's own subtree, and nothing around it.
allow if {
	identity.kind == "repository"
	valid_repository_id(identity.repository_id)
	input.method in {"GET", "PUT", "PATCH", "DELETE"}
	count(input.path) >= 5
	array.slice(input.path, 0, 5) == ["v1", "data", "preview_access", "repositories", identity.repository_id]
}

# Reading the module tells a run whether it is current; replacing it is the
# admin's.
allow if {
	identity.kind == "repository"
	input.method == "GET"
	input.path == ["v1", "policies", "preview_access"]
}

# The rules a gateway asks; never data.preview_access as a whole, which holds
# every preview's document.
decision_rules := {"allow", "deny_reason", "roles", "preview_id", "decision"}

allow if {
	identity.kind == "gateway"
	input.method in {"GET", "POST"}
	count(input.path) == 4
	array.slice(input.path, 0, 3) == ["v1", "data", "preview_access"]
	input.path[3] in decision_rules
}

valid_repository_id(id) if regex.match(`^[1-9][0-9]{0,19}$`, id)

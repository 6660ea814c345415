package system.authz_test

import data.system.authz

runtime := {"env": {"PREVIEW_ACCESS_OPA_ADMIN_TOKEN": "the-admin-token"}}

# The issued tokens, by SHA-256: "repo-1-token", "repo-2-token", "gateway-token".
tokens := {
	crypto.sha256("repo-1-token"): {"kind": "repository", "repository_id": "1"},
	crypto.sha256("repo-2-token"): {"kind": "repository", "repository_id": "2"},
	crypto.sha256("gateway-token"): {"kind": "gateway"},
	crypto.sha256("odd-token"): {"kind": "repository", "repository_id": "../2"},
}

req(token, method, path) := {"identity": token, "method": method, "path": split(trim_prefix(path, "/"), "/")}

allowed(token, method, path) if {
	authz.allow with input as req(token, method, path)
		with data.preview_access_admin.tokens as tokens
		with opa.runtime as runtime
}

test_admin_may_do_everything if {
	allowed("the-admin-token", "PUT", "/v1/policies/preview_access")
	allowed("the-admin-token", "PUT", "/v1/data/preview_access_admin/hosts/1")
	allowed("the-admin-token", "GET", "/v1/data/preview_access")
}

test_repository_writes_its_own_subtree_only if {
	allowed("repo-1-token", "PUT", "/v1/data/preview_access/repositories/1/previews/gh-1-pr-42")
	allowed("repo-1-token", "GET", "/v1/data/preview_access/repositories/1/previews")
	allowed("repo-1-token", "DELETE", "/v1/data/preview_access/repositories/1/previews/gh-1-pr-42")
	not allowed("repo-1-token", "PUT", "/v1/data/preview_access/repositories/2/previews/gh-2-pr-1")
	not allowed("repo-1-token", "DELETE", "/v1/data/preview_access/repositories/2")
	not allowed("repo-1-token", "PUT", "/v1/data/preview_access/repositories")
	not allowed("repo-1-token", "PUT", "/v1/data/preview_access/repositories/12/previews/gh-12-pr-1")
	not allowed("repo-1-token", "GET", "/v1/data/preview_access")
	not allowed("repo-1-token", "PUT", "/v1/data/preview_access/previews/gh-2-pr-1")
}

test_repository_cannot_bind_hosts_or_issue_tokens if {
	not allowed("repo-1-token", "PUT", "/v1/data/preview_access_admin/hosts/1")
	not allowed("repo-1-token", "PATCH", "/v1/data/preview_access_admin/tokens")
	not allowed("repo-1-token", "GET", "/v1/data/preview_access_admin/tokens")
	not allowed("repo-1-token", "PUT", "/v1/data/system/authz")
}

test_repository_reads_but_never_replaces_the_module if {
	allowed("repo-1-token", "GET", "/v1/policies/preview_access")
	not allowed("repo-1-token", "PUT", "/v1/policies/preview_access")
	not allowed("repo-1-token", "PUT", "/v1/policies/system_authz")
	not allowed("repo-1-token", "DELETE", "/v1/policies/preview_access")
}

test_gateway_asks_decisions_only if {
	allowed("gateway-token", "POST", "/v1/data/preview_access/decision")
	allowed("gateway-token", "POST", "/v1/data/preview_access/allow")
	not allowed("gateway-token", "POST", "/v1/data/preview_access")
	not allowed("gateway-token", "GET", "/v1/data/preview_access/repositories/1/previews")
	not allowed("gateway-token", "PUT", "/v1/data/preview_access/repositories/1/previews/gh-1-pr-1")
	not allowed("repo-1-token", "POST", "/v1/data/preview_access/decision")
}

test_unknown_and_odd_tokens_are_refused if {
	not allowed("", "GET", "/health")
	not allowed("nobody", "GET", "/health")
	not allowed("nobody", "GET", "/v1/data/preview_access/repositories/1/previews")
	not allowed("odd-token", "PUT", "/v1/data/preview_access/repositories/../2/previews/x")
	allowed("repo-2-token", "GET", "/health")
}

test_no_admin_token_in_the_environment_admits_no_admin if {
	not authz.allow with input as req("", "GET", "/v1/data")
		with data.preview_access_admin.tokens as tokens
		with opa.runtime as {"env": {}}
}

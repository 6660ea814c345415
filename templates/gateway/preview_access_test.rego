package preview_access_test

import data.preview_access

# Two repositories' documents, as preview-access writes them, and the
# admin's binding of hosts to repositories.
repositories := {
	"1": {"previews": {
		"gh-1-pr-42": {
			"apiVersion": "preview-access/v1",
			"id": "gh-1-pr-42",
			"pullRequest": 42,
			"host": "pr-42.preview.example.com",
			"expiresAt": "2030-01-01T00:00:00Z",
			"roles": {
				"admin": {"methods": ["*"], "paths": ["/**"]},
				"reader": {"methods": ["GET", "HEAD"], "paths": ["/**"]},
				"tester": {"methods": ["POST"], "paths": ["/api/**"]},
			},
			"bindings": {
				"user:author": ["admin"],
				"user:reviewer": ["reader"],
				"user:qa": ["reader", "tester"],
				"team:octo-org/qa": ["tester"],
				"user:ghost-role": ["missing"],
			},
		},
		"gh-1-pr-43": {
			"host": "pr-43.preview.example.com",
			"expiresAt": "2030-01-01T00:00:00Z",
			"roles": {"admin": {"methods": ["*"], "paths": ["/**"]}},
			"bindings": {"user:other": ["admin"]},
		},
		"gh-1-pr-7": {
			"host": "pr-7.preview.example.com",
			"expiresAt": "2020-01-01T00:00:00Z",
			"roles": {"admin": {"methods": ["*"], "paths": ["/**"]}},
			"bindings": {"user:author": ["admin"]},
		},
		"gh-1-pr-8": {
			"host": "pr-8.preview.example.com",
			"roles": {"admin": {"methods": ["*"], "paths": ["/**"]}},
			"bindings": {"user:author": ["admin"]},
		},
		"gh-1-pr-9": {"host": "dup.preview.example.com", "expiresAt": "2030-01-01T00:00:00Z", "roles": {}, "bindings": {}},
	}},
	"2": {"previews": {
		"gh-2-pr-9": {"host": "dup.preview.example.com", "expiresAt": "2030-01-01T00:00:00Z", "roles": {}, "bindings": {}},
		# Repository 2 claims repository 1's host and grants itself admin.
		"gh-2-pr-1": {
			"host": "pr-42.preview.example.com",
			"expiresAt": "2030-01-01T00:00:00Z",
			"roles": {"admin": {"methods": ["*"], "paths": ["/**"]}},
			"bindings": {"user:squatter": ["admin"]},
		},
		"gh-2-pr-2": {
			"host": "pr-2.shop2.example.com",
			"expiresAt": "2030-01-01T00:00:00Z",
			"roles": {"admin": {"methods": ["*"], "paths": ["/**"]}},
			"bindings": {"user:author": ["admin"]},
		},
	}},
}

hosts := {
	"1": ["pr-*.preview.example.com", "dup.preview.example.com"],
	"2": ["dup.preview.example.com", "pr-*.shop2.example.com"],
}

# Every test fixes OPA's clock with `with time.now_ns as`: the tests pass on
# any date, and the module under test reads no clock but OPA's.
now_ns := time.parse_rfc3339_ns("2025-06-01T12:00:00Z")

req(user, method, path) := {
	"host": "pr-42.preview.example.com",
	"method": method,
	"path": path,
	"user": user,
	"teams": [],
}

test_author_may_post if {
	preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("author", "POST", "/api/orders") with time.now_ns as now_ns
}

test_user_and_host_case_insensitive if {
	preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as object.union(req("Author", "post", "/"), {"host": "PR-42.Preview.Example.com"}) with time.now_ns as now_ns
}

test_reviewer_may_get if {
	preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("reviewer", "GET", "/") with time.now_ns as now_ns
}

test_reviewer_may_not_post if {
	not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("reviewer", "POST", "/api/orders") with time.now_ns as now_ns
	preview_access.deny_reason == "role reader does not allow POST /api/orders" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("reviewer", "POST", "/api/orders") with time.now_ns as now_ns
}

test_roles_union if {
	preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("qa", "POST", "/api/x") with time.now_ns as now_ns
	preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("qa", "GET", "/") with time.now_ns as now_ns
	preview_access.deny_reason == "roles reader, tester do not allow DELETE /api/x" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("qa", "DELETE", "/api/x") with time.now_ns as now_ns
}

test_team_binding if {
	preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as object.union(req("someone", "POST", "/api/x"), {"teams": ["Octo-Org/QA"]}) with time.now_ns as now_ns
	preview_access.roles == {"tester"} with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as object.union(req("someone", "POST", "/api/x"), {"teams": ["octo-org/qa"]}) with time.now_ns as now_ns
}

test_glob_paths if {
	preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as object.union(req("someone", "POST", "/api"), {"teams": ["octo-org/qa"]}) with time.now_ns as now_ns
	preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as object.union(req("someone", "POST", "/api/a/b/c"), {"teams": ["octo-org/qa"]}) with time.now_ns as now_ns
	not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as object.union(req("someone", "POST", "/apix"), {"teams": ["octo-org/qa"]}) with time.now_ns as now_ns
	not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as object.union(req("someone", "POST", "/other"), {"teams": ["octo-org/qa"]}) with time.now_ns as now_ns
}

test_dot_segments_denied if {
	not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as object.union(req("someone", "POST", "/api/../admin"), {"teams": ["octo-org/qa"]}) with time.now_ns as now_ns
	preview_access.deny_reason == "input.path must not contain . or .. segments" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as object.union(req("someone", "POST", "/api/../admin"), {"teams": ["octo-org/qa"]}) with time.now_ns as now_ns
}

test_stranger_denied if {
	not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("stranger", "GET", "/") with time.now_ns as now_ns
	preview_access.deny_reason == "user stranger has no role on pr-42.preview.example.com" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("stranger", "GET", "/") with time.now_ns as now_ns
}

test_anonymous_denied if {
	preview_access.deny_reason == "anonymous caller has no role on pr-42.preview.example.com" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("", "GET", "/") with time.now_ns as now_ns
}

test_undefined_role_grants_nothing if {
	not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("ghost-role", "GET", "/") with time.now_ns as now_ns
}

test_other_pr_subjects_cannot_cross if {
	not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("other", "GET", "/") with time.now_ns as now_ns
	preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as object.union(req("other", "GET", "/"), {"host": "pr-43.preview.example.com"}) with time.now_ns as now_ns
}

test_unknown_host if {
	preview_access.deny_reason == "no preview for host nowhere.example.com" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as object.union(req("author", "GET", "/"), {"host": "nowhere.example.com"}) with time.now_ns as now_ns
}

test_no_previews_at_all if {
	not preview_access.allow with input as req("author", "GET", "/") with time.now_ns as now_ns
	preview_access.deny_reason == "no preview for host pr-42.preview.example.com" with input as req("author", "GET", "/") with time.now_ns as now_ns
}

test_expired if {
	inp := object.union(req("author", "GET", "/"), {"host": "pr-7.preview.example.com"})
	not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with input as inp with time.now_ns as now_ns
	preview_access.deny_reason == "preview gh-1-pr-7 expired at 2020-01-01T00:00:00Z" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as inp with time.now_ns as now_ns
}

test_expiry_boundary_in_nanoseconds if {
	exp := time.parse_rfc3339_ns("2030-01-01T00:00:00Z")
	preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("author", "GET", "/") with time.now_ns as exp - 1
	not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("author", "GET", "/") with time.now_ns as exp
}

test_missing_expiry_denies if {
	inp := object.union(req("author", "GET", "/"), {"host": "pr-8.preview.example.com"})
	not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with input as inp with time.now_ns as now_ns
	preview_access.deny_reason == "preview gh-1-pr-8 expired at an unknown time" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as inp with time.now_ns as now_ns
}

# A caller cannot move the clock: a time in the input is not read.
test_input_cannot_move_the_clock if {
	expired := object.union(req("author", "GET", "/"), {"host": "pr-7.preview.example.com"})
	not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as object.union(expired, {"time": "2019-01-01T00:00:00Z"}) with time.now_ns as now_ns
	not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as object.union(expired, {"time": 0}) with time.now_ns as now_ns
	preview_access.deny_reason == "preview gh-1-pr-7 expired at 2020-01-01T00:00:00Z" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as object.union(expired, {"now": "2019-01-01T00:00:00Z"}) with time.now_ns as now_ns
}

test_duplicate_host_denied if {
	inp := object.union(req("author", "GET", "/"), {"host": "dup.preview.example.com"})
	not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with input as inp with time.now_ns as now_ns
	preview_access.deny_reason == "host dup.preview.example.com is claimed by 2 previews (gh-1-pr-9, gh-2-pr-9)" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as inp with time.now_ns as now_ns
}

test_bad_input if {
	preview_access.deny_reason == "input.method must be a non-empty string; input.path must be a string starting with /" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as {"host": "pr-42.preview.example.com", "path": "x", "user": "author", "time": "yesterday"} with time.now_ns as now_ns
	not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as object.union(req("author", "GET", "/"), {"teams": "octo-org/qa"}) with time.now_ns as now_ns
}

test_allowed_has_no_deny_reason if {
	not preview_access.deny_reason with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("author", "GET", "/") with time.now_ns as now_ns
}

test_empty_input if {
	preview_access.deny_reason == "input.host must be a non-empty string; input.method must be a non-empty string; input.path must be a string starting with /" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as {} with time.now_ns as now_ns
}

test_decision_allowed if {
	preview_access.decision == {
		"allow": true, "allowed": true, "deny_reason": "", "roles": ["reader", "tester"], "preview_id": "gh-1-pr-42",
		"role": "reader", "reason": "qa is reader on PR 42; reader may GET /", "pull_request": 42, "user": "qa",
		"http_status": 200, "body": "",
	} with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("qa", "GET", "/") with time.now_ns as now_ns
}

test_decision_denied if {
	preview_access.decision == {
		"allow": false, "allowed": false, "deny_reason": "no preview for host nowhere", "roles": [], "preview_id": "",
		"role": "", "reason": "no preview for host nowhere", "pull_request": 0, "user": "qa",
		"http_status": 403, "body": "forbidden: no preview for host nowhere\n",
	} with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as object.union(req("qa", "GET", "/"), {"host": "nowhere"}) with time.now_ns as now_ns
}

# reason names who, what they are on which PR, and what that allows, for
# every outcome.
test_reason_sentences if {
	preview_access.reason == "reviewer is reader on PR 42; reader may not POST /api/orders" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("reviewer", "POST", "/api/orders") with time.now_ns as now_ns
	preview_access.reason == "qa is reader and tester on PR 42; neither may DELETE /api/x" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("qa", "DELETE", "/api/x") with time.now_ns as now_ns
	preview_access.reason == "stranger has no role on PR 42" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("stranger", "GET", "/") with time.now_ns as now_ns
	preview_access.reason == "an anonymous caller has no role on PR 42" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("", "GET", "/") with time.now_ns as now_ns
	preview_access.reason == "author is admin on PR 42; admin may POST /api/orders" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("author", "POST", "/api/orders") with time.now_ns as now_ns
	preview_access.reason == "preview gh-1-pr-7 expired at 2020-01-01T00:00:00Z: nobody may call it any more" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as object.union(req("author", "GET", "/"), {"host": "pr-7.preview.example.com"}) with time.now_ns as now_ns
	preview_access.reason == "input.path must not contain . or .. segments" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("author", "GET", "/a/../b") with time.now_ns as now_ns
}

test_encoded_traversal_denied if {
	every p in ["/api/%2e%2e/admin", "/api/%2E%2e/admin", "/api%2fadmin", "/api/..%5cadmin"] {
		not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
			with input as object.union(req("someone", "POST", p), {"teams": ["octo-org/qa"]}) with time.now_ns as now_ns
	}
	preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as object.union(req("someone", "POST", "/api/100%25"), {"teams": ["octo-org/qa"]}) with time.now_ns as now_ns
}

test_encoded_traversal_reason if {
	preview_access.deny_reason == "input.path must not contain percent-encoded dots, slashes or backslashes" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("author", "GET", "/api/%2e%2e/admin") with time.now_ns as now_ns
}

# A repository cannot take over another's host: its document claims only
# the hosts the admin bound to it, and the rightful owner is not locked out.
test_host_of_another_repository_is_not_claimed if {
	preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("author", "GET", "/") with time.now_ns as now_ns
	not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("squatter", "GET", "/") with time.now_ns as now_ns
	preview_access.preview_id == "gh-1-pr-42" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("squatter", "GET", "/") with time.now_ns as now_ns
}

test_unbound_host_claims_nothing if {
	inp := object.union(req("author", "GET", "/"), {"host": "pr-2.shop2.example.com"})
	preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as inp with time.now_ns as now_ns

	# Without the admin's binding, repository 2's own host is denied too.
	not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as {"1": hosts["1"]}
		with input as inp with time.now_ns as now_ns
	preview_access.deny_reason == "host pr-2.shop2.example.com is not bound to repository 2 by the OPA admin (data.preview_access_admin.hosts), so its preview claims nothing" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as {"1": hosts["1"]}
		with input as inp with time.now_ns as now_ns

	# No binding at all: nothing is claimed.
	not preview_access.allow with data.preview_access.repositories as repositories
		with input as req("author", "GET", "/") with time.now_ns as now_ns
}

test_host_patterns_match_one_label if {
	# "*" stands for one DNS label: pr-42.evil.preview.example.com is not
	# under pr-*.preview.example.com.
	evil := {"3": {"previews": {"gh-3-pr-1": {
		"host": "pr-42.evil.preview.example.com",
		"expiresAt": "2030-01-01T00:00:00Z",
		"roles": {"admin": {"methods": ["*"], "paths": ["/**"]}},
		"bindings": {"user:author": ["admin"]},
	}}}}
	not preview_access.allow with data.preview_access.repositories as evil with data.preview_access_admin.hosts as {"3": hosts["1"]}
		with input as object.union(req("author", "GET", "/"), {"host": "pr-42.evil.preview.example.com"}) with time.now_ns as now_ns
}

# What servers other than the gateway read as traversal: a dot segment with
# ;parameters (servlet containers) and a backslash (some read it as /).
test_parameter_and_backslash_traversal_denied if {
	every p in ["/api/..;/admin", "/api/..;x=1/admin", "/api/.;/admin", "/api/x\\..\\..\\admin", "/api/x\\y"] {
		not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
			with input as object.union(req("someone", "POST", p), {"teams": ["octo-org/qa"]}) with time.now_ns as now_ns
	}
	preview_access.deny_reason == "input.path must not contain . or .. segments" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("author", "GET", "/api/..;/admin") with time.now_ns as now_ns
	preview_access.deny_reason == "input.path must not contain backslashes" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("author", "GET", "/api\\admin") with time.now_ns as now_ns
	preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("author", "GET", "/api/a;b/..x/.well-known") with time.now_ns as now_ns
}

# Traversal a backend finds after decoding once more, cutting ;parameters
# it decoded, cutting at a NUL, or trimming spaces.
test_other_encoded_traversal_denied if {
	every p in ["/api/..%3b/admin", "/api/..%3B/admin", "/api/%252e%252e/admin", "/api/%25252f", "/api/..%00/admin", "/api/.. /admin", "/api/\t../admin", "/api/x\u0000", "/api/..%20/admin", "/api/%20../admin", "/api/..%09/admin", "/api/..%0a/admin", "/api/x%01", "/api/%25%32%65%25%32%65/admin"] {
		not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
			with input as object.union(req("someone", "POST", p), {"teams": ["octo-org/qa"]}) with time.now_ns as now_ns
	}
	preview_access.deny_reason == "input.path must not contain percent-encoded semicolons or NULs, or doubly encoded characters" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("author", "GET", "/api/%252e%252e/admin") with time.now_ns as now_ns
	preview_access.deny_reason == "input.path must not contain control characters" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("author", "GET", "/api/x\u0001") with time.now_ns as now_ns
	preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("author", "GET", "/api/100%25/50%2525") with time.now_ns as now_ns
	preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("author", "GET", "/api/my%20file+x") with time.now_ns as now_ns

	# Our own shape may carry a decoded path, where a lone % is a character.
	preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("author", "GET", "/api/100%") with time.now_ns as now_ns
}

# Teams without a user name nobody, as in Envoy's shape.
test_teams_alone_grant_nothing if {
	preview_access.roles == set() with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as {"host": "pr-42.preview.example.com", "method": "POST", "path": "/api/x", "teams": ["octo-org/qa"]} with time.now_ns as now_ns
}

# A query in our own shape is not matched either: "/a?/x" is the path /a.
test_query_is_not_the_path if {
	not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as object.union(req("someone", "POST", "/apix?/api/x"), {"teams": ["octo-org/qa"]}) with time.now_ns as now_ns
	preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as object.union(req("someone", "POST", "/api/x?q=%3b"), {"teams": ["octo-org/qa"]}) with time.now_ns as now_ns
}

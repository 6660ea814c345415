# Envoy's ext_authz input shape, as opa-envoy-plugin passes it: the same
# documents and decisions as our own shape (preview_access_test.rego), with
# the caller taken from the identity-aware proxy's headers or a verified JWT.
package preview_access_test

import data.preview_access

envoy(host, method, path, headers) := {"attributes": {"request": {"http": {
	"host": host,
	"method": method,
	"path": path,
	"scheme": "https",
	"headers": headers,
}}}}

ereq(user, method, path) := envoy("pr-42.preview.example.com", method, path, {"x-forwarded-user": user})

test_envoy_same_decisions_as_our_shape if {
	every c in [
		["author", "POST", "/api/orders"],
		["reviewer", "GET", "/"],
		["reviewer", "POST", "/api/orders"],
		["stranger", "GET", "/"],
		["", "GET", "/"],
		["qa", "DELETE", "/api/x"],
	] {
		d1 := preview_access.decision with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with data.preview_access_admin.identity as {}
			with input as req(c[0], c[1], c[2]) with time.now_ns as now_ns
		d2 := preview_access.decision with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with data.preview_access_admin.identity as {}
			with input as ereq(c[0], c[1], c[2]) with time.now_ns as now_ns
		d1 == d2
	}
}

test_envoy_reviewer_may_not_post if {
	d := preview_access.decision with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with data.preview_access_admin.identity as {}
		with input as ereq("reviewer", "POST", "/api/orders?dry=1") with time.now_ns as now_ns
	d.allowed == false
	d.http_status == 403
	d.role == "reader"
	d.reason == "reviewer is reader on PR 42; reader may not POST /api/orders"
	d.body == "forbidden: reviewer is reader on PR 42; reader may not POST /api/orders\n"
}

# The query is not part of the path roles match.
test_envoy_query_is_stripped if {
	preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with data.preview_access_admin.identity as {}
		with input as envoy("pr-42.preview.example.com", "POST", "/api?x=/../admin", {"x-forwarded-user": "someone", "x-forwarded-groups": "octo-org/qa"}) with time.now_ns as now_ns
	not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with data.preview_access_admin.identity as {}
		with input as envoy("pr-42.preview.example.com", "POST", "/apix?/api", {"x-forwarded-user": "someone", "x-forwarded-groups": "octo-org/qa"}) with time.now_ns as now_ns
}

test_envoy_github_provider_teams if {
	preview_access.roles == {"tester"} with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with data.preview_access_admin.identity as {}
		with input as envoy("pr-42.preview.example.com", "POST", "/api/x", {"x-forwarded-user": "someone", "x-forwarded-groups": "octo-org,octo-org:qa"}) with time.now_ns as now_ns
}

test_envoy_groups_header if {
	preview_access.roles == {"tester"} with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with data.preview_access_admin.identity as {}
		with input as envoy("pr-42.preview.example.com", "POST", "/api/x", {"x-forwarded-user": "someone", "x-forwarded-groups": "eng, Octo-Org/QA ,,"}) with time.now_ns as now_ns
}

test_envoy_default_port_and_case if {
	preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with data.preview_access_admin.identity as {}
		with input as envoy("PR-42.preview.example.com:443", "GET", "/", {"x-forwarded-user": "Author"}) with time.now_ns as now_ns
	not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with data.preview_access_admin.identity as {}
		with input as envoy("pr-42.preview.example.com:8443", "GET", "/", {"x-forwarded-user": "author"}) with time.now_ns as now_ns
}

# A header the proxy does not set names nobody: another header name, or our
# own shape's fields smuggled into Envoy's, are not read.
test_envoy_reads_only_the_identity_headers if {
	not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with data.preview_access_admin.identity as {}
		with input as envoy("pr-42.preview.example.com", "GET", "/", {"x-user": "author", "x-auth-request-user": "author"}) with time.now_ns as now_ns
	not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with data.preview_access_admin.identity as {}
		with input as object.union(envoy("pr-42.preview.example.com", "GET", "/", {}), {"user": "author", "teams": ["octo-org/qa"]}) with time.now_ns as now_ns
	preview_access.reason == "an anonymous caller has no role on PR 42" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with data.preview_access_admin.identity as {}
		with input as envoy("pr-42.preview.example.com", "GET", "/", {"x-user": "author"}) with time.now_ns as now_ns
}

# The admin names the headers; a repository's document names them only
# where the admin let repositories choose ("repositoryHeaders": true).
test_envoy_identity_headers_configurable if {
	custom := json.patch(repositories, [{"op": "add", "path": "/1/previews/gh-1-pr-42/identity", "value": {"userHeader": "X-Auth-Request-Preferred-Username"}}])
	preview_access.allow with data.preview_access.repositories as custom with data.preview_access_admin.hosts as hosts
		with data.preview_access_admin.identity as {"repositoryHeaders": true}
		with input as envoy("pr-42.preview.example.com", "GET", "/", {"x-auth-request-preferred-username": "author"}) with time.now_ns as now_ns
	not preview_access.allow with data.preview_access.repositories as custom with data.preview_access_admin.hosts as hosts
		with data.preview_access_admin.identity as {"repositoryHeaders": true}
		with input as ereq("author", "GET", "/") with time.now_ns as now_ns

	# Not let: the document's header names nobody, the default does.
	every delegation in [{}, {"repositoryHeaders": false}, {"repositoryHeaders": "true"}] {
		not preview_access.allow with data.preview_access.repositories as custom with data.preview_access_admin.hosts as hosts
			with data.preview_access_admin.identity as delegation
			with input as envoy("pr-42.preview.example.com", "GET", "/", {"x-auth-request-preferred-username": "author"}) with time.now_ns as now_ns
		preview_access.allow with data.preview_access.repositories as custom with data.preview_access_admin.hosts as hosts
			with data.preview_access_admin.identity as delegation
			with input as ereq("author", "GET", "/") with time.now_ns as now_ns
	}

	preview_access.allow with data.preview_access.repositories as custom with data.preview_access_admin.hosts as hosts
		with data.preview_access_admin.identity as {"userHeader": "x-email"}
		with input as envoy("pr-42.preview.example.com", "GET", "/", {"x-email": "author", "x-auth-request-preferred-username": "stranger"}) with time.now_ns as now_ns
	not preview_access.allow with data.preview_access.repositories as custom with data.preview_access_admin.hosts as hosts
		with data.preview_access_admin.identity as {"userHeader": "x-email"}
		with input as envoy("pr-42.preview.example.com", "GET", "/", {"x-auth-request-preferred-username": "author"}) with time.now_ns as now_ns
}

test_envoy_bad_input if {
	preview_access.deny_reason == "input.attributes.request.http.host must be a non-empty string; input.attributes.request.http.method must be a non-empty string; input.attributes.request.http.path must be a string starting with /" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with data.preview_access_admin.identity as {}
		with input as {"attributes": {"request": {"http": {"headers": {}}}}} with time.now_ns as now_ns
	preview_access.deny_reason == "input.attributes.request.http.headers must be an object of strings" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with data.preview_access_admin.identity as {}
		with input as envoy("pr-42.preview.example.com", "GET", "/", {"x-forwarded-user": ["author"]}) with time.now_ns as now_ns
	preview_access.deny_reason == "input.attributes.request.http.path must not contain percent-encoded dots, slashes or backslashes" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with data.preview_access_admin.identity as {}
		with input as ereq("author", "GET", "/%2e%2e/admin") with time.now_ns as now_ns
}

# --- identity from a JWT the admin configured -------------------------------

# A test-only key pair, generated for these tests.
jwk_private := {
	"kty": "EC", "crv": "P-256", "kid": "test",
	"x": "WlDpLzX7KWFc99V8HZ1zDhPBvGgfKB-caHwFf4eF_UU",
	"y": "UViZ63HFrRFB8kzphEqW6lsPjSbcVDmKqhQ1WSa8D1Y",
	"d": "c67If7yuGqB2x7rF8Gi5UNeg-Dq7Wcy5K_vwv_FJ0ps",
}

jwks := {"keys": [object.remove(jwk_private, ["d"])]}

jwt_admin := {"header": "authorization", "jwks": jwks, "issuer": "https://idp.example.com", "audience": "previews", "userClaim": "preferred_username"}

token(claims) := io.jwt.encode_sign({"alg": "ES256", "kid": "test"}, claims, jwk_private)

claims(user, exp_ns) := {"iss": "https://idp.example.com", "aud": "previews", "preferred_username": user, "groups": ["octo-org/qa"], "exp": exp_ns / 1000000000}

jreq(tok, method, path) := envoy("pr-42.preview.example.com", method, path, {"authorization": concat(" ", ["Bearer", tok]), "x-forwarded-user": "author"})

test_jwt_identity if {
	tok := token(claims("reviewer", now_ns + 60000000000))
	d := preview_access.decision with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with data.preview_access_admin.jwt as jwt_admin
		with input as jreq(tok, "GET", "/") with time.now_ns as now_ns
	d.allow
	d.user == "reviewer"

	# With a JWT configured, the identity headers are not read: the header
	# says author, the token says reviewer.
	not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with data.preview_access_admin.jwt as jwt_admin
		with input as jreq(tok, "DELETE", "/") with time.now_ns as now_ns

	# groups come from the token too.
	preview_access.roles == {"tester"} with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with data.preview_access_admin.jwt as jwt_admin
		with input as jreq(token(claims("someone", now_ns + 60000000000)), "POST", "/api/x") with time.now_ns as now_ns
}

test_jwt_refused if {
	bad_aud := token(object.union(claims("author", now_ns + 60000000000), {"aud": "other"}))
	bad_iss := token(object.union(claims("author", now_ns + 60000000000), {"iss": "https://evil.example.com"}))
	expired := token(claims("author", now_ns - 1000000000))
	other_key := io.jwt.encode_sign({"alg": "HS256"}, claims("author", now_ns + 60000000000), {"kty": "oct", "k": base64url.encode_no_pad("secret")})
	every tok in [bad_aud, bad_iss, expired, other_key, "not.a.jwt"] {
		preview_access.deny_reason == "the JWT in header authorization does not verify against data.preview_access_admin.jwt (signature, issuer, audience or expiry)" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
			with data.preview_access_admin.jwt as jwt_admin
			with input as jreq(tok, "GET", "/") with time.now_ns as now_ns
	}
	preview_access.deny_reason == "no JWT in header authorization" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with data.preview_access_admin.jwt as jwt_admin
		with input as ereq("author", "GET", "/") with time.now_ns as now_ns
	preview_access.deny_reason == "data.preview_access_admin.jwt needs jwks, issuer and audience" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with data.preview_access_admin.jwt as object.remove(jwt_admin, ["audience"])
		with input as jreq(token(claims("author", now_ns + 60000000000)), "GET", "/") with time.now_ns as now_ns
}

# Groups without a user name nobody.
test_envoy_groups_alone_grant_nothing if {
	not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with data.preview_access_admin.identity as {}
		with input as envoy("pr-42.preview.example.com", "POST", "/api/x", {"x-forwarded-groups": "octo-org/qa"}) with time.now_ns as now_ns
}

# Once the admin names the identity headers, a document names none, not
# even the header the admin left out.
test_envoy_admin_identity_replaces_the_documents if {
	custom := json.patch(repositories, [{"op": "add", "path": "/1/previews/gh-1-pr-42/identity", "value": {"groupsHeader": "x-client-groups"}}])
	not preview_access.allow with data.preview_access.repositories as custom with data.preview_access_admin.hosts as hosts
		with data.preview_access_admin.identity as {"userHeader": "x-forwarded-user"}
		with input as envoy("pr-42.preview.example.com", "POST", "/api/x", {"x-forwarded-user": "someone", "x-client-groups": "octo-org/qa"}) with time.now_ns as now_ns
}

# A JWT or identity setting that is not an object fails closed.
test_envoy_bad_admin_settings_fail_closed if {
	every bad in ["enabled", [1], null, false] {
		not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
			with data.preview_access_admin.jwt as bad
			with input as ereq("author", "GET", "/") with time.now_ns as now_ns
		not preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
			with data.preview_access_admin.identity as bad
			with input as ereq("author", "GET", "/") with time.now_ns as now_ns
	}
}

# Header names are matched in any case; one named twice in different cases
# (the proxy's and the caller's?) is believed in neither.
test_envoy_header_names_any_case_but_once if {
	preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with data.preview_access_admin.identity as {}
		with input as envoy("pr-42.preview.example.com", "GET", "/", {"X-Forwarded-User": "author"}) with time.now_ns as now_ns
	preview_access.deny_reason == "input.attributes.request.http.headers names x-forwarded-user more than once, in different cases" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with data.preview_access_admin.identity as {}
		with input as envoy("pr-42.preview.example.com", "GET", "/", {"x-forwarded-user": "stranger", "X-Forwarded-User": "author"}) with time.now_ns as now_ns
	preview_access.decision.user == "" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with data.preview_access_admin.identity as {}
		with input as envoy("pr-42.preview.example.com", "GET", "/", {"x-forwarded-user": "author", "X-Forwarded-User": "author"}) with time.now_ns as now_ns
}

# A verified token without exp would be good for ever.
test_jwt_without_expiry_refused if {
	tok := token(object.remove(claims("author", now_ns + 60000000000), ["exp"]))
	preview_access.deny_reason == "the JWT in header authorization has no exp claim: a token that never expires is refused" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with data.preview_access_admin.jwt as jwt_admin
		with input as jreq(tok, "GET", "/") with time.now_ns as now_ns
	preview_access.decision.user == "" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with data.preview_access_admin.jwt as jwt_admin
		with input as jreq(tok, "GET", "/") with time.now_ns as now_ns
}

# Until the OPA's admin has said how callers are identified (headers it
# vouches for, or a JWT), an Envoy-shaped request names nobody: the default
# headers are whatever the client sent unless a proxy overwrites them.
test_envoy_denied_until_the_admin_vouches if {
	d := preview_access.decision with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as ereq("author", "GET", "/") with time.now_ns as now_ns
	not d.allow
	d.user == ""
	d.reason == "the OPA's admin has not said how callers are identified: set data.preview_access_admin.identity to vouch for the headers the proxy in front overwrites ({} for x-forwarded-user and x-forwarded-groups), or data.preview_access_admin.jwt to verify a token"

	# Our own shape is the gateway's word for who the caller is.
	preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with input as req("author", "GET", "/") with time.now_ns as now_ns
}

# Groups in a token without a user name nobody, as with headers.
test_jwt_groups_alone_grant_nothing if {
	tok := token(object.remove(claims("someone", now_ns + 60000000000), ["preferred_username"]))
	d := preview_access.decision with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts
		with data.preview_access_admin.jwt as jwt_admin
		with input as jreq(tok, "POST", "/api/x") with time.now_ns as now_ns
	not d.allow
	d.roles == []
	d.user == ""
	d.reason == "an anonymous caller has no role on PR 42"
}

# Envoy passes the raw path: an escape that does not decode is refused, and
# what one decoding shows is checked too.
test_envoy_path_decoded_once_and_checked if {
	every p in ["/api/%2%65%2%65/admin", "/api/%%32%65/admin", "/api/%zz"] {
		preview_access.deny_reason == "input.attributes.request.http.path has a malformed percent-escape" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with data.preview_access_admin.identity as {}
			with input as envoy("pr-42.preview.example.com", "POST", p, {"x-forwarded-user": "someone", "x-forwarded-groups": "octo-org/qa"}) with time.now_ns as now_ns
	}
	preview_access.deny_reason == "input.attributes.request.http.path must not contain . or .. segments" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with data.preview_access_admin.identity as {}
		with input as envoy("pr-42.preview.example.com", "POST", "/api/..%20/admin", {"x-forwarded-user": "someone", "x-forwarded-groups": "octo-org/qa"}) with time.now_ns as now_ns
	preview_access.allow with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with data.preview_access_admin.identity as {}
		with input as envoy("pr-42.preview.example.com", "POST", "/api/100%25?q=%zz", {"x-forwarded-user": "someone", "x-forwarded-groups": "octo-org/qa"}) with time.now_ns as now_ns
}

# Envoy joins a repeated header's values with commas: a user header with
# two values (the proxy's and the caller's?) names nobody.
test_envoy_repeated_user_header_refused if {
	preview_access.deny_reason == "the user header x-forwarded-user holds more than one value" with data.preview_access.repositories as repositories with data.preview_access_admin.hosts as hosts with data.preview_access_admin.identity as {}
		with input as ereq("stranger,author", "GET", "/") with time.now_ns as now_ns
}

# Where the admin lets repositories name headers, a header the admin named
# is still the admin's.
test_envoy_admin_header_beats_the_documents if {
	custom := json.patch(repositories, [{"op": "add", "path": "/1/previews/gh-1-pr-42/identity", "value": {"userHeader": "x-forwarded-user", "groupsHeader": "x-client-groups"}}])
	admin := {"userHeader": "x-auth-user", "repositoryHeaders": true}
	not preview_access.allow with data.preview_access.repositories as custom with data.preview_access_admin.hosts as hosts
		with data.preview_access_admin.identity as admin
		with input as envoy("pr-42.preview.example.com", "GET", "/", {"x-forwarded-user": "author", "x-auth-user": "stranger"}) with time.now_ns as now_ns
	preview_access.roles == {"tester"} with data.preview_access.repositories as custom with data.preview_access_admin.hosts as hosts
		with data.preview_access_admin.identity as admin
		with input as envoy("pr-42.preview.example.com", "POST", "/api/x", {"x-auth-user": "someone", "x-client-groups": "octo-org/qa"}) with time.now_ns as now_ns
}

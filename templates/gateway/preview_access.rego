# Package preview_access decides whether a person may call a pull request's
# preview. preview-access writes one document per preview under
# data.preview_access.repositories[<repository id>].previews[<id>]; a gateway
# asks for decision (or allow, deny_reason, roles alone) with either input
# shape:
#
#   our own, for gateways that know the caller:
#   {"host": "pr-42.preview.example.com", "method": "POST", "path": "/api/x",
#    "user": "octocat", "teams": ["octo-org/qa"]}
#
#   Envoy's ext_authz CheckRequest, as opa-envoy-plugin passes it (Envoy,
#   Istio, Gloo, Emissary), or as any gateway can build it:
#   {"attributes": {"request": {"http": {"host": "pr-42.preview.example.com",
#    "method": "POST", "path": "/api/x?page=2", "scheme": "https",
#    "headers": {"x-forwarded-user": "octocat", "x-forwarded-groups": "octo-org/qa"}}}}}
#
# With Envoy's shape the caller is who the OPA's admin says to believe, and
# until the admin has said, every such request is denied: a header is
# whatever the client sent unless a proxy in front overwrites it, which only
# the admin knows. Either the admin vouches for the identity-aware proxy in
# front, in data.preview_access_admin.identity: the caller is the user
# header (userHeader, default x-forwarded-user) and the comma-separated
# groups header (groupsHeader, default x-forwarded-groups), oauth2-proxy's
# names; {} vouches for those defaults. With "repositoryHeaders": true the
# admin lets each repository name the headers in its access file (the
# document's identity), for proxies that overwrite those too. Or the admin
# configures a JWT (data.preview_access_admin.jwt: header, jwks, issuer,
# audience, userClaim, groupsClaim): then the caller is the verified token's
# claims, and the identity headers are not read at all.
#
# Hosts are bound to repositories by the OPA's admin, not by the documents:
# data.preview_access_admin.hosts[<repository id>] lists the host patterns
# (glob, "*" within one DNS label) a repository's previews may claim, and
# the shipped system.authz (authz.rego) lets each repository's token write
# its own subtree only. A document whose host its repository is not bound
# to claims nothing, so no repository can take over another's host.
#
# Expiry is decided with OPA's own clock (time.now_ns()): no input field can
# move it, so a caller cannot revive an expired preview.
#
# Users and teams are compared without regard to case, as GitHub does.
# A host that no preview claims, or that more than one claims, is denied.
package preview_access

default allow := false

# allow is true iff exactly one unexpired preview claims input.host and one of
# the caller's roles on it allows the method on the path.
allow if {
	valid_input
	live
	some role in roles
	role_allows(preview.roles[role])
}

# deny_reason says in words why allow is false; undefined when allowed.
deny_reason := reason if {
	not allow
	reason := why_denied
}

# decision is all of it in one query, for gateways that want one call: the
# same object for both input shapes. allowed, http_status and body are the
# keys opa-envoy-plugin reads (body is what a denied caller sees).
decision := {
	"allow": allow,
	"allowed": allow,
	"reason": reason,
	"deny_reason": decision_reason,
	"role": matched_role,
	"roles": sort(roles),
	"preview_id": decision_preview,
	"pull_request": decision_pull_request,
	"user": decision_user,
	"http_status": decision_status,
	"body": decision_body,
}

decision_status := 200 if allow

else := 403

decision_body := "" if allow

else := concat("", ["forbidden: ", reason, "\n"])

decision_pull_request := n if {
	n := preview.pullRequest
	is_number(n)
} else := 0

decision_user := u if {
	u := caller_user
} else := ""

decision_reason := r if {
	r := deny_reason
} else := ""

decision_preview := id if {
	id := preview_id
} else := ""

# roles is the set of roles the caller holds on the host's preview.
roles contains role if {
	valid_input
	some subject in subjects
	some role in preview.bindings[subject]
	preview.roles[role]
}

# claims are the [repository id, preview id] of the documents that name
# input.host and whose repository the admin bound to it.
claims contains [repo, id] if {
	some repo, id
	named[[repo, id]]
	host_bound(repo, request_host)
}

# named are the documents that name input.host, bound or not.
named contains [repo, id] if {
	some repo, tree in data.preview_access.repositories
	some id, doc in tree.previews
	is_string(doc.host)
	lower(doc.host) == request_host
}

host_bound(repo, host) if {
	some pattern in data.preview_access_admin.hosts[repo]
	glob.match(lower(pattern), ["."], lower(host))
}

claim := c if {
	count(claims) == 1
	some c in claims
}

# preview_id names the preview that claims input.host, when exactly one does.
preview_id := claim[1]

preview := data.preview_access.repositories[claim[0]].previews[claim[1]]

subjects contains concat(":", ["user", lower(caller_user)]) if {
	non_empty_string(caller_user)
}

subjects contains concat(":", ["team", lower(team)]) if {
	some team in caller_teams
	is_string(team)
}

# A preview is live until its expiry; one without a readable expiry never is.
live if time.now_ns() < time.parse_rfc3339_ns(preview.expiresAt)

role_allows(role) if {
	method_allowed(role.methods)
	some pattern in role.paths
	path_matches(pattern, request_path)
}

method_allowed(methods) if "*" in methods

method_allowed(methods) if upper(request.method) in methods

path_matches(pattern, path) if glob.match(pattern, ["/"], path)

# "/api/**" also covers "/api" itself.
path_matches(pattern, path) if {
	endswith(pattern, "/**")
	path == trim_suffix(pattern, "/**")
}

valid_input if count(input_problems) == 0

# Missing fields are read with object.get: a reference to an undefined field
# inside "not" would make the whole rule undefined instead of true.
input_problems contains sprintf("%shost must be a non-empty string", [field_prefix]) if {
	not non_empty_string(object.get(request, "host", null))
}

input_problems contains sprintf("%smethod must be a non-empty string", [field_prefix]) if {
	not non_empty_string(object.get(request, "method", null))
}

input_problems contains sprintf("%spath must be a string starting with /", [field_prefix]) if {
	not startswith(object.get(request, "path", null), "/")
}

# Dot segments would let "/public/../admin" match "/public/**": the gateway
# must pass the path it will route, normalised. A servlet container reads
# "/public/..;x/admin" as "/admin" too: a segment's ;parameters are ignored.
input_problems contains sprintf("%spath must not contain . or .. segments", [field_prefix]) if {
	some path in checked_paths
	some segment in split(path, "/")
	trim_space(split(segment, ";")[0]) in {".", ".."}
}

# The path is checked as it came and decoded once ("+" kept: it is a space
# only in a query), so that "..%20" and "%2e%2e" are dot segments too.
checked_paths contains request_path

checked_paths contains decoded_path if not encoded_in_raw

# Refused for what the raw path holds already: not checked again decoded.
encoded_in_raw if regex.match(`(?i)%(2e|2f|5c|3b|00)`, request_path)

decoded_path := urlquery.decode(replace(request_path, "+", "%2B"))

# Envoy passes the path as the client sent it: an escape that does not
# decode could be read any way behind the check. A gateway of our own
# shape may pass a decoded path, in which a lone % is a character.
input_problems contains sprintf("%spath has a malformed percent-escape", [field_prefix]) if {
	envoy
	is_string(request_path)
	not decoded_path
}

# Some servers read a backslash as a slash ("/public\..\admin").
input_problems contains sprintf("%spath must not contain backslashes", [field_prefix]) if {
	contains(request_path, `\`)
}

# Encoded, they would pass the check above and be decoded behind it.
input_problems contains sprintf("%spath must not contain percent-encoded dots, slashes or backslashes", [field_prefix]) if {
	regex.match(`(?i)%(2e|2f|5c)`, request_path)
}

# A backend that decodes before it cuts ;parameters, cuts at a NUL, or
# decodes twice would see traversal in these.
input_problems contains sprintf("%spath must not contain percent-encoded semicolons or NULs, or doubly encoded characters", [field_prefix]) if {
	encoded_semicolon_nul_or_twice
}

encoded_semicolon_nul_or_twice if regex.match(`(?i)%(3b|00)`, request_path)

encoded_semicolon_nul_or_twice if regex.match(`(?i)%(25)*(2e|2f|5c|3b|00)`, decoded_path)

input_problems contains sprintf("%spath must not contain control characters", [field_prefix]) if {
	some path in checked_paths
	regex.match(`[\x00-\x1f\x7f]`, path)
}

input_problems contains "input.teams must be a list of strings" if {
	not envoy
	input.teams
	not every_string(input.teams)
}

input_problems contains sprintf("input.attributes.request.http.headers must be an object of strings", []) if {
	envoy
	not every_value_string(object.get(request, "headers", {}))
}

# Header names are compared in lower case (Envoy sends them so). A name
# given twice in different cases could be the proxy's and the caller's:
# which one to believe cannot be told, so neither is.
input_problems contains sprintf("input.attributes.request.http.headers names %s more than once, in different cases", [concat(", ", sort(header_clashes))]) if {
	envoy
	header_clash
}

input_problems contains problem if {
	envoy
	some problem in identity_problems
}

non_empty_string(s) if {
	is_string(s)
	s != ""
}

every_string(xs) if {
	is_array(xs)
	every x in xs {
		is_string(x)
	}
}

caller := sprintf("user %s", [caller_user]) if {
	non_empty_string(caller_user)
} else := "anonymous caller"

unbound := sort([repo | some [repo, _] in named; not host_bound(repo, request_host)])

why_denied := concat("; ", sort(input_problems)) if {
	not valid_input
} else := sprintf("no preview for host %s", [request.host]) if {
	count(named) == 0
} else := sprintf("host %s is not bound to repository %s by the OPA admin (data.preview_access_admin.hosts), so its preview claims nothing", [request.host, concat(", ", unbound)]) if {
	count(claims) == 0
} else := sprintf("host %s is claimed by %d previews (%s)", [request.host, count(claims), concat(", ", sort([id | some [_, id] in claims]))]) if {
	count(claims) > 1
} else := sprintf("preview %s expired at %s", [preview_id, object.get(preview, "expiresAt", "an unknown time")]) if {
	not live
} else := sprintf("%s has no role on %s", [caller, request.host]) if {
	count(roles) == 0
} else := sprintf("role %s does not allow %s %s", [r, upper(request.method), request.path]) if {
	count(roles) == 1
	some r in roles
} else := sprintf("roles %s do not allow %s %s", [concat(", ", sort(roles)), upper(request.method), request.path])

# reason is one sentence a person can act on, for every decision: who the
# caller is, what they are on which pull request, and what that allows.
reason := sprintf("%s is %s on %s; %s may %s %s", [who, matched_role, pr_label, matched_role, upper(request.method), request_path]) if {
	allow
} else := why_denied if {
	not preview_id
} else := why_denied if {
	not valid_input
} else := sprintf("%s expired at %s: nobody may call it any more", [pr_label, object.get(preview, "expiresAt", "an unknown time")]) if {
	not live
} else := sprintf("%s has no role on %s", [who, pr_label]) if {
	count(roles) == 0
} else := sprintf("%s is %s on %s; %s may not %s %s", [who, r, pr_label, r, upper(request.method), request_path]) if {
	count(roles) == 1
	some r in roles
} else := sprintf("%s is %s on %s; neither may %s %s", [who, concat(" and ", sort(roles)), pr_label, upper(request.method), request_path])

who := caller_user if non_empty_string(caller_user)

else := "an anonymous caller"

pr_label := sprintf("PR %d", [preview.pullRequest]) if is_number(preview.pullRequest)

else := sprintf("preview %s", [preview_id])

# matched_role is the role that allows the request (the first by name when
# several do), else the roles the caller holds, else "".
matched_role := r if {
	allowing := sort([role | some role in roles; role_allows(preview.roles[role])])
	count(allowing) > 0
	r := allowing[0]
} else := concat(", ", sort(roles))

# --- The request, from either input shape -----------------------------------

envoy if is_object(object.get(input, ["attributes", "request", "http"], null))

field_prefix := "input.attributes.request.http." if envoy

else := "input."

request := input.attributes.request.http if envoy

else := input

request_host := lower(strip_default_port(request.host, object.get(request, "scheme", "")))

strip_default_port(h, "https") := trim_suffix(h, ":443")

strip_default_port(h, "http") := trim_suffix(h, ":80")

strip_default_port(h, scheme) := h if not scheme in {"http", "https"}

# Envoy's path carries the query; a gateway of our own shape should pass
# none, and if it does, roles match the path alone all the same.
request_path := split(request.path, "?")[0]

caller_user := input.user if not envoy

caller_user := jwt_claim(jwt_config.userClaim) if {
	envoy
	jwt_config
}

caller_user := header(identity.userHeader) if from_headers

# The caller is read from headers: Envoy's shape, no JWT configured, and the
# admin vouched for the headers.
from_headers if {
	envoy
	not jwt_set
	admin_identity_set
}

# Envoy joins a repeated header's values with commas; no login has one.
input_problems contains sprintf("the user header %s holds more than one value", [identity.userHeader]) if {
	from_headers
	contains(header(identity.userHeader), ",")
}

jwt_set if _ := data.preview_access_admin.jwt

# Teams name nobody on their own, in either shape.
caller_teams := object.get(input, "teams", []) if {
	not envoy
	non_empty_string(caller_user)
}

caller_teams := groups(jwt_claim(jwt_config.groupsClaim)) if {
	envoy
	jwt_config
	non_empty_string(caller_user)
}

# Groups name nobody on their own: without a user they grant nothing.
caller_teams := groups(header(identity.groupsHeader)) if {
	from_headers
	non_empty_string(caller_user)
}

default_identity := {"userHeader": "x-forwarded-user", "groupsHeader": "x-forwarded-groups"}

admin_identity := i if {
	i := data.preview_access_admin.identity
	is_object(i)
} else := {}

preview_identity := i if {
	i := preview.identity
	is_object(i)
} else := {}

# Only the admin knows which headers the proxy in front overwrites: a
# repository's document names headers only where the admin let it, and
# never one the admin named.
identity := object.union(default_identity, admin_identity) if not repository_headers

identity := object.union(object.union(default_identity, preview_identity), admin_identity) if repository_headers

repository_headers if admin_identity.repositoryHeaders == true

admin_identity_set if _ := data.preview_access_admin.identity

request_headers := h if {
	h := object.get(request, "headers", {})
	is_object(h)
} else := {}

# Every request is read through these: one pass over the headers, and the
# clashing names looked for only when there are some.
header_names := {lower(k) | some k, _ in request_headers}

header_clash if count(header_names) != count(request_headers)

header_clashes contains name if {
	header_clash
	some name in header_names
	count([k | some k, _ in request_headers; lower(k) == name]) > 1
}

# Without a clash the lower-cased names are unique.
lowered_headers := {lower(k): v | some k, v in request_headers} if not header_clash

header(name) := v if {
	v := lowered_headers[lower(name)]
	is_string(v)
} else := ""

# oauth2-proxy's github provider names teams org:team; bindings say org/team.
groups(g) := [replace(trim_space(x), ":", "/") | some x in split(g, ","); trim_space(x) != ""] if is_string(g)

groups(g) := [replace(x, ":", "/") | some x in g; is_string(x)] if is_array(g)

every_value_string(o) if {
	is_object(o)
	every _, v in o {
		is_string(v)
	}
}

# --- JWT identity (data.preview_access_admin.jwt) ---------------------------

jwt_config := object.union({"header": "authorization", "userClaim": "sub", "groupsClaim": "groups"}, c) if {
	c := data.preview_access_admin.jwt
	is_object(c)
}

jwt_token := t if {
	raw := header(jwt_config.header)
	t := trim_space(trim_prefix(trim_prefix(raw, "Bearer "), "bearer "))
	t != ""
}

# The constraints name OPA's clock explicitly, so exp and nbf are judged
# with the same clock as the preview's expiry.
jwt_constraints := {"cert": jwks_string, "iss": jwt_config.issuer, "aud": jwt_config.audience, "time": time.now_ns()}

jwks_string := json.marshal(jwt_config.jwks) if is_object(jwt_config.jwks)

else := jwt_config.jwks

jwt_verified := [valid, payload] if {
	[valid, _, payload] := io.jwt.decode_verify(jwt_token, jwt_constraints)
}

# A token without an expiry would be good for ever: refused.
jwt_claim(name) := jwt_verified[1][name] if {
	jwt_verified[0]
	is_number(jwt_verified[1].exp)
}

identity_problems contains sprintf("the JWT in header %s has no exp claim: a token that never expires is refused", [jwt_config.header]) if {
	jwt_complete
	jwt_verified[0]
	not is_number(object.get(jwt_verified[1], "exp", null))
}

identity_problems contains sprintf("no JWT in header %s", [jwt_config.header]) if {
	jwt_config
	not jwt_token
}

identity_problems contains sprintf("the JWT in header %s does not verify against data.preview_access_admin.jwt (signature, issuer, audience or expiry)", [jwt_config.header]) if {
	jwt_complete
	jwt_token
	not jwt_verified[0]
}

# Set but not an object: fail closed, never fall back to the headers.
identity_problems contains "data.preview_access_admin.jwt must be an object" if {
	_ := data.preview_access_admin.jwt
	not jwt_config
}

identity_problems contains "the OPA's admin has not said how callers are identified: set data.preview_access_admin.identity to vouch for the headers the proxy in front overwrites ({} for x-forwarded-user and x-forwarded-groups), or data.preview_access_admin.jwt to verify a token" if {
	not jwt_set
	not admin_identity_set
}

identity_problems contains "data.preview_access_admin.identity must be an object" if {
	_ := data.preview_access_admin.identity
	not is_object(data.preview_access_admin.identity)
}

identity_problems contains "data.preview_access_admin.jwt needs jwks, issuer and audience" if {
	jwt_config
	not jwt_complete
}

jwt_complete if {
	jwt_config.jwks
	non_empty_string(jwt_config.issuer)
	non_empty_string(jwt_config.audience)
}

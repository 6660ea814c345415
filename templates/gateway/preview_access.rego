# Package preview_access decides whether a person may call a pull request's
# preview. preview-access writes one document per preview under
# data.preview_access.repositories[<repository id>].previews[<id>]; a gateway
# asks for allow (and deny_reason, roles, or all at once as decision) with
# this input:
#
#   {"host": "pr-42.preview.example.com", "method": "POST", "path": "/api/x",
#    "user": "octocat", "teams": ["octo-org/qa"]}
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

# decision is all of the above in one query, for gateways that want one call.
decision := {
	"allow": allow,
	"deny_reason": decision_reason,
	"roles": sort(roles),
	"preview_id": decision_preview,
}

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
	host_bound(repo, input.host)
}

# named are the documents that name input.host, bound or not.
named contains [repo, id] if {
	some repo, tree in data.preview_access.repositories
	some id, doc in tree.previews
	is_string(doc.host)
	lower(doc.host) == lower(input.host)
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

subjects contains concat(":", ["user", lower(input.user)]) if {
	is_string(input.user)
	input.user != ""
}

subjects contains concat(":", ["team", lower(team)]) if {
	some team in input.teams
	is_string(team)
}

# A preview is live until its expiry; one without a readable expiry never is.
live if time.now_ns() < time.parse_rfc3339_ns(preview.expiresAt)

role_allows(role) if {
	method_allowed(role.methods)
	some pattern in role.paths
	path_matches(pattern, input.path)
}

method_allowed(methods) if "*" in methods

method_allowed(methods) if upper(input.method) in methods

path_matches(pattern, path) if glob.match(pattern, ["/"], path)

# "/api/**" also covers "/api" itself.
path_matches(pattern, path) if {
	endswith(pattern, "/**")
	path == trim_suffix(pattern, "/**")
}

valid_input if count(input_problems) == 0

# Missing fields are read with object.get: a reference to an undefined field
# inside "not" would make the whole rule undefined instead of true.
input_problems contains "input.host must be a non-empty string" if {
	not non_empty_string(object.get(input, "host", null))
}

input_problems contains "input.method must be a non-empty string" if {
	not non_empty_string(object.get(input, "method", null))
}

input_problems contains "input.path must be a string starting with /" if {
	not startswith(object.get(input, "path", null), "/")
}

# Dot segments would let "/public/../admin" match "/public/**": the gateway
# must pass the path it will route, normalised.
input_problems contains "input.path must not contain . or .. segments" if {
	some segment in split(input.path, "/")
	segment in {".", ".."}
}

input_problems contains "input.teams must be a list of strings" if {
	input.teams
	not every_string(input.teams)
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

caller := sprintf("user %s", [input.user]) if {
	non_empty_string(input.user)
} else := "anonymous caller"

unbound := sort([repo | some [repo, _] in named; not host_bound(repo, input.host)])

why_denied := concat("; ", sort(input_problems)) if {
	not valid_input
} else := sprintf("no preview for host %s", [input.host]) if {
	count(named) == 0
} else := sprintf("host %s is not bound to repository %s by the OPA admin (data.preview_access_admin.hosts), so its preview claims nothing", [input.host, concat(", ", unbound)]) if {
	count(claims) == 0
} else := sprintf("host %s is claimed by %d previews (%s)", [input.host, count(claims), concat(", ", sort([id | some [_, id] in claims]))]) if {
	count(claims) > 1
} else := sprintf("preview %s expired at %s", [preview_id, object.get(preview, "expiresAt", "an unknown time")]) if {
	not live
} else := sprintf("%s has no role on %s", [caller, input.host]) if {
	count(roles) == 0
} else := sprintf("role %s does not allow %s %s", [r, upper(input.method), input.path]) if {
	count(roles) == 1
	some r in roles
} else := sprintf("roles %s do not allow %s %s", [concat(", ", sort(roles)), upper(input.method), input.path])

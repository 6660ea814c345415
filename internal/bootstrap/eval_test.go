package bootstrap

import (
	"path"
	"slices"
	"strings"
	"testing"
)

// This file is a small IAM policy evaluator for the tests: enough of IAM's
// documented evaluation logic to judge the documents bootstrap renders,
// request by request, instead of reading their structure.
//
// What a request carries comes from the Service Authorization Reference
// (list_awsidentityandaccessmanagementiam, as of 2026; iam:PermissionsBoundary
// was added to DeleteRole, UpdateRole, UpdateRoleDescription,
// UpdateAssumeRolePolicy and GetRole in December 2025). sarKeys writes it
// down; request builders below fill the context from it and nothing else,
// so a policy that relies on a key an action does not carry fails here the
// way it would in AWS.

// sarKeys are the action-specific condition keys of each action the tests
// send. Every action on a role resource also carries the role's tags as
// iam:ResourceTag/KEY and aws:ResourceTag/KEY.
var sarKeys = map[string][]string{
	"iam:AttachRolePolicy":              {"iam:PolicyARN", "iam:PermissionsBoundary"},
	"iam:CreateRole":                    {"iam:PermissionsBoundary", "aws:TagKeys", "aws:RequestTag"},
	"iam:DeleteRole":                    {"iam:PermissionsBoundary"},
	"iam:DeleteRolePermissionsBoundary": {"iam:PermissionsBoundary"},
	"iam:DeleteRolePolicy":              {"iam:PermissionsBoundary"},
	"iam:DetachRolePolicy":              {"iam:PolicyARN", "iam:PermissionsBoundary"},
	"iam:GetRole":                       {"iam:PermissionsBoundary"},
	"iam:GetRolePolicy":                 nil,
	"iam:ListAttachedRolePolicies":      nil,
	"iam:ListInstanceProfilesForRole":   nil,
	"iam:ListRolePolicies":              nil,
	"iam:PassRole":                      {"iam:PassedToService"},
	"iam:PutRolePermissionsBoundary":    {"iam:PermissionsBoundary"},
	"iam:PutRolePolicy":                 {"iam:PermissionsBoundary"},
	"iam:TagRole":                       {"aws:TagKeys", "aws:RequestTag"},
	"iam:UntagRole":                     {"aws:TagKeys"},
	"iam:UpdateAssumeRolePolicy":        {"iam:PermissionsBoundary"},
	"iam:UpdateRole":                    {"iam:PermissionsBoundary"},
	"iam:UpdateRoleDescription":         {"iam:PermissionsBoundary"},
}

// unscoped actions are authorised against "*" and carry no action keys.
var unscoped = []string{"iam:ListRoles", "iam:GetAccountSummary", "iam:CreateUser", "sts:GetCallerIdentity"}

// req is one request: an action on a resource with its condition context.
// Keys are matched case-insensitively, as IAM does.
type req struct {
	action, resource string
	ctx              map[string][]string
}

func (r req) value(key string) ([]string, bool) {
	for k, v := range r.ctx {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// roleState is a role as IAM holds it when a request about it arrives.
type roleState struct {
	exists   bool
	tags     map[string]string
	boundary string // "" for none
}

// roleParams are the request's own values.
type roleParams struct {
	boundary  string            // CreateRole, PutRolePermissionsBoundary
	tags      map[string]string // CreateRole, TagRole
	untagKeys []string          // UntagRole
	policyARN string            // AttachRolePolicy, DetachRolePolicy
}

// roleReq builds the request IAM authorises for action on role arn, with
// the context the Service Authorization Reference gives the action.
func roleReq(t *testing.T, action, arn string, r roleState, p roleParams) req {
	t.Helper()
	keys, ok := sarKeys[action]
	if !ok {
		t.Fatalf("sarKeys has no entry for %s", action)
	}
	ctx := map[string][]string{}
	if r.exists {
		for k, v := range r.tags {
			ctx["iam:ResourceTag/"+k] = []string{v}
			ctx["aws:ResourceTag/"+k] = []string{v}
		}
	}
	for _, k := range keys {
		switch k {
		case "iam:PermissionsBoundary":
			// The requested boundary where the call sets one, else the
			// role's current one; absent when there is none.
			b := r.boundary
			if action == "iam:CreateRole" || action == "iam:PutRolePermissionsBoundary" {
				b = p.boundary
			}
			if b != "" {
				ctx[k] = []string{b}
			}
		case "aws:TagKeys":
			var ks []string
			for tk := range p.tags {
				ks = append(ks, tk)
			}
			ks = append(ks, p.untagKeys...)
			if len(ks) > 0 {
				ctx[k] = ks
			}
		case "aws:RequestTag":
			for tk, tv := range p.tags {
				ctx["aws:RequestTag/"+tk] = []string{tv}
			}
		case "iam:PolicyARN":
			if p.policyARN != "" {
				ctx[k] = []string{p.policyARN}
			}
		}
	}
	return req{action: action, resource: arn, ctx: ctx}
}

type verdict string

const (
	allowed      verdict = "allow"
	explicitDeny verdict = "explicit deny"
	implicitDeny verdict = "implicit deny"
)

// evaluate applies IAM's logic for one identity policy: an explicit deny
// wins, then any allow, else the request is implicitly denied.
func evaluate(d Document, r req) verdict {
	allow := false
	for _, s := range d.Statement {
		if !applies(s, r) {
			continue
		}
		if s.Effect == "Deny" {
			return explicitDeny
		}
		allow = true
	}
	if allow {
		return allowed
	}
	return implicitDeny
}

// evaluateWithBoundary is a role's effective decision: its policies must
// allow and its boundary must allow; a deny in either wins.
func evaluateWithBoundary(identity, boundary Document, r req) verdict {
	a, b := evaluate(identity, r), evaluate(boundary, r)
	switch {
	case a == explicitDeny || b == explicitDeny:
		return explicitDeny
	case a == allowed && b == allowed:
		return allowed
	}
	return implicitDeny
}

func applies(s Statement, r req) bool {
	switch {
	case s.Action != nil && !anyMatch(s.Action, r.action, actionMatch):
		return false
	case s.NotAction != nil && anyMatch(s.NotAction, r.action, actionMatch):
		return false
	}
	res := func(patterns Values) (hit, ok bool) {
		for _, p := range patterns {
			p, resolved := substitute(p, r)
			if !resolved {
				continue // an unresolvable variable makes the pattern match nothing
			}
			if glob(p, r.resource) {
				return true, true
			}
		}
		return false, true
	}
	if s.Resource != nil {
		if hit, _ := res(s.Resource); !hit {
			return false
		}
	}
	if s.NotResource != nil {
		if hit, _ := res(s.NotResource); hit {
			return false
		}
	}
	for op, keys := range s.Condition {
		for key, values := range keys {
			if !condition(op, key, values, r) {
				return false
			}
		}
	}
	return true
}

func anyMatch(patterns Values, s string, match func(p, s string) bool) bool {
	for _, p := range patterns {
		if match(p, s) {
			return true
		}
	}
	return false
}

// actionMatch: action names are case-insensitive globs.
func actionMatch(p, a string) bool { return glob(strings.ToLower(p), strings.ToLower(a)) }

// glob is IAM's matching: * any run of characters (slashes too), ? one.
func glob(p, s string) bool {
	// path.Match stops * at "/", IAM does not: replace "/" on both sides.
	const sep = "\x00"
	p = strings.NewReplacer("/", sep, "[", "\\[", "]", "\\]").Replace(p)
	s = strings.ReplaceAll(s, "/", sep)
	ok, err := path.Match(p, s)
	return err == nil && ok
}

// substitute resolves ${key} policy variables from the request; ok is
// false when one names a key the request does not carry.
func substitute(v string, r req) (string, bool) {
	for {
		i := strings.Index(v, "${")
		if i < 0 {
			return v, true
		}
		j := strings.Index(v[i:], "}")
		if j < 0 {
			return v, true
		}
		vals, ok := r.value(v[i+2 : i+j])
		if !ok || len(vals) != 1 {
			return "", false
		}
		v = v[:i] + vals[0] + v[i+j+1:]
	}
}

// condition evaluates one operator on one key, as the IAM User Guide
// describes: values of one key are ORed; an absent key makes a positive
// operator false and a negated one true, except ...IfExists (true), Null,
// ForAllValues (true) and ForAnyValue (false).
func condition(op, key string, want Values, r req) bool {
	set := ""
	switch {
	case strings.HasPrefix(op, "ForAnyValue:"):
		set, op = "any", strings.TrimPrefix(op, "ForAnyValue:")
	case strings.HasPrefix(op, "ForAllValues:"):
		set, op = "all", strings.TrimPrefix(op, "ForAllValues:")
	}
	ifExists := strings.HasSuffix(op, "IfExists")
	op = strings.TrimSuffix(op, "IfExists")
	have, present := r.value(key)
	if op == "Null" {
		return slices.Contains(want, "true") != present
	}
	negated := strings.Contains(op, "Not")
	if !present || len(have) == 0 {
		switch {
		case ifExists, set == "all":
			return true
		case set == "any":
			return false
		}
		return negated
	}
	var resolved []string
	for _, w := range want {
		if v, ok := substitute(w, r); ok {
			resolved = append(resolved, v)
		}
	}
	match := func(h string) bool { // h matches one of the values, positively
		for _, w := range resolved {
			switch strings.Replace(op, "Not", "", 1) {
			case "StringEquals", "ArnEquals":
				if h == w {
					return true
				}
			case "StringEqualsIgnoreCase":
				if strings.EqualFold(h, w) {
					return true
				}
			case "StringLike", "ArnLike":
				if glob(w, h) {
					return true
				}
			default:
				panic("evaluator: operator " + op + " is not implemented")
			}
		}
		return false
	}
	holds := func(h string) bool { return match(h) != negated }
	switch set {
	case "all":
		for _, h := range have {
			if !holds(h) {
				return false
			}
		}
		return true
	case "any":
		return slices.ContainsFunc(have, holds)
	}
	return holds(have[0])
}

// TestEvaluator checks the evaluator itself on the rules it relies on.
func TestEvaluator(t *testing.T) {
	t.Parallel()
	r := req{action: "iam:UntagRole", resource: "arn:aws:iam::1:role/a/b", ctx: map[string][]string{"aws:TagKeys": {"Preview-Access:Managed-By"}}}
	for _, tc := range []struct {
		name string
		op   string
		key  string
		want Values
		r    req
		ok   bool
	}{
		{"negated on an absent key is true", "StringNotEquals", "iam:PermissionsBoundary", Values{"x"}, r, true},
		{"positive on an absent key is false", "StringEquals", "iam:PermissionsBoundary", Values{"x"}, r, false},
		{"IfExists on an absent key is true", "StringEqualsIfExists", "iam:PermissionsBoundary", Values{"x"}, r, true},
		{"ForAnyValue on an absent key is false", "ForAnyValue:StringEquals", "aws:RequestTag/x", Values{"x"}, r, false},
		{"case-sensitive StringEquals", "ForAnyValue:StringEquals", "aws:TagKeys", Values{"preview-access:managed-by"}, r, false},
		{"StringEqualsIgnoreCase", "ForAnyValue:StringEqualsIgnoreCase", "aws:TagKeys", Values{"preview-access:managed-by"}, r, true},
		{"key names are case-insensitive", "ForAnyValue:StringEqualsIgnoreCase", "AWS:TAGKEYS", Values{"preview-access:managed-by"}, r, true},
		{"Null true", "Null", "iam:PermissionsBoundary", Values{"true"}, r, true},
		{"Null false", "Null", "aws:TagKeys", Values{"false"}, r, true},
	} {
		if got := condition(tc.op, tc.key, tc.want, tc.r); got != tc.ok {
			t.Errorf("%s: got %t; want %t", tc.name, got, tc.ok)
		}
	}
	if !glob("arn:aws:s3:::b/o/r/pr-*/*", "arn:aws:s3:::b/o/r/pr-1/x/y") || glob("arn:aws:s3:::b/o/r/pr-1/*", "arn:aws:s3:::b/o/r/pr-12/x") {
		t.Error("glob: * must cross slashes and match literally elsewhere")
	}
	if _, ok := substitute("x/${aws:PrincipalTag/k}/y", r); ok {
		t.Error("substitute resolved a variable the request lacks")
	}
}

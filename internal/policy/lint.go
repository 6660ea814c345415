package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// MaxInlinePolicySize is IAM's limit on a role's inline policies, in
// characters not counting whitespace.
const MaxInlinePolicySize = 10240

// Problem is one lint finding: what is wrong, where, and how to fix it.
type Problem struct {
	Input string // the action input the problem traces to
	What  string
	Fix   string
}

func (p Problem) Error() string {
	s := p.Input + ": " + p.What
	if p.Fix != "" {
		s += " (fix: " + p.Fix + ")"
	}
	return s
}

// LintOptions relaxes checks an admin opted out of.
type LintOptions struct {
	AllowIAMWildcards bool // allow iam:* / sts:* style actions
}

// LintPermissions checks a rendered inline policy and returns every problem.
func LintPermissions(input string, doc []byte, o LintOptions) []error {
	var errs []error
	add := func(what, fix string) { errs = append(errs, Problem{input, what, fix}) }
	if err := CheckDuplicateKeys(doc); err != nil {
		add("the permission policy is "+err.Error(), "make the template valid JSON with unique keys")
		return errs
	}
	if n := Size(doc); n > MaxInlinePolicySize {
		add(fmt.Sprintf("the permission policy is %d characters, over IAM's %d for inline role policies", n, MaxInlinePolicySize), "shorten the template or move statements into managed-policy-arns")
	}
	if r, ok := badRune(doc); ok {
		add(fmt.Sprintf("the permission policy contains %U, outside the characters IAM accepts", r), "use only tab, newline and U+0020–U+00FF in the template")
	}
	var d map[string]any
	if err := json.Unmarshal(doc, &d); err != nil {
		add("the permission policy is not a JSON object", "the template must be one IAM policy object")
		return errs
	}
	if v, _ := d["Version"].(string); v != "2012-10-17" {
		add(`"Version" must be "2012-10-17"`, `add "Version": "2012-10-17"`)
	}
	stmts, ok := statements(d["Statement"])
	if !ok || len(stmts) == 0 {
		add(`"Statement" must be a non-empty list of statements`, "add at least one statement")
		return errs
	}
	for i, s := range stmts {
		where := fmt.Sprintf("statement %d", i+1)
		if sid, _ := s["Sid"].(string); sid != "" {
			where += fmt.Sprintf(" (%s)", sid)
		}
		effect, _ := s["Effect"].(string)
		if effect != "Allow" && effect != "Deny" {
			add(where+`: "Effect" must be "Allow" or "Deny"`, "")
		}
		if _, ok := s["Principal"]; ok {
			add(where+`: an inline role policy cannot have "Principal"`, "remove Principal; the trust policy is built by the action")
		}
		if _, ok := s["NotPrincipal"]; ok {
			add(where+`: an inline role policy cannot have "NotPrincipal"`, "remove NotPrincipal")
		}
		actions, hasAction := strs(s["Action"])
		_, hasNotAction := s["NotAction"]
		resources, _ := strs(s["Resource"])
		if !hasAction && !hasNotAction {
			add(where+`: needs "Action"`, "")
		}
		if _, ok := s["Resource"]; !ok {
			if _, ok := s["NotResource"]; !ok {
				add(where+`: needs "Resource"`, "")
			}
		}
		if effect != "Allow" {
			continue
		}
		if hasNotAction {
			add(where+`: "NotAction" with "Allow" grants every action not listed, including future ones`, "list the allowed actions in \"Action\" instead")
		}
		if slices.Contains(actions, "*") && slices.Contains(resources, "*") {
			add(where+`: allows "Action": "*" on "Resource": "*" (full administrator)`, "name the actions and resources the preview needs")
		}
		if !o.AllowIAMWildcards {
			for _, a := range actions {
				svc, act, _ := strings.Cut(strings.ToLower(a), ":")
				if strings.ContainsAny(svc, "*?") || (svc == "iam" || svc == "sts") && strings.ContainsAny(act, "*?") {
					add(fmt.Sprintf("%s: allows %q, a wildcard over IAM or STS that lets a preview escalate its own access", where, a), "name the exact actions, or set allow-iam-wildcards: true if you really mean it")
				}
			}
		}
	}
	return errs
}

// LintTrust checks that doc has exactly the shape Trust builds for o: one
// statement, the provider as the only principal, only StringEquals, and
// every binding claim present with a literal value. Trust builds it that
// way; this check is what keeps it so when the code changes.
func LintTrust(input string, doc []byte, o TrustOptions, sizeLimit int) []error {
	var errs []error
	add := func(what, fix string) { errs = append(errs, Problem{input, what, fix}) }
	if n := Size(doc); n > sizeLimit {
		add(fmt.Sprintf("the trust policy is %d characters, over the %d-character quota on role trust policies (IAM quota \"Role trust policy length\")", n, sizeLimit),
			"use a shorter subject-template, or raise the quota in Service Quotas and set trust-policy-size-limit to the new value")
	}
	if r, ok := badRune(doc); ok {
		add(fmt.Sprintf("the trust policy contains %U, outside the characters IAM accepts", r), "check subject-template and environment-template")
	}
	var d struct {
		Statement []struct {
			Effect    string
			Principal map[string]any
			Action    any
			Condition map[string]map[string]any
		}
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		add("the trust policy is not valid JSON: "+err.Error(), "")
		return errs
	}
	if len(d.Statement) != 1 {
		add(fmt.Sprintf("the trust policy has %d statements; it must have exactly one", len(d.Statement)), "")
		return errs
	}
	s := d.Statement[0]
	if s.Effect != "Allow" || s.Action != "sts:AssumeRoleWithWebIdentity" {
		add("the trust statement must allow exactly sts:AssumeRoleWithWebIdentity", "")
	}
	if len(s.Principal) != 1 || s.Principal["Federated"] != o.ProviderARN {
		add("the trust statement's only principal must be the OIDC provider "+o.ProviderARN, "")
	}
	if len(s.Condition) != 1 || s.Condition["StringEquals"] == nil {
		add("the trust statement must use only StringEquals conditions", "")
		return errs
	}
	want := TrustConditions(o)
	got := s.Condition["StringEquals"]
	for _, k := range slices.Sorted(maps.Keys(want)) {
		v, ok := got[k].(string)
		if !ok || v != want[k] {
			add(fmt.Sprintf("the trust condition %s must be exactly %q", k, want[k]), "")
		}
		if strings.ContainsAny(want[k], "*?") || want[k] == "" {
			add(fmt.Sprintf("the trust condition %s value %q is empty or has a wildcard", k, want[k]), "check subject-template and environment-template: they must render literal values")
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			add("unexpected trust condition "+k, "")
		}
	}
	return errs
}

// badRune finds the first character outside IAM's policy alphabet
// (tab, LF, CR, U+0020–U+00FF) in the decoded strings of doc.
func badRune(doc []byte) (rune, bool) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(doc))
	if err := dec.Decode(&v); err != nil {
		return 0, false
	}
	var found rune
	var ok bool
	walk(v, func(s string) string {
		for _, r := range s {
			if !ok && !(r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xff)) {
				found, ok = r, true
			}
		}
		return s
	}, nil)
	return found, ok
}

func statements(v any) ([]map[string]any, bool) {
	switch t := v.(type) {
	case map[string]any:
		return []map[string]any{t}, true
	case []any:
		out := make([]map[string]any, 0, len(t))
		for _, e := range t {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, false
			}
			out = append(out, m)
		}
		return out, true
	}
	return nil, false
}

func strs(v any) ([]string, bool) {
	switch t := v.(type) {
	case string:
		return []string{t}, true
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out, true
	}
	return nil, false
}

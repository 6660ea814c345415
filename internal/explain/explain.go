package explain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/desired"
	"github.com/preview-access/preview-access/internal/preview"
	"github.com/preview-access/preview-access/templates"
)

// Status is the outcome of one check.
type Status string

const (
	Match        Status = "match"
	Mismatch     Status = "mismatch"
	Unsupported  Status = "unsupported" // explain does not evaluate this part of the policy
	Unverifiable Status = "unknown"     // the claims do not say (e.g. no iss in a hand-made claims file)
)

func (s Status) mark() string {
	switch s {
	case Match:
		return "✓"
	case Mismatch:
		return "✗"
	default:
		return "?"
	}
}

// Check is one comparison between the policy and the token.
type Check struct {
	Kind     string   // "action", "principal" or the condition operator, e.g. "StringEquals"
	Key      string   // the policy's key, e.g. token.actions.githubusercontent.com:ref
	Claim    string   // the token claim it reads, e.g. ref
	Expected []string // what the policy admits (any one of them)
	Actual   []string // what the token has; nil when absent
	Status   Status
	Hint     string // for a mismatch: why, and what to do
}

// Result is the evaluation of one trust policy against one token.
type Result struct {
	// Admitted is true when some Allow statement admits the token and
	// explain understood all of it.
	Admitted bool
	// Understood is false when a statement uses something explain does not
	// evaluate (an operator other than StringEquals, NotPrincipal, a Deny…);
	// then Admitted is false and the checks say what was skipped.
	Understood bool
	Statements []StatementResult
}

// StatementResult is the evaluation of one statement.
type StatementResult struct {
	Sid      string
	Admitted bool
	Checks   []Check
}

// FirstMismatch is the first failing check of the statement closest to
// admitting the token, or nil.
func (r Result) FirstMismatch() *Check {
	best := -1
	bestFails := 0
	for i, s := range r.Statements {
		n := 0
		for _, c := range s.Checks {
			if c.Status != Match && c.Status != Unverifiable {
				n++
			}
		}
		if n > 0 && (best < 0 || n < bestFails) {
			best, bestFails = i, n
		}
	}
	if best < 0 {
		return nil
	}
	for i, c := range r.Statements[best].Checks {
		if c.Status != Match && c.Status != Unverifiable {
			return &r.Statements[best].Checks[i]
		}
	}
	return nil
}

type policyDoc struct {
	Version   string          `json:"Version"`
	Statement json.RawMessage `json:"Statement"`
}

type policyStatement struct {
	Sid          string                                `json:"Sid"`
	Effect       string                                `json:"Effect"`
	Principal    json.RawMessage                       `json:"Principal"`
	NotPrincipal json.RawMessage                       `json:"NotPrincipal"`
	Action       strList                               `json:"Action"`
	NotAction    strList                               `json:"NotAction"`
	Condition    map[string]map[string]json.RawMessage `json:"Condition"`
}

type strList []string

func (l *strList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = strList{s}
		return nil
	}
	var v []string
	if err := json.Unmarshal(b, &v); err != nil {
		return errors.New("want a string or a list of strings")
	}
	*l = v
	return nil
}

// conditionValues reads a condition value: IAM accepts strings, numbers and
// booleans, alone or in a list.
func conditionValues(raw json.RawMessage) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if l, ok := v.([]any); ok {
		out := make([]string, 0, len(l))
		for _, e := range l {
			out = append(out, scalar(e))
		}
		return out, nil
	}
	return []string{scalar(v)}, nil
}

const webIdentity = "sts:AssumeRoleWithWebIdentity"

// Evaluate checks, condition by condition, whether the trust policy admits
// a token with these claims through sts:AssumeRoleWithWebIdentity. The
// policy may be URL-encoded, as IAM's GetRole returns it.
//
// It understands Allow statements with a Federated principal, Action or
// NotAction, and StringEquals conditions with string or list values.
// Anything else is reported as Unsupported, never guessed.
func Evaluate(trustPolicy []byte, claims Claims) (Result, error) {
	doc, err := parsePolicy(trustPolicy)
	if err != nil {
		return Result{}, err
	}
	var stmts []policyStatement
	if err := json.Unmarshal(doc.Statement, &stmts); err != nil {
		var one policyStatement
		if err1 := json.Unmarshal(doc.Statement, &one); err1 != nil {
			return Result{}, fmt.Errorf("trust policy: Statement: %w", err)
		}
		stmts = []policyStatement{one}
	}
	if len(stmts) == 0 {
		return Result{}, errors.New("trust policy: no statements")
	}
	res := Result{Understood: true}
	for _, s := range stmts {
		sr, understood := evalStatement(s, claims)
		res.Statements = append(res.Statements, sr)
		if !understood {
			res.Understood = false
		}
	}
	if res.Understood {
		for _, s := range res.Statements {
			if s.Admitted {
				res.Admitted = true
			}
		}
	}
	return res, nil
}

func parsePolicy(b []byte) (policyDoc, error) {
	s := strings.TrimSpace(string(b))
	if strings.HasPrefix(s, "%7B") || strings.HasPrefix(s, "%7b") {
		u, err := url.QueryUnescape(s)
		if err != nil {
			return policyDoc{}, fmt.Errorf("trust policy: URL-encoded but not decodable: %w", err)
		}
		s = u
	}
	var d policyDoc
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return policyDoc{}, fmt.Errorf("trust policy: not a JSON policy document: %w", err)
	}
	if d.Statement == nil {
		return policyDoc{}, errors.New("trust policy: no Statement")
	}
	return d, nil
}

func evalStatement(s policyStatement, claims Claims) (StatementResult, bool) {
	sr := StatementResult{Sid: s.Sid}
	understood := true
	add := func(c Check) {
		if c.Status == Unsupported {
			understood = false
		}
		sr.Checks = append(sr.Checks, c)
	}

	if s.Effect != "Allow" {
		add(Check{Kind: "effect", Key: "Effect", Expected: []string{"Allow"}, Actual: []string{s.Effect}, Status: Unsupported,
			Hint: "explain evaluates Allow statements only; a Deny statement may still refuse the token"})
		return sr, false
	}
	add(actionCheck(s))
	pr, host := principalCheck(s, claims)
	add(pr)
	for _, c := range conditionChecks(s, claims, host) {
		add(c)
	}
	sr.Admitted = understood
	for _, c := range sr.Checks {
		if c.Status == Mismatch || c.Status == Unsupported {
			sr.Admitted = false
		}
	}
	return sr, understood
}

// actionCheck: the statement must allow AssumeRoleWithWebIdentity.
func actionCheck(s policyStatement) Check {
	act := Check{Kind: "action", Key: "Action", Expected: s.Action, Actual: []string{webIdentity}}
	switch {
	case s.NotAction != nil:
		act.Key, act.Expected = "NotAction", s.NotAction
		act.Status = Match
		if actionMatches(s.NotAction, webIdentity) {
			act.Status = Mismatch
		}
	case actionMatches(s.Action, webIdentity):
		act.Status = Match
	default:
		act.Status = Mismatch
		act.Hint = "the statement does not allow " + webIdentity + ", the call GitHub OIDC federation makes"
	}
	return act
}

// principalCheck: the provider's host must be the token's issuer. It
// returns the host ("" when the principal names none).
func principalCheck(s policyStatement, claims Claims) (Check, string) {
	pr := Check{Kind: "principal", Key: "Principal.Federated", Claim: "iss"}
	var p struct {
		Federated strList `json:"Federated"`
	}
	switch {
	case s.NotPrincipal != nil:
		pr.Status = Unsupported
		pr.Hint = "NotPrincipal is not evaluated"
		return pr, ""
	case s.Principal == nil || json.Unmarshal(s.Principal, &p) != nil || len(p.Federated) != 1:
		pr.Status = Unsupported
		pr.Hint = "explain evaluates a single Federated principal (an OIDC provider ARN) only"
		return pr, ""
	}
	arn := p.Federated[0]
	pr.Expected = []string{arn}
	_, h, ok := strings.Cut(arn, ":oidc-provider/")
	if !ok {
		pr.Status = Mismatch
		pr.Hint = "the principal " + arn + " is not an OIDC provider"
		return pr, ""
	}
	pr.Expected = []string{"https://" + h}
	iss, present := claims.Values("iss")
	pr.Actual = iss
	switch {
	case !present:
		pr.Status = Unverifiable
		pr.Hint = "the claims have no iss; assuming the token is from https://" + h
	case slices.Contains(iss, "https://"+h):
		pr.Status = Match
	default:
		pr.Status = Mismatch
		pr.Hint = "the token was issued by " + strings.Join(iss, ", ") + " but the role trusts the provider for https://" + h +
			" (a GitHub Enterprise data-residency or GHES issuer needs its own OIDC provider)"
	}
	return pr, h
}

// conditionChecks checks every condition, in a stable order.
func conditionChecks(s policyStatement, claims Claims, host string) []Check {
	var out []Check
	for _, op := range slices.Sorted(maps.Keys(s.Condition)) {
		for _, k := range slices.Sorted(maps.Keys(s.Condition[op])) {
			out = append(out, conditionCheck(op, k, s.Condition[op][k], claims, host))
		}
	}
	return out
}

func conditionCheck(op, k string, value json.RawMessage, claims Claims, host string) Check {
	c := Check{Kind: op, Key: k}
	if i := strings.LastIndex(k, ":"); i >= 0 {
		c.Claim = k[i+1:]
	}
	vals, err := conditionValues(value)
	c.Expected = vals
	switch {
	case err != nil:
		c.Status, c.Hint = Unsupported, "condition value is not a string, number, boolean or list of them"
		return c
	case op != "StringEquals":
		c.Actual, _ = claims.Values(c.Claim)
		c.Status = Unsupported
		c.Hint = "operator " + op + " is not understood by explain (preview-access trust policies use StringEquals only)"
		return c
	}
	if keyHost := strings.TrimSuffix(k, ":"+c.Claim); host != "" && keyHost != host {
		c.Status = Mismatch
		c.Hint = "the key is for provider " + keyHost + " but the principal is " + host + ": such a condition is never satisfied"
		return c
	}
	actual, present := claims.Values(c.Claim)
	c.Actual = actual
	c.Status = Mismatch
	if present {
		for _, a := range actual {
			if slices.Contains(vals, a) {
				c.Status = Match
			}
		}
	}
	if c.Status == Mismatch {
		c.Hint = hint(c, claims)
	}
	return c
}

func actionMatches(patterns []string, action string) bool {
	for _, p := range patterns {
		if strings.EqualFold(p, action) || p == "*" || strings.EqualFold(p, "sts:*") {
			return true
		}
	}
	return false
}

var (
	pullRefRE = regexp.MustCompile(`^refs/pull/([0-9]+)/merge$`)
	headsRE   = regexp.MustCompile(`^refs/(heads|tags)/`)
)

// hint explains a failed StringEquals in terms of what the user did.
func hint(c Check, claims Claims) string {
	want := strings.Join(c.Expected, " or ")
	got := strings.Join(c.Actual, ", ")
	if c.Actual == nil {
		switch c.Claim {
		case "environment":
			return "the token has no environment claim: the job does not name a GitHub environment; add environment: " + want + " to the deploy job, or use trust-scope ref"
		case "repository_id", "ref", "job_workflow_ref":
			return "the token has no " + c.Claim + " claim; check that the claims come from a GitHub Actions OIDC token"
		}
		return "the token has no " + c.Claim + " claim"
	}
	switch c.Claim {
	case "ref":
		wm := pullRefRE.FindStringSubmatch(c.Expected[0])
		gm := pullRefRE.FindStringSubmatch(got)
		switch {
		case wm != nil && gm != nil:
			return "ref is " + got + ": this token is from PR #" + gm[1] + "'s run, the role is PR #" + wm[1] + "'s (it only admits " + want + "); use PR #" + gm[1] + "'s role"
		case wm != nil && headsRE.MatchString(got):
			ev := claims.String("event_name")
			if ev == "" {
				ev = "push/base-branch"
			}
			return "ref is " + got + ": this token is from a " + ev + " run (push, schedule, workflow_dispatch, pull_request_target or a closed PR all carry a branch ref), the PR role only admits " + want + "; assume it from the pull_request-triggered deploy job"
		case wm == nil && gm != nil:
			return "ref is " + got + ": this token is from a pull_request run, the role only admits " + want
		}
	case "sub":
		switch {
		case strings.Contains(got, ":environment:") && !strings.Contains(want, ":environment:"):
			return "sub is " + got + ": the job names a GitHub environment, so GitHub puts the environment in sub; remove environment: from the job, or use trust-scope environment"
		case strings.Contains(want, ":environment:") && !strings.Contains(got, ":environment:"):
			return "sub is " + got + ": the job does not run in the environment the role expects (" + want + "); add environment: to the deploy job"
		case strings.Contains(got, "@") && !strings.Contains(want, "@"):
			return "sub is " + got + ": the repository uses ID-based (immutable) subjects; set the sub template to that format"
		case !strings.Contains(got, "@") && strings.Contains(want, "@"):
			return "sub is " + got + ": the role expects the ID-based (immutable) subject format but the repository uses names"
		case strings.HasSuffix(got, ":pull_request") != strings.HasSuffix(want, ":pull_request"):
			return "sub is " + got + ": the token is from a different kind of run than the role admits (" + want + ")"
		}
		return "sub is " + got + ", the role admits " + want + ": another repository, or a customised subject format"
	case "repository_id":
		repo := claims.String("repository")
		if repo != "" {
			repo = " (" + repo + ")"
		}
		return "repository_id is " + got + repo + ", the role trusts repository id " + want + ": the token is from another repository, or the repository was deleted and re-created"
	case "aud":
		return "aud is " + got + ": the token was requested for another audience; configure-aws-credentials requests " + want + " (set audience: " + want + ")"
	case "environment":
		return "environment is " + got + ", the role admits " + want + ": the deploy job runs in another environment"
	case "job_workflow_ref":
		return "job_workflow_ref is " + got + ", the role admits " + want + ": another workflow file, or the workflow ran from another branch"
	}
	return c.Claim + " is " + got + ", the role admits " + want
}

// Write prints the checks as a table with ✓/✗ marks and a one-line verdict.
func (r Result) Write(w io.Writer) error {
	var b bytes.Buffer
	for i, s := range r.Statements {
		title := fmt.Sprintf("statement %d", i+1)
		if s.Sid != "" {
			title += " (" + s.Sid + ")"
		}
		fmt.Fprintf(&b, "%s:\n", title)
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  \tCHECK\tKEY\tEXPECTED\tTOKEN")
		for _, c := range s.Checks {
			actual := strings.Join(c.Actual, ", ")
			if c.Actual == nil {
				actual = "(absent)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", c.Status.mark(), c.Kind, c.Key, strings.Join(c.Expected, " | "), actual)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, c := range s.Checks {
			if c.Status == Unverifiable || c.Status == Unsupported {
				fmt.Fprintf(&b, "  ? %s: %s\n", c.Key, c.Hint)
			}
		}
	}
	b.WriteString(r.Verdict() + "\n")
	_, err := w.Write(b.Bytes())
	return err
}

// Verdict is one line: admitted, or the first claim that differs and a hint.
func (r Result) Verdict() string {
	if r.Admitted {
		return "verdict: ADMITTED — the trust policy admits this token (if AssumeRoleWithWebIdentity still fails, check the role ARN, the OIDC provider's audience list and that the role exists; a new role can take a few seconds to become assumable)"
	}
	c := r.FirstMismatch()
	if c == nil {
		return "verdict: NOT ADMITTED — no statement admits this token"
	}
	if c.Status == Unsupported {
		return "verdict: CANNOT TELL — " + c.Key + ": " + c.Hint
	}
	name := c.Claim
	if name == "" {
		name = c.Key
	}
	return "verdict: NOT ADMITTED — " + name + " differs: " + c.Hint
}

// RenderTrust renders the trust policy pull request p's role has, from the
// inputs lookup reads (the boundary plays no part in the trust, and the
// account id only fills the provider ARN, which claims do not name).
func RenderTrust(lookup func(string) string, p preview.Preview, now time.Time) ([]byte, error) {
	cfg, err := config.Load(func(name string) string {
		v := lookup(name)
		if v == "" && name == "allow-missing-boundary" {
			return "true"
		}
		if v == "" && name == "account-id" {
			return "123456789012"
		}
		return v
	})
	if err != nil {
		return nil, err
	}
	tmpl, err := templates.FS.ReadFile(templates.DefaultPermissions)
	if err != nil {
		return nil, err
	}
	st, err := desired.Build(cfg, p, tmpl, now)
	if err != nil {
		return nil, err
	}
	return st.Role.Trust, nil
}

package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/preview-access/preview-access/internal/endpoint"

	"github.com/preview-access/preview-access/internal/naming"
	"github.com/preview-access/preview-access/internal/policy"
)

// Modes.
const (
	ModeAuto  = "auto"
	ModePlan  = "plan"
	ModeUp    = "up"
	ModeDown  = "down"
	ModeSweep = "sweep"
	// ModeAwait is the deploy job's: wait until the provisioner's
	// deployment of the PR's head succeeded, and output the role's ARN.
	ModeAwait = "await"
	// ModeStatus reads who has access to the repository's previews right
	// now, and writes nothing.
	ModeStatus = "status"
)

// Config is the validated set of inputs.
type Config struct {
	Mode string
	PR   int

	Region          string
	Partition       string
	AccountID       string // may be empty until resolved through STS
	OIDCProviderARN string // may be empty until the account is known

	Audience            string
	TrustScope          string
	EnvironmentTemplate string
	SubjectTemplate     string
	RoleNameTemplate    string
	RolePathTemplate    string
	PermissionsTemplate string // path in the repository; "" = built-in
	ManagedPolicyARNs   []string
	PermissionsBoundary string
	AllowMissingBound   bool
	AllowIAMWildcards   bool
	MaxSessionDuration  int32
	TTL                 time.Duration
	Tags                map[string]string
	TrustSizeLimit      int
	DryRun              bool
	Timeout             time.Duration
	WaitForRole         bool

	GitHubToken string
	AllowForks  bool
	Comment     bool
	Deployment  bool
	PreviewURL  string // template

	Gateway       string
	GatewayURL    string
	GatewayToken  string
	GatewaySecret string
	GatewayFile   string
	// GatewayUnauthenticated lets an opa gateway off this machine be used
	// without a token (allow-unauthenticated-gateway).
	GatewayUnauthenticated bool
	AccessFile             string
	// AccessFileExplicit: the access-file input names another file than the
	// default, so a missing file is an error rather than the defaults. (The
	// runner passes every input with its default, so a value equal to the
	// default cannot be told from no value.)
	AccessFileExplicit bool

	Concurrency int
}

// LogValue keeps secrets out of logs.
func (c Config) LogValue() slog.Value {
	redact := func(s string) string {
		if s == "" {
			return ""
		}
		return "[redacted]"
	}
	return slog.GroupValue(
		slog.String("mode", c.Mode),
		slog.String("trust-scope", c.TrustScope),
		slog.String("gateway", c.Gateway),
		slog.String("github-token", redact(c.GitHubToken)),
		slog.String("gateway-token", redact(c.GatewayToken)),
		slog.String("gateway-secret", redact(c.GatewaySecret)),
	)
}

// Secrets are the values to mask in logs.
func (c Config) Secrets() []string {
	var s []string
	for _, v := range []string{c.GitHubToken, c.GatewayToken, c.GatewaySecret} {
		if v != "" {
			s = append(s, v)
		}
	}
	return s
}

// InputError is a problem with one input.
type InputError struct {
	Input string
	What  string
	Fix   string
}

func (e *InputError) Error() string {
	s := "input " + e.Input + ": " + e.What
	if e.Fix != "" {
		s += " (" + e.Fix + ")"
	}
	return s
}

var (
	accountRE     = regexp.MustCompile(`^[0-9]{12}$`)
	regionRE      = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$`)
	policyRE      = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):iam::([0-9]{12}|aws):policy/([\x21-\x7e]*/)?[A-Za-z0-9+=,.@_-]{1,128}$`)
	placeholderRE = regexp.MustCompile(`\{[a-z_]+\}`)
	providerRE    = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):iam::([0-9]{12}):oidc-provider/[A-Za-z0-9.-]+(/[A-Za-z0-9._-]+)*$`)
)

// PartitionOf returns the AWS partition of a region.
func PartitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	default:
		return "aws"
	}
}

// Load reads every input through lookup (which returns "" for an unset
// input) and validates it. The returned error joins one *InputError per
// problem. Load is pure: it reads nothing but lookup, and the Config it
// returns is a value no later step changes.
func Load(lookup func(name string) string) (Config, error) {
	// The readers go in the order action.yml shows the inputs, and so do
	// the errors.
	r := &reader{lookup: lookup}
	var c Config
	r.mode(&c)
	r.aws(&c)
	r.trust(&c)
	r.role(&c)
	r.limits(&c)
	r.github(&c)
	r.gateway(&c)
	r.accessFile(&c)
	c.Concurrency = r.integer("concurrency", 1, 32)
	return c, errors.Join(r.errs...)
}

// reader reads inputs and collects their problems.
type reader struct {
	lookup func(string) string
	errs   []error
}

func (r *reader) bad(input, what, fix string) { r.errs = append(r.errs, &InputError{input, what, fix}) }

// get is the input's value, trimmed, or its default.
func (r *reader) get(name string) string {
	if v := strings.TrimSpace(r.lookup(name)); v != "" {
		return v
	}
	return Default(name)
}

func (r *reader) boolean(name string) bool {
	switch v := r.get(name); v {
	case "true", "True", "TRUE":
		return true
	case "false", "False", "FALSE":
		return false
	default:
		r.bad(name, fmt.Sprintf("%q is not a boolean", v), "use true or false")
		return false
	}
}

func (r *reader) integer(name string, lo, hi int) int {
	v := r.get(name)
	n, err := strconv.Atoi(v)
	if err != nil {
		r.bad(name, fmt.Sprintf("%q is not a whole number", v), fmt.Sprintf("use a number from %d to %d", lo, hi))
		return 0
	}
	if n < lo || n > hi {
		r.bad(name, fmt.Sprintf("%d is out of range", n), fmt.Sprintf("use a number from %d to %d", lo, hi))
	}
	return n
}

// template checks a naming template's placeholders.
func (r *reader) template(input, tmpl string, allowed ...string) bool {
	if err := naming.CheckTemplate(input, tmpl, allowed...); err != nil {
		r.errs = append(r.errs, asInputErrors(input, err)...)
		return false
	}
	return true
}

// mode reads what the run does, and for which pull request.
func (r *reader) mode(c *Config) {
	c.Mode = r.get("mode")
	switch c.Mode {
	case ModeAuto, ModePlan, ModeUp, ModeDown, ModeSweep, ModeAwait, ModeStatus:
	default:
		r.bad("mode", fmt.Sprintf("%q is not a mode", c.Mode), "use auto, plan, up, down, sweep, await or status")
	}
	if v := r.get("pr"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			r.bad("pr", fmt.Sprintf("%q is not a pull request number", v), "use a positive whole number")
		}
		c.PR = n
	}
}

// limits reads the dry run, the deadline and the wait for a new role.
func (r *reader) limits(c *Config) {
	// Mode plan is a dry run of what auto would do.
	c.DryRun = r.boolean("dry-run") || c.Mode == ModePlan
	if d, err := time.ParseDuration(r.get("timeout")); err != nil || d < 10*time.Second || d > time.Hour {
		r.bad("timeout", fmt.Sprintf("%q is not a duration from 10s to 1h", r.get("timeout")), "use e.g. 90s or 5m")
	} else {
		c.Timeout = d
	}
	c.WaitForRole = r.boolean("wait-for-role")
}

// aws reads the region, partition, account and OIDC provider.
func (r *reader) aws(c *Config) {
	c.Region = r.get("aws-region")
	if c.Region == "" {
		c.Region = strings.TrimSpace(r.lookup("AWS_REGION"))
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if !regionRE.MatchString(c.Region) {
		r.bad("aws-region", fmt.Sprintf("%q is not an AWS region", c.Region), "use a region code such as us-east-1")
	}
	c.Partition = PartitionOf(c.Region)

	c.AccountID = r.get("account-id")
	if c.AccountID != "" && !accountRE.MatchString(c.AccountID) {
		r.bad("account-id", fmt.Sprintf("%q is not a 12-digit AWS account id", c.AccountID), "use the 12 digits, or leave it empty to read it with sts:GetCallerIdentity")
		c.AccountID = "" // one problem, one error: no cross-checks against it
	}
	c.OIDCProviderARN = r.get("oidc-provider-arn")
	if c.OIDCProviderARN == "" {
		return
	}
	m := providerRE.FindStringSubmatch(c.OIDCProviderARN)
	switch {
	case m == nil:
		r.bad("oidc-provider-arn", fmt.Sprintf("%q is not an IAM OIDC provider ARN", c.OIDCProviderARN), "use arn:aws:iam::ACCOUNT:oidc-provider/"+policy.GitHubOIDCHost)
	case m[1] != c.Partition:
		r.bad("oidc-provider-arn", fmt.Sprintf("partition %q does not match region %s (partition %s)", m[1], c.Region, c.Partition), "use the provider of the account the roles are created in")
	case c.AccountID != "" && m[2] != c.AccountID:
		r.bad("oidc-provider-arn", fmt.Sprintf("account %s differs from account-id %s", m[2], c.AccountID), "the provider must be in the account of the roles")
	}
}

// trust reads what the trust policy binds the role to.
func (r *reader) trust(c *Config) {
	c.Audience = r.get("audience")
	if a := c.Audience; len(a) > 255 || strings.IndexFunc(a, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 || strings.ContainsAny(a, "*?${}") {
		r.bad("audience", fmt.Sprintf("%q is not a plain audience", a), "use the OIDC provider's client id exactly, e.g. "+policy.DefaultAudience+": printable ASCII, no spaces, wildcards or ${…}, at most 255 characters")
	}
	c.TrustScope = r.get("trust-scope")
	if c.TrustScope != policy.ScopeRef && c.TrustScope != policy.ScopeEnvironment {
		r.bad("trust-scope", fmt.Sprintf("%q is not a trust scope", c.TrustScope), "use ref or environment")
	}
	c.EnvironmentTemplate = r.get("environment-template")
	if r.template("environment-template", c.EnvironmentTemplate, "number", "owner", "repo", "repository_id") && !strings.Contains(c.EnvironmentTemplate, "{number}") {
		// The action rewrites the environment's branch policies and deletes
		// it on teardown: it must be the PR's own, never a shared one.
		r.bad("environment-template", "must contain {number}", "each PR needs its own environment, e.g. preview-pr-{number}")
	}
	c.SubjectTemplate = r.get("subject-template")
	switch {
	case c.SubjectTemplate != "":
		r.template("subject-template", c.SubjectTemplate, "owner", "repo", "owner_id", "repository_id", "environment", "number")
		if strings.ContainsAny(c.SubjectTemplate, "*?") || strings.IndexFunc(c.SubjectTemplate, isSpaceOrControl) >= 0 {
			r.bad("subject-template", "must not contain wildcards (* ?), spaces or control characters", "write the exact sub claim; the trust policy compares it with StringEquals")
		}
	case c.TrustScope == policy.ScopeEnvironment:
		c.SubjectTemplate = "repo:{owner}/{repo}:environment:{environment}"
	default:
		c.SubjectTemplate = "repo:{owner}/{repo}:pull_request"
	}
	if c.TrustScope == policy.ScopeRef && strings.Contains(c.SubjectTemplate, "{environment}") {
		r.bad("subject-template", "uses {environment} but trust-scope is ref", "set trust-scope: environment, or remove {environment}")
	}
}

var nameVars = []string{"owner", "repo", "number", "repository_id", "owner_id"}

// role reads the role's name, path and permissions.
func (r *reader) role(c *Config) {
	c.RoleNameTemplate = r.get("role-name-template")
	if r.template("role-name-template", c.RoleNameTemplate, nameVars...) && !strings.Contains(c.RoleNameTemplate, "{number}") {
		r.bad("role-name-template", "must contain {number}", "each PR needs its own role; add {number}")
	}
	c.RolePathTemplate = r.get("role-path")
	r.rolePath(c.RolePathTemplate)
	c.PermissionsTemplate = r.get("permissions-template")
	if p := c.PermissionsTemplate; p != "" && (strings.HasPrefix(p, "/") || strings.Contains(p, "..") || strings.ContainsAny(p, "\\\x00")) {
		r.bad("permissions-template", fmt.Sprintf("%q is not a relative path inside the repository", p), "use a path such as .github/preview-role.json")
	}
	c.ManagedPolicyARNs = r.managedPolicies(c.Partition, c.Region)
	c.AllowMissingBound = r.boolean("allow-missing-boundary")
	c.PermissionsBoundary = r.get("permissions-boundary")
	r.boundary(c)
	c.AllowIAMWildcards = r.boolean("allow-iam-wildcards")
	c.MaxSessionDuration = int32(r.integer("max-session-duration", 3600, 43200))
	if d, err := ParseTTL(r.get("ttl")); err != nil {
		r.bad("ttl", err.Error(), "use a duration from 1h to 90d, such as 36h or 7d")
	} else {
		c.TTL = d
	}
	c.Tags = r.tags()
	c.TrustSizeLimit = r.integer("trust-policy-size-limit", policy.DefaultTrustSizeLimit, 8192)
}

func (r *reader) rolePath(tmpl string) {
	if !r.template("role-path", tmpl, nameVars...) {
		return
	}
	sample := naming.Path(tmpl, naming.Vars{"owner": "o", "repo": "r", "number": "1", "repository_id": "1", "owner_id": "1"})
	lit := placeholderRE.ReplaceAllString(tmpl, "")
	switch {
	case strings.IndexFunc(lit, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/_.-", r))
	}) >= 0:
		r.bad("role-path", fmt.Sprintf("%q has characters other than letters, digits and /_.-", tmpl), "a * or ? would widen the ARN patterns bootstrap writes for the path")
	case !naming.ValidPath(sample) || sample == "/":
		r.bad("role-path", fmt.Sprintf("%q is not an IAM path of its own", tmpl), "start and end with /, e.g. "+naming.DefaultPathTemplate+"; / alone would let sweep see every role")
	}
	if strings.Contains(tmpl, "{number}") {
		r.bad("role-path", "must not contain {number}", "sweep lists one path for all PRs of the repository")
	}
}

func (r *reader) managedPolicies(partition, region string) []string {
	var out []string
	for _, a := range splitList(r.get("managed-policy-arns")) {
		m := policyRE.FindStringSubmatch(a)
		switch {
		case m == nil:
			r.bad("managed-policy-arns", fmt.Sprintf("%q is not an IAM policy ARN", a), "use arn:aws:iam::ACCOUNT:policy/NAME")
		case m[1] != partition:
			r.bad("managed-policy-arns", fmt.Sprintf("%q is in partition %s, not %s of region %s", a, m[1], partition, region), "use a policy of the roles' partition")
		case strings.ContainsAny(a, "*?"):
			r.bad("managed-policy-arns", fmt.Sprintf("%q contains a wildcard", a), "name one policy")
		default:
			out = append(out, a)
		}
	}
	if len(out) > 10 {
		r.bad("managed-policy-arns", fmt.Sprintf("%d policies exceed IAM's default of 10 per role", len(out)), "combine policies")
	}
	return out
}

func (r *reader) boundary(c *Config) {
	b := c.PermissionsBoundary
	if b == "" {
		return
	}
	m := policyRE.FindStringSubmatch(b)
	if m == nil || strings.ContainsAny(b, "*?") {
		r.bad("permissions-boundary", fmt.Sprintf("%q is not an IAM policy ARN", b), "use arn:aws:iam::ACCOUNT:policy/NAME (bootstrap prints one)")
		return
	}
	if m[1] != c.Partition {
		r.bad("permissions-boundary", fmt.Sprintf("%q is in partition %s, not %s of region %s", b, m[1], c.Partition, c.Region), "use a boundary of the roles' partition")
	}
	if c.AccountID != "" && m[2] != "aws" && m[2] != c.AccountID {
		r.bad("permissions-boundary", fmt.Sprintf("account %s differs from account-id %s", m[2], c.AccountID), "use a policy of the roles' account")
	}
}

// tags reads the extra role tags. IAM tag keys are case-insensitive: Team
// and team are one tag, and Preview-Access:managed-by is the tool's own.
func (r *reader) tags() map[string]string {
	tags := map[string]string{}
	seenKey := map[string]int{}
	for i, line := range strings.Split(r.get("tags"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		lower := strings.ToLower(k)
		switch {
		case !ok:
			r.bad("tags", fmt.Sprintf("line %d %q is not key=value", i+1, line), "write one key=value per line")
		case !naming.ValidTagKey(k) || strings.HasPrefix(lower, naming.TagPrefix):
			r.bad("tags", fmt.Sprintf("line %d: key %q is not allowed", i+1, k), "use letters, digits, spaces and _.:/=+-@, at most 128, not starting with aws: or preview-access: in any case")
		case !naming.ValidTagValue(v):
			r.bad("tags", fmt.Sprintf("line %d: value of %q is not allowed", i+1, k), "use letters, digits, spaces and _.:/=+-@, at most 256")
		case seenKey[lower] > 0:
			r.bad("tags", fmt.Sprintf("line %d: key %q is repeated (line %d has it; IAM tag keys are case-insensitive)", i+1, k, seenKey[lower]), "give each key once")
		default:
			seenKey[lower] = i + 1
			tags[k] = v
		}
	}
	if len(tags) > 40 {
		r.bad("tags", fmt.Sprintf("%d tags with the action's own exceed IAM's 50 per role", len(tags)+6), "use at most 40 extra tags")
	}
	return tags
}

// github reads the GitHub side: token, forks, comment, deployment and the
// preview's URL.
func (r *reader) github(c *Config) {
	c.GitHubToken = strings.TrimSpace(r.lookup("github-token"))
	if strings.Contains(c.GitHubToken, "${{") {
		c.GitHubToken = "" // an unexpanded default: the CLI outside Actions
	}
	c.AllowForks = r.boolean("allow-forks")
	c.Comment = r.boolean("comment")
	c.Deployment = r.boolean("deployment")
	c.PreviewURL = r.get("preview-url")
	if u := c.PreviewURL; u != "" && r.template("preview-url", u, "number", "owner", "repo", "repository_id") {
		sample := naming.Expand(u, naming.Vars{"number": "1", "owner": "o", "repo": "r", "repository_id": "1"})
		if pu, err := url.Parse(sample); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" || pu.User != nil {
			r.bad("preview-url", fmt.Sprintf("%q is not an http(s) URL without credentials", u), "use e.g. https://pr-{number}.preview.example.com")
		}
	}
}

// accessFile reads where the repository's access file is.
func (r *reader) accessFile(c *Config) {
	c.AccessFile = r.get("access-file")
	c.AccessFileExplicit = c.AccessFile != Default("access-file")
	if p := c.AccessFile; strings.HasPrefix(p, "/") || strings.Contains(p, "..") {
		r.bad("access-file", fmt.Sprintf("%q is not a relative path inside the repository", p), "use a path such as .github/preview-access.yml")
	}
}

// Gateway kinds, the gateway input's values (package gateway's drivers).
const (
	GatewayNone    = "none"
	GatewayOPA     = "opa"
	GatewayWebhook = "webhook"
	GatewayFile    = "file"
)

// MinGatewaySecret is the shortest webhook secret accepted: an HMAC key
// guessable by brute force protects nothing.
const MinGatewaySecret = 16

// gateway reads where the access policy goes, and checks each input the
// chosen gateway needs.
func (r *reader) gateway(c *Config) {
	c.Gateway = r.get("gateway")
	c.GatewayURL = r.get("gateway-url")
	c.GatewayToken = strings.TrimSpace(r.lookup("gateway-token"))
	c.GatewaySecret = strings.TrimSpace(r.lookup("gateway-secret"))
	c.GatewayFile = r.get("gateway-file")
	c.GatewayUnauthenticated = r.boolean("allow-unauthenticated-gateway")
	switch c.Gateway {
	case GatewayNone:
		return
	case GatewayOPA, GatewayWebhook:
		if c.GatewayURL == "" {
			r.bad("gateway-url", "gateway "+c.Gateway+" needs gateway-url", "give the base URL of the OPA server or webhook receiver")
		}
		for _, err := range endpoint.Check("gateway-url", c.GatewayURL) {
			if c.GatewayURL != "" {
				r.bad("gateway-url", err.Error(), "")
			}
		}
	case GatewayFile:
		if c.GatewayFile == "" {
			r.bad("gateway-file", "gateway file needs a path to write the policy to", "")
		}
	default:
		r.bad("gateway", fmt.Sprintf("%q is not a gateway", c.Gateway), "use none, opa, webhook or file")
		return
	}
	switch {
	case c.Gateway == GatewayWebhook && c.GatewaySecret == "":
		r.bad("gateway-secret", "gateway webhook needs gateway-secret (the HMAC-SHA256 key)", "")
	case c.Gateway == GatewayWebhook && len(c.GatewaySecret) < MinGatewaySecret:
		r.bad("gateway-secret", fmt.Sprintf("gateway-secret is %d characters; use at least %d", len(c.GatewaySecret), MinGatewaySecret), "")
	case c.Gateway == GatewayOPA && c.GatewayToken == "" && c.GatewayURL != "" && !c.GatewayUnauthenticated && !endpoint.LoopbackURL(c.GatewayURL):
		r.bad("gateway-token", "is required for an OPA that is not on this machine: without it anyone who can reach the OPA can publish a policy that grants them access",
			"give the repository's OPA token (start OPA with --authentication=token --authorization=basic and templates/gateway/authz.rego; see preview-access bootstrap --format opa), or set allow-unauthenticated-gateway: true for an OPA nobody else can reach")
	}
	if c.PreviewURL == "" {
		r.bad("preview-url", "is required with gateway "+c.Gateway, "the gateway matches requests by the preview's host, e.g. https://pr-{number}.preview.example.com")
	}
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

func asInputErrors(input string, err error) []error {
	var out []error
	for _, e := range unjoin(err) {
		msg := strings.TrimPrefix(e.Error(), input+": ")
		out = append(out, &InputError{Input: input, What: msg})
	}
	return out
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// splitList splits a comma- or newline-separated list.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// ParseTTL accepts Go durations and whole days ("7d").
func ParseTTL(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not a duration", s)
		}
	}
	if d < time.Hour || d > 90*24*time.Hour {
		return 0, fmt.Errorf("%s is out of range", s)
	}
	return d, nil
}

// CheckBoundary reports a missing permissions boundary. Only creating or
// updating a role needs one; teardown and sweep do not.
func (c Config) CheckBoundary() error {
	if c.PermissionsBoundary == "" && !c.AllowMissingBound {
		return &InputError{"permissions-boundary", "is required", "set it to the boundary policy ARN (see `preview-access bootstrap`), or set allow-missing-boundary: true"}
	}
	return nil
}

// ProviderARN is the configured OIDC provider, or the default one of the
// account.
func (c Config) ProviderARN() string {
	if c.OIDCProviderARN != "" {
		return c.OIDCProviderARN
	}
	return "arn:" + c.Partition + ":iam::" + c.AccountID + ":oidc-provider/" + policy.GitHubOIDCHost
}

// WithAccount returns c with the account id learned from STS, checked
// against account-id and the ARNs that name an account. c is not changed.
func (c Config) WithAccount(id string) (Config, error) {
	if !accountRE.MatchString(id) {
		return c, fmt.Errorf("sts:GetCallerIdentity returned an account id that is not 12 digits")
	}
	if c.AccountID != "" && c.AccountID != id {
		return c, &InputError{"account-id", "the credentials belong to another account than account-id", "use credentials of the account the roles are created in"}
	}
	var errs []error
	if m := providerRE.FindStringSubmatch(c.OIDCProviderARN); m != nil && m[2] != id {
		errs = append(errs, &InputError{"oidc-provider-arn", "the provider is in another account than the credentials", "use the provider of the account the roles are created in"})
	}
	if m := policyRE.FindStringSubmatch(c.PermissionsBoundary); m != nil && m[2] != "aws" && m[2] != id {
		errs = append(errs, &InputError{"permissions-boundary", "the boundary is in another account than the credentials", "use a policy of the roles' account"})
	}
	c.AccountID = id
	return c, errors.Join(errs...)
}

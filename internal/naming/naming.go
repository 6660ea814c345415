// Package naming turns repository-controlled values into IAM names, paths
// and tags. Only values a repository admin controls (owner, repository,
// number, ids) are accepted in name templates; branch names and titles can
// never reach a name.
package naming

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/preview-access/preview-access/internal/preview"
)

const (
	// MaxRoleName is IAM's limit on role names.
	MaxRoleName = 64
	// MaxPath is IAM's limit on paths.
	MaxPath = 512
	// hashLen is how many hex digits of SHA-256 end an over-long name.
	hashLen = 8

	// DefaultRoleNameTemplate names a PR's role. The "." between owner
	// and repository is a character GitHub never allows in an owner login,
	// so octo-org/shop and octo/org-shop cannot share a name: the owner is
	// everything before the first ".", the number the digits after the
	// last "-pr-".
	DefaultRoleNameTemplate = "preview-{owner}.{repo}-pr-{number}"
	// DefaultPathTemplate puts every role of one repository under one path.
	DefaultPathTemplate = "/preview-access/{owner}/{repo}/"
	// DefaultEnvironmentTemplate names a PR's GitHub environment.
	DefaultEnvironmentTemplate = "preview-pr-{number}"
)

// Tag keys the tool writes on every role it manages.
const (
	TagManagedBy    = "preview-access:managed-by"
	TagRepository   = "preview-access:repository"
	TagRepositoryID = "preview-access:repository-id"
	TagPullRequest  = "preview-access:pull-request"
	TagHeadSHA      = "preview-access:head-sha"
	TagExpiresAt    = "preview-access:expires-at"
	// ManagedByValue is the value of TagManagedBy.
	ManagedByValue = "preview-access"
	// TagPrefix marks the keys the tool owns; extra tags may not use it.
	TagPrefix = "preview-access:"
)

var (
	roleNameRE = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,64}$`)
	pathRE     = regexp.MustCompile(`^(/|/[\x21-\x7e]+/)$`)
	placeRE    = regexp.MustCompile(`\{[^{}]*\}`)
)

// ValidRoleName reports whether s is a role name IAM accepts.
func ValidRoleName(s string) bool { return roleNameRE.MatchString(s) }

// ValidPath reports whether s is a path IAM accepts.
func ValidPath(s string) bool {
	return len(s) <= MaxPath && pathRE.MatchString(s) && !strings.Contains(s, "//")
}

// Vars are the values a name, path or environment template may use.
type Vars map[string]string

// NameVars are the repository-admin-controlled values of p.
func NameVars(p preview.Preview) Vars {
	return Vars{
		"owner":         p.Owner,
		"repo":          p.Repo,
		"number":        strconv.Itoa(p.Number),
		"repository_id": strconv.FormatInt(p.RepositoryID, 10),
		"owner_id":      strconv.FormatInt(p.OwnerID, 10),
	}
}

// CheckTemplate reports placeholders in tmpl that are not among allowed, and
// unbalanced braces. It is how a template naming {head_ref} is refused
// before anything is rendered.
func CheckTemplate(input, tmpl string, allowed ...string) error {
	if strings.TrimSpace(tmpl) == "" {
		return fmt.Errorf("%s: must not be empty", input)
	}
	var errs []error
	for _, m := range placeRE.FindAllString(tmpl, -1) {
		name := strings.Trim(m, "{}")
		ok := false
		for _, a := range allowed {
			if a == name {
				ok = true
			}
		}
		if !ok {
			errs = append(errs, fmt.Errorf("%s: unknown placeholder %s (allowed: {%s})", input, m, strings.Join(allowed, "}, {")))
		}
	}
	rest := placeRE.ReplaceAllString(tmpl, "")
	if strings.ContainsAny(rest, "{}") {
		errs = append(errs, fmt.Errorf("%s: unbalanced { or } in %q", input, tmpl))
	}
	return errors.Join(errs...)
}

// Expand replaces every {name} in tmpl by vars[name]. Placeholders not in
// vars are left as they are (CheckTemplate refuses them earlier).
func Expand(tmpl string, vars Vars) string {
	return placeRE.ReplaceAllStringFunc(tmpl, func(m string) string {
		if v, ok := vars[strings.Trim(m, "{}")]; ok {
			return v
		}
		return m
	})
}

// NumberPattern matches the names tmpl renders for every PR number, the
// other placeholders filled from vars, and captures the number. Sweep uses
// it to read PR numbers back out of environment names.
func NumberPattern(tmpl string, vars Vars) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?i)^")
	last := 0
	for _, loc := range placeRE.FindAllStringIndex(tmpl, -1) {
		b.WriteString(regexp.QuoteMeta(tmpl[last:loc[0]]))
		if name := tmpl[loc[0]+1 : loc[1]-1]; name == "number" {
			b.WriteString(`([1-9][0-9]{0,9})`)
		} else {
			b.WriteString(regexp.QuoteMeta(vars[name]))
		}
		last = loc[1]
	}
	b.WriteString(regexp.QuoteMeta(tmpl[last:]))
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// RoleName renders tmpl and reduces it to IAM's alphabet and length: every
// character outside [A-Za-z0-9+=,.@_-] becomes '-'. A name over 64
// characters is cut, and '-' and 8 hex digits of the SHA-256 of the full
// rendered name take the place of what was cut. The last {number} and the
// literal text just before it ("-pr-42") are kept as they are, so two PRs
// of one repository never collide however long its name; two repositories
// whose long names share their first 40-odd characters differ in the hash.
func RoleName(tmpl string, vars Vars) string {
	full := Expand(tmpl, vars)
	name := Sanitize(full)
	if name == "" {
		name = "preview"
	}
	if len(name) <= MaxRoleName {
		return name
	}
	sum := sha256.Sum256([]byte(full))
	hash := "-" + hex.EncodeToString(sum[:])[:hashLen]
	tail := Sanitize(numberTail(tmpl, vars))
	if keep := MaxRoleName - len(hash) - len(tail); keep >= minKept {
		return name[:keep] + hash + tail
	}
	return name[:MaxRoleName-len(hash)] + hash
}

// minKept is the least of a long name's beginning that RoleName keeps: a
// name should still say whose it is.
const minKept = 16

// numberTail renders the part of tmpl from the literal text before its
// last {number} to the end: "-pr-{number}" of the default template. It is
// "" when tmpl has no {number}.
func numberTail(tmpl string, vars Vars) string {
	locs := placeRE.FindAllStringIndex(tmpl, -1)
	for i := len(locs) - 1; i >= 0; i-- {
		if tmpl[locs[i][0]:locs[i][1]] != "{number}" {
			continue
		}
		from := 0
		if i > 0 {
			from = locs[i-1][1]
		}
		return Expand(tmpl[from:], vars)
	}
	return ""
}

// Sanitize maps s onto IAM's name alphabet, byte by byte, so the result's
// length in bytes equals its length in characters.
func Sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+=,.@_-", r)):
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}

// Path renders a role path template. The result is checked with ValidPath
// by the caller's validation.
func Path(tmpl string, vars Vars) string { return Expand(tmpl, vars) }

// SanitizeTagValue maps s onto IAM's tag alphabet ([\p{L}\p{Z}\p{N}_.:/=+\-@])
// and cuts it to 256 characters.
func SanitizeTagValue(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == 256 {
			break
		}
		if !ValidTagRune(r) {
			r = '-'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// ValidTagRune reports whether IAM allows r in tag keys and values.
func ValidTagRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.In(r, unicode.Z) || unicode.IsNumber(r) || strings.ContainsRune("_.:/=+-@", r)
}

// ValidTagKey reports whether k is a tag key IAM accepts and that is not
// reserved for AWS.
func ValidTagKey(k string) bool {
	if k == "" || utf8.RuneCountInString(k) > 128 || strings.HasPrefix(strings.ToLower(k), "aws:") {
		return false
	}
	for _, r := range k {
		if !ValidTagRune(r) {
			return false
		}
	}
	return true
}

// ValidTagValue reports whether v is a tag value IAM accepts.
func ValidTagValue(v string) bool {
	if utf8.RuneCountInString(v) > 256 {
		return false
	}
	for _, r := range v {
		if !ValidTagRune(r) {
			return false
		}
	}
	return true
}

// Expiry parses the expiry tag; ok is false when it is absent or malformed.
func Expiry(tags map[string]string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, tags[TagExpiresAt])
	return t, err == nil
}

// FormatExpiry is the expiry tag's value for t.
func FormatExpiry(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

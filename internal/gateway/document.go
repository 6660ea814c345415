// Package gateway delivers a preview's access policy to the identity-aware
// gateway in front of it. The policy is one versioned JSON Document per
// preview; a Driver puts it where the gateway reads it (Open Policy Agent, a
// webhook receiver, or a file) and deletes it on teardown.
//
// The package does no planning of its own: the caller observes with Get,
// compares with SameDocument, and writes with Put only when they differ.
package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/preview-access/preview-access/internal/access"
	"github.com/preview-access/preview-access/internal/policy"
	"github.com/preview-access/preview-access/internal/preview"
	"github.com/preview-access/preview-access/internal/report"
)

// APIVersion is the version of the document's schema. A change that a
// gateway could misread gets a new version.
const APIVersion = "preview-access/v1"

// Document is the gateway's contract: who may call one preview, and how.
type Document struct {
	APIVersion   string          `json:"apiVersion"`
	ID           string          `json:"id"`           // preview.Preview.ID(): gh-<repositoryId>-pr-<n>
	Repository   string          `json:"repository"`   // owner/repo
	RepositoryID int64           `json:"repositoryId"` // GitHub's numeric id
	PullRequest  int             `json:"pullRequest"`
	HeadSHA      string          `json:"headSha,omitempty"`
	PreviewURL   string          `json:"previewUrl"`
	Host         string          `json:"host"`      // lower-case host[:port] of PreviewURL, no default port
	ExpiresAt    time.Time       `json:"expiresAt"` // UTC, whole seconds
	TokenTTL     int64           `json:"tokenTTL"`  // seconds a gateway session token may live
	Roles        map[string]Role `json:"roles"`
	// Bindings maps a subject ("user:<login>" or "team:<org>/<slug>", lower
	// case) to the sorted names of the roles it holds; a caller holds the
	// union of its subjects' roles.
	Bindings map[string][]string `json:"bindings"`
	// Reasons says why each subject of Bindings is there ("author",
	// "requested reviewer", "access file grants.tester.users", …), sorted:
	// for the people who read the comment, the status and the audit log.
	// A gateway decides on Bindings alone.
	Reasons map[string][]string `json:"reasons,omitempty"`
	// Identity names the headers an identity-aware proxy in front sets, as
	// the access file gives them; nil leaves the gateway's defaults. The
	// shipped module reads them only where the OPA's admin lets
	// repositories choose (data.preview_access_admin.identity.repositoryHeaders).
	Identity *Identity `json:"identity,omitempty"`
}

// Identity is which request headers carry the caller, for gateways that
// ask with Envoy's ext_authz input: lower-case header names.
type Identity struct {
	UserHeader   string `json:"userHeader,omitempty"`
	GroupsHeader string `json:"groupsHeader,omitempty"`
}

// Role is what a role may call: methods ("*" for all) and "/"-delimited
// path globs, where "/x/**" also covers "/x".
type Role struct {
	Methods []string `json:"methods"`
	Paths   []string `json:"paths"`
}

// BuildOptions are the values of a document that come from the run, not from
// the pull request or the access file.
type BuildOptions struct {
	PreviewURL string
	ExpiresAt  time.Time
}

// Build renders the document for p from the access file f. It is pure: the
// same inputs give the same document.
func Build(p preview.Preview, f access.File, o BuildOptions) (Document, error) {
	var errs []error
	if err := p.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := f.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("access file: %w", err))
	}
	host, err := previewHost(o.PreviewURL)
	if err != nil {
		errs = append(errs, err)
	}
	if o.ExpiresAt.IsZero() {
		errs = append(errs, errors.New("gateway policy needs an expiry time"))
	}
	if err := errors.Join(errs...); err != nil {
		return Document{}, err
	}

	d := Document{
		APIVersion:   APIVersion,
		ID:           p.ID(),
		Repository:   p.FullName(),
		RepositoryID: p.RepositoryID,
		PullRequest:  p.Number,
		HeadSHA:      p.HeadSHA,
		PreviewURL:   o.PreviewURL,
		Host:         host,
		ExpiresAt:    o.ExpiresAt.UTC().Truncate(time.Second),
		TokenTTL:     int64(f.TokenTTL / time.Second),
		Roles:        make(map[string]Role, len(f.Roles)),
		Bindings:     map[string][]string{},
		Reasons:      map[string][]string{},
	}
	if f.Identity != (access.Identity{}) {
		d.Identity = &Identity{UserHeader: f.Identity.UserHeader, GroupsHeader: f.Identity.GroupsHeader}
	}
	for name, r := range f.Roles {
		d.Roles[name] = Role{Methods: preview.SortedUnique(r.Methods), Paths: preview.SortedUnique(r.Paths)}
	}
	bind := func(subject, role, why string) {
		if role == "" {
			return
		}
		subject = strings.ToLower(subject)
		d.Bindings[subject] = append(d.Bindings[subject], role)
		d.Reasons[subject] = append(d.Reasons[subject], why)
	}
	if p.Author != "" {
		bind("user:"+p.Author, f.Defaults.Author, "author")
	}
	for _, u := range p.Reviewers {
		bind("user:"+u, f.Defaults.Reviewers, "requested reviewer")
	}
	for _, t := range p.Teams {
		bind("team:"+t, f.Defaults.Reviewers, "requested team")
	}
	for _, u := range p.Assignees {
		bind("user:"+u, f.Defaults.Assignees, "assignee")
	}
	for role, g := range f.Grants {
		for _, u := range g.Users {
			bind("user:"+u, role, "access file grants."+role+".users")
		}
		for _, t := range g.Teams {
			bind("team:"+t, role, "access file grants."+role+".teams")
		}
	}
	for s, roles := range d.Bindings {
		d.Bindings[s] = preview.SortedUnique(roles)
		d.Reasons[s] = preview.SortedUnique(d.Reasons[s])
	}
	if len(d.Reasons) == 0 {
		d.Reasons = nil
	}
	return d, nil
}

// previewHost is the host a gateway sees in requests for the preview: lower
// case, with the scheme's default port dropped.
func previewHost(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("gateway policy needs the preview URL (its host is what the gateway matches)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("preview URL is not a URL: %w", err)
	}
	var errs []error
	if u.Scheme != "https" && u.Scheme != "http" {
		errs = append(errs, fmt.Errorf("preview URL must be http or https, not %q", u.Scheme))
	}
	if u.User != nil {
		errs = append(errs, errors.New("preview URL must not carry user information"))
	}
	if u.Hostname() == "" {
		errs = append(errs, errors.New("preview URL has no host"))
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" || (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		if strings.Contains(host, ":") {
			return "[" + host + "]", nil
		}
		return host, nil
	}
	return net.JoinHostPort(host, port), nil
}

// Marshal renders d as indented JSON with sorted keys and a final newline:
// the same document always gives the same bytes.
func Marshal(d Document) ([]byte, error) {
	if d.Roles == nil {
		d.Roles = map[string]Role{}
	}
	if d.Bindings == nil {
		d.Bindings = map[string][]string{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("encode gateway policy: %w", err)
	}
	return buf.Bytes(), nil
}

// Unmarshal reads a document, refusing unknown fields and other versions.
func Unmarshal(b []byte) (Document, error) {
	var d Document
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return Document{}, fmt.Errorf("decode gateway policy: %w", err)
	}
	if d.APIVersion != APIVersion {
		return Document{}, fmt.Errorf("gateway policy has apiVersion %q, want %q", d.APIVersion, APIVersion)
	}
	return d, nil
}

// SameDocument reports whether a and b are the same JSON value, whatever
// their key order or spacing: a gateway may store and return the document
// re-encoded. Invalid JSON is never the same as anything.
func SameDocument(a, b []byte) bool { return policy.SameJSON(a, b) }

// Access lists who holds which roles and why, by subject, for reports.
func (d Document) Access() []report.Access {
	var out []report.Access
	for _, subj := range d.Subjects() {
		out = append(out, report.Access{Subject: subj, Roles: d.Bindings[subj], Why: d.Reasons[subj]})
	}
	return out
}

// RoleRules lists what each role allows, by name, for reports.
func (d Document) RoleRules() []report.RoleRule {
	out := make([]report.RoleRule, 0, len(d.Roles))
	for name, r := range d.Roles {
		out = append(out, report.RoleRule{Name: name, Methods: r.Methods, Paths: r.Paths})
	}
	slices.SortFunc(out, func(a, b report.RoleRule) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Subjects lists the document's subjects in order, for reports.
func (d Document) Subjects() []string {
	out := make([]string, 0, len(d.Bindings))
	for s := range d.Bindings {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Package access reads a repository's access file, .github/preview-access.yml:
// which roles a preview's gateway knows, who besides the pull request's own
// people gets one, and how long the gateway's tokens live. The file is read
// from the base branch, never from the pull request's head, and is checked
// strictly: every problem is reported at once, each naming its line.
//
// The schema (version 1):
//
//	version: 1            # optional; 1 is the only version
//	tokenTTL: 1h          # optional; gateway token lifetime, 1m to 24h (default 1h)
//	roles:                # optional; added to, or replacing, the built-in roles
//	  tester:
//	    methods: [GET, HEAD, POST]   # upper-case HTTP methods, or "*" for all
//	    paths: ["/api/**"]           # "/"-delimited globs; default ["/**"]
//	grants:               # optional; role name -> users and org/team teams
//	  tester:
//	    users: [alice]
//	    teams: [octo-org/qa]
//	defaults:             # optional; role of the pull request's own people, or none
//	  author: admin       # the PR author
//	  reviewers: reader   # requested reviewers and requested teams
//	  assignees: reader   # assignees
//	identity:             # optional; headers the identity-aware proxy in front sets,
//	                      # read only where the OPA's admin lets repositories choose
//	  userHeader: x-forwarded-user     # the caller's GitHub login (default)
//	  groupsHeader: x-forwarded-groups # comma-separated org/team slugs (default)
//
// The built-in roles are admin (every method on every path) and reader (GET
// and HEAD on every path); a file that defines a role of the same name
// replaces it.
package access

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/preview-access/preview-access/internal/preview"
)

// Path is where the access file lives in a repository.
const Path = ".github/preview-access.yml"

// Version is the only schema version this package reads.
const Version = 1

// None is the defaults value that gives a group of people no role.
const None = "none"

// AllMethods in a role's methods allows every method.
const AllMethods = "*"

// Limits on the token TTL: long enough to use, short enough to be a preview.
const (
	MinTokenTTL     = time.Minute
	MaxTokenTTL     = 24 * time.Hour
	DefaultTokenTTL = time.Hour
)

// File is a validated access file, with the built-in roles and defaults
// filled in.
type File struct {
	Version  int
	TokenTTL time.Duration
	Roles    map[string]Role  // role name -> what it may call
	Grants   map[string]Grant // role name -> who has it
	Defaults Defaults
	Identity Identity
}

// Identity names the request headers that carry the caller, for gateways
// that ask with Envoy's input shape; empty names leave the gateway's
// defaults (x-forwarded-user, x-forwarded-groups). Names are lower case.
type Identity struct {
	UserHeader   string
	GroupsHeader string
}

// Role is what a role may call: methods (upper case, or "*") and path globs.
type Role struct {
	Methods []string // sorted, unique
	Paths   []string // sorted, unique
}

// Grant is who holds a role besides the pull request's own people.
type Grant struct {
	Users []string // logins, sorted, unique
	Teams []string // "org/team-slug", sorted, unique
}

// Defaults names the role each group of the pull request's people gets; an
// empty string means no role (written "none" in the file).
type Defaults struct {
	Author    string
	Reviewers string // requested reviewers and requested teams
	Assignees string
}

// Methods a role may name: the registered methods a gateway sees in practice.
var Methods = []string{"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"}

var (
	roleNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
	// Globs as OPA's glob.match reads them; whitespace and control characters
	// never belong in a request path.
	pathRE = regexp.MustCompile(`^/[\x21-\x7e]{0,255}$`)
)

// BuiltinRoles returns the roles every File starts with.
func BuiltinRoles() map[string]Role {
	return map[string]Role{
		"admin":  {Methods: []string{AllMethods}, Paths: []string{"/**"}},
		"reader": {Methods: []string{"GET", "HEAD"}, Paths: []string{"/**"}},
	}
}

// Default is the access of a repository with no access file.
func Default() File {
	return File{
		Version:  Version,
		TokenTTL: DefaultTokenTTL,
		Roles:    BuiltinRoles(),
		Grants:   map[string]Grant{},
		Defaults: Defaults{Author: "admin", Reviewers: "reader", Assignees: "reader"},
	}
}

// Validate reports every problem of f at once. Parse already guarantees all
// of this; Validate is for Files built in code.
func (f File) Validate() error {
	var errs []error
	if f.Version != Version {
		errs = append(errs, fmt.Errorf("version %d is not supported (want %d)", f.Version, Version))
	}
	if err := checkTTL(f.TokenTTL); err != nil {
		errs = append(errs, err)
	}
	for _, name := range sortedKeys(f.Roles) {
		r := f.Roles[name]
		if err := checkRoleName(name); err != nil {
			errs = append(errs, err)
		}
		if len(r.Methods) == 0 {
			errs = append(errs, fmt.Errorf("role %q has no methods", name))
		}
		for _, m := range r.Methods {
			if err := checkMethod(m); err != nil {
				errs = append(errs, fmt.Errorf("role %q: %w", name, err))
			}
		}
		if len(r.Paths) == 0 {
			errs = append(errs, fmt.Errorf("role %q has no paths", name))
		}
		for _, p := range r.Paths {
			if err := checkPath(p); err != nil {
				errs = append(errs, fmt.Errorf("role %q: %w", name, err))
			}
		}
	}
	for _, name := range sortedKeys(f.Grants) {
		g := f.Grants[name]
		if _, ok := f.Roles[name]; !ok {
			errs = append(errs, fmt.Errorf("grants name role %q, which is not defined", name))
		}
		for _, u := range g.Users {
			if err := checkUser(u); err != nil {
				errs = append(errs, err)
			}
		}
		for _, t := range g.Teams {
			if err := checkTeam(t); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for key, h := range map[string]string{"userHeader": f.Identity.UserHeader, "groupsHeader": f.Identity.GroupsHeader} {
		if err := checkHeader(h); h != "" && err != nil {
			errs = append(errs, fmt.Errorf("identity.%s: %w", key, err))
		}
	}
	for _, d := range []struct{ key, role string }{
		{"author", f.Defaults.Author}, {"reviewers", f.Defaults.Reviewers}, {"assignees", f.Defaults.Assignees},
	} {
		if _, ok := f.Roles[d.role]; d.role != "" && !ok {
			errs = append(errs, fmt.Errorf("defaults.%s names role %q, which is not defined", d.key, d.role))
		}
	}
	return errors.Join(errs...)
}

// Parse reads and validates an access file. Empty input is the default
// access. Every problem is reported, each prefixed with its line.
func Parse(data []byte) (File, error) {
	f := Default()
	var doc, extra yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return File{}, fmt.Errorf("%s is not valid YAML: %w", Path, err)
	}
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return File{}, fmt.Errorf("%s is not valid YAML: %w", Path, err)
	default:
		return File{}, fmt.Errorf("line %d: %s must hold one YAML document, not several", extra.Line, Path)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return f, nil
	}
	p := &parser{}
	root := deref(doc.Content[0])
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return f, nil
	}

	var (
		roleNodes          = map[string]*yaml.Node{}
		grantRefs, defRefs []roleRef
	)
	p.mapping(root, "the access file", func(key string, k, v *yaml.Node) {
		switch key {
		case "version":
			var n int
			if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || v.Decode(&n) != nil || n != Version {
				p.errf(v, "version must be %d", Version)
			}
		case "tokenTTL":
			d, err := time.ParseDuration(v.Value)
			if v.Kind != yaml.ScalarNode || v.Tag != "!!str" || err != nil {
				p.errf(v, "tokenTTL must be a duration such as 30m or 8h")
				return
			}
			if err := checkTTL(d); err != nil {
				p.errf(v, "%v", err)
				return
			}
			f.TokenTTL = d
		case "roles":
			p.mapping(v, "roles", func(name string, k, v *yaml.Node) {
				if err := checkRoleName(name); err != nil {
					p.errf(k, "%v", err)
				}
				roleNodes[name] = k
				f.Roles[name] = p.role(name, v)
			})
		case "grants":
			p.mapping(v, "grants", func(name string, k, v *yaml.Node) {
				grantRefs = append(grantRefs, roleRef{node: k, role: name, what: "grants"})
				f.Grants[name] = p.grant(name, v)
			})
		case "defaults":
			p.mapping(v, "defaults", func(key string, k, v *yaml.Node) {
				var dst *string
				switch key {
				case "author":
					dst = &f.Defaults.Author
				case "reviewers":
					dst = &f.Defaults.Reviewers
				case "assignees":
					dst = &f.Defaults.Assignees
				default:
					p.unknown(k, "defaults", "author", "reviewers", "assignees")
					return
				}
				if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
					p.errf(v, "defaults.%s must be a role name or %q", key, None)
					return
				}
				if v.Value == None {
					*dst = ""
					return
				}
				*dst = v.Value
				defRefs = append(defRefs, roleRef{node: v, role: v.Value, what: "defaults." + key})
			})
		case "identity":
			f.Identity = p.identity(v)
		default:
			p.unknown(k, "the access file", "version", "tokenTTL", "roles", "grants", "defaults", "identity")
		}
	})
	for _, r := range append(grantRefs, defRefs...) {
		if _, ok := f.Roles[r.role]; !ok {
			p.errf(r.node, "%s names role %q, which is not defined (defined: %s)", r.what, r.role, strings.Join(sortedKeys(f.Roles), ", "))
		}
	}
	if err := p.err(); err != nil {
		return File{}, err
	}
	return f, nil
}

type roleRef struct {
	node *yaml.Node
	role string
	what string
}

type lineError struct {
	line int
	msg  string
}

type parser struct{ errs []lineError }

func (p *parser) errf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, lineError{line: n.Line, msg: fmt.Sprintf(format, args...)})
}

func (p *parser) err() error {
	sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].line < p.errs[j].line })
	errs := make([]error, 0, len(p.errs))
	for _, e := range p.errs {
		errs = append(errs, fmt.Errorf("line %d: %s", e.line, e.msg))
	}
	return errors.Join(errs...)
}

func (p *parser) unknown(k *yaml.Node, where string, known ...string) {
	p.errf(k, "unknown key %q in %s (known: %s)", k.Value, where, strings.Join(known, ", "))
}

// mapping calls fn for each key of n in order, after checking that n is a
// mapping with string keys and no key twice.
func (p *parser) mapping(n *yaml.Node, what string, fn func(key string, k, v *yaml.Node)) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		p.errf(n, "%s must be a mapping", what)
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			p.errf(k, "keys in %s must be strings", what)
			continue
		}
		if first, ok := seen[k.Value]; ok {
			p.errf(k, "key %q in %s appears twice (first on line %d)", k.Value, what, first)
			continue
		}
		seen[k.Value] = k.Line
		fn(k.Value, k, v)
	}
}

// strings reads a sequence of strings, or a single string as a sequence of one.
func (p *parser) strings(n *yaml.Node, what string) []string {
	n = deref(n)
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		it = deref(it)
		if it.Kind != yaml.ScalarNode || it.Tag != "!!str" {
			p.errf(it, "%s must be a list of strings", what)
			continue
		}
		out = append(out, it.Value)
	}
	return out
}

func (p *parser) role(name string, n *yaml.Node) Role {
	r := Role{Paths: []string{"/**"}}
	var sawMethods bool
	p.mapping(n, "role "+name, func(key string, k, v *yaml.Node) {
		switch key {
		case "methods":
			sawMethods = true
			r.Methods = nil
			ms := p.strings(v, "roles."+name+".methods")
			for i, m := range ms {
				if err := checkMethod(m); err != nil {
					p.errf(itemNode(v, i), "role %q: %v", name, err)
					continue
				}
				r.Methods = append(r.Methods, m)
			}
			if len(ms) == 0 && len(deref(v).Content) == 0 {
				p.errf(v, "role %q has no methods", name)
			}
		case "paths":
			r.Paths = nil
			ps := p.strings(v, "roles."+name+".paths")
			for i, s := range ps {
				if err := checkPath(s); err != nil {
					p.errf(itemNode(v, i), "role %q: %v", name, err)
					continue
				}
				r.Paths = append(r.Paths, s)
			}
			if len(ps) == 0 && len(deref(v).Content) == 0 {
				p.errf(v, "role %q has no paths", name)
			}
		default:
			p.unknown(k, "role "+name, "methods", "paths")
		}
	})
	if !sawMethods && deref(n).Kind == yaml.MappingNode {
		p.errf(n, "role %q must list its methods", name)
	}
	r.Methods, r.Paths = preview.SortedUnique(r.Methods), preview.SortedUnique(r.Paths)
	return r
}

func (p *parser) grant(role string, n *yaml.Node) Grant {
	var g Grant
	p.mapping(n, "grants."+role, func(key string, k, v *yaml.Node) {
		switch key {
		case "users":
			for i, u := range p.strings(v, "grants."+role+".users") {
				if err := checkUser(u); err != nil {
					p.errf(itemNode(v, i), "%v", err)
					continue
				}
				g.Users = append(g.Users, u)
			}
		case "teams":
			for i, t := range p.strings(v, "grants."+role+".teams") {
				if err := checkTeam(t); err != nil {
					p.errf(itemNode(v, i), "%v", err)
					continue
				}
				g.Teams = append(g.Teams, t)
			}
		default:
			p.unknown(k, "grants."+role, "users", "teams")
		}
	})
	g.Users, g.Teams = preview.SortedUnique(g.Users), preview.SortedUnique(g.Teams)
	return g
}

func (p *parser) identity(n *yaml.Node) Identity {
	var id Identity
	p.mapping(n, "identity", func(key string, k, v *yaml.Node) {
		var dst *string
		switch key {
		case "userHeader":
			dst = &id.UserHeader
		case "groupsHeader":
			dst = &id.GroupsHeader
		default:
			p.unknown(k, "identity", "userHeader", "groupsHeader")
			return
		}
		if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
			p.errf(v, "identity.%s must be a header name", key)
			return
		}
		if err := checkHeader(v.Value); err != nil {
			p.errf(v, "identity.%s: %v", key, err)
			return
		}
		*dst = strings.ToLower(v.Value)
	})
	if id.UserHeader != "" && id.UserHeader == id.GroupsHeader {
		p.errf(n, "identity.userHeader and identity.groupsHeader are both %q", id.UserHeader)
	}
	return id
}

// itemNode is the i-th item of a sequence, for its line; n itself otherwise.
func itemNode(n *yaml.Node, i int) *yaml.Node {
	n = deref(n)
	if n.Kind == yaml.SequenceNode && i < len(n.Content) {
		return n.Content[i]
	}
	return n
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func checkTTL(d time.Duration) error {
	if d < MinTokenTTL || d > MaxTokenTTL {
		return fmt.Errorf("tokenTTL %s is outside %s to %s", d, MinTokenTTL, MaxTokenTTL)
	}
	return nil
}

func checkRoleName(name string) error {
	if name == None {
		return fmt.Errorf("role name %q is reserved (it means no role)", None)
	}
	if !roleNameRE.MatchString(name) {
		return fmt.Errorf("role name %q must be 1-32 of lower-case letters, digits, '_' and '-', starting with a letter", name)
	}
	return nil
}

func checkMethod(m string) error {
	if m == AllMethods || slices.Contains(Methods, m) {
		return nil
	}
	return fmt.Errorf("method %q is not %q or one of %s (upper case)", m, AllMethods, strings.Join(Methods, ", "))
}

func checkPath(p string) error {
	if !pathRE.MatchString(p) {
		return fmt.Errorf("path pattern %q must start with \"/\" and hold no spaces or control characters (at most 256 characters)", p)
	}
	return nil
}

var headerRE = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")

// Headers that carry something else than an identity the proxy asserts:
// the client sets them, or they are credentials the gateway must not read
// as a name.
var reservedHeaders = []string{"authorization", "cookie", "host", "proxy-authorization", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"}

func checkHeader(h string) error {
	if !headerRE.MatchString(h) {
		return fmt.Errorf("%q is not an HTTP header name (letters, digits and !#$%%&'*+.^_`|~-, at most 64)", h)
	}
	if slices.Contains(reservedHeaders, strings.ToLower(h)) {
		return fmt.Errorf("%q is not a header an identity-aware proxy sets to name the caller", h)
	}
	return nil
}

func checkUser(u string) error {
	if !preview.ValidLogin(u) {
		if strings.Contains(u, "/") {
			return fmt.Errorf("user %q is not a valid GitHub login (teams go under teams:)", u)
		}
		return fmt.Errorf("user %q is not a valid GitHub login", u)
	}
	return nil
}

func checkTeam(t string) error {
	if !preview.ValidTeam(t) {
		return fmt.Errorf("team %q is not of the form org/team-slug", t)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

package openapi

import (
	"net/url"
	"regexp"
	"strings"
)

// router maps a request path to a path template of the description. It
// routes on the path alone: the description's server is https://api.github.com,
// while the fakes listen on 127.0.0.1 and GitHub Enterprise Server adds
// /api/v3.
type router struct {
	templates []*template
}

type template struct {
	path string
	segs []segment
	// rank orders templates that match the same path: at the first
	// segment where two differ, a literal beats a mixed segment
	// ("{base}...{head}") beats a parameter, as GitHub routes
	// /issues/comments/{comment_id} before /issues/{issue_number}/….
	rank string
}

type segment struct {
	lit   string         // a literal segment, when param == "" and re == nil
	param string         // a segment that is one parameter
	re    *regexp.Regexp // a segment mixing literals and parameters
	names []string       // the parameters of re, in order
}

var paramRE = regexp.MustCompile(`\{([^{}]+)\}`)

func newRouter(paths []string) *router {
	r := &router{}
	for _, p := range paths {
		t := &template{path: p}
		var rank strings.Builder
		for _, s := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
			switch m := paramRE.FindAllStringSubmatchIndex(s, -1); {
			case len(m) == 0:
				t.segs = append(t.segs, segment{lit: s})
				rank.WriteByte('0')
			case len(m) == 1 && m[0][0] == 0 && m[0][1] == len(s):
				t.segs = append(t.segs, segment{param: s[1 : len(s)-1]})
				rank.WriteByte('2')
			default:
				var expr strings.Builder
				var names []string
				last := 0
				for _, loc := range m {
					expr.WriteString(regexp.QuoteMeta(s[last:loc[0]]))
					expr.WriteString("(.+?)")
					names = append(names, s[loc[2]:loc[3]])
					last = loc[1]
				}
				expr.WriteString(regexp.QuoteMeta(s[last:]))
				t.segs = append(t.segs, segment{re: regexp.MustCompile("^" + expr.String() + "$"), names: names})
				rank.WriteByte('1')
			}
		}
		t.rank = rank.String()
		r.templates = append(r.templates, t)
	}
	return r
}

// find returns the template that path (escaped, e.g. /repos/o/r/pulls/42)
// matches and its parameters, unescaped. A path that matches no template
// segment for segment may still match one that ends in a literal and a
// parameter, the parameter taking the rest of the path, slashes included,
// as GitHub does for /repos/{owner}/{repo}/contents/{path} and
// /git/ref/{ref}; the longest such template wins.
func (r *router) find(path string) (*template, map[string]string, bool) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var best *template
	var bestParams map[string]string
	better := func(t *template, greedy bool) bool {
		switch {
		case best == nil:
			return true
		case greedy && len(t.segs) != len(best.segs):
			return len(t.segs) > len(best.segs)
		default:
			return t.rank < best.rank
		}
	}
	for _, greedy := range []bool{false, true} {
		for _, t := range r.templates {
			if !better(t, greedy) {
				continue
			}
			if params, ok := t.match(segs, greedy); ok {
				best, bestParams = t, params
			}
		}
		if best != nil {
			return best, bestParams, true
		}
	}
	return nil, nil, false
}

func (t *template) match(segs []string, greedy bool) (map[string]string, bool) {
	n := len(t.segs)
	if greedy {
		if n < 2 || len(segs) <= n || t.segs[n-1].param == "" || t.segs[n-2].lit == "" {
			return nil, false
		}
		segs = append(segs[:n-1:n-1], strings.Join(segs[n-1:], "/"))
	} else if len(segs) != n {
		return nil, false
	}
	params := map[string]string{}
	for i, s := range t.segs {
		v, err := url.PathUnescape(segs[i])
		if err != nil {
			return nil, false
		}
		switch {
		case s.param != "":
			// GitHub lists a repository's root at /contents/, which the
			// description leaves out; no other parameter may be empty.
			if v == "" && (i != n-1 || s.param != "path" || t.segs[n-2].lit != "contents") {
				return nil, false
			}
			params[s.param] = v
		case s.re != nil:
			m := s.re.FindStringSubmatch(v)
			if m == nil {
				return nil, false
			}
			for j, name := range s.names {
				params[name] = m[j+1]
			}
		case s.lit != v:
			return nil, false
		}
	}
	return params, true
}

package fakegithub

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/preview-access/preview-access/internal/testenv/graphql"
)

// graphql answers GitHub's GraphQL endpoint. Every query is first
// validated against GitHub's own schema (package graphql), as GitHub
// does: one it would refuse fails the test. A valid query is answered
// field by field for the fields the fake holds data for (the viewer, and a
// repository's deployments with their latest status); a valid field the
// fake does not serve fails the test too, so a change of query cannot pass
// by accident.
func (s *Server) graphql(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if json.Unmarshal(body, &in) != nil {
		writeJSON(w, http.StatusBadRequest, obj{"message": "Problems parsing JSON", "documentation_url": "https://docs.github.com/graphql"})
		return
	}
	op, err := s.gql.Parse(in.Query, in.Variables)
	if err != nil {
		s.t.Errorf("fakegithub: GitHub would refuse this GraphQL query: %v\n%s", err, in.Query)
		writeJSON(w, http.StatusOK, obj{"errors": []obj{{"message": err.Error()}}})
		return
	}
	q := &gqlQuery{s: s, vars: op.Variables}
	data := q.objectOf(op.Selections, nil, q.queryField())
	out := obj{"data": data}
	if len(q.errs) > 0 {
		out["errors"] = q.errs
	}
	writeJSON(w, http.StatusOK, out)
}

// gqlQuery is one query being answered; s.mu is held.
type gqlQuery struct {
	s    *Server
	vars map[string]any
	errs []obj
}

// resolver answers one field of a parent value; ok false makes the field
// null (an error was recorded).
type resolver func(f *ast.Field, path []any) (v any, ok bool)

// objectOf answers a selection set, each field with resolve; nil when a
// non-null field could not be answered (GraphQL's null propagation).
func (q *gqlQuery) objectOf(set ast.SelectionSet, path []any, resolve resolver) obj {
	fields, err := graphql.Fields(set)
	if err != nil {
		q.fail(path, "", err.Error())
		q.s.t.Errorf("fakegithub: GraphQL: %v", err)
		return nil
	}
	out := obj{}
	for _, f := range fields {
		p := append(slices.Clip(path), graphql.Key(f))
		v, ok := resolve(f, p)
		if !ok && f.Definition != nil && f.Definition.Type.NonNull {
			return nil // a non-null field's null nulls its parent
		}
		out[graphql.Key(f)] = v
	}
	return out
}

// sub answers a field whose value is an object.
func (q *gqlQuery) sub(set ast.SelectionSet, path []any, resolve resolver) (any, bool) {
	v := q.objectOf(set, path, resolve)
	if v == nil {
		return nil, false
	}
	return v, true
}

func (q *gqlQuery) fail(path []any, typ, msg string) {
	e := obj{"message": msg, "path": path}
	if typ != "" {
		e["type"] = typ
	}
	q.errs = append(q.errs, e)
}

func (q *gqlQuery) unserved(f *ast.Field, path []any) (any, bool) {
	q.s.t.Errorf("fakegithub: GraphQL field %s.%s is valid but the fake does not serve it", f.ObjectDefinition.Name, f.Name)
	q.fail(path, "", "the fake does not serve "+f.Name)
	return nil, false
}

func (q *gqlQuery) arg(f *ast.Field, name string) any {
	v, err := graphql.Arg(f, name, q.vars)
	if err != nil {
		q.s.t.Errorf("fakegithub: GraphQL argument %s of %s: %v", name, f.Name, err)
	}
	return v
}

func (q *gqlQuery) queryField() resolver {
	return func(f *ast.Field, path []any) (any, bool) {
		switch f.Name {
		case "viewer":
			return q.sub(f.SelectionSet, path, q.userField(q.s.actor))
		case "repository":
			owner, _ := q.arg(f, "owner").(string)
			name, _ := q.arg(f, "name").(string)
			rp := q.s.lookup(owner, name)
			if rp == nil {
				q.fail(path, "NOT_FOUND", fmt.Sprintf("Could not resolve to a Repository with the name '%s/%s'.", owner, name))
				return nil, false
			}
			return q.sub(f.SelectionSet, path, q.repositoryField(rp))
		}
		return q.unserved(f, path)
	}
}

func (q *gqlQuery) userField(u user) resolver {
	return func(f *ast.Field, path []any) (any, bool) {
		switch f.Name {
		case "login":
			// GraphQL gives a bot's login without REST's "[bot]".
			return strings.TrimSuffix(u.Login, "[bot]"), true
		case "databaseId":
			return u.ID, true
		}
		return q.unserved(f, path)
	}
}

// repositoryField answers Repository's fields. A field the token may not
// read makes GitHub answer FORBIDDEN for it; deployments is non-null in
// the schema, so the null propagates to the repository.
func (q *gqlQuery) repositoryField(rp *repo) resolver {
	return func(f *ast.Field, path []any) (any, bool) {
		switch f.Name {
		case "deployments":
			if !q.s.allowed([]string{PermDeployments + "=" + Read}) {
				q.fail(path, "FORBIDDEN", "Resource not accessible by integration")
				return nil, false
			}
			return q.deployments(rp, f, path)
		}
		return q.unserved(f, path)
	}
}

func (q *gqlQuery) deployments(rp *repo, f *ast.Field, path []any) (any, bool) {
	first := toInt(q.arg(f, "first"))
	if first <= 0 || first > 100 {
		q.fail(path, "", "You must provide a `first` or `last` value between 1 and 100 to properly paginate the `deployments` connection.")
		return nil, false
	}
	var envs []string
	if v, ok := q.arg(f, "environments").([]any); ok {
		for _, e := range v {
			if s, ok := e.(string); ok {
				envs = append(envs, s)
			}
		}
	}
	desc := false
	if o, ok := q.arg(f, "orderBy").(map[string]any); ok {
		desc = o["direction"] == "DESC"
	}
	var list []*Deployment
	for _, d := range rp.deployments {
		if envs == nil || slices.Contains(envs, d.Environment) {
			list = append(list, d)
		}
	}
	if desc {
		slices.Reverse(list)
	}
	total := len(list)
	list = list[:min(len(list), int(first))]
	return q.sub(f.SelectionSet, path, func(f *ast.Field, path []any) (any, bool) {
		switch f.Name {
		case "totalCount":
			return total, true
		case "nodes":
			nodes := make([]any, len(list))
			for i, d := range list {
				nodes[i] = q.objectOf(f.SelectionSet, append(slices.Clip(path), i), q.deploymentField(d))
			}
			return nodes, true
		}
		return q.unserved(f, path)
	})
}

func (q *gqlQuery) deploymentField(d *Deployment) resolver {
	return func(f *ast.Field, path []any) (any, bool) {
		switch f.Name {
		case "databaseId":
			return d.ID, true
		case "commitOid":
			return d.SHA, true
		case "description":
			if d.Description == "" {
				return nil, true
			}
			return d.Description, true
		case "environment":
			return d.Environment, true
		case "createdAt":
			return ts(d.CreatedAt), true
		case "latestStatus":
			if len(d.Statuses) == 0 {
				return nil, true
			}
			st := d.Statuses[len(d.Statuses)-1]
			return q.sub(f.SelectionSet, path, func(f *ast.Field, path []any) (any, bool) {
				switch f.Name {
				case "state":
					// DeploymentStatusState: REST's states, upper case.
					return strings.ToUpper(st.State), true
				case "environmentUrl":
					if st.EnvironmentURL == "" {
						return nil, true
					}
					return st.EnvironmentURL, true
				case "description":
					return st.Description, true
				case "createdAt":
					return ts(st.CreatedAt), true
				}
				return q.unserved(f, path)
			})
		}
		return q.unserved(f, path)
	}
}

// toInt reads an Int argument: int64 from a literal, a JSON number from a
// variable.
func toInt(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case int:
		return int64(n)
	case float64:
		return int64(n)
	case json.Number:
		i, _ := n.Int64()
		return i
	}
	return 0
}

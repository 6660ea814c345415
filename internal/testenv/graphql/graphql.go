// Package graphql checks GraphQL queries against GitHub's own schema
// (schema.graphql of @octokit/graphql-schema, fetched by scripts/fixtures),
// so that the fake GitHub serves only queries GitHub would accept, and
// answers them field by field from what the query selects.
package graphql

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/preview-access/preview-access/internal/testenv"
)

// Schema is GitHub's GraphQL schema.
type Schema struct{ s *ast.Schema }

// Check returns GitHub's schema (testenv.GitHubGraphQLSchema), read once per
// process; it fails t when the schema cannot be read.
func Check(t testing.TB) *Schema {
	t.Helper()
	return testenv.LoadOnce(t, "graphql", testenv.GitHubGraphQLSchema(t), Load)
}

// Load reads the schema in file. GitHub's published schema defines a few
// fields twice (EnterpriseOwnerInfo.repositoryDeployKeySetting, as of
// 15.26.1), which a strict validator refuses: the second definition of a
// field is dropped.
func Load(file string) (*Schema, error) {
	sdl, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read GitHub's GraphQL schema: %w", err)
	}
	doc, err := parser.ParseSchemas(validator.Prelude, &ast.Source{Name: file, Input: string(sdl)})
	if err != nil {
		return nil, fmt.Errorf("parse GitHub's GraphQL schema: %w", err)
	}
	for _, d := range doc.Definitions {
		seen := map[string]bool{}
		kept := d.Fields[:0]
		for _, f := range d.Fields {
			if !seen[f.Name] {
				seen[f.Name] = true
				kept = append(kept, f)
			}
		}
		d.Fields = kept
	}
	s, err := validator.ValidateSchemaDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("GitHub's GraphQL schema: %w", err)
	}
	return &Schema{s: s}, nil
}

// Operation is a validated query: its one operation's selections with
// the variables resolved.
type Operation struct {
	Selections ast.SelectionSet
	Variables  map[string]any
}

// Parse validates query, with its variables, against the schema, as
// GitHub does before it runs anything, and returns its operation.
func (s *Schema) Parse(query string, variables map[string]any) (*Operation, error) {
	doc, errs := gqlparser.LoadQuery(s.s, query)
	if len(errs) > 0 {
		return nil, errs
	}
	if len(doc.Operations) != 1 {
		return nil, errors.New("the document must hold exactly one operation")
	}
	op := doc.Operations[0]
	if op.Operation != ast.Query {
		return nil, fmt.Errorf("only queries are served, not %s", op.Operation)
	}
	vars, err := validator.VariableValues(s.s, op, variables)
	if err != nil {
		return nil, err
	}
	return &Operation{Selections: op.SelectionSet, Variables: vars}, nil
}

// Fields are the fields a selection set selects (fragments are not
// used by the action, and refused).
func Fields(set ast.SelectionSet) ([]*ast.Field, error) {
	out := make([]*ast.Field, 0, len(set))
	for _, sel := range set {
		f, ok := sel.(*ast.Field)
		if !ok {
			return nil, fmt.Errorf("fragments are not served (%T)", sel)
		}
		out = append(out, f)
	}
	return out, nil
}

// Arg is field f's argument name with variables resolved, or nil.
func Arg(f *ast.Field, name string, vars map[string]any) (any, error) {
	a := f.Arguments.ForName(name)
	if a == nil {
		return nil, nil
	}
	return a.Value.Value(vars)
}

// Key is the name f's value has in the answer: its alias, else its name.
func Key(f *ast.Field) string {
	if f.Alias != "" {
		return f.Alias
	}
	return f.Name
}

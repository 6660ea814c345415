package graphql

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	s := Check(t)
	const deployments = `query($owner: String!, $name: String!, $env: String!) {
		viewer { login databaseId }
		repository(owner: $owner, name: $name) {
			deployments(environments: [$env], first: 16, orderBy: {field: CREATED_AT, direction: DESC}) {
				nodes { databaseId commitOid description latestStatus { state environmentUrl } }
			}
		}
	}`
	op, err := s.Parse(deployments, map[string]any{"owner": "o", "name": "r", "env": "pr-1"})
	if err != nil {
		t.Fatalf("Parse of a query GitHub serves: %v", err)
	}
	fields, err := Fields(op.Selections)
	if err != nil || len(fields) != 2 || Key(fields[1]) != "repository" {
		t.Fatalf("Fields = %v, %v", fields, err)
	}
	if v, err := Arg(fields[1], "owner", op.Variables); err != nil || v != "o" {
		t.Errorf("Arg(owner) = %v, %v", v, err)
	}
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
		want        string
	}{
		{"unknown field", `query { viewer { login nope } }`, nil, `Cannot query field "nope"`},
		{"wrong argument type", `query { repository(owner: 1, name: "r") { id } }`, nil, "String"},
		{"missing variable", deployments, map[string]any{"owner": "o", "name": "r"}, "env"},
		{"enum GitHub does not have", `query { repository(owner: "o", name: "r") { deployments(first: 1, orderBy: {field: UPDATED_AT, direction: DESC}) { totalCount } } }`, nil, "UPDATED_AT"},
		{"mutation", `mutation { addStar(input: {starrableId: "x"}) { clientMutationId } }`, nil, "only queries"},
		{"syntax", `query { viewer { login }`, nil, "Expected"},
	} {
		if _, err := s.Parse(tc.query, tc.vars); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Parse error = %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
}

package ghapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// gqlError is one entry of a GraphQL answer's errors.
type gqlError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// graphql sends one GraphQL query and decodes its data into out. GitHub
// answers a query it could not fully run with 200 and errors: a FORBIDDEN
// one is the token's missing permission (a *PermissionError, as a REST 403
// would be), NOT_FOUND a repository that does not exist or that the token
// cannot see, and any other error fails the query.
func (c *Client) graphql(ctx context.Context, o op, query string, vars map[string]any, out any) error {
	payload, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return fmt.Errorf("cannot %s: %w", o.action, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.graphqlURL, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("cannot %s: %w", o.action, err)
	}
	req.Header.Set("Content-Type", "application/json")
	var answer struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if _, err := c.gh.Do(ctx, req, &answer); err != nil {
		return o.fail(err)
	}
	if len(answer.Errors) > 0 {
		e := answer.Errors[0]
		switch e.Type {
		case "FORBIDDEN":
			return &PermissionError{Action: o.action, Permission: o.permission, Status: http.StatusOK, Message: e.Message + " (GraphQL FORBIDDEN)"}
		case "NOT_FOUND":
			if o.notFound != "" {
				return fmt.Errorf("%s: %w: %s", o.notFound, ErrNotFound, e.Message)
			}
			return &PermissionError{Action: o.action, Permission: o.permission, Status: http.StatusOK, Message: e.Message + " (GraphQL NOT_FOUND)"}
		}
		msgs := make([]string, len(answer.Errors))
		for i, e := range answer.Errors {
			msgs[i] = e.Message
		}
		return fmt.Errorf("cannot %s: GitHub's GraphQL API answered: %s", o.action, strings.Join(msgs, "; "))
	}
	if len(answer.Data) == 0 || string(answer.Data) == "null" {
		return fmt.Errorf("cannot %s: GitHub's GraphQL API answered no data", o.action)
	}
	if err := json.Unmarshal(answer.Data, out); err != nil {
		return fmt.Errorf("cannot %s: GitHub's GraphQL answer: %w", o.action, err)
	}
	return nil
}

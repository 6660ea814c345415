// Package explain answers the question behind "Not authorized to perform
// sts:AssumeRoleWithWebIdentity": given a role's trust policy and the claims
// of the GitHub OIDC token a job presented, which condition failed and why.
//
// It works offline on what the user hands it. It never verifies a token's
// signature and never sends a token anywhere.
package explain

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Claims are the claims of a GitHub Actions OIDC token, as decoded JSON
// (numbers kept as json.Number). Common ones: iss, aud, sub, ref,
// repository, repository_id, environment, job_workflow_ref, event_name.
type Claims map[string]any

// Values returns the claim as strings: a list claim (aud may be one) gives
// each element, a number its decimal text. ok is false when the claim is
// absent or null.
func (c Claims) Values(name string) (vals []string, ok bool) {
	v, present := c[name]
	if !present || v == nil {
		return nil, false
	}
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			vals = append(vals, scalar(e))
		}
		return vals, true
	default:
		return []string{scalar(t)}, true
	}
}

// String is the claim as one string: list elements joined by ", ", "" when
// absent.
func (c Claims) String(name string) string {
	v, _ := c.Values(name)
	return strings.Join(v, ", ")
}

func scalar(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	case bool:
		if t {
			return "true"
		}
		return "false"
	default:
		b, _ := json.Marshal(t)
		return string(b)
	}
}

// ParseClaimsJSON reads a JSON object of claims. It also accepts the JSON
// that GitHub's token endpoint returns ({"value": "<jwt>"}, what a job gets
// from $ACTIONS_ID_TOKEN_REQUEST_URL) and decodes the token inside, offline.
func ParseClaimsJSON(b []byte) (Claims, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var c Claims
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("claims: not a JSON object: %w", err)
	}
	if dec.More() {
		return nil, errors.New("claims: more than one JSON value")
	}
	if c == nil {
		return nil, errors.New("claims: null")
	}
	if tok, ok := c["value"].(string); ok && len(c) <= 2 && strings.Count(tok, ".") == 2 {
		return DecodeJWT(tok)
	}
	return c, nil
}

// DecodeJWT returns the claims in a JWT's payload. It does NOT verify the
// signature, the expiry or anything else, and it sends the token nowhere:
// it only base64-decodes the middle part, so a user can paste a token from a
// job log to see what AWS will be shown. Never trust its output as proof of
// anything.
func DecodeJWT(token string) (Claims, error) {
	token = strings.TrimSpace(token)
	token = strings.TrimPrefix(token, "Bearer ")
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("token: a JWT has 3 dot-separated parts, this has %d", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("token: payload is not base64url: %w", err)
	}
	c, err := ParseClaimsJSON(payload)
	if err != nil {
		return nil, fmt.Errorf("token payload: %w", err)
	}
	return c, nil
}

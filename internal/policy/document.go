package policy

import "encoding/json"

// Document is an IAM policy document. Field order and sorted maps make its
// JSON the same on every run.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one IAM policy statement.
type Statement struct {
	Sid         string     `json:"Sid,omitempty"`
	Effect      string     `json:"Effect"`
	Principal   *Principal `json:"Principal,omitempty"`
	Action      Values     `json:"Action,omitempty"`
	NotAction   Values     `json:"NotAction,omitempty"`
	Resource    Values     `json:"Resource,omitempty"`
	NotResource Values     `json:"NotResource,omitempty"`
	// Condition is operator → key → values.
	Condition map[string]map[string]Values `json:"Condition,omitempty"`
}

// Principal is the only principal form the action writes: an OIDC
// provider.
type Principal struct {
	Federated string `json:"Federated"`
}

// Values is a list of strings, written as a bare string when it has one
// element, the way IAM and people write it.
type Values []string

// MarshalJSON writes one value as a string and several as a list.
func (v Values) MarshalJSON() ([]byte, error) {
	if len(v) == 1 {
		return json.Marshal(v[0])
	}
	return json.Marshal([]string(v))
}

// UnmarshalJSON accepts a string or a list of strings.
func (v *Values) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*v = Values{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*v = l
	return nil
}

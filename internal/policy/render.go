package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
)

// PermissionVars are the placeholders a permission template may use.
var PermissionVars = []string{
	"account_id", "environment", "head_sha", "number", "owner", "owner_id",
	"partition", "region", "repo", "repository_id", "role_name", "role_path",
}

// Render fills a JSON policy template. The template is parsed first and the
// placeholders are replaced inside the decoded strings, then the document is
// encoded again: a value can never break out of its string, whatever it
// holds. Unknown placeholders and duplicate keys are errors.
func Render(tmpl []byte, vars map[string]string) ([]byte, error) {
	if err := CheckDuplicateKeys(tmpl); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(tmpl))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("template is not valid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("template is not valid JSON: data after the document")
	}
	var unknown, collided []string
	out := walk(v, func(s string) string { return expand(s, vars, &unknown) }, func(key string) { collided = append(collided, key) })
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("template uses unknown placeholders %s (allowed: {%s})", strings.Join(compact(unknown), ", "), strings.Join(PermissionVars, "}, {"))
	}
	if len(collided) > 0 {
		// Two keys that render the same would be merged silently, one of
		// them lost: which one is up to map order, so it is refused.
		sort.Strings(collided)
		return nil, fmt.Errorf("template keys render to the same key %s, so one would silently replace the other", strings.Join(quoteAll(compact(collided)), ", "))
	}
	return mustMarshal(out), nil
}

// expand replaces each {name} in s by vars[name] and records names not in
// vars. IAM's own ${aws:username} variables pass through untouched.
// Placeholders may stand side by side ("{owner}{repo}").
func expand(s string, vars map[string]string, unknown *[]string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '{' && (i == 0 || s[i-1] != '$') {
			if j := strings.IndexByte(s[i:], '}'); j > 1 && isName(s[i+1:i+j]) {
				name := s[i+1 : i+j]
				if v, ok := vars[name]; ok {
					b.WriteString(v)
				} else {
					*unknown = append(*unknown, "{"+name+"}")
					b.WriteString(s[i : i+j+1])
				}
				i += j + 1
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

func isName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_') {
			return false
		}
	}
	return s != ""
}

func compact(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}

// walk rebuilds v with f applied to every string, keys included; collide
// (when not nil) hears of each key of an object that f makes equal to
// another key of the same object.
func walk(v any, f func(string) string, collide func(key string)) any {
	switch t := v.(type) {
	case string:
		return f(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = walk(e, f, collide)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			nk := f(k)
			if _, dup := out[nk]; dup && collide != nil {
				collide(nk)
			}
			out[nk] = walk(e, f, collide)
		}
		return out
	default:
		return v
	}
}

// CheckDuplicateKeys reports the first object key that appears twice in one
// object: encoding/json keeps the last silently, IAM rejects the document.
func CheckDuplicateKeys(doc []byte) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var check func() error
	check = func() error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		d, ok := tok.(json.Delim)
		if !ok {
			return nil
		}
		switch d {
		case '{':
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				k := kt.(string)
				if seen[k] {
					return fmt.Errorf("duplicate key %q", k)
				}
				seen[k] = true
				if err := check(); err != nil {
					return err
				}
			}
		case '[':
			for dec.More() {
				if err := check(); err != nil {
					return err
				}
			}
		}
		_, err = dec.Token() // closing delimiter
		return err
	}
	if err := check(); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return errors.New("not valid JSON: the document ends too early")
		}
		return fmt.Errorf("not valid JSON: %w", err)
	}
	return nil
}

// SameJSON reports whether a and b hold the same one JSON value (object
// keys in any order, numbers as written): how a stored gateway document is
// compared with the desired one.
func SameJSON(a, b []byte) bool {
	var va, vb any
	if !decodeOne(a, &va) || !decodeOne(b, &vb) {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func decodeOne(b []byte, v *any) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if dec.Decode(v) != nil {
		return false
	}
	_, err := dec.Token()
	return errors.Is(err, io.EOF) // nothing may follow the value
}

// Equal reports whether two policy documents mean the same. IAM returns
// documents URL-encoded and re-formatted, and may turn a one-element list
// into a string or back, so documents are compared decoded and normalised.
func Equal(a, b []byte) bool {
	na, err1 := normalise(a)
	nb, err2 := normalise(b)
	if err1 != nil || err2 != nil {
		return false
	}
	return bytes.Equal(mustMarshal(na), mustMarshal(nb))
}

func normalise(doc []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return norm(v), nil
}

func norm(v any) any {
	switch t := v.(type) {
	case []any:
		if len(t) == 1 {
			if _, isObj := t[0].(map[string]any); !isObj {
				return norm(t[0])
			}
		}
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = norm(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = norm(e)
		}
		// A single statement object means the same as a list of one.
		if s, ok := out["Statement"].(map[string]any); ok {
			out["Statement"] = []any{s}
		}
		return out
	default:
		return v
	}
}

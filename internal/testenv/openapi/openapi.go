// Package openapi checks HTTP requests and responses against GitHub's own
// OpenAPI description of its REST API (api.github.com.json of
// @octokit/openapi, which scripts/fixtures downloads), so that a fake GitHub
// neither accepts a request GitHub would refuse nor answers in a shape
// GitHub never sends.
//
// The description is 13 MB, and kin-openapi takes seconds to load all of it.
// A Validator reads the file once per process and loads one path of it at a
// time, when a request first needs it: that path's operations plus the
// components they reference, found by following $refs.
package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/preview-access/preview-access/internal/testenv"
)

// ErrUnknownOperation is the error for a method and path that are not an
// operation of GitHub's REST API.
var ErrUnknownOperation = errors.New("not an operation of GitHub's REST API")

// Validator checks requests and responses against the description. It is
// safe for concurrent use.
type Validator struct {
	file       string
	header     json.RawMessage                       // the document's "openapi" and "info"
	paths      map[string]json.RawMessage            // path template → path item
	components map[string]map[string]json.RawMessage // kind → name → object
	router     *router

	mu     sync.Mutex
	loaded map[string]*pathDoc // by path template
}

// pathDoc is one path of the description as kin-openapi loads it, in a
// document of its own.
type pathDoc struct {
	once sync.Once
	doc  *openapi3.T
	item *openapi3.PathItem
	err  error
}

// Check is the Validator for the description at testenv.GitHubOpenAPI(t),
// loaded once per process. Without the description it skips the test under
// -short and fails it otherwise.
func Check(t testing.TB) *Validator {
	t.Helper()
	return testenv.LoadOnce(t, "openapi", testenv.GitHubOpenAPI(t), Load)
}

// Load reads the description in file. Prefer Check, which reads it once per
// process.
func Load(file string) (*Validator, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read GitHub's OpenAPI description: %w", err)
	}
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Info       json.RawMessage                       `json:"info"`
		Paths      map[string]json.RawMessage            `json:"paths"`
		Components map[string]map[string]json.RawMessage `json:"components"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("decode %s: %w", file, err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") || len(doc.Paths) == 0 {
		return nil, fmt.Errorf("%s: got OpenAPI %q with %d paths; want GitHub's OpenAPI 3.0 description", file, doc.OpenAPI, len(doc.Paths))
	}
	header, err := json.Marshal(map[string]any{"openapi": doc.OpenAPI, "info": doc.Info})
	if err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return &Validator{
		file:       file,
		header:     header,
		paths:      doc.Paths,
		components: doc.Components,
		router:     newRouter(paths),
		loaded:     map[string]*pathDoc{},
	}, nil
}

// Operation is the operationId (e.g. "repos/get-environment") that method and
// path (without /api/v3, e.g. /repos/o/r/environments/x) resolve to.
func (v *Validator) Operation(method, path string) (string, error) {
	route, _, err := v.route(method, path)
	if err != nil {
		return "", err
	}
	return route.Operation.OperationID, nil
}

// Request checks a request: its path and query parameters, and its body
// (which must be JSON when the operation takes one). path is as sent
// (escaped), without the GitHub Enterprise Server /api/v3 prefix.
func (v *Validator) Request(method, path, rawQuery string, header http.Header, body []byte) error {
	input, err := v.input(method, path, rawQuery, header, body)
	if err != nil {
		return err
	}
	if err := openapi3filter.ValidateRequest(context.Background(), input); err != nil {
		return fmt.Errorf("%s: %w", input.Route.Operation.OperationID, err)
	}
	return nil
}

// Response checks the response to a request: that GitHub documents its
// status for the operation, and its headers and body against that status's
// schema. GitHub documents its error statuses for only some operations;
// an undocumented 4xx or 5xx must have GitHub's error body (basic-error,
// or validation-error for 422).
func (v *Validator) Response(method, path, rawQuery string, status int, header http.Header, body []byte) error {
	input, err := v.input(method, path, rawQuery, nil, nil)
	if err != nil {
		return err
	}
	op := input.Route.Operation
	if op.Responses.Status(status) == nil && op.Responses.Default() == nil {
		if status < 400 {
			return fmt.Errorf("%s: status %d is not a documented response", op.OperationID, status)
		}
		if err := v.errorBody(input.Route.Spec, status, header, body); err != nil {
			return fmt.Errorf("%s: status %d: %w", op.OperationID, status, err)
		}
		return nil
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input,
		Status:                 status,
		Header:                 header,
		Options:                input.Options,
	}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("%s: status %d: %w", op.OperationID, status, err)
	}
	return nil
}

// errorBody checks an error response GitHub does not document for the
// operation against GitHub's error shapes.
func (v *Validator) errorBody(doc *openapi3.T, status int, header http.Header, body []byte) error {
	name := "basic-error"
	if status == http.StatusUnprocessableEntity {
		name = "validation-error"
	}
	ref := doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("the description has no %s schema", name)
	}
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("error response has Content-Type %q; want application/json", ct)
	}
	var value any
	if err := json.Unmarshal(body, &value); err != nil {
		return fmt.Errorf("error response body: %w", err)
	}
	if err := ref.Value.VisitJSON(value, openapi3.MultiErrors(), openapi3.VisitAsResponse(), openapi3.DisableSchemaErrorDetails()); err != nil {
		return fmt.Errorf("error response body doesn't match schema %q: %w", name, err)
	}
	return nil
}

// options are strict where GitHub is and independent of authentication,
// which the fakes check themselves.
var options = &openapi3filter.Options{
	MultiError:                        true,
	IncludeResponseStatus:             true,
	RejectWhenRequestBodyNotSpecified: true,
	SkipSettingDefaults:               true,
	AuthenticationFunc:                openapi3filter.NoopAuthenticationFunc,
	// Keep error messages short, and request bodies (tokens, say) out
	// of them.
	SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
}

func (v *Validator) input(method, path, rawQuery string, header http.Header, body []byte) (*openapi3filter.RequestValidationInput, error) {
	route, params, err := v.route(method, path)
	if err != nil {
		return nil, err
	}
	u := &url.URL{Scheme: "https", Host: "api.github.com", RawQuery: rawQuery}
	if u.Path, err = url.PathUnescape(path); err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	u.RawPath = path
	req, err := http.NewRequest(method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if len(body) == 0 {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	if header != nil {
		req.Header = header.Clone()
	}
	return &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      route,
		Options:    options,
	}, nil
}

func (v *Validator) route(method, path string) (*routers.Route, map[string]string, error) {
	t, params, ok := v.router.find(path)
	if !ok {
		return nil, nil, fmt.Errorf("%s %s: %w", method, path, ErrUnknownOperation)
	}
	pd, err := v.load(t.path)
	if err != nil {
		return nil, nil, err
	}
	op := pd.item.GetOperation(method)
	if op == nil {
		return nil, nil, fmt.Errorf("%s %s (%s): %w", method, path, t.path, ErrUnknownOperation)
	}
	if v, ok := params["path"]; ok && v == "" {
		// The repository's root (see router.find), which kin-openapi
		// would refuse as a missing parameter; the schema of path is a
		// plain string, so "/" validates as "" would.
		params["path"] = "/"
	}
	return &routers.Route{
		Spec:      pd.doc,
		Path:      t.path,
		PathItem:  pd.item,
		Method:    method,
		Operation: op,
	}, params, nil
}

// load loads one path template of the description, once.
func (v *Validator) load(tmpl string) (*pathDoc, error) {
	v.mu.Lock()
	pd := v.loaded[tmpl]
	if pd == nil {
		pd = &pathDoc{}
		v.loaded[tmpl] = pd
	}
	v.mu.Unlock()
	pd.once.Do(func() {
		data, err := v.trimmed(tmpl)
		if err == nil {
			pd.doc, err = openapi3.NewLoader().LoadFromData(data)
		}
		if err != nil {
			pd.err = fmt.Errorf("load %s of %s: %w", tmpl, v.file, err)
			return
		}
		pd.item = pd.doc.Paths.Value(tmpl)
	})
	return pd, pd.err
}

var refRE = regexp.MustCompile(`"\$ref"\s*:\s*"#/components/([^/"]+)/([^"]+)"`)

// trimmed is a document of the description's path tmpl and the components
// it references, directly or through other components. Examples are
// emptied: validation never reads them, and they are most of the bytes.
func (v *Validator) trimmed(tmpl string) ([]byte, error) {
	type key struct{ kind, name string }
	seen := map[key]bool{}
	components := map[string]map[string]json.RawMessage{}
	var walk func(raw json.RawMessage) error
	walk = func(raw json.RawMessage) error {
		for _, m := range refRE.FindAllSubmatch(raw, -1) {
			k := key{string(m[1]), unescapePointer(string(m[2]))}
			if seen[k] {
				continue
			}
			seen[k] = true
			obj, ok := v.components[k.kind][k.name]
			if !ok {
				return fmt.Errorf("dangling $ref to #/components/%s/%s", k.kind, k.name)
			}
			if k.kind == "examples" {
				obj = json.RawMessage(`{}`)
			}
			if components[k.kind] == nil {
				components[k.kind] = map[string]json.RawMessage{}
			}
			components[k.kind][k.name] = obj
			if err := walk(obj); err != nil {
				return err
			}
		}
		return nil
	}
	item := v.paths[tmpl]
	// The error shapes of undocumented error statuses (see Response).
	if err := walk(json.RawMessage(`{"$ref": "#/components/schemas/basic-error"} {"$ref": "#/components/schemas/validation-error"}`)); err != nil {
		return nil, err
	}
	if err := walk(item); err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(v.header, &doc); err != nil {
		return nil, err
	}
	doc["paths"] = map[string]json.RawMessage{tmpl: item}
	doc["components"] = components
	return json.Marshal(doc)
}

// unescapePointer undoes JSON pointer escaping in a component name.
func unescapePointer(s string) string {
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(s)
}

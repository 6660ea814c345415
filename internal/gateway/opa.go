package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/preview-access/preview-access/templates"
)

// OPA locations: the documents live under data.preview_access.previews, next
// to the policy of package preview_access that reads them.
const (
	OPADataPath   = "/v1/data/preview_access/previews"
	OPAPolicyPath = "/v1/policies/preview_access"
)

// Rego returns the module the opa driver installs.
func Rego() ([]byte, error) {
	b, err := templates.FS.ReadFile(templates.GatewayRego)
	if err != nil {
		return nil, fmt.Errorf("read embedded gateway policy: %w", err)
	}
	return b, nil
}

type opaDriver struct {
	http  *httpDoer
	token string

	mu        sync.Mutex
	installed bool // the module was found or put once by this driver
}

func newOPA(c Config) *opaDriver {
	return &opaDriver{http: newDoer(c, "opa", nil), token: c.Token}
}

func (d *opaDriver) header(contentType string) http.Header {
	h := http.Header{"Accept": {"application/json"}}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	if d.token != "" {
		h.Set("Authorization", "Bearer "+d.token)
	}
	return h
}

// opaError is the body of OPA's error responses.
type opaError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Errors  []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

func (d *opaDriver) fail(method, path string, r response) error {
	var e opaError
	msg := ""
	if json.Unmarshal(r.body, &e) == nil && (e.Code != "" || e.Message != "") {
		msg = e.Code + ": " + e.Message
		for _, sub := range e.Errors {
			msg += "; " + sub.Message
		}
	}
	return d.http.statusError(method, path, r, msg)
}

func (d *opaDriver) Get(ctx context.Context, id string) ([]byte, bool, error) {
	if err := checkID(id); err != nil {
		return nil, false, err
	}
	path := OPADataPath + "/" + id
	r, err := d.http.do(ctx, http.MethodGet, path, nil, nil, d.header(""))
	if err != nil {
		return nil, false, err
	}
	if r.status != http.StatusOK {
		return nil, false, d.fail(http.MethodGet, path, r)
	}
	var out struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		return nil, false, fmt.Errorf("opa: GET %s: decode answer: %w", path, err)
	}
	// OPA answers {} for a document that is not there.
	if out.Result == nil {
		return nil, false, nil
	}
	return out.Result, true, nil
}

func (d *opaDriver) Put(ctx context.Context, id string, doc []byte) error {
	if err := checkID(id); err != nil {
		return err
	}
	if !json.Valid(doc) {
		return fmt.Errorf("opa: document for %s is not JSON", id)
	}
	if err := d.installPolicy(ctx); err != nil {
		return err
	}
	path := OPADataPath + "/" + id
	r, err := d.http.do(ctx, http.MethodPut, path, nil, doc, d.header("application/json"))
	if err != nil {
		return err
	}
	if !is2xx(r.status) {
		return d.fail(http.MethodPut, path, r)
	}
	return nil
}

// installPolicy puts the Rego module unless OPA already has this exact text,
// so a run with nothing changed writes nothing.
func (d *opaDriver) installPolicy(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.installed {
		return nil
	}
	rego, err := Rego()
	if err != nil {
		return err
	}
	r, err := d.http.do(ctx, http.MethodGet, OPAPolicyPath, nil, nil, d.header(""))
	if err != nil {
		return err
	}
	switch r.status {
	case http.StatusOK:
		var out struct {
			Result struct {
				Raw string `json:"raw"`
			} `json:"result"`
		}
		if err := json.Unmarshal(r.body, &out); err != nil {
			return fmt.Errorf("opa: GET %s: decode answer: %w", OPAPolicyPath, err)
		}
		if out.Result.Raw == string(rego) {
			d.installed = true
			return nil
		}
	case http.StatusNotFound:
	default:
		return d.fail(http.MethodGet, OPAPolicyPath, r)
	}
	r, err = d.http.do(ctx, http.MethodPut, OPAPolicyPath, nil, rego, d.header("text/plain"))
	if err != nil {
		return err
	}
	if !is2xx(r.status) {
		return fmt.Errorf("install policy: %w", d.fail(http.MethodPut, OPAPolicyPath, r))
	}
	d.installed = true
	return nil
}

func (d *opaDriver) Delete(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	path := OPADataPath + "/" + id
	r, err := d.http.do(ctx, http.MethodDelete, path, nil, nil, d.header(""))
	if err != nil {
		return err
	}
	if !is2xx(r.status) && r.status != http.StatusNotFound {
		return d.fail(http.MethodDelete, path, r)
	}
	return nil
}

// List returns every preview id in this OPA, of all repositories: ids start
// with gh-<repositoryId>-, which is how a caller picks its own.
func (d *opaDriver) List(ctx context.Context) ([]string, error) {
	r, err := d.http.do(ctx, http.MethodGet, OPADataPath, nil, nil, d.header(""))
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusOK {
		return nil, d.fail(http.MethodGet, OPADataPath, r)
	}
	var out struct {
		Result map[string]json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		return nil, fmt.Errorf("opa: GET %s: decode answer: %w", OPADataPath, err)
	}
	ids := make([]string, 0, len(out.Result))
	for id := range out.Result {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/preview-access/preview-access/templates"
)

// OPA locations: each repository's documents live in a subtree of their own,
// data.preview_access.repositories[<repository id>].previews, which the
// shipped system.authz (templates/gateway/authz.rego) lets the
// repository's token write and no other; the policy of package
// preview_access reads them all.
const (
	OPARepositoriesPath = "/v1/data/preview_access/repositories"
	OPAPolicyPath       = "/v1/policies/preview_access"
)

// OPADataPath is where the documents of the repository with id live.
func OPADataPath(repositoryID int64) string {
	return OPARepositoriesPath + "/" + strconv.FormatInt(repositoryID, 10) + "/previews"
}

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
	data  string // OPADataPath of the repository
}

var _ ModuleKeeper = (*opaDriver)(nil)

func newOPA(c Config) *opaDriver {
	return &opaDriver{http: newDoer(c, "opa", nil), token: c.Token, data: OPADataPath(c.RepositoryID)}
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
	path := d.data + "/" + id
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
	path := d.data + "/" + id
	r, err := d.http.do(ctx, http.MethodPut, path, nil, doc, d.header("application/json"))
	if err != nil {
		return err
	}
	if !is2xx(r.status) {
		return d.fail(http.MethodPut, path, r)
	}
	return nil
}

// Module reads the installed preview_access module and compares its text
// with this version's.
func (d *opaDriver) Module(ctx context.Context) (exists, current bool, err error) {
	rego, err := Rego()
	if err != nil {
		return false, false, err
	}
	r, err := d.http.do(ctx, http.MethodGet, OPAPolicyPath, nil, nil, d.header(""))
	if err != nil {
		return false, false, err
	}
	switch r.status {
	case http.StatusOK:
		var out struct {
			Result struct {
				Raw string `json:"raw"`
			} `json:"result"`
		}
		if err := json.Unmarshal(r.body, &out); err != nil {
			return false, false, fmt.Errorf("opa: GET %s: decode answer: %w", OPAPolicyPath, err)
		}
		return true, out.Result.Raw == string(rego), nil
	case http.StatusNotFound:
		return false, false, nil
	}
	return false, false, d.fail(http.MethodGet, OPAPolicyPath, r)
}

// InstallModule puts this version's module as policy preview_access.
func (d *opaDriver) InstallModule(ctx context.Context) error {
	rego, err := Rego()
	if err != nil {
		return err
	}
	r, err := d.http.do(ctx, http.MethodPut, OPAPolicyPath, nil, rego, d.header("text/plain"))
	if err != nil {
		return err
	}
	switch {
	case is2xx(r.status):
		return nil
	case r.status == http.StatusUnauthorized || r.status == http.StatusForbidden:
		// OPA answers 401 to a request its authorization policy refuses;
		// the same token just read the module, so it is not a bad one.
		return fmt.Errorf("opa: PUT %s: %w", OPAPolicyPath, ErrModuleManaged)
	}
	return fmt.Errorf("install policy: %w", d.fail(http.MethodPut, OPAPolicyPath, r))
}

func (d *opaDriver) Delete(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	path := d.data + "/" + id
	r, err := d.http.do(ctx, http.MethodDelete, path, nil, nil, d.header(""))
	if err != nil {
		return err
	}
	if !is2xx(r.status) && r.status != http.StatusNotFound {
		return d.fail(http.MethodDelete, path, r)
	}
	return nil
}

// List returns the ids of the repository's own documents: its subtree is
// all its token may read.
func (d *opaDriver) List(ctx context.Context) ([]string, error) {
	r, err := d.http.do(ctx, http.MethodGet, d.data, nil, nil, d.header(""))
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusOK {
		return nil, d.fail(http.MethodGet, d.data, r)
	}
	var out struct {
		Result map[string]json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		return nil, fmt.Errorf("opa: GET %s: decode answer: %w", d.data, err)
	}
	ids := make([]string, 0, len(out.Result))
	for id := range out.Result {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

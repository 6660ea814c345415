package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// WebhookPreviewsPath is where a webhook receiver keeps documents:
// {gateway-url}/previews/<id>.
const WebhookPreviewsPath = "/previews"

type webhookDriver struct {
	http       *httpDoer
	secret     string
	repository string
	now        func() time.Time
}

// bodyKey holds a request's body in its context so a retry can be signed
// afresh: retryablehttp's PrepareRetry hook sees only the http.Request.
type bodyKey struct{}

func newWebhook(c Config) *webhookDriver {
	d := &webhookDriver{secret: c.Secret, repository: c.Repository, now: time.Now}
	d.http = newDoer(c, "webhook", func(req *http.Request) error {
		body, _ := req.Context().Value(bodyKey{}).([]byte)
		req.Header.Set(SignatureHeader, Sign(d.secret, d.now(), req.Method, req.URL.RequestURI(), body))
		return nil
	})
	return d
}

func (d *webhookDriver) send(ctx context.Context, method, path string, q url.Values, body []byte) (response, error) {
	ctx = context.WithValue(ctx, bodyKey{}, body)
	h := http.Header{}
	h.Set("Accept", "application/json")
	if body != nil {
		h.Set("Content-Type", "application/json")
		h.Set("Idempotency-Key", IdempotencyKey(body))
	}
	return d.http.do(ctx, method, path, q, body, h)
}

func (d *webhookDriver) Get(ctx context.Context, id string) ([]byte, bool, error) {
	if err := checkID(id); err != nil {
		return nil, false, err
	}
	path := WebhookPreviewsPath + "/" + id
	r, err := d.send(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return nil, false, err
	}
	switch {
	case r.status == http.StatusNotFound:
		return nil, false, nil
	case r.status != http.StatusOK:
		return nil, false, d.http.statusError(http.MethodGet, path, r, "")
	case !json.Valid(r.body):
		return nil, false, fmt.Errorf("webhook: GET %s: answer is not JSON", path)
	}
	return r.body, true, nil
}

func (d *webhookDriver) Put(ctx context.Context, id string, doc []byte) error {
	if err := checkID(id); err != nil {
		return err
	}
	if !json.Valid(doc) {
		return fmt.Errorf("webhook: document for %s is not JSON", id)
	}
	path := WebhookPreviewsPath + "/" + id
	r, err := d.send(ctx, http.MethodPut, path, nil, doc)
	if err != nil {
		return err
	}
	if !is2xx(r.status) {
		return d.http.statusError(http.MethodPut, path, r, "")
	}
	return nil
}

func (d *webhookDriver) Delete(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	path := WebhookPreviewsPath + "/" + id
	r, err := d.send(ctx, http.MethodDelete, path, nil, nil)
	if err != nil {
		return err
	}
	if !is2xx(r.status) && r.status != http.StatusNotFound {
		return d.http.statusError(http.MethodDelete, path, r, "")
	}
	return nil
}

// List asks for this repository's ids; a receiver that does not implement
// listing answers 404, 405 or 501.
func (d *webhookDriver) List(ctx context.Context) ([]string, error) {
	q := url.Values{}
	if d.repository != "" {
		q.Set("repository", d.repository)
	}
	r, err := d.send(ctx, http.MethodGet, WebhookPreviewsPath, q, nil)
	if err != nil {
		return nil, err
	}
	switch r.status {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return nil, ErrListUnsupported
	default:
		return nil, d.http.statusError(http.MethodGet, WebhookPreviewsPath, r, "")
	}
	var out struct {
		IDs []string `json:"ids"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		return nil, fmt.Errorf("webhook: GET %s: decode answer: %w", WebhookPreviewsPath, err)
	}
	ids := slices.Clone(out.IDs)
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

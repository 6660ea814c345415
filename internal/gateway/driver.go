package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/preview-access/preview-access/internal/endpoint"
)

// Driver stores preview documents where a gateway reads them. Every method is
// idempotent: Put of the same document twice and Delete of an absent one
// succeed.
type Driver interface {
	// Get returns the stored document, or found=false when there is none.
	Get(ctx context.Context, id string) (doc []byte, found bool, err error)
	// Put stores doc under id, replacing what was there.
	Put(ctx context.Context, id string, doc []byte) error
	// Delete removes the document; an absent document is success.
	Delete(ctx context.Context, id string) error
	// List returns the stored ids, or ErrListUnsupported.
	List(ctx context.Context) (ids []string, err error)
}

// ErrListUnsupported is List's error where the driver cannot enumerate.
var ErrListUnsupported = errors.New("gateway driver cannot list previews")

// ModuleKeeper is a driver whose gateway decides with a policy module that
// preview-access ships (opa's Rego): installing or replacing it is a write
// of its own, planned and reported like the documents.
type ModuleKeeper interface {
	// Module reports whether the gateway has the module, and whether it
	// is this version's.
	Module(ctx context.Context) (exists, current bool, err error)
	// InstallModule puts this version's module; ErrModuleManaged when the
	// token may not (on a shared OPA only its admin may).
	InstallModule(ctx context.Context) error
}

// ErrModuleManaged: the gateway's policy module may be replaced by its
// admin only.
var ErrModuleManaged = errors.New("the gateway's policy module is managed by its admin: this token may not replace it")

// Driver kinds, as the gateway input names them.
const (
	KindOPA     = "opa"
	KindWebhook = "webhook"
	KindFile    = "file"
	KindNone    = "none" // also the empty string: no gateway
)

// DefaultTimeout bounds one HTTP attempt when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// MinSecretLength is the shortest webhook secret accepted: an HMAC key
// guessable by brute force protects nothing.
const MinSecretLength = 16

// Config chooses and configures a driver. Token and Secret are credentials:
// Config's String and LogValue redact them, and no error carries them.
type Config struct {
	Kind       string // "opa", "webhook", "file", or "none"/"" for no gateway
	URL        string // opa, webhook: base URL
	Token      string // opa: bearer token (optional)
	Secret     string // webhook: HMAC-SHA256 key
	Path       string // file: where to write the document
	HTTPClient *http.Client
	Timeout    time.Duration // one HTTP attempt; DefaultTimeout when zero
	Repository string        // owner/repo: webhook List asks for this repository's ids
	// RepositoryID is GitHub's numeric id of the repository: opa keeps the
	// repository's documents in a subtree of their own under it.
	RepositoryID int64

	// retryWaitMin and retryWaitMax override the backoff bounds in tests.
	retryWaitMin, retryWaitMax time.Duration
}

const redacted = "[redacted]"

func redact(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// String describes c without its credentials.
func (c Config) String() string {
	return fmt.Sprintf("gateway.Config{Kind:%q URL:%q Token:%q Secret:%q Path:%q Timeout:%s Repository:%q RepositoryID:%d}",
		c.Kind, endpoint.Safe(c.URL), redact(c.Token), redact(c.Secret), c.Path, c.Timeout, c.Repository, c.RepositoryID)
}

// GoString is String, so %#v redacts too.
func (c Config) GoString() string { return c.String() }

// LogValue describes c for slog without its credentials.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("kind", c.Kind),
		slog.String("url", endpoint.Safe(c.URL)),
		slog.String("token", redact(c.Token)),
		slog.String("secret", redact(c.Secret)),
		slog.String("path", c.Path),
		slog.Duration("timeout", c.Timeout),
		slog.String("repository", c.Repository),
	)
}

// ValidateConfig reports every problem with c at once, without echoing
// credentials.
func ValidateConfig(c Config) error {
	var errs []error
	switch c.Kind {
	case KindNone, "":
		return nil
	case KindOPA:
		if c.URL == "" {
			errs = append(errs, errors.New("gateway opa needs gateway-url"))
		}
		if c.RepositoryID < 0 {
			errs = append(errs, fmt.Errorf("repository id %d is not GitHub's numeric id", c.RepositoryID))
		}
	case KindWebhook:
		if c.URL == "" {
			errs = append(errs, errors.New("gateway webhook needs gateway-url"))
		}
		switch {
		case c.Secret == "":
			errs = append(errs, errors.New("gateway webhook needs gateway-secret (the HMAC-SHA256 key)"))
		case len(c.Secret) < MinSecretLength:
			errs = append(errs, fmt.Errorf("gateway-secret is %d characters; use at least %d", len(c.Secret), MinSecretLength))
		}
	case KindFile:
		if c.Path == "" {
			errs = append(errs, errors.New("gateway file needs a path to write the policy to"))
		}
	default:
		return fmt.Errorf("gateway %q is not one of opa, webhook, file, none", c.Kind)
	}
	if c.URL != "" && c.Kind != KindFile {
		errs = append(errs, endpoint.Check("gateway-url", c.URL)...)
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("gateway timeout %s must not be negative", c.Timeout))
	}
	if c.Repository != "" && strings.Count(c.Repository, "/") != 1 {
		errs = append(errs, fmt.Errorf("repository %q is not owner/repo", c.Repository))
	}
	return errors.Join(errs...)
}

// New returns the driver c names. For "none" (or "") it returns a nil Driver
// and no error: the gateway is disabled, and the caller plans no gateway
// change at all rather than talking to a driver that pretends.
func New(c Config) (Driver, error) {
	if err := ValidateConfig(c); err != nil {
		return nil, err
	}
	switch c.Kind {
	case KindOPA:
		return newOPA(c), nil
	case KindWebhook:
		return newWebhook(c), nil
	case KindFile:
		return &fileDriver{path: c.Path}, nil
	default:
		return nil, nil
	}
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// checkID keeps ids to characters that are safe as one URL path segment and
// in OPA's data paths.
func checkID(id string) error {
	if !idRE.MatchString(id) || strings.Contains(id, "..") {
		return fmt.Errorf("preview id %q is not 1-128 of [A-Za-z0-9._-]", id)
	}
	return nil
}

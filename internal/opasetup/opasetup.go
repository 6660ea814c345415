// Package opasetup renders what an OPA's admin runs once per repository
// that publishes preview documents to a shared OPA (preview-access
// bootstrap --format opa).
package opasetup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/preview-access/preview-access/internal/bootstrap"
	"github.com/preview-access/preview-access/templates"
)

// hostPatternRE is a host glob as the Rego module matches it: DNS labels of
// lower-case letters, digits and '-', where '*' stands for (part of) one
// label. No pattern may be all wildcards.
var hostPatternRE = regexp.MustCompile(`^([a-z0-9*]([a-z0-9*-]*[a-z0-9*])?)(\.[a-z0-9*]([a-z0-9*-]*[a-z0-9*])?)+(:[0-9]{1,5})?$`)

// CheckPreviewHosts reports what is wrong with the host patterns an OPA's
// admin binds to a repository.
func CheckPreviewHosts(patterns []string) error {
	if len(patterns) == 0 {
		return errors.New("--preview-host is required with --format opa: the host patterns this repository's previews may claim, e.g. 'pr-*.shop.preview.example.com'")
	}
	var errs []error
	for _, p := range patterns {
		labels := strings.Split(strings.SplitN(p, ":", 2)[0], ".")
		literal := 0
		for _, l := range labels {
			if strings.Trim(l, "*") != "" {
				literal++
			}
		}
		switch {
		case !hostPatternRE.MatchString(p) || strings.Contains(p, "**"):
			errs = append(errs, fmt.Errorf("preview host %q is not a lower-case host name, with * inside a label at most", p))
		case literal < 2 || strings.Trim(labels[len(labels)-1], "*") != labels[len(labels)-1] || strings.Trim(labels[len(labels)-2], "*") != labels[len(labels)-2]:
			errs = append(errs, fmt.Errorf("preview host %q must end in a domain of its own (two literal labels), not a wildcard another repository could also claim", p))
		}
	}
	return errors.Join(errs...)
}

// Script renders what an OPA's admin runs once per repository that publishes
// to the OPA: a shell script that installs the preview_access module,
// writes the authorization policy OPA must start with, binds the
// repository's preview hosts and issues the repository's token (stored
// only as its SHA-256). The script reads OPA_URL and OPA_ADMIN_TOKEN.
func Script(o bootstrap.Options, hosts []string) ([]byte, error) {
	var errs []error
	if err := o.Validate(); err != nil {
		errs = append(errs, err)
	}
	if o.RepositoryID <= 0 {
		errs = append(errs, errors.New("--repository-id is required with --format opa: the repository's documents live under its numeric id"))
	}
	if err := CheckPreviewHosts(hosts); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("bootstrap options: %w", err)
	}
	module, err := templates.FS.ReadFile(templates.GatewayRego)
	if err != nil {
		return nil, err
	}
	authz, err := templates.FS.ReadFile(templates.GatewayAuthz)
	if err != nil {
		return nil, err
	}
	d := o
	repo := d.Owner + "/" + d.Repo
	id := strconv.FormatInt(d.RepositoryID, 10)
	hostsJSON, _ := json.Marshal(hosts)
	identity, _ := json.Marshal(map[string]string{"kind": "repository", "repository_id": id})

	var b bytes.Buffer
	fmt.Fprintf(&b, `#!/bin/sh
# preview-access: OPA setup for %[1]s (repository id %[2]s), run by the OPA's admin.
#
# OPA must run with authentication and the authorization policy written
# below, and with the admin token in its environment:
#   PREVIEW_ACCESS_OPA_ADMIN_TOKEN=… opa run --server --authentication=token \
#     --authorization=basic preview-access-authz.rego
# Then run this script with OPA_URL and OPA_ADMIN_TOKEN set. It prints the
# repository's token once: store it as the repository's GATEWAY_TOKEN secret
# (gh secret set GATEWAY_TOKEN --repo %[1]s) and give it as gateway-token.
set -eu
: "${OPA_URL:?set OPA_URL}" "${OPA_ADMIN_TOKEN:?set OPA_ADMIN_TOKEN}"
opa_put() { # PATH CONTENT-TYPE: the body on stdin
	curl -fsS -X PUT "$OPA_URL$1" -H "Authorization: Bearer $OPA_ADMIN_TOKEN" -H "Content-Type: $2" --data-binary @- >/dev/null
}

# 1. The authorization policy: each repository's token writes only its own
#    documents (data.preview_access.repositories[<id>]).
cat >preview-access-authz.rego <<'PREVIEW_ACCESS_REGO'
%[3]sPREVIEW_ACCESS_REGO

# 2. The module that decides (policy preview_access), this version's.
opa_put /v1/policies/preview_access text/plain <<'PREVIEW_ACCESS_REGO'
%[4]sPREVIEW_ACCESS_REGO

# 3. The hosts %[1]s's previews may claim; a document naming any other
#    host claims nothing.
opa_put /v1/data/preview_access_admin/hosts/%[2]s application/json <<'PREVIEW_ACCESS_JSON'
%[5]s
PREVIEW_ACCESS_JSON

# 4. A token of the repository's own, stored in OPA only as its SHA-256.
token=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
hash=$(printf %%s "$token" | sha256sum | cut -d' ' -f1)
opa_put "/v1/data/preview_access_admin/tokens/$hash" application/json <<'PREVIEW_ACCESS_JSON'
%[6]s
PREVIEW_ACCESS_JSON
echo "gateway-token for %[1]s: $token"

# 5. Once per OPA, not per repository: how callers are identified in
#    Envoy-shaped requests (Envoy, Istio, the FastAPI guard). Until it is
#    set, every such request is denied. Vouch for the headers the proxy in
#    front overwrites ({} for oauth2-proxy's x-forwarded-user and
#    x-forwarded-groups), or configure a JWT the module verifies instead
#    (see the README). Uncomment the one that is true of your gateway:
#   printf '{}' | opa_put /v1/data/preview_access_admin/identity application/json
#   opa_put /v1/data/preview_access_admin/jwt application/json <jwt.json
`, repo, id, authz, module, hostsJSON, identity)
	return b.Bytes(), nil
}

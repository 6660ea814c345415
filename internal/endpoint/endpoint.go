// Package endpoint holds the one rule for URLs the action sends
// credentials to (GITHUB_API_URL, gateway-url): https, or plain http only
// to this machine, and no credentials, query or fragment in the URL.
package endpoint

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Loopback reports whether host is this machine: localhost (any case) or a
// loopback address (127.0.0.0/8, ::1).
func Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LoopbackURL reports whether raw's host is this machine.
func LoopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && Loopback(u.Hostname())
}

// Safe renders raw without user information, query or fragment: whatever
// a caller put there might be a credential.
func Safe(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// Check reports every problem of raw as the URL of input, without echoing
// what it may carry.
func Check(input, raw string) []error {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes the whole input, which may hold a credential.
		return []error{fmt.Errorf("%s is not a valid URL", input)}
	}
	var errs []error
	shown := Safe(raw)
	switch u.Scheme {
	case "https":
	case "http":
		if !Loopback(u.Hostname()) {
			errs = append(errs, fmt.Errorf("%s %s must use https (http is allowed only for 127.0.0.1, localhost and [::1])", input, shown))
		}
	default:
		errs = append(errs, fmt.Errorf("%s %s must use https", input, shown))
	}
	if u.Host == "" {
		errs = append(errs, fmt.Errorf("%s %s has no host", input, shown))
	}
	if u.User != nil {
		errs = append(errs, fmt.Errorf("%s %s must not carry user information; pass credentials as gateway-token or gateway-secret", input, shown))
	}
	if u.RawQuery != "" || u.ForceQuery {
		errs = append(errs, fmt.Errorf("%s %s must not have a query", input, shown))
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		errs = append(errs, fmt.Errorf("%s %s must not have a fragment", input, shown))
	}
	return errs
}

// GitHubAPI validates GITHUB_API_URL and returns "" for github.com, or the
// enterprise base URL otherwise. Plain http is accepted only for loopback
// hosts (test servers): anything else would send the token in clear text.
func GitHubAPI(raw string) (enterprise string, err error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("GITHUB_API_URL %q is not an http(s) URL like https://api.github.com or https://HOST/api/v3", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !Loopback(u.Hostname()) {
			return "", fmt.Errorf("GITHUB_API_URL %q uses plain http: the token would travel unencrypted; use https", raw)
		}
	default:
		return "", fmt.Errorf("GITHUB_API_URL %q is not an http(s) URL", raw)
	}
	if strings.EqualFold(u.Host, "api.github.com") && strings.Trim(u.Path, "/") == "" {
		return "", nil
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u.String(), nil
}

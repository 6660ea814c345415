package endpoint

import (
	"errors"
	"strings"
	"testing"
)

func TestLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost":          true,
		"LocalHost":          true,
		"127.0.0.1":          true,
		"127.8.9.10":         true,
		"::1":                true,
		"localhost.evil.com": false,
		"128.0.0.1":          false,
		"10.0.0.1":           false,
		"":                   false,
		"0.0.0.0":            false,
	} {
		if got := Loopback(host); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", host, got, want)
		}
	}
	if !LoopbackURL("http://[::1]:8181/v1") || LoopbackURL("http://example.com") || LoopbackURL("://") {
		t.Error("LoopbackURL disagrees with Loopback")
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		raw  string
		want []string // substrings, one per expected error
	}{
		{raw: "https://opa.example.com"},
		{raw: "http://127.0.0.1:8181"},
		{raw: "http://localhost:8181"},
		{raw: "http://opa.example.com", want: []string{"must use https (http is allowed only"}},
		{raw: "ftp://opa.example.com", want: []string{"must use https"}},
		{raw: "https://", want: []string{"has no host"}},
		{raw: "https://user:hunter2@opa.example.com", want: []string{"must not carry user information"}},
		{raw: "https://opa.example.com/?token=hunter2", want: []string{"must not have a query"}},
		{raw: "https://opa.example.com/#hunter2", want: []string{"must not have a fragment"}},
		{raw: "https://opa.example.com/%zz?hunter2", want: []string{"is not a valid URL"}},
	}
	for _, tt := range tests {
		errs := Check("gateway-url", tt.raw)
		if len(errs) != len(tt.want) {
			t.Errorf("Check(%q) = %v, want %d errors", tt.raw, errs, len(tt.want))
			continue
		}
		for i, err := range errs {
			msg := err.Error()
			if !strings.HasPrefix(msg, "gateway-url") || !strings.Contains(msg, tt.want[i]) {
				t.Errorf("Check(%q)[%d] = %q, want gateway-url … %q", tt.raw, i, msg, tt.want[i])
			}
		}
		if joined := errors.Join(errs...); joined != nil && strings.Contains(joined.Error(), "hunter2") {
			t.Errorf("Check(%q) echoes the credential: %v", tt.raw, joined)
		}
	}
	if got := Safe("https://u:p@h.example/p?q=1#f"); got != "https://h.example/p" {
		t.Errorf("Safe = %q", got)
	}
}

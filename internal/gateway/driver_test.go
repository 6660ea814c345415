package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	testToken  = "tok-SECRET-0123456789"
	testSecret = "hmac-SECRET-0123456789"
)

func TestValidateConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		c    Config
		want []string // each must appear; none means valid
	}{
		{name: "none", c: Config{Kind: "none"}},
		{name: "empty kind", c: Config{}},
		{name: "opa https", c: Config{Kind: "opa", URL: "https://opa.example.com/base", Token: testToken}},
		{name: "opa loopback http", c: Config{Kind: "opa", URL: "http://127.0.0.1:8181"}},
		{name: "opa localhost http", c: Config{Kind: "opa", URL: "http://localhost:8181"}},
		{name: "opa ipv6 loopback http", c: Config{Kind: "opa", URL: "http://[::1]:8181"}},
		{name: "webhook", c: Config{Kind: "webhook", URL: "https://gw.example.com", Secret: testSecret, Repository: "o/r"}},
		{name: "file", c: Config{Kind: "file", Path: "/tmp/x.json"}},
		{name: "unknown kind", c: Config{Kind: "istio"}, want: []string{`gateway "istio" is not one of opa, webhook, file, none`}},
		{name: "opa without url", c: Config{Kind: "opa"}, want: []string{"gateway opa needs gateway-url"}},
		{name: "webhook without anything", c: Config{Kind: "webhook"}, want: []string{"needs gateway-url", "needs gateway-secret"}},
		{name: "short secret", c: Config{Kind: "webhook", URL: "https://gw.example.com", Secret: "short"}, want: []string{"gateway-secret is 5 characters; use at least 16"}},
		{name: "file without path", c: Config{Kind: "file"}, want: []string{"gateway file needs a path"}},
		{
			name: "every url problem at once",
			c:    Config{Kind: "opa", URL: "http://user:" + testToken + "@opa.example.com/p?token=" + testToken + "#frag", Timeout: -1},
			want: []string{
				"gateway-url http://opa.example.com/p must use https",
				"must not carry user information",
				"must not have a query",
				"must not have a fragment",
				"timeout -1ns must not be negative",
			},
		},
		{name: "http elsewhere", c: Config{Kind: "opa", URL: "http://10.0.0.1:8181"}, want: []string{"must use https (http is allowed only for"}},
		{name: "ftp", c: Config{Kind: "webhook", URL: "ftp://gw.example.com", Secret: testSecret}, want: []string{"must use https"}},
		{name: "no host", c: Config{Kind: "opa", URL: "https:///v1"}, want: []string{"has no host"}},
		{name: "unparsable", c: Config{Kind: "opa", URL: "https://" + testToken + "@[bad"}, want: []string{"gateway-url is not a valid URL"}},
		{name: "bad repository", c: Config{Kind: "webhook", URL: "https://gw.example.com", Secret: testSecret, Repository: "shop"}, want: []string{`repository "shop" is not owner/repo`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateConfig(tc.c)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("ValidateConfig = %v; want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateConfig = nil; want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ValidateConfig = %q; want it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("ValidateConfig error leaks a credential: %q", err)
			}
		})
	}
}

func TestConfigRedacts(t *testing.T) {
	t.Parallel()
	c := Config{Kind: "webhook", URL: "https://u:SECRET@gw.example.com/x?k=SECRET", Token: testToken, Secret: testSecret, Path: "/p"}
	var buf strings.Builder
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "gateway", c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), c.String(), buf.String()} {
		if strings.Contains(s, "SECRET") {
			t.Errorf("rendered config leaks a credential: %s", s)
		}
		if !strings.Contains(s, "[redacted]") || !strings.Contains(s, "gw.example.com") {
			t.Errorf("rendered config %s; want the host and [redacted]", s)
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	d, err := New(Config{Kind: "none"})
	if d != nil || err != nil {
		t.Errorf("New(none) = %v, %v; want nil, nil", d, err)
	}
	if _, err := New(Config{Kind: "opa"}); err == nil {
		t.Error("New(opa without url) = nil error")
	}
	for _, k := range []string{"opa", "webhook", "file"} {
		d, err := New(Config{Kind: k, URL: "https://x.example.com", Secret: testSecret, Path: "/tmp/x"})
		if d == nil || err != nil {
			t.Errorf("New(%s) = %v, %v; want a driver", k, d, err)
		}
	}
}

func TestCheckID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"gh-1-pr-2", "a", "A.b_c-9"} {
		if err := checkID(id); err != nil {
			t.Errorf("checkID(%q) = %v", id, err)
		}
	}
	for _, id := range []string{"", "..", "a/b", "a..b", ".x", "a b", "a%2fb", strings.Repeat("a", 129)} {
		if checkID(id) == nil {
			t.Errorf("checkID(%q) = nil; want an error", id)
		}
	}
}

func TestFileDriver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "policy.json")
	d, err := New(Config{Kind: "file", Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, found, err := d.Get(ctx, "gh-1-pr-1"); found || err != nil {
		t.Fatalf("Get on nothing = %v, %v; want not found", found, err)
	}
	if err := d.Delete(ctx, "gh-1-pr-1"); err != nil {
		t.Fatalf("Delete on nothing = %v", err)
	}
	doc := []byte(`{"id":"gh-1-pr-1","x":1}`)
	if err := d.Put(ctx, "gh-1-pr-1", doc); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// Issue 14: the next steps of the job (the runner's user, not the
	// container's root) read it.
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v; want 0644, readable by the job's later steps", fi.Mode().Perm())
	}
	got, found, err := d.Get(ctx, "gh-1-pr-1")
	if !found || err != nil || string(got) != string(doc) {
		t.Fatalf("Get = %s, %v, %v; want the document", got, found, err)
	}
	if _, found, _ := d.Get(ctx, "gh-1-pr-2"); found {
		t.Error("Get of another id found this preview's document")
	}
	if err := d.Delete(ctx, "gh-1-pr-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Error("Delete of another id removed this preview's document")
	}
	if err := d.Delete(ctx, "gh-1-pr-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Delete, stat = %v; want not exist", err)
	}
	if _, err := d.List(ctx); !errors.Is(err, ErrListUnsupported) {
		t.Errorf("List = %v; want ErrListUnsupported", err)
	}
	if err := d.Put(ctx, "gh-1-pr-1", []byte("{")); err == nil {
		t.Error("Put of invalid JSON = nil error")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 0 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

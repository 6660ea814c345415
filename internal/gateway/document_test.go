package gateway

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preview-access/preview-access/internal/access"
	"github.com/preview-access/preview-access/internal/preview"
	"github.com/preview-access/preview-access/internal/testenv/golden"
)

func testPreview() preview.Preview {
	return preview.Preview{
		Owner: "octo-org", Repo: "shop", RepositoryID: 123456, OwnerID: 9, Number: 42,
		HeadRef: "feature/x", HeadSHA: strings.Repeat("ab", 20), BaseRef: "main", DefaultBranch: "main",
		Author: "Octocat", Reviewers: []string{"hubot", "mona"},
		Teams: []string{"octo-org/QA"}, Assignees: []string{"mona", "octocat"}, State: "open",
	}
}

var testExpiry = time.Date(2030, 1, 2, 3, 4, 5, 999, time.FixedZone("CET", 3600))

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, "../../testdata/gateway/"+name, got)
}

func TestBuildGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, access string }{
		{name: "default", access: ""},
		{name: "full", access: "full.yml"},
		{name: "override", access: "override.yml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := access.Default()
			if tc.access != "" {
				data, err := os.ReadFile("../../testdata/access/" + tc.access)
				if err != nil {
					t.Fatal(err)
				}
				if f, err = access.Parse(data); err != nil {
					t.Fatal(err)
				}
			}
			d, err := Build(testPreview(), f, BuildOptions{PreviewURL: "https://PR-42.Preview.Example.com:443/app", ExpiresAt: testExpiry})
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			b, err := Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "document-"+tc.name+".golden.json", b)

			again, _ := Marshal(d)
			if string(again) != string(b) {
				t.Error("Marshal is not deterministic")
			}
			back, err := Unmarshal(b)
			if err != nil {
				t.Fatalf("Unmarshal(Marshal(d)): %v", err)
			}
			if diff := cmp.Diff(d, back); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildBindings(t *testing.T) {
	t.Parallel()
	d, err := Build(testPreview(), access.Default(), BuildOptions{PreviewURL: "https://x.example.com", ExpiresAt: testExpiry})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"user:octocat":     {"admin", "reader"}, // author and assignee
		"user:hubot":       {"reader"},
		"user:mona":        {"reader"},
		"team:octo-org/qa": {"reader"},
	}
	if diff := cmp.Diff(want, d.Bindings); diff != "" {
		t.Errorf("bindings (-want +got):\n%s", diff)
	}
	why := map[string][]string{
		"user:octocat":     {"assignee", "author"},
		"user:hubot":       {"requested reviewer"},
		"user:mona":        {"assignee", "requested reviewer"},
		"team:octo-org/qa": {"requested team"},
	}
	if diff := cmp.Diff(why, d.Reasons); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
	if d.Identity != nil {
		t.Errorf("identity = %+v without an identity in the access file; want none (the gateway's defaults)", d.Identity)
	}
	if got, want := d.ExpiresAt.Format(time.RFC3339Nano), "2030-01-02T02:04:05Z"; got != want {
		t.Errorf("ExpiresAt = %s; want %s", got, want)
	}
	if d.ID != "gh-123456-pr-42" || d.TokenTTL != 3600 || d.Host != "x.example.com" {
		t.Errorf("got id %q ttl %d host %q; want gh-123456-pr-42, 3600, x.example.com", d.ID, d.TokenTTL, d.Host)
	}
}

func TestPreviewHost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want, err string }{
		{in: "https://a.example.com", want: "a.example.com"},
		{in: "https://A.example.com:443/x?y", want: "a.example.com"},
		{in: "http://a.example.com:80", want: "a.example.com"},
		{in: "https://a.example.com:8443", want: "a.example.com:8443"},
		{in: "http://[::1]:8080/", want: "[::1]:8080"},
		{in: "https://[::1]/", want: "[::1]"},
		{in: "", err: "needs the preview URL"},
		{in: "ftp://a.example.com", err: "must be http or https"},
		{in: "https://user:pw@a.example.com", err: "must not carry user information"},
		{in: "https:///path", err: "has no host"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := previewHost(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("previewHost(%q) error = %v; want %q", tc.in, err, tc.err)
				}
				if strings.Contains(err.Error(), "pw") {
					t.Errorf("error %q leaks the URL's password", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("previewHost(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	t.Parallel()
	p := testPreview()
	p.Number = 0
	f := access.Default()
	f.Defaults.Author = "owner"
	_, err := Build(p, f, BuildOptions{})
	for _, w := range []string{"pull request number 0", `defaults.author names role "owner"`, "needs the preview URL", "needs an expiry"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Build error = %v; want it to contain %q", err, w)
		}
	}
}

func TestSameDocument(t *testing.T) {
	t.Parallel()
	d, err := Build(testPreview(), access.Default(), BuildOptions{PreviewURL: "https://x.example.com", ExpiresAt: testExpiry})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := Marshal(d)
	var v any
	if err := json.Unmarshal(a, &v); err != nil {
		t.Fatal(err)
	}
	compact, _ := json.Marshal(v) // another key order and spacing
	d2 := d
	d2.HeadSHA = strings.Repeat("cd", 20)
	changed, _ := Marshal(d2)
	for _, tc := range []struct {
		name string
		a, b []byte
		want bool
	}{
		{name: "identical", a: a, b: a, want: true},
		{name: "re-encoded", a: a, b: compact, want: true},
		{name: "changed", a: a, b: changed, want: false},
		{name: "invalid", a: a, b: []byte("{"), want: false},
		{name: "trailing data", a: []byte(`{"a":1}`), b: []byte(`{"a":1} {}`), want: false},
		{name: "both empty", a: nil, b: nil, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := SameDocument(tc.a, tc.b); got != tc.want {
				t.Errorf("SameDocument = %v; want %v", got, tc.want)
			}
		})
	}
}

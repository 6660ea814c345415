package explain

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/preview-access/preview-access/internal/testenv/golden"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "explain", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func claimsFile(t *testing.T, name string) Claims {
	t.Helper()
	c, err := ParseClaimsJSON(read(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, policy, claims string
		admitted             bool
		firstClaim           string   // claim of the first mismatch; "" when admitted
		hint                 []string // substrings of the verdict
	}{
		{name: "matching PR token", policy: "trust-pr-42.json", claims: "pr-42.json", admitted: true, hint: []string{"ADMITTED"}},
		{name: "aud as a list", policy: "trust-pr-42.json", claims: "aud-list.json", admitted: true},
		{name: "other PR", policy: "trust-pr-42.json", claims: "pr-43.json", firstClaim: "ref",
			hint: []string{"ref differs", "PR #43", "PR #42", "refs/pull/42/merge"}},
		{name: "other repository id", policy: "trust-pr-42.json", claims: "other-repo.json", firstClaim: "repository_id",
			hint: []string{"repository_id is 5550001 (evil-org/shop)", "987654321"}},
		{name: "default-branch token", policy: "trust-pr-42.json", claims: "default-branch.json", firstClaim: "ref",
			hint: []string{"ref is refs/heads/main", "push run", "only admits refs/pull/42/merge"}},
		{name: "environment-scoped token on ref-scoped role", policy: "trust-pr-42.json", claims: "environment.json", firstClaim: "sub",
			hint: []string{"names a GitHub environment"}},
		{name: "environment-scoped token on environment role", policy: "trust-pr-42-environment.json", claims: "environment.json", admitted: true},
		{name: "PR token without environment on environment role", policy: "trust-pr-42-environment.json", claims: "pr-42.json", firstClaim: "environment",
			hint: []string{"no environment claim", "environment: preview-pr-42"}},
		{name: "other audience", policy: "trust-pr-42.json", claims: "other-audience.json", firstClaim: "aud",
			hint: []string{"audience: sts.amazonaws.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := Evaluate(read(t, tc.policy), claimsFile(t, tc.claims))
			if err != nil {
				t.Fatal(err)
			}
			if res.Admitted != tc.admitted || !res.Understood {
				t.Errorf("Admitted, Understood = %v, %v; want %v, true", res.Admitted, res.Understood, tc.admitted)
			}
			first := ""
			if c := res.FirstMismatch(); c != nil {
				first = c.Claim
			}
			if first != tc.firstClaim {
				t.Errorf("first mismatch = %q; want %q", first, tc.firstClaim)
			}
			var b bytes.Buffer
			if err := res.Write(&b); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, h := range tc.hint {
				if !strings.Contains(res.Verdict(), h) {
					t.Errorf("verdict %q; want it to contain %q", res.Verdict(), h)
				}
			}
			if !strings.HasSuffix(out, res.Verdict()+"\n") {
				t.Errorf("Write does not end with the verdict:\n%s", out)
			}
			if tc.admitted && strings.Contains(out, "✗") || !tc.admitted && !strings.Contains(out, "✗") {
				t.Errorf("marks do not agree with Admitted=%v:\n%s", tc.admitted, out)
			}
		})
	}
}

// TestEvaluateChecks pins the whole per-condition table of one case.
func TestEvaluateChecks(t *testing.T) {
	t.Parallel()
	res, err := Evaluate(read(t, "trust-pr-42.json"), claimsFile(t, "default-branch.json"))
	if err != nil {
		t.Fatal(err)
	}
	h := "token.actions.githubusercontent.com:"
	type row struct {
		Key      string
		Expected []string
		Actual   []string
		Status   Status
	}
	var got []row
	for _, c := range res.Statements[0].Checks {
		got = append(got, row{c.Key, c.Expected, c.Actual, c.Status})
	}
	want := []row{
		{"Action", []string{"sts:AssumeRoleWithWebIdentity"}, []string{"sts:AssumeRoleWithWebIdentity"}, Match},
		{"Principal.Federated", []string{"https://token.actions.githubusercontent.com"}, []string{"https://token.actions.githubusercontent.com"}, Match},
		{h + "aud", []string{"sts.amazonaws.com"}, []string{"sts.amazonaws.com"}, Match},
		{h + "ref", []string{"refs/pull/42/merge"}, []string{"refs/heads/main"}, Mismatch},
		{h + "repository_id", []string{"987654321"}, []string{"987654321"}, Match},
		{h + "sub", []string{"repo:octo-org/shop:pull_request"}, []string{"repo:octo-org/shop:ref:refs/heads/main"}, Mismatch},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("checks (-want +got):\n%s", diff)
	}
	var b bytes.Buffer
	if err := res.Write(&b); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "default-branch.txt", b.Bytes())
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, filepath.Join("..", "..", "testdata", "explain", name), got)
}

func TestEvaluatePolicyForms(t *testing.T) {
	t.Parallel()
	pr42 := claimsFile(t, "pr-42.json")
	policy := string(read(t, "trust-pr-42.json"))
	for _, tc := range []struct {
		name               string
		policy             string
		admitted, understd bool
		wantErr            bool
	}{
		{name: "URL-encoded as GetRole returns it", policy: url.QueryEscape(policy), admitted: true, understd: true},
		{name: "statement as an object", policy: strings.Replace(strings.Replace(policy, `"Statement": [`, `"Statement": `, 1), "}\n  ]\n}", "}\n}", 1), admitted: true, understd: true},
		{name: "StringLike is not understood", policy: strings.Replace(policy, "StringEquals", "StringLike", 1), understd: false},
		{name: "ForAllValues is not understood", policy: strings.Replace(policy, "StringEquals", "ForAllValues:StringEquals", 1), understd: false},
		{name: "Deny statement", policy: strings.Replace(policy, `"Allow"`, `"Deny"`, 1), understd: false},
		{name: "other action", policy: strings.Replace(policy, "sts:AssumeRoleWithWebIdentity", "sts:AssumeRole", 1), understd: true},
		{name: "key for another provider", policy: strings.Replace(policy, "token.actions.githubusercontent.com:ref", "example.com:ref", 1), understd: true},
		{name: "not JSON", policy: "{", wantErr: true},
		{name: "no statements", policy: `{"Version":"2012-10-17","Statement":[]}`, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := Evaluate([]byte(tc.policy), pr42)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Evaluate error = %v; want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if res.Admitted != tc.admitted || res.Understood != tc.understd {
				t.Errorf("Admitted, Understood = %v, %v; want %v, %v\n%s", res.Admitted, res.Understood, tc.admitted, tc.understd, res.Verdict())
			}
			if !tc.understd && !strings.Contains(res.Verdict(), "CANNOT TELL") {
				t.Errorf("verdict %q; want CANNOT TELL", res.Verdict())
			}
		})
	}
}

func TestIssuerMismatch(t *testing.T) {
	t.Parallel()
	c := claimsFile(t, "pr-42.json")
	c["iss"] = "https://token.actions.octocorp.ghe.com"
	res, err := Evaluate(read(t, "trust-pr-42.json"), c)
	if err != nil {
		t.Fatal(err)
	}
	if res.Admitted || res.FirstMismatch().Key != "Principal.Federated" {
		t.Errorf("got %s; want the principal check to fail", res.Verdict())
	}
	delete(c, "iss")
	res, err = Evaluate(read(t, "trust-pr-42.json"), c)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Admitted {
		t.Errorf("claims without iss: %s; want admitted with the issuer unverified", res.Verdict())
	}
}

// jwt builds an unsigned test token (alg none) around the payload.
func jwt(t *testing.T, payload any, sig string) string {
	t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(b) + "." + sig
}

func TestDecodeJWT(t *testing.T) {
	t.Parallel()
	var claims map[string]any
	if err := json.Unmarshal(read(t, "pr-42.json"), &claims); err != nil {
		t.Fatal(err)
	}
	tok := jwt(t, claims, "c2lnbmF0dXJl")
	for _, tc := range []struct {
		name, in string
		wantErr  bool
	}{
		{name: "token", in: tok},
		{name: "bearer and whitespace", in: "  Bearer " + tok + "\n"},
		{name: "unsigned, empty signature", in: jwt(t, claims, "")},
		{name: "two parts", in: "a.b", wantErr: true},
		{name: "payload not base64", in: "a.!!!.c", wantErr: true},
		{name: "payload not an object", in: "a." + base64.RawURLEncoding.EncodeToString([]byte(`[1]`)) + ".c", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := DecodeJWT(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("DecodeJWT error = %v; want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			for _, k := range []string{"sub", "ref", "repository_id", "aud", "iat"} {
				if got, want := c.String(k), claimsFile(t, "pr-42.json").String(k); got != want {
					t.Errorf("claim %s = %q; want %q", k, got, want)
				}
			}
			res, err := Evaluate(read(t, "trust-pr-42.json"), c)
			if err != nil || !res.Admitted {
				t.Errorf("decoded token not admitted: %v %s", err, res.Verdict())
			}
		})
	}

	// The token endpoint's response is accepted as a claims file too.
	resp, _ := json.Marshal(map[string]string{"count": "1", "value": tok})
	c, err := ParseClaimsJSON(resp)
	if err != nil || c.String("ref") != "refs/pull/42/merge" {
		t.Errorf("ParseClaimsJSON(token response) = %v, %v; want the token's claims", c, err)
	}
}

func TestClaimsValues(t *testing.T) {
	t.Parallel()
	c, err := ParseClaimsJSON([]byte(`{"aud":["a","b"],"repository_id":123,"n":null,"s":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		want []string
		ok   bool
	}{
		{"aud", []string{"a", "b"}, true},
		{"repository_id", []string{"123"}, true},
		{"n", nil, false},
		{"missing", nil, false},
		{"s", []string{"x"}, true},
	} {
		got, ok := c.Values(tc.name)
		if ok != tc.ok || !cmp.Equal(got, tc.want) {
			t.Errorf("Values(%q) = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	for _, bad := range []string{``, `[]`, `null`, `{} {}`, `"x"`} {
		if _, err := ParseClaimsJSON([]byte(bad)); err == nil {
			t.Errorf("ParseClaimsJSON(%q) = nil error; want an error", bad)
		}
	}
}

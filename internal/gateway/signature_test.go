package gateway

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSignVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"id":"gh-1-pr-2"}`)
	good := Sign(testSecret, now, "PUT", "/previews/gh-1-pr-2", body)
	if !strings.HasPrefix(good, "t=1700000000,v1=") || len(good) != len("t=1700000000,v1=")+64 {
		t.Fatalf("Sign = %q; want t=1700000000,v1=<64 hex>", good)
	}
	other := Sign("another-secret-0123456789", now, "PUT", "/previews/gh-1-pr-2", body)
	for _, tc := range []struct {
		name   string
		secret string
		header string
		body   string
		method string
		uri    string
		now    time.Time
		want   string // "" means valid
	}{
		{name: "valid", header: good},
		{name: "valid within skew", header: good, now: now.Add(4 * time.Minute)},
		{name: "rotated secret, second v1", header: other + ",v1=" + strings.TrimPrefix(good, "t=1700000000,v1=")},
		{name: "spaces", header: "t=1700000000, v1=" + strings.TrimPrefix(good, "t=1700000000,v1=")},
		{name: "tampered body", header: good, body: `{"id":"gh-1-pr-3"}`, want: "does not match"},
		{name: "replayed on another preview", header: good, uri: "/previews/gh-1-pr-3", want: "does not match"},
		{name: "replayed as another method", header: good, method: "DELETE", want: "does not match"},
		{name: "wrong secret", header: good, secret: "wrong-secret-0123456789", want: "does not match"},
		{name: "too old", header: good, now: now.Add(6 * time.Minute), want: "more than 5m0s"},
		{name: "from the future", header: good, now: now.Add(-6 * time.Minute), want: "more than 5m0s"},
		{name: "no timestamp", header: "v1=abcd", want: "needs t= and v1="},
		{name: "no signature", header: "t=1700000000", want: "needs t= and v1="},
		{name: "empty", header: "", want: "malformed"},
		{name: "bad timestamp", header: "t=soon,v1=ab", want: "not a number"},
		{name: "two timestamps", header: "t=1,t=2,v1=ab", want: "more than one timestamp"},
		{name: "timestamp swapped", header: strings.Replace(good, "1700000000", "1700000001", 1), now: now, want: "does not match"},
		{name: "no secret", header: good, secret: "-", want: "no secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			secret := testSecret
			if tc.secret == "-" {
				secret = ""
			} else if tc.secret != "" {
				secret = tc.secret
			}
			b := body
			if tc.body != "" {
				b = []byte(tc.body)
			}
			at := now
			if !tc.now.IsZero() {
				at = tc.now
			}
			method, uri := "PUT", "/previews/gh-1-pr-2"
			if tc.method != "" {
				method = tc.method
			}
			if tc.uri != "" {
				uri = tc.uri
			}
			err := Verify(secret, tc.header, method, uri, b, at, 0)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Verify = %v; want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrSignature) {
				t.Fatalf("Verify = %v; want an ErrSignature containing %q", err, tc.want)
			}
		})
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	// sha256("") is well known.
	if got, want := IdempotencyKey(nil), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; got != want {
		t.Errorf("IdempotencyKey(nil) = %s; want %s", got, want)
	}
}

// TestSignatureVector pins the contract: the README gives this vector to
// receivers written in other languages.
func TestSignatureVector(t *testing.T) {
	t.Parallel()
	got := Sign("0123456789abcdef-secret", time.Unix(1700000000, 0), "DELETE", "/hooks/previews/gh-1-pr-42", nil)
	const want = "t=1700000000,v1=9450f06e5d0dedefeabe65d0aa22e22838d7b0774416bbe9518e2d4f9174ccbf"
	if got != want {
		t.Errorf("Sign = %q; want %q", got, want)
	}
}

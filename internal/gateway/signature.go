package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>" where the
// HMAC is keyed with the shared secret over "<t>.<METHOD> <request-uri>\n<body>":
// the method and the path (with query) are signed too, so a captured DELETE
// of one preview cannot be replayed against another.
const SignatureHeader = "X-Preview-Access-Signature-256"

// DefaultSkew is how far a signature's timestamp may be from the receiver's
// clock when Verify is given no skew.
const DefaultSkew = 5 * time.Minute

// ErrSignature is wrapped by every error Verify returns.
var ErrSignature = errors.New("invalid preview-access signature")

// Sign returns the signature header value of a request at time t.
// requestURI is the path and query as sent (http.Request.URL.RequestURI).
func Sign(secret string, t time.Time, method, requestURI string, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, method, requestURI, body)
}

func mac(secret, ts, method, requestURI string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + method + " " + requestURI + "\n"))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature header as a receiver must: the timestamp within
// skew of now (DefaultSkew when skew <= 0), and one v1 value equal, in
// constant time, to the HMAC of "<t>.<METHOD> <request-uri>\n<body>". Several v1 values are allowed
// so that a secret can be rotated.
func Verify(secret, header, method, requestURI string, body []byte, now time.Time, skew time.Duration) error {
	if skew <= 0 {
		skew = DefaultSkew
	}
	if secret == "" {
		return fmt.Errorf("%w: no secret to verify with", ErrSignature)
	}
	var ts string
	var sigs []string
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: malformed header", ErrSignature)
		}
		switch k {
		case "t":
			if ts != "" {
				return fmt.Errorf("%w: more than one timestamp", ErrSignature)
			}
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	if ts == "" || len(sigs) == 0 {
		return fmt.Errorf("%w: header needs t= and v1=", ErrSignature)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp is not a number", ErrSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > skew || d < -skew {
		return fmt.Errorf("%w: timestamp is %s from now, more than %s", ErrSignature, d.Round(time.Second), skew)
	}
	want := []byte(mac(secret, ts, method, requestURI, body))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), want) {
			return nil
		}
	}
	return fmt.Errorf("%w: signature does not match", ErrSignature)
}

// IdempotencyKey is the Idempotency-Key header of a request: the hex SHA-256
// of its body, so a resent document carries the same key.
func IdempotencyKey(body []byte) string {
	s := sha256.Sum256(body)
	return hex.EncodeToString(s[:])
}

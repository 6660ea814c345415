package ghretry

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

func TestWait(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		header  map[string]string
		want    time.Duration
		limited bool
	}{
		{"retry-after seconds", map[string]string{"Retry-After": "30"}, 30 * time.Second, true},
		{"retry-after date", map[string]string{"Retry-After": now.Add(time.Minute).Format(http.TimeFormat)}, time.Minute, true},
		{"retry-after in the past", map[string]string{"Retry-After": now.Add(-time.Minute).Format(http.TimeFormat)}, 0, true},
		{"primary limit used up", map[string]string{"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": strconv.FormatInt(now.Add(90*time.Second).Unix(), 10)}, 90 * time.Second, true},
		{"requests left", map[string]string{"X-Ratelimit-Remaining": "12", "X-Ratelimit-Reset": strconv.FormatInt(now.Unix(), 10)}, 0, false},
		{"nothing", nil, 0, false},
		{"garbage", map[string]string{"Retry-After": "soon"}, 0, false},
	} {
		resp := &http.Response{Header: http.Header{}}
		for k, v := range tc.header {
			resp.Header.Set(k, v)
		}
		if got, limited := Wait(resp, now); got != tc.want || limited != tc.limited {
			t.Errorf("%s: Wait = %s, %t; want %s, %t", tc.name, got, limited, tc.want, tc.limited)
		}
	}
}

// A write whose failure may hide a change GitHub made must be read back,
// not sent again; one refused before it was processed need not.
func TestMayHaveApplied(t *testing.T) {
	status := func(code int) error {
		return &github.ErrorResponse{Response: &http.Response{StatusCode: code, Request: &http.Request{}}}
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"502", status(http.StatusBadGateway), true},
		{"422", status(http.StatusUnprocessableEntity), false},
		{"rate limited", &github.RateLimitError{Response: &http.Response{Request: &http.Request{}}}, false},
		{"connection reset after sending", &net.OpError{Op: "read", Err: errors.New("reset")}, true},
		{"dial failed: never sent", &net.OpError{Op: "dial", Err: errors.New("refused")}, false},
		{"name not found: never sent", &net.DNSError{Err: "no such host", Name: "api.github.com"}, false},
	} {
		if got := MayHaveApplied(tc.err); got != tc.want {
			t.Errorf("%s: MayHaveApplied = %t; want %t", tc.name, got, tc.want)
		}
	}
}

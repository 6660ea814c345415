package faultproxy_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/preview-access/preview-access/internal/testenv"
	"github.com/preview-access/preview-access/internal/testenv/faultproxy"
)

// backend is a stand-in for moto that records the actions it served.
type backend struct {
	mu      sync.Mutex
	actions []string
}

func newBackend(t *testing.T) (*backend, *httptest.Server) {
	t.Helper()
	b := &backend{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("backend: parse form: %v", err)
		}
		b.mu.Lock()
		b.actions = append(b.actions, r.PostForm.Get("Action"))
		b.mu.Unlock()
		io.WriteString(w, "<ok/>")
	}))
	t.Cleanup(srv.Close)
	return b, srv
}

func (b *backend) served() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.actions...)
}

// call posts one Query protocol call and returns its status and body.
func call(t *testing.T, ctx context.Context, proxyURL, action string) (int, string, error) {
	t.Helper()
	form := url.Values{"Action": {action}, "Version": {"2010-05-08"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, proxyURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func mustCall(t *testing.T, proxyURL, action string) (int, string) {
	t.Helper()
	status, body, err := call(t, context.Background(), proxyURL, action)
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	return status, body
}

func TestCountsAndFaults(t *testing.T) {
	t.Parallel()
	b, srv := newBackend(t)
	p := faultproxy.New(t, srv.URL)

	p.Throttle("CreateRole", 1)
	p.Fail("CreateRole", 1, http.StatusServiceUnavailable)
	p.Fail(faultproxy.Any, 1, http.StatusInternalServerError)

	type result struct {
		status int
		code   string
	}
	var got []result
	for _, action := range []string{"CreateRole", "CreateRole", "GetRole", "CreateRole", "ListRoles", "TagRole"} {
		status, body := mustCall(t, p.URL(), action)
		code := ""
		if i := strings.Index(body, "<Code>"); i >= 0 {
			code = body[i+len("<Code>") : strings.Index(body, "</Code>")]
		}
		got = append(got, result{status, code})
	}
	want := []result{
		{400, "Throttling"},
		{503, "ServiceUnavailable"},
		{500, "InternalFailure"}, // GetRole has no fault of its own: takes Any's
		{200, ""},
		{200, ""},
		{200, ""},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(result{})); diff != "" {
		t.Errorf("responses (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"CreateRole", "ListRoles", "TagRole"}, b.served()); diff != "" {
		t.Errorf("forwarded (-want +got):\n%s", diff)
	}
	wantCounts := map[string]int{"CreateRole": 3, "GetRole": 1, "ListRoles": 1, "TagRole": 1}
	if diff := cmp.Diff(wantCounts, p.Counts()); diff != "" {
		t.Errorf("Counts (-want +got):\n%s", diff)
	}
	if got, want := p.Writes(), 4; got != want {
		t.Errorf("Writes() = %d; want %d", got, want)
	}
	p.Reset()
	if got := p.Counts(); len(got) != 0 {
		t.Errorf("Counts after Reset = %v; want empty", got)
	}
}

func TestUncountedWithoutAction(t *testing.T) {
	t.Parallel()
	b, srv := newBackend(t)
	p := faultproxy.New(t, srv.URL)
	p.Fail(faultproxy.Any, 10, 500)
	resp, err := http.Post(p.URL()+"/moto-api/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status = %d; want 200 (forwarded untouched)", resp.StatusCode)
	}
	if got := p.Counts(); len(got) != 0 {
		t.Errorf("Counts = %v; want empty", got)
	}
	if got := len(b.served()); got != 1 {
		t.Errorf("backend served %d; want 1", got)
	}
}

func TestResetConnection(t *testing.T) {
	t.Parallel()
	_, srv := newBackend(t)
	p := faultproxy.New(t, srv.URL)
	p.ResetConnection("DeleteRole", 1)
	_, _, err := call(t, context.Background(), p.URL(), "DeleteRole")
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("error = %v; want connection reset", err)
	}
	if status, _ := mustCall(t, p.URL(), "DeleteRole"); status != 200 {
		t.Errorf("second call status = %d; want 200", status)
	}
}

func TestHang(t *testing.T) {
	t.Parallel()
	b, srv := newBackend(t)
	p := faultproxy.New(t, srv.URL)
	p.Hang("CreateRole", 1, time.Minute)
	p.HangAfter("PutRolePolicy", 1, time.Minute)

	for _, action := range []string{"CreateRole", "PutRolePolicy"} {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		start := time.Now()
		_, _, err := call(t, ctx, p.URL(), action)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: error = %v; want deadline exceeded", action, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: took %v; want about 100ms", action, d)
		}
	}
	// Hang holds the call back; HangAfter lets it through and loses the answer.
	if diff := cmp.Diff([]string{"PutRolePolicy"}, b.served()); diff != "" {
		t.Errorf("forwarded (-want +got):\n%s", diff)
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	_, srv := newBackend(t)
	p := faultproxy.New(t, srv.URL)
	p.SetLatency(50 * time.Millisecond)
	start := time.Now()
	mustCall(t, p.URL(), "GetRole")
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("call took %v; want at least 50ms", d)
	}
}

func TestLimitWrites(t *testing.T) {
	t.Parallel()
	b, srv := newBackend(t)
	p := faultproxy.New(t, srv.URL)
	p.LimitWrites(2) // bursts of 2, then one every 500ms

	var statuses []int
	for _, action := range []string{"CreateRole", "CreateRole", "GetRole", "ListRoles", "CreateRole", "DeleteRole"} {
		status, _ := mustCall(t, p.URL(), action)
		statuses = append(statuses, status)
	}
	if diff := cmp.Diff([]int{200, 200, 200, 200, 400, 400}, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	time.Sleep(600 * time.Millisecond)
	if status, _ := mustCall(t, p.URL(), "DeleteRole"); status != 200 {
		t.Errorf("after refill: status = %d; want 200", status)
	}
	if got, want := len(b.served()), 5; got != want {
		t.Errorf("backend served %d; want %d", got, want)
	}
	p.ClearFaults()
	for range 5 {
		if status, _ := mustCall(t, p.URL(), "CreateRole"); status != 200 {
			t.Fatalf("after ClearFaults: status = %d; want 200", status)
		}
	}
}

func TestConcurrentFaultsConsumedOnce(t *testing.T) {
	t.Parallel()
	_, srv := newBackend(t)
	p := faultproxy.New(t, srv.URL)
	p.Throttle("TagRole", 7)
	var throttled atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			status, _, err := call(t, context.Background(), p.URL(), "TagRole")
			if err != nil {
				t.Error(err)
			}
			if status == 400 {
				throttled.Add(1)
			}
		})
	}
	wg.Wait()
	if got := throttled.Load(); got != 7 {
		t.Errorf("throttled %d calls; want 7", got)
	}
	if got := p.Count("TagRole"); got != 20 {
		t.Errorf("Count(TagRole) = %d; want 20", got)
	}
}

func TestBeforeForward(t *testing.T) {
	t.Parallel()
	_, srv := newBackend(t)
	p := faultproxy.New(t, srv.URL)
	var mu sync.Mutex
	var seen []string
	p.BeforeForward(func(action string) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, action)
	})
	p.Throttle("CreateRole", 1)
	for _, a := range []string{"CreateRole", "CreateRole", "PutRolePolicy"} {
		mustCall(t, p.URL(), a)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"CreateRole", "PutRolePolicy"}, seen); diff != "" {
		t.Errorf("hook saw (-want +got):\n%s", diff)
	}
}

// The tests below run the real IAM client against moto through the proxy.

// moto starts a proxy in front of moto and returns it with an IAM client
// that goes through it and an IAM path of the test's own.
func moto(t *testing.T) (*faultproxy.Proxy, *iam.Client, string) {
	t.Helper()
	p := faultproxy.New(t, testenv.MotoURL(t))
	owner, repo := testenv.UniqueRepo(t)
	return p, testenv.IAMClient(t, p.URL()), "/preview-access/" + owner + "/" + repo + "/"
}

func createRole(t *testing.T, c *iam.Client, path, name string) {
	t.Helper()
	ctx := t.Context()
	_, err := c.CreateRole(ctx, &iam.CreateRoleInput{
		RoleName:                 aws.String(name),
		Path:                     aws.String(path),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`),
	})
	if err != nil {
		t.Fatalf("CreateRole: %v", err)
	}
	t.Cleanup(func() {
		c.DeleteRole(context.Background(), &iam.DeleteRoleInput{RoleName: aws.String(name)})
	})
}

func listRoles(ctx context.Context, c *iam.Client, path string) ([]string, error) {
	out, err := c.ListRoles(ctx, &iam.ListRolesInput{PathPrefix: aws.String(path)})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, r := range out.Roles {
		names = append(names, aws.ToString(r.RoleName))
	}
	return names, nil
}

func TestMotoCounts(t *testing.T) {
	t.Parallel()
	p, c, path := moto(t)
	name := testenv.UniqueName(t)
	createRole(t, c, path, name)
	if _, err := c.GetRole(t.Context(), &iam.GetRoleInput{RoleName: aws.String(name)}); err != nil {
		t.Fatalf("GetRole: %v", err)
	}
	names, err := listRoles(t.Context(), c, path)
	if err != nil {
		t.Fatalf("ListRoles: %v", err)
	}
	if diff := cmp.Diff([]string{name}, names); diff != "" {
		t.Errorf("roles under %s (-want +got):\n%s", path, diff)
	}
	if _, err := c.DeleteRole(t.Context(), &iam.DeleteRoleInput{RoleName: aws.String(name)}); err != nil {
		t.Fatalf("DeleteRole: %v", err)
	}
	want := map[string]int{"CreateRole": 1, "GetRole": 1, "ListRoles": 1, "DeleteRole": 1}
	if diff := cmp.Diff(want, p.Counts()); diff != "" {
		t.Errorf("Counts (-want +got):\n%s", diff)
	}
	if got := p.Writes(); got != 2 {
		t.Errorf("Writes() = %d; want 2", got)
	}
}

func TestMotoSTS(t *testing.T) {
	t.Parallel()
	p := faultproxy.New(t, testenv.MotoURL(t))
	out, err := testenv.STSClient(t, p.URL()).GetCallerIdentity(t.Context(), nil)
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	if aws.ToString(out.Account) == "" {
		t.Error("GetCallerIdentity: empty account")
	}
	if diff := cmp.Diff(map[string]int{"GetCallerIdentity": 1}, p.Counts()); diff != "" {
		t.Errorf("Counts (-want +got):\n%s", diff)
	}
}

func TestMotoRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		inject func(p *faultproxy.Proxy)
		calls  int // ListRoles calls the proxy sees, retries included
	}{
		{"throttled twice", func(p *faultproxy.Proxy) { p.Throttle("ListRoles", 2) }, 3},
		{"500 then 503", func(p *faultproxy.Proxy) {
			p.Fail("ListRoles", 1, http.StatusInternalServerError)
			p.Fail("ListRoles", 1, http.StatusServiceUnavailable)
		}, 3},
		{"connection reset", func(p *faultproxy.Proxy) { p.ResetConnection("ListRoles", 1) }, 2},
		// Not Throttle: after a throttle, adaptive mode paces the client at
		// 0.5 calls a second, so giving up would take seconds.
		{"unavailable for good", func(p *faultproxy.Proxy) { p.Fail("ListRoles", 100, http.StatusServiceUnavailable) }, testenv.MaxAttempts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, c, path := moto(t)
			name := testenv.UniqueName(t)
			createRole(t, c, path, name)
			p.Reset()
			tt.inject(p)

			names, err := listRoles(t.Context(), c, path)
			if tt.calls == testenv.MaxAttempts {
				var apiErr smithy.APIError
				if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ServiceUnavailable" {
					t.Errorf("ListRoles error = %v; want ServiceUnavailable after %d attempts", err, testenv.MaxAttempts)
				}
			} else if err != nil {
				t.Fatalf("ListRoles: %v; want success after retries", err)
			} else if diff := cmp.Diff([]string{name}, names); diff != "" {
				t.Errorf("roles (-want +got):\n%s", diff)
			}
			if got := p.Count("ListRoles"); got != tt.calls {
				t.Errorf("ListRoles calls = %d; want %d", got, tt.calls)
			}
		})
	}
}

func TestMotoHangTimesOut(t *testing.T) {
	t.Parallel()
	p, c, path := moto(t)
	p.Hang("ListRoles", 1, time.Minute)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := listRoles(ctx, c, path)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ListRoles error = %v; want context deadline exceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("ListRoles took %v; want about 200ms", d)
	}
	if got := p.Count("ListRoles"); got != 1 {
		t.Errorf("ListRoles calls = %d; want 1 (a client deadline is not retried)", got)
	}
}

func TestMotoLimitWritesConverges(t *testing.T) {
	t.Parallel()
	p, c, path := moto(t)
	p.LimitWrites(10)
	const roles = 15
	var wg sync.WaitGroup
	for range roles {
		wg.Go(func() {
			name := testenv.UniqueName(t)
			_, err := c.CreateRole(t.Context(), &iam.CreateRoleInput{
				RoleName:                 aws.String(name),
				Path:                     aws.String(path),
				AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`),
			})
			if err != nil {
				t.Errorf("CreateRole: %v", err)
				return
			}
			t.Cleanup(func() {
				c.DeleteRole(context.Background(), &iam.DeleteRoleInput{RoleName: aws.String(name)})
			})
		})
	}
	wg.Wait()
	if got := p.Count("CreateRole"); got <= roles {
		t.Errorf("CreateRole calls = %d; want more than %d (some throttled and retried)", got, roles)
	}
	names, err := listRoles(t.Context(), c, path)
	if err != nil {
		t.Fatalf("ListRoles: %v", err)
	}
	if len(names) != roles {
		t.Errorf("ListRoles found %d roles; want %d", len(names), roles)
	}
}

func TestFailWithAndRespond(t *testing.T) {
	t.Parallel()
	b, srv := newBackend(t)
	p := faultproxy.New(t, srv.URL)
	p.FailWith("CreateRole", 1, http.StatusConflict, "LimitExceeded", "Cannot exceed quota for RolesPerAccount: 1000")
	p.Respond("GetAccountSummary", 1, "<GetAccountSummaryResponse/>")
	status, body := mustCall(t, p.URL(), "CreateRole")
	if status != http.StatusConflict || !strings.Contains(body, "<Code>LimitExceeded</Code>") || !strings.Contains(body, "RolesPerAccount") {
		t.Errorf("FailWith: %d %s", status, body)
	}
	if status, body := mustCall(t, p.URL(), "GetAccountSummary"); status != http.StatusOK || body != "<GetAccountSummaryResponse/>" {
		t.Errorf("Respond: %d %s", status, body)
	}
	if got := b.served(); len(got) != 0 {
		t.Errorf("forwarded %v; want nothing", got)
	}
	mustCall(t, p.URL(), "CreateRole")
	if got := b.served(); len(got) != 1 {
		t.Errorf("after the faults: forwarded %v; want the call", got)
	}
}

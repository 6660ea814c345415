package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/preview-access/preview-access/internal/access"
	"github.com/preview-access/preview-access/internal/preview"
	"github.com/preview-access/preview-access/internal/testenv"
)

// opaEnv returns the OPA server that make test started; without it the test
// fails (skips under -short), so it never passes by silently skipping.
func opaEnv(t *testing.T) (url, token string) {
	t.Helper()
	return testenv.OPAURL(t), testenv.OPAToken(t)
}

var idSeq atomic.Int64

// uniqueRepoID keeps previews of parallel tests, and of other packages'
// tests sharing the same OPA, apart.
func uniqueRepoID() int64 {
	return time.Now().UnixNano()%1_000_000_000_000 + idSeq.Add(1)
}

// recorder notes every request a driver sends.
type recorder struct {
	mu   sync.Mutex
	reqs []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Method+" "+req.URL.Path)
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

type decision struct {
	allow  bool
	reason string
}

// decide asks OPA's decision API, as a gateway would.
func decide(t *testing.T, url, token string, input map[string]any) decision {
	t.Helper()
	var d decision
	for _, rule := range []string{"allow", "deny_reason"} {
		body, _ := json.Marshal(map[string]any{"input": input})
		req, err := http.NewRequest(http.MethodPost, url+"/v1/data/preview_access/"+rule, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("decision %s: %v", rule, err)
		}
		var out struct {
			Result any `json:"result"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("decision %s: status %d, %v", rule, resp.StatusCode, err)
		}
		switch v := out.Result.(type) {
		case bool:
			d.allow = v
		case string:
			d.reason = v
		}
	}
	return d
}

type pr struct {
	p    preview.Preview
	host string
	doc  []byte
}

func buildPR(t *testing.T, repoID int64, number int, author string, reviewers []string, f access.File, expires time.Time) pr {
	t.Helper()
	p := preview.Preview{
		Owner: "octo-org", Repo: "shop", RepositoryID: repoID, Number: number,
		HeadSHA: strings.Repeat("0", 40), Author: author, Reviewers: reviewers, State: "open",
	}
	host := fmt.Sprintf("pr-%d-%d.preview.test", number, repoID)
	d, err := Build(p, f, BuildOptions{PreviewURL: "https://" + host + "/", ExpiresAt: expires})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return pr{p: p, host: host, doc: b}
}

func TestOPAIntegration(t *testing.T) {
	t.Parallel()
	url, token := opaEnv(t)
	ctx := context.Background()
	rec := &recorder{}
	repoID := uniqueRepoID()
	drv, err := New(Config{Kind: "opa", URL: url, Token: token, HTTPClient: &http.Client{Transport: rec}, Timeout: 10 * time.Second, RepositoryID: repoID})
	if err != nil {
		t.Fatal(err)
	}
	testenv.BindOPAHosts(t, repoID, fmt.Sprintf("pr-*-%d.preview.test", repoID))
	mk := drv.(ModuleKeeper)
	if err := mk.InstallModule(ctx); err != nil {
		t.Fatalf("InstallModule: %v", err)
	}
	if exists, current, err := mk.Module(ctx); !exists || !current || err != nil {
		t.Fatalf("Module after InstallModule = %t, %t, %v; want installed and current", exists, current, err)
	}
	rec.take()
	f := access.Default()
	f.Grants["reader"] = access.Grant{Teams: []string{"octo-org/qa"}}
	live := time.Now().Add(time.Hour)
	pr42 := buildPR(t, repoID, 42, "alice", []string{"bob"}, f, live)
	pr43 := buildPR(t, repoID, 43, "carol", nil, f, live)
	pr44 := buildPR(t, repoID, 44, "alice", nil, f, time.Now().Add(-time.Minute))
	all := []pr{pr42, pr43, pr44}
	t.Cleanup(func() {
		for _, x := range all {
			_ = drv.Delete(context.Background(), x.p.ID())
		}
	})

	for _, x := range all {
		if err := drv.Put(ctx, x.p.ID(), x.doc); err != nil {
			t.Fatalf("Put %s: %v", x.p.ID(), err)
		}
	}
	if got := rec.take(); slices.Contains(got, "GET "+OPAPolicyPath) || slices.Contains(got, "PUT "+OPAPolicyPath) {
		t.Errorf("Put touched the policy module (a step of its own): %v", got)
	}

	// An unchanged document is seen as unchanged: the plan writes nothing.
	for _, x := range all {
		got, found, err := drv.Get(ctx, x.p.ID())
		if err != nil || !found {
			t.Fatalf("Get %s = found %v, %v", x.p.ID(), found, err)
		}
		if !SameDocument(got, x.doc) {
			t.Errorf("Get %s returned a different document:\n%s\nwant\n%s", x.p.ID(), got, x.doc)
		}
	}
	ids, err := drv.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range all {
		if !slices.Contains(ids, x.p.ID()) {
			t.Errorf("List = %v; want it to contain %s", ids, x.p.ID())
		}
	}

	in := func(host, user, method, path string, teams ...string) map[string]any {
		if teams == nil {
			teams = []string{}
		}
		return map[string]any{"host": host, "user": user, "method": method, "path": path, "teams": teams}
	}
	for _, tc := range []struct {
		name  string
		input map[string]any
		want  decision
	}{
		{name: "author may POST", input: in(pr42.host, "alice", "POST", "/api/orders"), want: decision{allow: true}},
		{name: "author login is case-insensitive", input: in(pr42.host, "Alice", "DELETE", "/"), want: decision{allow: true}},
		{name: "reviewer may GET", input: in(pr42.host, "bob", "GET", "/api/orders"), want: decision{allow: true}},
		{name: "reviewer may not POST", input: in(pr42.host, "bob", "POST", "/api/orders"),
			want: decision{reason: "role reader does not allow POST /api/orders"}},
		{name: "team from the access file may GET", input: in(pr42.host, "dave", "GET", "/", "octo-org/qa"), want: decision{allow: true}},
		{name: "stranger denied", input: in(pr42.host, "mallory", "GET", "/"),
			want: decision{reason: "user mallory has no role on " + pr42.host}},
		{name: "PR 43's author cannot reach PR 42", input: in(pr42.host, "carol", "GET", "/"),
			want: decision{reason: "user carol has no role on " + pr42.host}},
		{name: "PR 43's author reaches PR 43", input: in(pr43.host, "carol", "POST", "/"), want: decision{allow: true}},
		{name: "expired document denies", input: in(pr44.host, "alice", "GET", "/"),
			want: decision{reason: "preview " + pr44.p.ID() + " expired at "}},
		{name: "unknown host", input: in("nowhere.preview.test", "alice", "GET", "/"),
			want: decision{reason: "no preview for host nowhere.preview.test"}},
	} {
		got := decide(t, url, token, tc.input)
		if got.allow != tc.want.allow || !strings.HasPrefix(got.reason, tc.want.reason) || (tc.want.reason == "") != (got.reason == "") {
			t.Errorf("%s: got allow=%v reason=%q; want allow=%v reason=%q…", tc.name, got.allow, got.reason, tc.want.allow, tc.want.reason)
		}
	}

	// The one-call form a gateway may use instead.
	body, _ := json.Marshal(map[string]any{"input": in(pr42.host, "bob", "POST", "/x")})
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/data/preview_access/decision", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Result map[string]any `json:"result"`
	}
	err = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	reason := "bob is reader on PR 42; reader may not POST /x"
	wantDecision := map[string]any{
		"allow": false, "deny_reason": "role reader does not allow POST /x", "roles": []any{"reader"}, "preview_id": pr42.p.ID(),
		"allowed": false, "reason": reason, "role": "reader", "pull_request": 42.0, "user": "bob", "http_status": 403.0, "body": "forbidden: " + reason + "\n",
	}
	if err != nil || !reflect.DeepEqual(out.Result, wantDecision) {
		t.Errorf("decision = %v, %v; want %v", out.Result, err, wantDecision)
	}

	// A second driver (the next run) sends the document only: the module
	// is read and written only when the caller plans it.
	rec2 := &recorder{}
	drv2, err := New(Config{Kind: "opa", URL: url, Token: token, HTTPClient: &http.Client{Transport: rec2}, RepositoryID: repoID})
	if err != nil {
		t.Fatal(err)
	}
	if err := drv2.Put(ctx, pr42.p.ID(), pr42.doc); err != nil {
		t.Fatal(err)
	}
	want := []string{"PUT " + OPADataPath(repoID) + "/" + pr42.p.ID()}
	if got := rec2.take(); !slices.Equal(got, want) {
		t.Errorf("re-Put requests = %v; want %v", got, want)
	}

	// Teardown: everyone is denied, and a second teardown is fine.
	if err := drv.Delete(ctx, pr42.p.ID()); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := drv.Delete(ctx, pr42.p.ID()); err != nil {
		t.Fatalf("Delete of nothing: %v", err)
	}
	if _, found, err := drv.Get(ctx, pr42.p.ID()); found || err != nil {
		t.Errorf("Get after Delete = found %v, %v; want not found", found, err)
	}
	for _, user := range []string{"alice", "bob", "carol"} {
		got := decide(t, url, token, in(pr42.host, user, "GET", "/"))
		if got.allow || got.reason != "no preview for host "+pr42.host {
			t.Errorf("after teardown %s: allow=%v reason=%q; want denied, no preview", user, got.allow, got.reason)
		}
	}
}

func TestOPABadToken(t *testing.T) {
	t.Parallel()
	url, _ := opaEnv(t)
	const bad = "not-the-SECRET-token"
	drv, err := New(Config{Kind: "opa", URL: url, Token: bad})
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("gh-%d-pr-1", uniqueRepoID())
	err = drv.Put(context.Background(), id, []byte(`{}`))
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized: unauthorized: request rejected by administrative policy") {
		t.Errorf("Put with a bad token = %v; want OPA's 401 message", err)
	}
	noSecrets(t, err)
	_, _, err = drv.Get(context.Background(), id)
	if err == nil || strings.Contains(err.Error(), bad) {
		t.Errorf("Get with a bad token = %v; want an error without the token", err)
	}
}

// TestRego runs the module's own unit tests and checks it the way OPA will
// load it.
func TestRego(t *testing.T) {
	t.Parallel()
	bin := testenv.OPABin(t)
	dir := "../../templates/gateway"
	for _, args := range [][]string{
		{"check", "--strict", dir},
		{"test", "--verbose", dir},
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Errorf("opa %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	out, err := exec.Command(bin, "fmt", "--list", dir).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("opa fmt --list: %v; unformatted: %s", err, out)
	}
}

// TestSharedOPA: two repositories share one OPA, each with a token of its
// own. Neither can write the other's documents or replace the module, and
// a document naming the other's host claims nothing: the rightful owner
// keeps access and the squatter gets none.
func TestSharedOPA(t *testing.T) {
	t.Parallel()
	url, admin := opaEnv(t)
	ctx := context.Background()
	// The admin installs this version's module first: the decisions below
	// must not depend on another test having done it.
	if m, err := New(Config{Kind: "opa", URL: url, Token: admin}); err != nil {
		t.Fatal(err)
	} else if err := m.(ModuleKeeper).InstallModule(ctx); err != nil {
		t.Fatalf("InstallModule as the admin: %v", err)
	}
	idA, idB := uniqueRepoID(), uniqueRepoID()
	testenv.BindOPAHosts(t, idA, fmt.Sprintf("pr-*-%d.preview.test", idA))
	testenv.BindOPAHosts(t, idB, fmt.Sprintf("pr-*-%d.preview.test", idB))
	driver := func(id int64) Driver {
		d, err := New(Config{Kind: "opa", URL: url, Token: testenv.OPARepositoryToken(t, id), RepositoryID: id})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a, b := driver(idA), driver(idB)
	f := access.Default()
	prA := buildPR(t, idA, 42, "alice", nil, f, time.Now().Add(time.Hour))
	if err := a.Put(ctx, prA.p.ID(), prA.doc); err != nil {
		t.Fatalf("A puts its own document: %v", err)
	}
	t.Cleanup(func() { a.Delete(context.Background(), prA.p.ID()) })

	// B publishes a document of its own that names A's host and makes its
	// own user admin.
	squat := buildPR(t, idB, 7, "mallory", nil, f, time.Now().Add(time.Hour))
	var d Document
	if err := json.Unmarshal(squat.doc, &d); err != nil {
		t.Fatal(err)
	}
	d.Host = prA.host
	doc, _ := Marshal(d)
	if err := b.Put(ctx, squat.p.ID(), doc); err != nil {
		t.Fatalf("B puts a document in its own subtree: %v", err)
	}
	t.Cleanup(func() { b.Delete(context.Background(), squat.p.ID()) })

	in := func(user string) map[string]any {
		return map[string]any{"host": prA.host, "user": user, "method": "GET", "path": "/", "teams": []string{}}
	}
	if got := decide(t, url, admin, in("alice")); !got.allow {
		t.Errorf("A's author on A's host: %+v; want allowed (not locked out by B's claim)", got)
	}
	if got := decide(t, url, admin, in("mallory")); got.allow || !strings.Contains(got.reason, "no role") {
		t.Errorf("B's user on A's host: %+v; want denied, no role", got)
	}

	// B's token cannot reach into A's subtree, nor replace the module.
	bOnA, err := New(Config{Kind: "opa", URL: url, Token: testenv.OPARepositoryToken(t, idB), RepositoryID: idA})
	if err != nil {
		t.Fatal(err)
	}
	if err := bOnA.Put(ctx, prA.p.ID(), squat.doc); err == nil || !strings.Contains(err.Error(), "rejected by administrative policy") {
		t.Errorf("B writing A's document = %v; want OPA's refusal", err)
	}
	if err := bOnA.Delete(ctx, prA.p.ID()); err == nil {
		t.Error("B deleted A's document")
	}
	if _, _, err := bOnA.Get(ctx, prA.p.ID()); err == nil {
		t.Error("B read A's document")
	}
	if err := b.(ModuleKeeper).InstallModule(ctx); !errors.Is(err, ErrModuleManaged) {
		t.Errorf("a repository token installing the module = %v; want ErrModuleManaged", err)
	}
	if _, _, err := b.(ModuleKeeper).Module(ctx); err != nil {
		t.Errorf("a repository token reading the module: %v", err)
	}
	// A gateway token decides, and reads nothing else.
	gw := testenv.OPAGatewayToken(t)
	if got := decide(t, url, gw, in("alice")); !got.allow {
		t.Errorf("the gateway's token: %+v; want a decision", got)
	}
	req, _ := http.NewRequest(http.MethodGet, url+OPADataPath(idA), nil)
	req.Header.Set("Authorization", "Bearer "+gw)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the gateway's token reading documents: %s; want 401 (OPA's answer to a request its authorization policy refuses)", resp.Status)
	}
}

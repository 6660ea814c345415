package run

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// wantNothingWritten asserts that the run wrote nowhere: no IAM call that
// writes and no GitHub write.
func (h *harness) wantNothingWritten(t *testing.T) {
	t.Helper()
	if iamW, ghW := h.writes(); iamW != 0 || len(ghW) != 0 {
		t.Errorf("writes: IAM %d %v, GitHub %v; want none", iamW, h.proxy.Counts(), ghW)
	}
}

// TestAccountMustBeTheCallers: an account-id, or a boundary in an account,
// other than the credentials' is refused before anything is written; the
// comment would otherwise advertise a role ARN that never exists.
func TestAccountMustBeTheCallers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		input []string
		want  string
	}{
		{"account-id", []string{"account-id", "210987654321", "permissions-boundary", "arn:aws:iam::210987654321:policy/preview-boundary"}, "input account-id"},
		{"boundary's account", []string{"account-id", "", "permissions-boundary", "arn:aws:iam::210987654321:policy/preview-boundary"}, "input permissions-boundary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.set(tc.input...)
			h.event("pull_request_target", "pull_request_target.opened.json")
			h.resetCounts()
			if code := h.run(); code != ExitError {
				t.Fatalf("exit %d; want 1", code)
			}
			if msg := strings.Join(h.annotations("error"), "\n"); !strings.Contains(msg, tc.want) || !strings.Contains(msg, "another account") {
				t.Errorf("errors %q; want one naming %s and the other account", msg, tc.want)
			}
			if h.proxy.Count("GetCallerIdentity") != 1 {
				t.Errorf("GetCallerIdentity called %d times; want once", h.proxy.Count("GetCallerIdentity"))
			}
			h.wantNothingWritten(t)
			if h.role(42).Exists {
				t.Error("a role was created")
			}
		})
	}
}

// TestSweepSaysWhenARerunIsNotEnough: a sweep whose deletes are denied
// does not promise that a re-run finishes the job.
func TestSweepSaysWhenARerunIsNotEnough(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.open(1)
	h.gh.ClosePullRequest(h.owner, h.repo, 1, true)
	h.proxy.FailWith("DeleteRolePolicy", 10, http.StatusForbidden, "AccessDenied", "not authorized to perform iam:DeleteRolePolicy")
	if code := h.sweep(); code != ExitError {
		t.Fatalf("sweep: exit %d; want 1", code)
	}
	msg := strings.Join(h.annotations("error"), "\n")
	if !strings.Contains(msg, "a re-run fails the same way until") || strings.Contains(msg, "a re-run finishes the job") {
		t.Errorf("errors %q; want them to say a re-run is not enough", msg)
	}
}

// TestSweepChecksTheAccount: a sweep with another account's account-id
// (or boundary) deletes nothing, and says which input is wrong.
func TestSweepChecksTheAccount(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.open(1)
	h.gh.ClosePullRequest(h.owner, h.repo, 1, true)
	h.set("account-id", "210987654321", "permissions-boundary", "arn:aws:iam::210987654321:policy/preview-boundary")
	h.resetCounts()
	if code := h.sweep(); code != ExitError {
		t.Fatalf("sweep: exit %d; want 1", code)
	}
	if msg := strings.Join(h.annotations("error"), "\n"); !strings.Contains(msg, "input account-id") || !strings.Contains(msg, "nothing was deleted") {
		t.Errorf("errors %q; want account-id named and nothing deleted", msg)
	}
	if h.proxy.Count("GetCallerIdentity") != 1 {
		t.Errorf("GetCallerIdentity called %d times; want once", h.proxy.Count("GetCallerIdentity"))
	}
	h.wantNothingWritten(t)
	if !h.role(1).Exists {
		t.Error("the role of pull request 1 was deleted")
	}
}

func accountSummary(roles, quota int) string {
	return fmt.Sprintf(`<GetAccountSummaryResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetAccountSummaryResult><SummaryMap>`+
		`<entry><key>Roles</key><value>%d</value></entry><entry><key>RolesQuota</key><value>%d</value></entry>`+
		`</SummaryMap></GetAccountSummaryResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetAccountSummaryResponse>`, roles, quota)
}

// TestRoleQuota: before CreateRole the account's role count is read; a full
// account fails with a clear message and nothing written (not the
// environment, not the gateway), 90 % warns, and a quota that cannot be
// read only warns.
func TestRoleQuota(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		inject   func(h *harness)
		wantCode int
		want     string // in an annotation
	}{
		{"full", func(h *harness) { h.proxy.Respond("GetAccountSummary", 1, accountSummary(1000, 1000)) }, ExitError, `holds 1000 roles, its whole quota of 1000 (IAM quota "Roles per account")`},
		{"nearly full", func(h *harness) { h.proxy.Respond("GetAccountSummary", 1, accountSummary(905, 1000)) }, ExitOK, "holds 905 of its 1000 roles"},
		{"not readable", func(h *harness) { h.proxy.Fail("GetAccountSummary", 10, http.StatusForbidden) }, ExitOK, "cannot read the account's role quota"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.set("trust-scope", "environment")
			h.event("pull_request_target", "pull_request_target.opened.json")
			tc.inject(h)
			h.resetCounts()
			if code := h.run(); code != tc.wantCode {
				t.Fatalf("exit %d; want %d", code, tc.wantCode)
			}
			kind := "warning"
			if tc.wantCode != ExitOK {
				kind = "error"
			}
			if msg := strings.Join(h.annotations(kind), "\n"); !strings.Contains(msg, tc.want) {
				t.Errorf("%s annotations %q; want %q", kind, msg, tc.want)
			}
			if tc.wantCode != ExitOK {
				h.wantNothingWritten(t)
			}
		})
	}
	// An existing role needs no quota: an up that only re-tags it is not
	// refused by a full account.
	h := newHarness(t)
	h.event("pull_request_target", "pull_request_target.opened.json")
	if code := h.run(); code != 0 {
		t.Fatalf("opened: exit %d", code)
	}
	h.event("pull_request_target", "pull_request_target.synchronize.json")
	h.proxy.Respond("GetAccountSummary", 1, accountSummary(1000, 1000))
	if code := h.run(); code != 0 {
		t.Errorf("synchronize with a full account: exit %d; want 0", code)
	}
}

// TestPermanentErrorsSayWhatToChange: an error a re-run cannot fix does not
// promise that one will; it says what to change.
func TestPermanentErrorsSayWhatToChange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		action, code string
		status       int
		want         string
	}{
		{"CreateRole", "LimitExceeded", http.StatusConflict, "Service Quotas"},
		{"PutRolePolicy", "MalformedPolicyDocument", http.StatusBadRequest, "permissions-template"},
		{"CreateRole", "AccessDenied", http.StatusForbidden, "preview-access bootstrap"},
		{"CreateRole", "InvalidInput", http.StatusBadRequest, "input behind the value"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.event("pull_request_target", "pull_request_target.opened.json")
			h.proxy.FailWith(tc.action, 10, tc.status, tc.code, "refused by the test")
			if code := h.run(); code != ExitError {
				t.Fatalf("exit %d; want 1", code)
			}
			msg := strings.Join(h.annotations("error"), "\n")
			if !strings.Contains(msg, tc.code) || !strings.Contains(msg, tc.want) || !strings.Contains(msg, "a re-run fails the same way") || strings.Contains(msg, "re-run converges") {
				t.Errorf("errors %q; want the code %s, advice naming %q, and no promise that a re-run converges", msg, tc.code, tc.want)
			}
		})
	}
	// A transient fault still says a re-run converges.
	h := newHarness(t)
	h.event("pull_request_target", "pull_request_target.opened.json")
	h.proxy.Fail("CreateRole", 100, http.StatusServiceUnavailable)
	if code := h.run(); code != ExitError {
		t.Fatalf("exit %d; want 1", code)
	}
	if msg := strings.Join(h.annotations("error"), "\n"); !strings.Contains(msg, "a re-run converges") {
		t.Errorf("errors %q; want a transient fault to say a re-run converges", msg)
	}
}

// TestTeardownChecksThePath: a role with the tool's name and forged tags
// at another path is not down's to remove.
func TestTeardownChecksThePath(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.createRole(h.roleName(42), "/somebody-else/", h.ownTags(42, h.now.Add(24*time.Hour)), false)
	h.event("pull_request_target", "pull_request_target.closed.merged.json")
	h.resetCounts()
	if code := h.run(); code != ExitError {
		t.Fatalf("exit %d; want 1", code)
	}
	msg := strings.Join(h.annotations("error"), "\n")
	if !strings.Contains(msg, h.roleName(42)) || !strings.Contains(msg, "/somebody-else/") {
		t.Errorf("errors %q; want the role and its path named", msg)
	}
	if !h.exists(h.roleName(42)) {
		t.Error("the role at another path was deleted")
	}
	if n := h.proxy.Writes(); n != 0 {
		t.Errorf("%d IAM writes; want none", n)
	}
}

// TestTeardownDetachesOutOfBandPolicies: a managed policy someone attached
// by hand does not keep the role alive; the run names it in a warning.
func TestTeardownDetachesOutOfBandPolicies(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.event("pull_request_target", "pull_request_target.opened.json")
	if code := h.run(); code != 0 {
		t.Fatalf("opened: exit %d", code)
	}
	arn := managedPolicy(t, h)
	if _, err := h.iam.AttachRolePolicy(context.Background(), &iam.AttachRolePolicyInput{RoleName: aws.String(h.roleName(42)), PolicyArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	h.event("pull_request_target", "pull_request_target.closed.merged.json")
	if code := h.run(); code != 0 {
		t.Fatalf("closed: exit %d", code)
	}
	if h.role(42).Exists {
		t.Error("the role survived an out-of-band attachment")
	}
	if w := strings.Join(h.annotations("warning"), "\n"); !strings.Contains(w, arn) || !strings.Contains(w, "out of band") {
		t.Errorf("warnings %q; want one naming %s as attached out of band", w, arn)
	}
}

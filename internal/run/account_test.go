package run

import (
	"reflect"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preview-access/preview-access/internal/bootstrap"
	"github.com/preview-access/preview-access/internal/iamrole"
)

// TestProvisionerCallsAreTheCodes: the calls bootstrap's provisioner policy
// allows (and the README lists) are exactly the methods of the interfaces
// every AWS call of the action goes through.
func TestProvisionerCallsAreTheCodes(t *testing.T) {
	t.Parallel()
	var got []string
	for _, api := range []struct {
		service string
		iface   reflect.Type
	}{
		{"iam", reflect.TypeFor[iamrole.API]()},
		{"iam", reflect.TypeFor[AccountAPI]()},
		{"sts", reflect.TypeFor[STSAPI]()},
	} {
		for i := range api.iface.NumMethod() {
			got = append(got, api.service+":"+api.iface.Method(i).Name)
		}
	}
	slices.Sort(got)
	if diff := cmp.Diff(bootstrap.ProvisionerCalls, got); diff != "" {
		t.Errorf("bootstrap.ProvisionerCalls against the code's AWS interfaces (-policy +code):\n%s", diff)
	}
}

func TestRoleQuotaCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		q           roleQuota
		warn, fails bool
	}{
		{"not read (offline plan)", roleQuota{}, false, false},
		{"plenty", roleQuota{read: true, roles: 10, quota: 1000}, false, false},
		{"the new role reaches 90 %", roleQuota{read: true, roles: 899, quota: 1000}, true, false},
		{"one left", roleQuota{read: true, roles: 999, quota: 1000}, true, false},
		{"full", roleQuota{read: true, roles: 1000, quota: 1000}, false, true},
		{"over", roleQuota{read: true, roles: 1001, quota: 1000}, false, true},
	} {
		w, err := tc.q.check()
		if (w != "") != tc.warn || (err != nil) != tc.fails {
			t.Errorf("%s: warning %q, error %v; want warning %t, error %t", tc.name, w, err, tc.warn, tc.fails)
		}
	}
}

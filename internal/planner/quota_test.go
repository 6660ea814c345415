package planner

import "testing"

func TestRoleQuotaCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		q           RoleQuota
		warn, fails bool
	}{
		{"not read (offline plan)", RoleQuota{}, false, false},
		{"plenty", RoleQuota{Read: true, Roles: 10, Quota: 1000}, false, false},
		{"the new role reaches 90 %", RoleQuota{Read: true, Roles: 899, Quota: 1000}, true, false},
		{"one left", RoleQuota{Read: true, Roles: 999, Quota: 1000}, true, false},
		{"full", RoleQuota{Read: true, Roles: 1000, Quota: 1000}, false, true},
		{"over", RoleQuota{Read: true, Roles: 1001, Quota: 1000}, false, true},
	} {
		var b builder
		err := b.checkQuota(tc.q)
		if (len(b.warnings) > 0) != tc.warn || (err != nil) != tc.fails {
			t.Errorf("%s: warnings %q, error %v; want warning %t, error %t", tc.name, b.warnings, err, tc.warn, tc.fails)
		}
	}
}

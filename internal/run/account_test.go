package run

import (
	"reflect"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preview-access/preview-access/internal/apply"
	"github.com/preview-access/preview-access/internal/bootstrap"
	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/gateway"
	"github.com/preview-access/preview-access/internal/observe"
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
		{"iam", reflect.TypeFor[observe.IAM]()},
		{"iam", reflect.TypeFor[apply.IAM]()},
		{"sts", reflect.TypeFor[observe.STS]()},
	} {
		for i := range api.iface.NumMethod() {
			got = append(got, api.service+":"+api.iface.Method(i).Name)
		}
	}
	slices.Sort(got)
	got = slices.Compact(got) // GetRole: observe reads it, apply waits with it
	if diff := cmp.Diff(bootstrap.ProvisionerCalls, got); diff != "" {
		t.Errorf("bootstrap.ProvisionerCalls against the code's AWS interfaces (-policy +code):\n%s", diff)
	}
}

// TestConfigKnowsTheGateways: the gateway input's values and its secret
// minimum are package gateway's kinds and minimum (config may not import
// the drivers).
func TestConfigKnowsTheGateways(t *testing.T) {
	t.Parallel()
	for in, kind := range map[string]string{
		config.GatewayNone: gateway.KindNone, config.GatewayOPA: gateway.KindOPA,
		config.GatewayWebhook: gateway.KindWebhook, config.GatewayFile: gateway.KindFile,
	} {
		if in != kind {
			t.Errorf("config's gateway %q is package gateway's %q", in, kind)
		}
	}
	if config.MinGatewaySecret != gateway.MinSecretLength {
		t.Errorf("config accepts webhook secrets from %d characters, the driver from %d", config.MinGatewaySecret, gateway.MinSecretLength)
	}
}

package merchant

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluicepay/sluice/payments/webhook"
)

// TestEndpointQueryShadowing: a GET or DELETE endpoint whose own query
// uses a parameter sluice adds to that kind's requests is refused when it
// is registered (create and update), before the ledger is touched; POST
// and PUT endpoints, and other parameters, are fine.
func TestEndpointQueryShadowing(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		kind string
		e    Endpoint
		bad  string
	}{
		{"confirmed", Endpoint{"GET", "https://shop.example/h?token=1&Status=1"}, `"Status"`},
		{"created", Endpoint{"delete", "https://shop.example/h?address=x"}, `"address"`},
		{"confirmations", Endpoint{"GET", "https://shop.example/h?wallet.ext.id=x"}, `"wallet.ext.id"`},
		{"withdrawal", Endpoint{"GET", "https://shop.example/w?ID=7"}, `"ID"`},
		{"withdrawal", Endpoint{"DELETE", "https://shop.example/w?timeConfirmed=1"}, `"timeConfirmed"`},
	} {
		spec := Spec{Name: "shop", Webhooks: map[string]Endpoint{c.kind: c.e}}
		if _, err := Create(ctx, nil, spec, nil); !errors.Is(err, webhook.ErrShadowedParam) || !strings.Contains(err.Error(), c.bad) ||
			!strings.HasPrefix(err.Error(), "webhook "+c.kind+": ") {
			t.Errorf("create with %s %+v: %v", c.kind, c.e, err)
		}
		if err := SetWebhooks(ctx, nil, 1, map[string]Endpoint{c.kind: c.e}, nil); !errors.Is(err, webhook.ErrShadowedParam) {
			t.Errorf("update with %s %+v: %v", c.kind, c.e, err)
		}
	}
	for kind, e := range map[string]Endpoint{
		"created":       {"POST", "https://shop.example/h?address=x&status=1"}, // the fields are in the body
		"confirmations": {"GET", "https://shop.example/h?token=abc&id=7"},      // id is a withdrawal field
		"withdrawal":    {"GET", "https://shop.example/w?token=abc&wallet_ext_id=1"},
	} {
		if err := validEndpoint(ctx, kind, e, nil); err != nil {
			t.Errorf("%s %+v refused: %v", kind, e, err)
		}
	}
}

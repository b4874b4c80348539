package sweep_test

import (
	"context"
	"testing"

	"github.com/sluicepay/sluice/internal/testledger"
	"github.com/sluicepay/sluice/payments/sweep"
)

// TestListJobs: the open jobs come oldest first with why they wait; the
// filters narrow by chain, state and merchant.
func TestListJobs(t *testing.T) {
	db := testledger.Fresh(t)
	ctx := context.Background()
	m := merchantWith(t, db, "shop", nil)
	for _, j := range []struct{ chain, cur, state, err string }{
		{"ltc", "LTC", "planned", "output aa:0 is spent or unknown"},
		{"eth", "USDT", "planned", "has 147000 wei to spend, less than 200000"},
		{"ltc", "LTC", "confirmed", ""},
	} {
		if _, err := db.Exec(ctx, `INSERT INTO sweeps (chain, currency, merchant_id, kind, state, destination, amount, error)
			VALUES ($1, $2, $3, 'hot', $4, 'dest', 5, $5)`, j.chain, j.cur, m, j.state, j.err); err != nil {
			t.Fatal(err)
		}
	}
	open, err := sweep.ListJobs(ctx, db, sweep.JobFilter{Open: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 2 || open[0].Chain != "ltc" || open[0].Error != "output aa:0 is spent or unknown" || open[1].Currency != "USDT" {
		t.Fatalf("open jobs %+v", open)
	}
	eth, err := sweep.ListJobs(ctx, db, sweep.JobFilter{Chain: "eth", State: "planned", MerchantID: m})
	if err != nil || len(eth) != 1 || eth[0].MerchantID != m {
		t.Fatalf("eth planned jobs %+v %v", eth, err)
	}
	if all, err := sweep.ListJobs(ctx, db, sweep.JobFilter{MerchantID: m + 1}); err != nil || len(all) != 0 {
		t.Fatalf("another merchant's jobs %+v %v", all, err)
	}
}

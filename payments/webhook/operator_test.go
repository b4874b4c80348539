package webhook

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestOperatorDeliveries: the operator lists deliveries across merchants and
// redelivers by delivery, by event and in bulk by merchant and state, the
// way the merchant's own redelivery does; the delivery counter says whose
// delivery it counted.
func TestOperatorDeliveries(t *testing.T) {
	db := newDB(t)
	f := fixture{t, db}
	ctx := context.Background()
	down := newReceiver(t, answer(500, "down"))
	up := newReceiver(t, nil)
	a := f.merchant("sa", allKinds("POST", down.URL))
	b := f.merchant("sb", allKinds("POST", up.URL))
	quiet := f.merchant("sc", nil) // no deliveries: its series exist at 0 all the same
	wa, _ := f.wallet(a, "BTC")
	wb, _ := f.wallet(b, "LTC")
	evA := f.event(f.deposit(wa, "BTC", "1", ptr(int64(1))), "created", 0, 1, 0)
	evB := f.event(f.deposit(wb, "LTC", "2", ptr(int64(1))), "created", 0, 1, 0)
	mustFanOut(t, db)
	dA, dB := f.deliveryOf(evA, "iqpay"), f.deliveryOf(evB, "iqpay")
	f.exec(`UPDATE webhook_deliveries SET created_at = now() - interval '2 hours' WHERE id = $1`, dA) // past MaxAge (1h)
	d := testDeps(db)
	r := mustRunner(t, d)
	if err := r.addMerchants(ctx); err != nil {
		t.Fatal(err)
	}
	for step(t, r) != nil {
	}
	if got := f.delivery(dA); got.State != "failed" {
		t.Fatalf("merchant a's delivery %+v", got)
	}

	series := func(m int64, result string) float64 {
		return testutil.ToFloat64(d.Metrics.Deliveries.WithLabelValues("iqpay", strconv.FormatInt(m, 10), result))
	}
	if series(a, ResultFailed) != 1 || series(a, ResultDelivered) != 0 || series(b, ResultDelivered) != 1 || series(b, ResultFailed) != 0 {
		t.Fatalf("per merchant: a failed %v delivered %v, b delivered %v failed %v",
			series(a, ResultFailed), series(a, ResultDelivered), series(b, ResultDelivered), series(b, ResultFailed))
	}
	if n := testutil.CollectAndCount(d.Metrics.Deliveries); n != 3*len(flavours)*len(results) {
		t.Fatalf("%d delivery series, want every flavour and result of 3 merchants (merchant %d's at 0)", n, quiet)
	}

	failed, next, err := ListAllDeliveries(ctx, db, 0, ListFilter{State: "failed"})
	if err != nil || next != "" || len(failed) != 1 || failed[0].ID != dA || failed[0].MerchantID != a || failed[0].EventID != evA ||
		len(failed[0].Log) != 1 {
		t.Fatalf("failed across merchants: %+v, %q, %v", failed, next, err)
	}
	all, _, err := ListAllDeliveries(ctx, db, 0, ListFilter{})
	if err != nil || len(all) != 2 || all[0].ID != dB || all[0].MerchantID != b || all[1].MerchantID != a {
		t.Fatalf("every delivery: %+v, %v", all, err)
	}
	if got, _, err := ListAllDeliveries(ctx, db, b, ListFilter{State: "failed"}); err != nil || len(got) != 0 {
		t.Fatalf("merchant b's failed: %+v, %v", got, err)
	}
	if got, _, err := ListAllDeliveries(ctx, db, 0, ListFilter{Limit: OperatorMaxLimit}); err != nil || len(got) != 2 {
		t.Fatalf("the operator's largest page: %d, %v", len(got), err)
	}
	// the merchant API keeps its own bounds and its own merchant
	if _, _, err := ListDeliveries(ctx, db, a, ListFilter{Limit: 201}); !errors.Is(err, ErrBadFilter) {
		t.Fatalf("merchant API page of 201: %v", err)
	}
	if got, _, err := ListDeliveries(ctx, db, a, ListFilter{}); err != nil || len(got) != 1 || got[0].ID != dA {
		t.Fatalf("merchant a's own list: %+v, %v", got, err)
	}

	for _, bad := range []struct {
		sel  RedeliverSelection
		want error
	}{
		{RedeliverSelection{}, ErrBadFilter},
		{RedeliverSelection{State: "failed"}, ErrBadFilter}, // every merchant's, unasked
		{RedeliverSelection{State: "lost", MerchantID: a}, ErrBadFilter},
		{RedeliverSelection{DeliveryIDs: []int64{dA, 1 << 40}}, ErrNotFound}, // one unknown: nothing changes
		{RedeliverSelection{DeliveryIDs: []int64{dA}, MerchantID: b}, ErrNotFound},
		{RedeliverSelection{EventIDs: []int64{evA}, MerchantID: b}, ErrNotFound},
	} {
		if _, err := RedeliverSelected(ctx, db, bad.sel); !errors.Is(err, bad.want) {
			t.Fatalf("%+v: %v, want %v", bad.sel, err, bad.want)
		}
	}
	if got := f.delivery(dA); got.State != "failed" {
		t.Fatalf("a refused redelivery changed %+v", got)
	}

	// merchant a fixed its endpoint: every failed delivery of its goes again, to the new one
	f.exec(`UPDATE merchant_webhooks SET url = $2 WHERE merchant_id = $1`, a, up.URL+"/fixed")
	re, err := RedeliverSelected(ctx, db, RedeliverSelection{MerchantID: a, State: "failed"})
	if err != nil || len(re) != 1 || re[0].ID != dA || re[0].MerchantID != a || re[0].State != "pending" || re[0].Attempts != 0 ||
		re[0].URL != up.URL+"/fixed" {
		t.Fatalf("bulk redeliver: %+v, %v", re, err)
	}
	if j := step(t, r); j == nil || j.ID != dA {
		t.Fatalf("redelivery not sent: %+v", j)
	}
	if got := f.delivery(dA); got.State != "delivered" || len(got.Log) != 2 {
		t.Fatalf("after the redelivery %+v", got)
	}
	if hits := up.hits(); len(hits) != 2 || hits[1].Path != "/fixed" || hits[1].Header.Get(HeaderEventID) != strconv.FormatInt(evA, 10) {
		t.Fatalf("receiver got %+v", hits)
	}

	// by event, of a delivered one: sent again
	re, err = RedeliverSelected(ctx, db, RedeliverSelection{EventIDs: []int64{evB}})
	if err != nil || len(re) != 1 || re[0].ID != dB || re[0].State != "pending" {
		t.Fatalf("redeliver event %d: %+v, %v", evB, re, err)
	}
	// every merchant's delivered ones, asked for
	re, err = RedeliverSelected(ctx, db, RedeliverSelection{State: "delivered", AllMerchants: true})
	if err != nil || len(re) != 1 || re[0].ID != dA {
		t.Fatalf("redeliver every delivered: %+v, %v", re, err)
	}
}

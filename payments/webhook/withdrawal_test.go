package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// withdrawal records a withdrawal paid by a broadcast sweep job, as the
// sweep runner leaves it, with its status-0 event.
func (f fixture) withdrawal(merchant int64, currency, units, gas, txid string) (id, event int64) {
	f.t.Helper()
	job := f.id(`INSERT INTO sweeps (chain, currency, merchant_id, kind, state, destination, amount, fee_network, txid)
		VALUES ($1, $2, $3, 'withdraw', 'broadcast', 'dest', $4::numeric, $5::numeric, $6) RETURNING id`,
		chainOf[currency], currency, merchant, units, gas, txid)
	feeCur := currency
	if chainOf[currency] == "eth" {
		feeCur = "ETH" // a token's gas
	}
	// the hot sweeps that made the balance the withdrawal draws on (the
	// schema refuses a withdrawal the balance does not cover)
	for _, c := range [][2]string{{currency, units}, {feeCur, gas}} {
		f.id(`INSERT INTO sweeps (chain, currency, merchant_id, kind, state, destination, amount)
			VALUES ($1, $2, $3, 'hot', 'confirmed', 'hot', $4::numeric) RETURNING id`, chainOf[c[0]], c[0], merchant, c[1])
	}
	id = f.id(`INSERT INTO withdrawals (merchant_id, currency, ext_id, address, amount, sweep_id, gas, fee_currency, fee_reserved)
		VALUES ($1, $2, $3, 'dest', $4::numeric, $5, $6::numeric, $7, $6::numeric) RETURNING id`, merchant, currency, "w-"+randHex(4), units, job, gas, feeCur)
	return id, f.id(`INSERT INTO withdrawal_events (withdrawal_id, status) VALUES ($1, 0) RETURNING id`, id)
}

// TestWithdrawalWebhook: iqpay's withdrawal webhook with the seed's fields,
// exact amounts and the network fee in the chain's coin, signed, status 0
// before 1 even when the first is refused for a while, event ids never
// shared with deposit events, listed and redelivered like deposit webhooks.
func TestWithdrawalWebhook(t *testing.T) {
	db := newDB(t)
	f := fixture{t, db}
	rcv := newReceiver(t, nil)
	hooks := allKinds("POST", rcv.URL+"/deposits")
	hooks["withdrawal"] = [2]string{"POST", rcv.URL + "/withdrawals"}
	m := f.merchant("sec-w", hooks)
	silent := f.merchant("sec-s", allKinds("POST", rcv.URL+"/deposits")) // no withdrawal endpoint

	w, _ := f.wallet(m, "BTC")
	depEvent := f.event(f.deposit(w, "BTC", "1000", ptr(int64(1))), "created", 0, 1, 0)
	btc, btc0 := f.withdrawal(m, "BTC", "250000", "1410", "aa"+randHex(31))
	f.exec(`UPDATE withdrawals SET status = 1, confirmed_at = now() WHERE id = $1`, btc)
	btc1 := f.id(`INSERT INTO withdrawal_events (withdrawal_id, status) VALUES ($1, 1) RETURNING id`, btc)
	usdt, usdt0 := f.withdrawal(m, "USDT", "25500000", "714000000000000", "0x"+randHex(32))
	_, silentEvent := f.withdrawal(silent, "LTC", "1", "1", randHex(32))
	if depEvent == btc0 || depEvent == usdt0 || btc0 == btc1 {
		t.Fatalf("event ids shared: deposit %d, withdrawal %d %d %d", depEvent, btc0, btc1, usdt0)
	}

	// the first request of BTC's status 0 is refused: status 1 must wait for it
	var refused atomic.Bool
	rcv.setRespond(func(h hit, _ int) (int, string, time.Duration) {
		if h.Header.Get(HeaderEventID) == strconv.FormatInt(btc0, 10) && refused.CompareAndSwap(false, true) {
			return 500, "busy", 0
		}
		return 200, "", 0
	})
	start(t, testDeps(db))
	waitFor(t, 10*time.Second, "the withdrawal webhooks delivered", func() bool {
		return f.count(`SELECT count(*) FROM webhook_deliveries WHERE flavour = 'withdrawal' AND state = 'delivered'`) == 3
	})
	if n := f.count(`SELECT count(*) FROM webhook_deliveries WHERE withdrawal_event_id = $1`, silentEvent); n != 0 {
		t.Errorf("a merchant without a withdrawal endpoint got %d deliveries", n)
	}
	if n := f.count(`SELECT count(*) FROM withdrawal_events WHERE NOT dispatched`); n != 0 {
		t.Errorf("%d withdrawal events not dispatched", n)
	}

	got := map[int64][]map[string]any{} // event id -> bodies, in arrival order
	var order []int64
	for _, h := range rcv.hits() {
		if h.Path != "/withdrawals" {
			continue
		}
		if v, err := Verify("sec-w", Expect{Flavours: []string{FlavourWithdrawal}, Method: h.Method, URL: rcv.URL + h.Path, Tolerance: time.Minute},
			h.Header, h.Body); err != nil || v.Kind != "withdrawal" || h.Header.Get(HeaderFlavour) != FlavourWithdrawal {
			t.Errorf("signature: %+v %v", v, err)
		}
		if _, err := Verify("sec-w", Expect{Flavours: []string{FlavourIqpay}, Method: h.Method, URL: rcv.URL + h.Path}, h.Header, h.Body); !errors.Is(err, ErrSignature) {
			t.Errorf("a withdrawal webhook verified as an iqpay deposit: %v", err)
		}
		var p map[string]any
		d := json.NewDecoder(bytes.NewReader(h.Body))
		d.UseNumber()
		if err := d.Decode(&p); err != nil {
			t.Fatalf("body %s: %v", h.Body, err)
		}
		id, _ := strconv.ParseInt(h.Header.Get(HeaderEventID), 10, 64)
		got[id] = append(got[id], p)
		order = append(order, id)
	}
	if len(got[btc0]) != 2 || len(got[btc1]) != 1 || len(got[usdt0]) != 1 {
		t.Fatalf("requests per event: %v (order %v)", map[int64]int{btc0: len(got[btc0]), btc1: len(got[btc1]), usdt0: len(got[usdt0])}, order)
	}
	last := func(id int64) int { // where id's last request came in order
		at := -1
		for i, o := range order {
			if o == id {
				at = i
			}
		}
		return at
	}
	if last(btc1) < last(btc0) {
		t.Fatalf("status 1 went out before status 0 was acknowledged: %v", order)
	}
	check := func(p map[string]any, want map[string]string) {
		t.Helper()
		for k, v := range want {
			if s := jsonText(p[k]); s != v {
				t.Errorf("%s = %s, want %s (body %v)", k, s, v, p)
			}
		}
		for _, k := range []string{"id", "address", "currency", "amount", "txid", "gas", "timeCreated", "timeConfirmed", "status"} {
			if _, ok := p[k]; !ok {
				t.Errorf("the seed's field %s is missing: %v", k, p)
			}
		}
	}
	check(got[btc0][1], map[string]string{"id": strconv.FormatInt(btc, 10), "currency": "BTC", "amount": "0.0025",
		"gas": "0.0000141", "status": "0", "timeConfirmed": "0", "kind": "withdrawal", "gas_currency": "BTC",
		"amount_base_units": "250000", "address": "dest"})
	check(got[btc1][0], map[string]string{"status": "1", "amount": "0.0025"})
	if jsonText(got[btc1][0]["timeConfirmed"]) == "0" {
		t.Errorf("confirmed without timeConfirmed: %v", got[btc1][0])
	}
	check(got[usdt0][0], map[string]string{"id": strconv.FormatInt(usdt, 10), "currency": "USDT", "amount": "25.5",
		"gas": "0.000714", "gas_currency": "ETH", "gas_base_units": "714000000000000", "status": "0"})

	// in the delivery log, and redelivered to the endpoint set now
	ds, _, err := ListDeliveries(context.Background(), db, m, ListFilter{Flavour: FlavourWithdrawal, WithdrawalID: btc})
	if err != nil || len(ds) != 2 {
		t.Fatalf("listed %d, %v", len(ds), err)
	}
	if d := ds[1]; d.Kind != "withdrawal" || d.WithdrawalID != btc || d.DepositID != 0 || d.EventID != btc0 || d.Status != 0 ||
		d.State != "delivered" || len(d.Log) != 2 || d.Log[0].StatusCode == nil || *d.Log[0].StatusCode != 500 {
		t.Errorf("delivery %+v", d)
	}
	f.exec(`UPDATE merchant_webhooks SET url = $2 WHERE merchant_id = $1 AND kind = 'withdrawal'`, m, rcv.URL+"/moved")
	if _, err := Redeliver(context.Background(), db, m, ds[0].ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the redelivery", func() bool {
		for _, h := range rcv.hits() {
			if h.Path == "/moved" && h.Header.Get(HeaderEventID) == strconv.FormatInt(btc1, 10) {
				return true
			}
		}
		return false
	})
	if _, err := Redeliver(context.Background(), db, silent, ds[0].ID); err == nil {
		t.Error("another merchant redelivered a withdrawal webhook")
	}
}

func jsonText(v any) string {
	switch x := v.(type) {
	case json.Number:
		return x.String()
	case string:
		return x
	case nil:
		return "<missing>"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

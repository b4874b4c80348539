package merchant

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/internal/testledger"
)

// TestOperatorView: the operator's list of merchants, one merchant's
// details and the keys of all, against a real ledger: counts, states,
// confirmations with their defaults, balances from merchant_balance, and no
// secret anywhere (the API key, its hash, the webhook secret).
func TestOperatorView(t *testing.T) {
	ctx := context.Background()
	db := testledger.Fresh(t)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := db.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	if ms, err := List(ctx, db); err != nil || len(ms) != 0 {
		t.Fatalf("an empty ledger lists %+v, %v", ms, err)
	}
	a, err := Create(ctx, db, Spec{Name: "shop", Confirmations: map[string]int{"BTC": 3},
		Webhooks: map[string]Endpoint{"confirmed": {"POST", "https://shop.example/paid"}, "failed": {"GET", "https://shop.example/failed"}},
		Key:      KeySpec{Name: "main", Scopes: []string{ScopeRead}, Networks: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Create(ctx, db, Spec{Name: "other", SecretKey: testKey(t, 7)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	second, err := CreateKey(ctx, db, a.ID, KeySpec{Name: "spare", RateLimit: 5})
	if err != nil {
		t.Fatal(err)
	}
	third, err := CreateKey(ctx, db, a.ID, KeySpec{Name: "old"})
	if err != nil {
		t.Fatal(err)
	}
	if err := RevokeKey(ctx, db, a.ID, second.Prefix); err != nil {
		t.Fatal(err)
	}
	exec(`UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE id = $1`, third.ID)

	// a's ledger: a failed and a pending delivery, 1.5 BTC swept to the hot wallet, 0.25 BTC withdrawn with 0.0001 fee
	exec(`INSERT INTO wallets (merchant_id, currency, ext_id, chain, address, derivation_index) VALUES ($1, 'BTC', 'x', 'btc', 'addr-a', 0)`, a.ID)
	exec(`INSERT INTO deposits (wallet_id, chain, currency, txid, position, amount, from_address, block_hash, block_height, confirmations)
		SELECT id, 'btc', 'BTC', 'tx1', 'vout:0', 150000000, 'payer', 'h', 1, 1 FROM wallets WHERE address = 'addr-a'`)
	for i, state := range []string{"failed", "pending", "delivered"} {
		exec(`WITH e AS (INSERT INTO deposit_events (deposit_id, kind, status, confirmations, generation)
				SELECT id, 'confirmations', 0, $3::int, 0 FROM deposits WHERE txid = 'tx1' RETURNING id, deposit_id)
			INSERT INTO webhook_deliveries (event_id, deposit_id, merchant_id, flavour, method, url, state)
			SELECT id, deposit_id, $1, 'iqpay', 'POST', 'https://shop.example/paid', $2 FROM e`, a.ID, state, i+1)
	}
	exec(`INSERT INTO sweeps (chain, currency, merchant_id, kind, state, destination, amount) VALUES ('btc', 'BTC', $1, 'hot', 'confirmed', 'hot', 150000000)`, a.ID)
	var units string
	if err := db.QueryRow(ctx, "SELECT merchant_balance($1, 'BTC')::text", a.ID).Scan(&units); err != nil || units != "150000000" {
		t.Fatalf("merchant_balance: %s, %v", units, err)
	}

	ms, err := List(ctx, db)
	if err != nil || len(ms) != 2 {
		t.Fatalf("list: %+v, %v", ms, err)
	}
	if m := ms[0]; m.ID != a.ID || m.Name != "shop" || m.Keys != 3 || m.Active != 1 || m.Endpoints != 2 || m.Pending != 1 || m.Failed != 1 {
		t.Fatalf("merchant a listed as %+v", m)
	}
	if m := ms[1]; m.ID != b.ID || m.Keys != 1 || m.Active != 1 || m.Endpoints != 0 || m.Pending != 0 || m.Failed != 0 {
		t.Fatalf("merchant b listed as %+v", m)
	}

	d, err := Show(ctx, db, a.ID, builtins("BTC", "LTC", "ETH", "USDT"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "shop" || d.Webhooks["failed"] != (Endpoint{"GET", "https://shop.example/failed"}) || len(d.Webhooks) != 2 ||
		d.SecretEncrypted || d.SecretRotated != nil || d.PreviousUntil != nil {
		t.Fatalf("detail %+v", d)
	}
	if len(d.Confirmations) != 4 || d.Confirmations[0] != (Confirmation{"BTC", 3, false}) || d.Confirmations[1] != (Confirmation{"LTC", 6, true}) {
		t.Fatalf("confirmations %+v", d.Confirmations)
	}
	if len(d.Settlements) != 4 || d.Settlements[0].Currency != "BTC" || d.Settlements[0].Address != "" {
		t.Fatalf("settlements %+v", d.Settlements)
	}
	if len(d.Balances) != 4 || d.Balances[0].Currency != "BTC" || d.Balances[0].Units.String() != "150000000" || d.Balances[0].Decimal() != "1.5" ||
		d.Balances[3].Currency != "USDT" || d.Balances[3].Units.Sign() != 0 {
		t.Fatalf("balances %+v", d.Balances)
	}
	if len(d.Keys) != 3 || d.Keys[0].Name != "main" || d.Keys[0].State != "active" || d.Keys[0].Networks[0].String() != "203.0.113.0/24" ||
		strings.Join(d.Keys[0].Scopes, ",") != ScopeRead || d.Keys[1].State != "revoked" || d.Keys[1].RateLimit != 5 ||
		d.Keys[1].RevokedAt == nil || d.Keys[2].State != "expired" || d.Keys[0].Prefix != strings.Split(a.APIKey, "_")[1] {
		t.Fatalf("keys %+v", d.Keys)
	}

	db2, err := Show(ctx, db, b.ID, builtins("BTC", "LTC", "ETH", "USDT"))
	if err != nil || !db2.SecretEncrypted || len(db2.Keys) != 1 || db2.Balances[0].Units.Sign() != 0 {
		t.Fatalf("merchant b: %+v, %v", db2, err)
	}
	if _, err := Show(ctx, db, 999, nil); err == nil || err.Error() != "no merchant 999" {
		t.Fatalf("show of an unknown merchant: %v", err)
	}

	all, err := Keys(ctx, db, 0)
	if err != nil || len(all) != 4 || all[0].MerchantID != a.ID || all[3].MerchantID != b.ID {
		t.Fatalf("every key: %+v, %v", all, err)
	}
	if _, err := Keys(ctx, db, 999); err == nil || err.Error() != "no merchant 999" {
		t.Fatalf("keys of an unknown merchant: %v", err)
	}

	// no secret, in any form, in what the operator is shown
	var hashes []string
	rows, err := db.Query(ctx, "SELECT encode(hash, 'hex') FROM api_keys")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h)
	}
	rows.Close()
	var storedB string
	if err := db.QueryRow(ctx, "SELECT webhook_secret FROM merchants WHERE id = $1", b.ID).Scan(&storedB); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal([]any{ms, d, db2, all})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append(hashes, a.APIKey, a.WebhookSecret, b.APIKey, b.WebhookSecret, second.APIKey, third.APIKey, storedB,
		hex.EncodeToString([]byte(a.WebhookSecret))) {
		if strings.Contains(string(out), s) {
			t.Fatalf("the operator's view shows a secret %q:\n%s", s, out)
		}
	}
	for _, want := range []string{`"prefix":"` + second.Prefix + `"`, `"units":"150000000"`, `"amount":"1.5"`, `"webhook_secret_encrypted":true`} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("the view lacks %s:\n%s", want, out)
		}
	}
}

func builtins(codes ...string) []chain.Currency {
	var out []chain.Currency
	for _, c := range codes {
		cur, _ := chain.Builtin(c)
		out = append(out, cur)
	}
	return out
}

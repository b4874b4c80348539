package api

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicepay/sluice/amount"
	"github.com/sluicepay/sluice/merchant"
)

// oldDeposits is the query the API ran itself before the ledger owned the
// deposit list (payments.Ledger.ListDeposits): the reference the answers
// must equal byte for byte, times in Postgres' rounded epoch seconds.
func oldDeposits(t *testing.T, l *liveAPI, after int64, limit int, currency, extID, address string, status int, walletID int64) []depositJSON {
	t.Helper()
	rows, err := l.pool.Query(context.Background(), `SELECT d.id, w.address, w.ext_id, d.currency, d.amount::text, d.txid, d.position, d.from_address,
			d.confirmations, d.status, d.block_height, extract(epoch FROM d.created_at)::bigint, extract(epoch FROM d.updated_at)::bigint
		FROM deposits d JOIN wallets w ON w.id = d.wallet_id
		WHERE w.merchant_id = $1 AND d.id > $2 AND ($3 = '' OR d.currency = $3) AND ($4 = '' OR w.ext_id = $4)
			AND ($5 = '' OR lower(w.address) = lower($5)) AND ($6 < 0 OR d.status = $6) AND ($7 = 0 OR w.id = $7)
		ORDER BY d.id LIMIT $8`, l.id, after, currency, extID, address, status, walletID, limit)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := []depositJSON{}
	for rows.Next() {
		var d depositJSON
		if err := rows.Scan(&d.ID, &d.Address, &d.ExtID, &d.Currency, &d.AmountUnits, &d.TxID, &d.Position, &d.From,
			&d.Confirmations, &d.Status, &d.BlockHeight, &d.Created, &d.Updated); err != nil {
			t.Fatal(err)
		}
		if d.Amount, err = amount.FormatString(d.AmountUnits, 8); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDepositsAnswersUnchanged: GET /deposits (filters, pages) and GET
// /wallet/:address answer byte for byte what the API's own SQL answered
// before the ledger took the reads over, times on half seconds included.
func TestDepositsAnswersUnchanged(t *testing.T) {
	l := newLiveAPI(t, merchant.IPLimiter{}, Timeouts{})
	ctx := context.Background()
	client := from("127.0.0.1")
	var addrs []string
	for _, ext := range []string{"alice", "bob"} {
		a := l.do(t, client, "POST", "/wallet/create/LTC", l.key, `{"extId": "`+ext+`"}`)
		if a.code != 200 {
			t.Fatalf("create wallet: %d %s", a.code, a.raw)
		}
		addrs = append(addrs, a.body["data"].(map[string]any)["publicKey"].(string))
	}
	recv := l.do(t, client, "GET", "/api/receive?"+url.Values{"method": {"ltc"}, "address": {l.dest}, "callback_req": {"0"}}.Encode(), l.key, "")
	if recv.code != 200 {
		t.Fatalf("receive: %d %s", recv.code, recv.raw)
	}
	addrs = append(addrs, recv.body["input_address"].(string))
	// created and updated on, just under and just over half seconds: Postgres rounds them
	times := []string{"2024-05-01 10:00:00.5+00", "2024-05-01 10:00:01.499999+00", "2024-05-01 10:00:02.500001+00",
		"2024-05-01 10:00:03+00", "2024-05-01 10:00:04.999999+00", "2024-05-01 10:00:05.000001+00"}
	for i, tm := range times {
		var height any = int64(100 + i)
		if i == 2 {
			height = nil // not in a block (yet, or orphaned)
		}
		if _, err := l.pool.Exec(ctx, `INSERT INTO deposits (wallet_id, chain, currency, txid, position, amount, from_address, block_height,
				confirmations, status, created_at, updated_at)
			SELECT id, 'ltc', 'LTC', $2, 'vout:1', $3::numeric, 'rltc1qpayer"<&>', $4, $5, $6, $7::timestamptz, $7::timestamptz + interval '0.5 second'
			FROM wallets WHERE address = $1`, addrs[i%3], "tx"+strconv.Itoa(i), strconv.Itoa(1+i*123456789), height, i, i%3, tm); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.pool.Exec(ctx, `UPDATE receive_addresses SET expired_at = '2024-05-02 00:00:00.5+00'`); err != nil {
		t.Fatal(err)
	}

	data := func(a answer) string {
		t.Helper()
		var body struct {
			Data json.RawMessage `json:"data"`
		}
		if a.code != 200 {
			t.Fatalf("%d %s", a.code, a.raw)
		}
		if err := json.Unmarshal([]byte(a.raw), &body); err != nil {
			t.Fatal(err)
		}
		return string(body.Data)
	}
	want := func(ds []depositJSON) string {
		b, err := json.Marshal(ds)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, c := range []struct {
		query                    string
		after                    int64
		limit                    int
		currency, extID, address string
		status                   int
	}{
		{query: "", limit: 100, status: -1},
		{query: "?currency=ltc", limit: 100, currency: "LTC", status: -1},
		{query: "?extId=alice", limit: 100, extID: "alice", status: -1},
		{query: "?address=" + strings.ToUpper(addrs[1]), limit: 100, address: addrs[1], status: -1},
		{query: "?status=0", limit: 100, status: 0},
		{query: "?status=2&limit=1", limit: 1, status: 2},
	} {
		a := l.do(t, client, "GET", "/deposits"+c.query, l.key, "")
		if got, exp := data(a), want(oldDeposits(t, l, c.after, c.limit, c.currency, c.extID, c.address, c.status, 0)); got != exp {
			t.Errorf("GET /deposits%s:\n%s\nwant\n%s", c.query, got, exp)
		}
	}
	// pages: next_cursor is the last id shown, "" on the last page
	all := oldDeposits(t, l, 0, 100, "", "", "", -1, 0)
	if len(all) != len(times) {
		t.Fatalf("%d deposits", len(all))
	}
	cursor, pages := "", 0
	for {
		a := l.do(t, client, "GET", "/deposits?limit=4&cursor="+cursor, l.key, "")
		after, _ := strconv.ParseInt(cursor, 10, 64)
		exp := oldDeposits(t, l, after, 4, "", "", "", -1, 0)
		if got := data(a); got != want(exp) {
			t.Errorf("page %d:\n%s\nwant\n%s", pages, got, want(exp))
		}
		pages++
		next, _ := a.body["next_cursor"].(string)
		if next == "" {
			break
		}
		if next != strconv.FormatInt(exp[3].ID, 10) || pages > 2 {
			t.Fatalf("next_cursor %q after %+v", next, exp)
		}
		cursor = next
	}
	if pages != 2 {
		t.Errorf("%d pages of 4 for 6 deposits", pages)
	}

	// the wallet, with and without a receive forwarding
	for _, addr := range addrs {
		var w struct {
			ID        int64  `json:"-"`
			Address   string `json:"publicKey"`
			Currency  string `json:"currency"`
			ExtID     string `json:"extId"`
			WatchOnly bool   `json:"watchOnly"`
			Created   int64  `json:"timeCreated"`
			Receive   *struct {
				Destination string `json:"destination"`
				Expired     bool   `json:"expired"`
				TimeExpired int64  `json:"timeExpired"`
			} `json:"receive,omitempty"`
		}
		var dest *string
		var expired *int64
		if err := l.pool.QueryRow(ctx, `SELECT w.id, w.address, w.currency, w.ext_id, w.watch_only, extract(epoch FROM w.created_at)::bigint,
				ra.destination, extract(epoch FROM ra.expired_at)::bigint
			FROM wallets w LEFT JOIN receive_addresses ra ON ra.wallet_id = w.id
			WHERE w.merchant_id = $1 AND lower(w.address) = lower($2)`, l.id, addr).
			Scan(&w.ID, &w.Address, &w.Currency, &w.ExtID, &w.WatchOnly, &w.Created, &dest, &expired); err != nil {
			t.Fatal(err)
		}
		if dest != nil {
			w.Receive = &struct {
				Destination string `json:"destination"`
				Expired     bool   `json:"expired"`
				TimeExpired int64  `json:"timeExpired"`
			}{Destination: *dest}
			if expired != nil {
				w.Receive.Expired, w.Receive.TimeExpired = true, *expired
			}
		}
		exp, err := json.Marshal(map[string]any{"wallet": w, "deposits": oldDeposits(t, l, 0, DepositPage, "", "", "", -1, w.ID)})
		if err != nil {
			t.Fatal(err)
		}
		if got := data(l.do(t, client, "GET", "/wallet/"+strings.ToUpper(addr), l.key, "")); got != string(exp) {
			t.Errorf("GET /wallet/%s:\n%s\nwant\n%s", addr, got, exp)
		}
	}
	if a := l.do(t, client, "GET", "/wallet/nowhere", l.key, ""); a.code != 404 || a.msg() != `no wallet "nowhere" of this merchant` {
		t.Errorf("no wallet: %d %s", a.code, a.raw)
	}
}

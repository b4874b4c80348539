package rates

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicepay/sluice/internal/testledger"
	"github.com/sluicepay/sluice/payments/webhook"
)

// ledger migrates a fresh database on the test stack's Postgres.
func ledger(t *testing.T) *pgxpool.Pool { return testledger.Fresh(t) }

func sqlID(t *testing.T, db *pgxpool.Pool, sql string, args ...any) int64 {
	t.Helper()
	var id int64
	if err := db.QueryRow(context.Background(), sql, args...).Scan(&id); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return id
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// deposit writes a merchant (converting to fiat), a wallet and a deposit of
// units of currency.
func deposit(t *testing.T, db *pgxpool.Pool, fiat, currency, units string) (merchant, id int64) {
	t.Helper()
	chain := map[string]string{"BTC": "btc", "LTC": "ltc", "ETH": "eth", "USDT": "eth", "USDC": "eth"}[currency]
	merchant = sqlID(t, db, `INSERT INTO merchants (name, key_account, convert_currency, webhook_secret)
		VALUES ('shop', (SELECT coalesce(max(key_account) + 1, 0) FROM merchants), $1, 'secret') RETURNING id`, fiat)
	addr := "addr" + randHex(8)
	wallet := sqlID(t, db, `INSERT INTO wallets (merchant_id, currency, ext_id, chain, address, derivation_index)
		VALUES ($1, $2, 'alice', $3, $4, 0) RETURNING id`, merchant, currency, chain, addr)
	id = sqlID(t, db, `INSERT INTO deposits (wallet_id, chain, currency, txid, position, amount, from_address, block_hash, block_height, confirmations)
		VALUES ($1, $2, $3, $4, 'vout:0', $5::numeric, 'payer', 'h', 100, 1) RETURNING id`, wallet, chain, currency, randHex(32), units)
	return merchant, id
}

type storedRate struct {
	Fiat, Source string
	Rate         *string
	At           *time.Time
}

func readRate(t *testing.T, db *pgxpool.Pool, id int64) storedRate {
	t.Helper()
	var r storedRate
	if err := db.QueryRow(context.Background(), `SELECT fiat, fiat_rate::text, rate_source, rate_at FROM deposits WHERE id = $1`, id).
		Scan(&r.Fiat, &r.Rate, &r.Source, &r.At); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestValueDeposit: the first valuation fixes the rate in the deposit's row;
// later ones, at other prices, reuse it.
func TestValueDeposit(t *testing.T) {
	db := ledger(t)
	rdb, prefix := cache(t)
	ctx := context.Background()
	a := newAPI(t, fixed(200, coinGeckoBody))
	s := newService(t, rdb, prefix, nil, source(t, CoinGecko, a.URL))
	_, dep := deposit(t, db, "USD", "BTC", "12345678")

	v, err := s.ValueDeposit(ctx, db, dep, "USD")
	if err != nil {
		t.Fatal(err)
	}
	if !v.Stored || v.Rate.Price != "43250.12" || v.Rate.Source != "coingecko" || v.Converted != "5339.52" || v.Fiat != "USD" ||
		v.Currency != "BTC" || v.Units.String() != "12345678" {
		t.Fatalf("%+v", v)
	}
	row := readRate(t, db, dep)
	if row.Fiat != "USD" || row.Rate == nil || *row.Rate != "43250.120000000000000000" || row.Source != "coingecko" ||
		row.At == nil || row.At.Sub(v.Rate.At).Abs() > time.Millisecond {
		t.Fatalf("row %+v (rate %v)", row, row.Rate)
	}

	// the price moves and the cache is gone: the deposit keeps its rate
	a.set(fixed(200, `{"bitcoin":{"usd":50000.5,"eur":46000}}`))
	rdb.Del(ctx, s.key(btcUSD))
	again, err := s.ValueDeposit(ctx, db, dep, "USD")
	if err != nil || again.Rate.Price != "43250.12" || again.Converted != "5339.52" || !again.Stored || !again.Rate.At.Equal(row.At.UTC()) {
		t.Fatalf("%+v %v", again, err)
	}
	// Convert of a Service without the ledger (Options.DB) prices at the current rate
	price, conv, err := s.Convert(ctx, dep, "BTC", "USD", big.NewInt(12345678))
	if err != nil || price != "50000.5" || conv != "6172.90" { // 6172.9007...
		t.Fatalf("Convert without the ledger: %s %s %v", price, conv, err)
	}
	// with it, at the deposit's fixed rate
	withDB := newService(t, rdb, prefix, nil, source(t, CoinGecko, a.URL))
	withDB.o.DB = db
	price, conv, err = withDB.Convert(ctx, dep, "BTC", "USD", big.NewInt(12345678))
	if err != nil || price != "43250.12" || conv != "5339.52" {
		t.Fatalf("Convert: %s %s %v", price, conv, err)
	}
	// another deposit now: the new price
	_, dep2 := deposit(t, db, "USD", "BTC", "100000000")
	price, conv, err = withDB.Convert(ctx, dep2, "BTC", "USD", big.NewInt(100000000))
	if err != nil || price != "50000.5" || conv != "50000.50" {
		t.Fatalf("Convert: %s %s %v", price, conv, err)
	}

	// asked in another fiat than the stored one: the current price, not stored
	eur, err := s.ValueDeposit(ctx, db, dep, "EUR")
	if err != nil || eur.Stored || eur.Rate.Price != "46000" || eur.Converted != "5679.01" { // 0.12345678 × 46000 = 5679.01188
		t.Fatalf("%+v %v", eur, err)
	}
	if readRate(t, db, dep).Fiat != "USD" {
		t.Fatal("the stored fiat changed")
	}
	if _, err := s.ValueDeposit(ctx, db, 999999, "USD"); err == nil {
		t.Fatal("a missing deposit valued")
	}
}

// TestValueDepositUSDC: a USDC deposit (6 decimals) is valued exactly at
// USDC's own rate, which its row keeps.
func TestValueDepositUSDC(t *testing.T) {
	db := ledger(t)
	rdb, prefix := cache(t)
	ctx := context.Background()
	s := newService(t, rdb, prefix, nil, source(t, Kraken, newAPI(t, fixed(200, krakenBody)).URL))
	s.o.DB = db
	_, dep := deposit(t, db, "EUR", "USDC", "1234567891")
	price, conv, err := s.Convert(ctx, dep, "USDC", "EUR", big.NewInt(1234567891))
	if err != nil || price != "0.9198" || conv != "1135.56" { // 1234.567891 × 0.9198 = 1135.5555461418
		t.Fatalf("%s %s %v", price, conv, err)
	}
	if row := readRate(t, db, dep); row.Fiat != "EUR" || row.Rate == nil || *row.Rate != "0.919800000000000000" || row.Source != "kraken" {
		t.Fatalf("row %+v", row)
	}
}

// TestValueDepositNoRate: without a fresh rate nothing is written.
func TestValueDepositNoRate(t *testing.T) {
	db := ledger(t)
	rdb, prefix := cache(t)
	ctx := context.Background()
	s := newService(t, rdb, prefix, nil, source(t, Kraken, down(t).URL))
	_, dep := deposit(t, db, "EUR", "LTC", "150000000")
	if err := s.store(ctx, Pair{"LTC", "EUR"}, Rate{"66", "kraken", time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ValueDeposit(ctx, db, dep, "EUR"); !errors.Is(err, ErrNoRate) {
		t.Fatalf("%v", err)
	}
	if row := readRate(t, db, dep); row.Rate != nil || row.Fiat != "" || row.Source != "" || row.At != nil {
		t.Fatalf("written: %+v", row)
	}
}

// TestValueDepositRace: processes valuing one deposit at once, each with
// its own cache and source at its own price, all get the one stored rate.
func TestValueDepositRace(t *testing.T) {
	db := ledger(t)
	rdb, _ := cache(t)
	ctx := context.Background()
	_, dep := deposit(t, db, "USD", "ETH", "1500000000000000000")
	const n = 6
	prices := make(chan string, n)
	var wg sync.WaitGroup
	for i := range n {
		a := newAPI(t, fixed(200, `{"ethereum":{"usd":`+big.NewInt(int64(2300+i)).String()+`}}`))
		_, prefix := cache(t)
		s := newService(t, rdb, prefix, nil, source(t, CoinGecko, a.URL))
		wg.Go(func() {
			v, err := s.ValueDeposit(ctx, db, dep, "USD")
			if err != nil || !v.Stored {
				t.Error(v, err)
			}
			prices <- v.Rate.Price
		})
	}
	wg.Wait()
	close(prices)
	row := readRate(t, db, dep)
	for p := range prices {
		if p+".000000000000000000" != *row.Rate {
			t.Fatalf("one got %s, the row has %s", p, *row.Rate)
		}
	}
}

func TestDepositMeetsMinimum(t *testing.T) {
	db := ledger(t)
	rdb, prefix := cache(t)
	ctx := context.Background()
	s := newService(t, rdb, prefix, nil, source(t, CoinGecko, newAPI(t, fixed(200, coinGeckoBody)).URL))
	_, small := deposit(t, db, "", "LTC", "10000")   // 0.0001 LTC = 0.007235 USD: a donation
	_, big := deposit(t, db, "", "LTC", "2000000")   // 0.02 LTC = 1.447 USD
	_, edge := deposit(t, db, "", "USDT", "1000200") // 0.99999996 USD
	for id, want := range map[int64]bool{small: false, big: true, edge: false} {
		ok, v, err := s.DepositMeetsMinimum(ctx, db, id, MinimumUSD)
		if err != nil || ok != want || !v.Stored || v.Fiat != "USD" {
			t.Errorf("deposit %d: %v %+v %v", id, ok, v, err)
		}
		if row := readRate(t, db, id); row.Fiat != "USD" || row.Rate == nil {
			t.Errorf("deposit %d: rate not stored: %+v", id, row)
		}
	}
}

// TestWebhookConversion: webhooks of a merchant converting to USD carry
// convert_currency, convert_price and converted_amount, the same in every
// webhook of a deposit although the price moved between them.
func TestWebhookConversion(t *testing.T) {
	db := ledger(t)
	rdb, prefix := cache(t)
	ctx := context.Background()
	a := newAPI(t, fixed(200, coinGeckoBody))
	s, err := New(Options{Redis: rdb, DB: db, KeyPrefix: prefix, Sources: []Source{source(t, CoinGecko, a.URL)}, Assets: testAssets})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var bodies []map[string]any
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p map[string]any
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if err := dec.Decode(&p); err != nil {
			t.Error(err)
		}
		mu.Lock()
		bodies = append(bodies, p)
		mu.Unlock()
	}))
	defer rcv.Close()
	received := func() []map[string]any {
		mu.Lock()
		defer mu.Unlock()
		return append([]map[string]any(nil), bodies...)
	}

	m, dep := deposit(t, db, "USD", "USDT", "25500000")
	for _, kind := range []string{"created", "confirmed"} {
		if _, err := db.Exec(ctx, `INSERT INTO merchant_webhooks (merchant_id, kind, method, url) VALUES ($1, $2, 'POST', $3)`, m, kind, rcv.URL); err != nil {
			t.Fatal(err)
		}
	}
	_, plain := deposit(t, db, "", "BTC", "1124") // a merchant without conversion
	if _, err := db.Exec(ctx, `INSERT INTO merchant_webhooks (merchant_id, kind, method, url)
		SELECT w.merchant_id, 'created', 'POST', $2 FROM deposits d JOIN wallets w ON w.id = d.wallet_id WHERE d.id = $1`, plain, rcv.URL); err != nil {
		t.Fatal(err)
	}
	event := func(dep int64, kind string, status int) {
		if _, err := db.Exec(ctx, `INSERT INTO deposit_events (deposit_id, kind, status, confirmations) VALUES ($1, $2, $3, 1)`, dep, kind, status); err != nil {
			t.Fatal(err)
		}
	}
	event(dep, "created", 0)
	event(plain, "created", 0)

	loopback, _ := webhook.ParseAllow([]string{"loopback"})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- webhook.Run(rctx, webhook.Deps{DB: db, Allow: loopback, Convert: s, Poll: 20 * time.Millisecond, Timeout: 2 * time.Second})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitUntil := func(n int) {
		deadline := time.Now().Add(15 * time.Second)
		for len(received()) < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d webhooks, want %d", len(received()), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitUntil(2)
	// the price moves and the cache is gone before the confirmation
	a.set(fixed(200, `{"tether":{"usd":1.0123}}`))
	rdb.Del(ctx, s.key(usdtUSD))
	event(dep, "confirmed", 1)
	waitUntil(3)

	var conv []map[string]any
	for _, b := range received() {
		if b["deposit_id"] == json.Number(big.NewInt(plain).String()) {
			if b["convert_currency"] != "" || b["convert_price"] != json.Number("0") || b["converted_amount"] != json.Number("0") {
				t.Errorf("no conversion asked, got %v", b)
			}
			continue
		}
		conv = append(conv, b)
	}
	if len(conv) != 2 {
		t.Fatalf("%d converted webhooks", len(conv))
	}
	for _, b := range conv {
		// 25.5 USDT × 0.9998 = 25.4949 → 25.49
		if b["convert_currency"] != "USD" || b["convert_price"] != json.Number("0.9998") || b["converted_amount"] != json.Number("25.49") ||
			b["amount"] != json.Number("25.5") {
			t.Errorf("%s webhook: %v", b["kind"], b)
		}
	}
	if row := readRate(t, db, dep); row.Fiat != "USD" || *row.Rate != "0.999800000000000000" || row.Source != "coingecko" {
		t.Fatalf("row %+v", row)
	}
}

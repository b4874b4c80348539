package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicepay/sluice/internal/testledger"
)

// newDB migrates a fresh database on the test stack's Postgres.
func newDB(t *testing.T) *pgxpool.Pool { return testledger.Fresh(t) }

// fixture writes ledger rows directly: the situations the payments
// workers would create, kept small.
type fixture struct {
	t  *testing.T
	db *pgxpool.Pool
}

func (f fixture) exec(sql string, args ...any) {
	f.t.Helper()
	if _, err := f.db.Exec(context.Background(), sql, args...); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
}

func (f fixture) id(sql string, args ...any) int64 {
	f.t.Helper()
	var id int64
	if err := f.db.QueryRow(context.Background(), sql, args...).Scan(&id); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
	return id
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// merchant creates a merchant with endpoints: kind -> {method, url}.
func (f fixture) merchant(secret string, hooks map[string][2]string) int64 {
	f.t.Helper()
	id := f.id(`INSERT INTO merchants (name, key_account, webhook_secret)
		VALUES ('shop', (SELECT coalesce(max(key_account) + 1, 0) FROM merchants), $1) RETURNING id`, secret)
	for kind, h := range hooks {
		f.exec(`INSERT INTO merchant_webhooks (merchant_id, kind, method, url) VALUES ($1, $2, $3, $4)`, id, kind, h[0], h[1])
	}
	return id
}

// allKinds points every kind at one method and URL.
func allKinds(method, url string) map[string][2]string {
	return map[string][2]string{"created": {method, url}, "confirmations": {method, url}, "confirmed": {method, url}, "failed": {method, url}}
}

var chainOf = map[string]string{"BTC": "btc", "LTC": "ltc", "ETH": "eth", "USDT": "eth"}

func (f fixture) wallet(merchant int64, currency string) (id int64, address string) {
	f.t.Helper()
	address = "addr" + randHex(8)
	id = f.id(`INSERT INTO wallets (merchant_id, currency, ext_id, chain, address, derivation_index)
		VALUES ($1, $2, $3, $4, $5, (SELECT count(*) FROM wallets)) RETURNING id`,
		merchant, currency, "ext-"+address, chainOf[currency], address)
	return id, address
}

// deposit records a payment in the block at height (nil: out of the chain).
func (f fixture) deposit(wallet int64, currency, units string, height *int64) int64 {
	f.t.Helper()
	id := f.id(`INSERT INTO deposits (wallet_id, chain, currency, txid, position, amount, from_address, block_hash, block_height, confirmations)
		VALUES ($1, $2, $3, $4, 'vout:0', $5::numeric, 'payer', 'blockhash', $6, 1) RETURNING id`,
		wallet, chainOf[currency], currency, randHex(32), units, height)
	// a receive address's payment as the sweeper leaves it once forwarded:
	// litepay calls back from then on (TestLitepayWaitsForTheForward undoes it)
	f.exec(`WITH s AS (INSERT INTO sweeps (chain, currency, merchant_id, kind, state, destination, amount)
			SELECT $2, $3, w.merchant_id, 'forward', 'broadcast', ra.destination, $4::numeric
			FROM wallets w JOIN receive_addresses ra ON ra.wallet_id = w.id WHERE w.id = $1 RETURNING id)
		UPDATE deposits SET sweep_id = s.id FROM s WHERE deposits.id = $5`, wallet, chainOf[currency], currency, units, id)
	return id
}

func (f fixture) event(deposit int64, kind string, status, confs, generation int) int64 {
	f.t.Helper()
	return f.id(`INSERT INTO deposit_events (deposit_id, kind, status, confirmations, generation)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, deposit, kind, status, confs, generation)
}

func (f fixture) tip(chain string, height int64) {
	f.t.Helper()
	f.exec(`INSERT INTO chain_checkpoints (chain, height, hash) VALUES ($1, $2, 'h')
		ON CONFLICT (chain) DO UPDATE SET height = EXCLUDED.height, updated_at = now()`, chain, height)
}

func (f fixture) count(sql string, args ...any) int {
	f.t.Helper()
	return int(f.id(sql, args...))
}

// delivery reads one delivery's state.
func (f fixture) delivery(id int64) Delivery {
	f.t.Helper()
	d, err := scanDelivery(f.db.QueryRow(context.Background(), `SELECT `+deliveryColumns+` FROM `+deliveryFrom+` WHERE wd.id = $1`, id))
	if err != nil {
		f.t.Fatal(err)
	}
	ds := []Delivery{d}
	if err := attachLogs(context.Background(), f.db, ds); err != nil {
		f.t.Fatal(err)
	}
	return ds[0]
}

func (f fixture) deliveryOf(event int64, flavour string) int64 {
	f.t.Helper()
	return f.id(`SELECT id FROM webhook_deliveries WHERE event_id = $1 AND flavour = $2`, event, flavour)
}

// hit is one request a receiver got.
type hit struct {
	Method, Path, RawQuery string
	Body                   []byte
	Header                 http.Header
}

// receiver is a webhook endpoint on loopback that records what it gets and
// answers as respond says (status, body, and how long to stall first).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []hit
	respond func(h hit, n int) (int, string, time.Duration)
}

func newReceiver(t *testing.T, respond func(h hit, n int) (int, string, time.Duration)) *receiver {
	r := &receiver{respond: respond}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	h := hit{Method: req.Method, Path: req.URL.Path, RawQuery: req.URL.RawQuery, Body: body, Header: req.Header.Clone()}
	r.mu.Lock()
	r.got = append(r.got, h)
	n := len(r.got) - 1
	respond := r.respond
	r.mu.Unlock()
	status, text, stall := 200, "", time.Duration(0)
	if respond != nil {
		status, text, stall = respond(h, n)
	}
	if stall > 0 {
		select {
		case <-time.After(stall):
		case <-req.Context().Done():
			return
		}
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, text)
}

func (r *receiver) hits() []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hit(nil), r.got...)
}

func (r *receiver) setRespond(f func(h hit, n int) (int, string, time.Duration)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.respond = f
}

func answer(status int, body string) func(hit, int) (int, string, time.Duration) {
	return func(hit, int) (int, string, time.Duration) { return status, body, 0 }
}

// counted sums sluice_webhook_deliveries_total of flavour and result over
// the merchants.
func counted(m *Metrics, flavour, result string) float64 {
	m.mu.Lock()
	ids := slices.Collect(maps.Keys(m.merchants))
	m.mu.Unlock()
	var n float64
	for _, id := range ids {
		n += testutil.ToFloat64(m.Deliveries.WithLabelValues(flavour, strconv.FormatInt(id, 10), result))
	}
	return n
}

// testDeps are quick settings: loopback allowed (the receivers live there),
// short polls and backoff.
func testDeps(db *pgxpool.Pool) Deps {
	loopback, _ := ParseAllow([]string{"loopback"})
	return Deps{DB: db, Metrics: NewMetrics(prometheus.NewRegistry()), Allow: loopback, Workers: 4,
		Timeout: 2 * time.Second, MaxAge: time.Hour, Poll: 20 * time.Millisecond, Lease: 5 * time.Second,
		BackoffBase: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond}
}

// start runs Run until the test ends.
func start(t *testing.T, d Deps) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, d) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// step claims and sends one delivery, as a worker would.
func step(t *testing.T, r *runner) *job {
	t.Helper()
	j, err := r.claim(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if j != nil {
		r.deliver(context.Background(), j)
	}
	return j
}

func mustRunner(t *testing.T, d Deps) *runner {
	t.Helper()
	r, err := newRunner(d)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustFanOut(t *testing.T, db *pgxpool.Pool) int {
	t.Helper()
	n, err := fanOut(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func ptr[T any](v T) *T { return &v }

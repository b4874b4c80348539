package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sluicepay/sluice/watch"
)

// repairWithin is how soon a payment to a wallet missing from the watch set
// must become a deposit: far under the workers' 5-minute reconcile, which
// these tests leave to run at its interval, so only the guard can find it.
const repairWithin = 30 * time.Second

// TestWatchSetFlushedWhileRunning: Redis is flushed under a running indexer
// and payments worker; a payment to a wallet made before the flush becomes a
// deposit within seconds: the indexer's guard sees the sentinel gone,
// rebuilds the set from the ledger and reconciles the blocks since.
func TestWatchSetFlushedWhileRunning(t *testing.T) {
	de, l, m := newLedgerEnv(t, "ltc", map[string]string{"LTC": "regtest"})
	ctx := context.Background()
	de.n = nodeFor(t, "ltc")
	var err error
	if de.wallet, _, err = l.WalletFor(ctx, m.ID, "LTC", "old-customer"); err != nil {
		t.Fatal(err)
	}
	metrics := deadPort(t)
	p := de.start(t, nil, "--chain", "ltc", "--metrics-listen", metrics)
	top := de.n.height(t)
	waitFor(t, "catch-up", 120*time.Second, func() bool { return de.checkpoint(t, "ltc") >= top })
	de.startSub(t, nil, "consume", "--chain", "ltc")
	rebuilds := `sluice_watch_rebuilds_total{chain="ltc",reason="missing"}`
	waitFor(t, "the guard's metrics", 10*time.Second, func() bool { return metric(t, metrics, `sluice_watch_intact{chain="ltc"}`) == 1 })
	if before := metric(t, metrics, rebuilds); before != 0 {
		t.Fatalf("a start with an intact set counted %v rebuilds", before)
	}
	// the guard compares the set's size with the ledger's wallets (SluiceWatchSetIncomplete)
	waitFor(t, "the size comparison", 10*time.Second, func() bool {
		return metric(t, metrics, `sluice_watch_ledger_addresses{chain="ltc"}`) == 1
	})
	if v := metric(t, metrics, `sluice_watch_addresses{chain="ltc"}`); v != 1 {
		t.Fatalf("sluice_watch_addresses %v beside 1 ledger wallet", v)
	}

	if err := de.redis.FlushDB(ctx).Err(); err != nil { // FLUSHALL of this test's database
		t.Fatal(err)
	}
	start := time.Now()
	txid := de.pay(t, 0.25)
	de.n.mine(t, 1)
	waitFor(t, "the deposit after the flush", repairWithin, func() bool { _, ok := de.deposit(txid); return ok })
	t.Logf("deposit found %s after the flush", time.Since(start).Round(time.Millisecond))
	if d, _ := de.deposit(txid); d.amount != "25000000" {
		t.Fatalf("deposit %+v", d)
	}
	waitFor(t, "the rebuild counted", 10*time.Second, func() bool { return metric(t, metrics, rebuilds) == 1 })
	if log := p.stderr.String(); !strings.Contains(log, "watch set checked against the ledger while running") || !strings.Contains(log, "reason=missing") {
		t.Fatalf("no log line of the repair:\n%s", log)
	}
	// the set is whole again: the old wallet is watched
	ws, err := watch.Open(ctx, de.redis, "ltc", watch.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ws.Match(ctx, []string{de.wallet.Address}); err != nil || len(got) != 1 {
		t.Fatalf("the old wallet is not watched after the repair: %v %v", got, err)
	}
}

// TestWalletCreatedWhileRedisDown: sluice serve (API, indexer, workers) on a
// Redis of the test's own; Redis stops, a wallet is made through the API
// (200: the ledger has it) and paid; Redis comes back. The wallet joins the
// watch set and the payment becomes a deposit within seconds, and the next
// payment goes through the fast path.
func TestWalletCreatedWhileRedisDown(t *testing.T) {
	dir := t.TempDir()
	base := privateStackBase(t)
	stackArgs := []string{"--dir", dir, "--port-base", strconv.Itoa(base), "--services", "redis"}
	if r := run(t, nil, append([]string{"stack", "up"}, stackArgs...)...); r.code != 0 {
		t.Fatalf("private redis: %s", r.stderr)
	}
	t.Cleanup(func() { run(t, nil, "stack", "down", "--dir", dir) })
	redisURL := envFrom(t, dir, "SLUICE_REDIS_URL")
	a := newAPIEnvWith(t, "http://127.0.0.1:9/hook", nil, "SLUICE_REDIS_URL="+redisURL)
	a.srv = startServeArgs(t, a.env)
	n := nodeFor(t, "ltc")
	a.walletWhenSynced(t, "LTC", "before-outage")
	ctx := context.Background()
	pg := a.pool(t)
	deposit := func(txid string) bool {
		var one int
		return pg.QueryRow(ctx, "SELECT 1 FROM deposits WHERE txid = $1", txid).Scan(&one) == nil
	}

	if r := run(t, nil, "stack", "down", "--dir", dir, "--services", "redis"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	code, body := a.call(t, "POST", "/wallet/create/LTC", a.key, map[string]any{"extId": "during-outage"})
	if code != 200 {
		t.Fatalf("wallet/create while Redis is down: %d %v", code, body)
	}
	addr, _ := body["data"].(map[string]any)["publicKey"].(string)
	if addr == "" {
		t.Fatalf("no address: %v", body)
	}
	txid := devnetPay(t, "LTC", addr, "0.3")
	n.mine(t, 1)
	time.Sleep(3 * time.Second) // the block waits for Redis; the guard sees Redis down
	if deposit(txid) {
		t.Fatal("a deposit while Redis was down: the test proves nothing")
	}
	if r := run(t, nil, append([]string{"stack", "up"}, stackArgs...)...); r.code != 0 {
		t.Fatalf("redis back: %s", r.stderr)
	}
	back := time.Now()
	waitFor(t, "the payment made during the outage", repairWithin, func() bool { return deposit(txid) })
	t.Logf("deposit found %s after Redis came back", time.Since(back).Round(time.Millisecond))

	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ws, err := watch.Open(ctx, rdb, "ltc", watch.Config{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the wallet made during the outage watched", 10*time.Second, func() bool {
		got, err := ws.Match(ctx, []string{addr})
		return err == nil && len(got) == 1
	})
	txid2 := devnetPay(t, "LTC", addr, "0.1")
	n.mine(t, 1)
	waitFor(t, "the next payment", repairWithin, func() bool { return deposit(txid2) })
	if log := a.srv.stderr.String(); !strings.Contains(log, "not yet in the watch set") {
		t.Fatalf("serve did not log the failed watch add:\n%s", log)
	}
}

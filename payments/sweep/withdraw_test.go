package sweep_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/indexer"
	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/internal/testledger"
	"github.com/sluicepay/sluice/payments"
	"github.com/sluicepay/sluice/payments/sweep"
	"github.com/sluicepay/sluice/stores"
)

var (
	btcPolicy  = sweep.Policy{FeeCurrency: "BTC", FeeReserve: big.NewInt(2000), Minimum: big.NewInt(1000)}
	usdtPolicy = sweep.Policy{FeeCurrency: "ETH", FeeReserve: big.NewInt(6_000_000_000_000_000), Minimum: big.NewInt(1_000_000)}
)

// merchantWith makes a merchant whose confirmed hot sweeps brought it
// credits (currency → base units) to the hot wallet.
func merchantWith(t *testing.T, db *pgxpool.Pool, name string, credits map[string]int64) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	if err := db.QueryRow(ctx, `INSERT INTO merchants (name, key_account) VALUES ($1, (SELECT coalesce(max(key_account), -1) + 1 FROM merchants))
		RETURNING id`, name).Scan(&id); err != nil {
		t.Fatal(err)
	}
	for cur, v := range credits {
		credit(t, db, id, cur, v)
	}
	return id
}

func chainOf(cur string) string {
	c, _ := chain.Builtin(cur)
	return c.Chain
}

func credit(t *testing.T, db *pgxpool.Pool, merchant int64, cur string, v int64) int64 {
	t.Helper()
	var id int64
	if err := db.QueryRow(context.Background(), `INSERT INTO sweeps (chain, currency, merchant_id, kind, state, destination, amount, txid)
		VALUES ($1, $2, $3, 'hot', 'confirmed', 'hot', $4, md5(random()::text)) RETURNING id`,
		chainOf(cur), cur, merchant, v).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func balance(t *testing.T, db *pgxpool.Pool, merchant int64, cur string) int64 {
	t.Helper()
	b, err := sweep.Balance(context.Background(), db, merchant, cur)
	if err != nil {
		t.Fatal(err)
	}
	return b.Int64()
}

// TestWithdrawalsNeverOverdraw is break 1 of the attack: a merchant with
// 0.00102198 BTC asks for 20 × 0.00005 BTC at once. Each withdrawal holds
// its amount and the most its fee may be, so only what the balance covers
// is accepted, the balance never goes below zero, and another merchant's
// money is never touched.
func TestWithdrawalsNeverOverdraw(t *testing.T) {
	db := testledger.Fresh(t)
	ctx := context.Background()
	m := merchantWith(t, db, "attacker", map[string]int64{"BTC": 102198})
	other := merchantWith(t, db, "victim", map[string]int64{"BTC": 5_000_000})

	var wg sync.WaitGroup
	var mu sync.Mutex
	made, refused := 0, 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := sweep.CreateWithdrawal(ctx, db, m, "BTC", fmt.Sprintf("w%d", i), "bcrt1qdest", big.NewInt(5000), btcPolicy)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				made++
			case errors.Is(err, sweep.ErrInsufficient):
				refused++
			default:
				t.Errorf("withdrawal %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	// 102198 / (5000 + 2000) = 14, 4198 left
	if made != 14 || refused != 6 {
		t.Fatalf("%d made, %d refused; want 14 and 6", made, refused)
	}
	if b := balance(t, db, m, "BTC"); b != 4198 {
		t.Fatalf("balance %d, want 4198", b)
	}
	if b := balance(t, db, other, "BTC"); b != 5_000_000 {
		t.Fatalf("the other merchant's balance moved: %d", b)
	}

	// The exact balance less the reserve is the most one can ask for.
	if _, _, err := sweep.CreateWithdrawal(ctx, db, m, "BTC", "exact+1", "bcrt1qdest", big.NewInt(2199), btcPolicy); !errors.Is(err, sweep.ErrInsufficient) {
		t.Fatalf("4198 - 2000 + 1: %v, want ErrInsufficient", err)
	}
	if _, _, err := sweep.CreateWithdrawal(ctx, db, m, "BTC", "exact", "bcrt1qdest", big.NewInt(2198), btcPolicy); err != nil {
		t.Fatalf("4198 - 2000: %v", err)
	}
	if b := balance(t, db, m, "BTC"); b != 0 {
		t.Fatalf("balance %d after the exact withdrawal, want 0", b)
	}

	// Confirmed, a withdrawal counts what it paid, not the reserve: the rest
	// comes back to the balance.
	if _, err := db.Exec(ctx, `UPDATE withdrawals SET status = 1, gas = 141 WHERE merchant_id = $1 AND ext_id = 'exact'`, m); err != nil {
		t.Fatal(err)
	}
	if b := balance(t, db, m, "BTC"); b != 2000-141 {
		t.Fatalf("balance %d after confirmation, want %d", b, 2000-141)
	}

	// Under the minimum: refused whatever the balance.
	if _, _, err := sweep.CreateWithdrawal(ctx, db, other, "BTC", "tiny", "bcrt1qdest", big.NewInt(999), btcPolicy); !errors.Is(err, sweep.ErrBelowMinimum) {
		t.Fatalf("999 under a 1000 minimum: %v", err)
	}
}

// TestWithdrawalTriggerRefusesOverdraft proves the schema, not only the Go
// code, keeps a balance from going negative: a withdrawal row inserted by
// anything else is refused.
func TestWithdrawalTriggerRefusesOverdraft(t *testing.T) {
	db := testledger.Fresh(t)
	ctx := context.Background()
	m := merchantWith(t, db, "shop", map[string]int64{"BTC": 10_000, "ETH": 1_000})
	insert := func(cur, feeCur string, amount, reserve int64) error {
		_, err := db.Exec(ctx, `INSERT INTO withdrawals (merchant_id, currency, ext_id, address, amount, fee_currency, fee_reserved)
			VALUES ($1, $2, md5(random()::text), 'x', $3, $4, $5)`, m, cur, amount, feeCur, reserve)
		return err
	}
	if err := insert("BTC", "BTC", 9_000, 1_001); err == nil || !strings.Contains(err.Error(), "withdrawal_covered") && !strings.Contains(err.Error(), "would leave") {
		t.Fatalf("an overdraft by its fee was stored: %v", err)
	}
	if err := insert("BTC", "BTC", 9_000, 1_000); err != nil {
		t.Fatal(err)
	}
	// a token withdrawal's gas is the merchant's own ETH
	if err := insert("USDT", "ETH", 1, 1_001); err == nil {
		t.Fatal("a token withdrawal was stored without its gas in the merchant's ETH balance")
	}
	if _, err := sweep.Pause(ctx, db, "ETH", "test"); err != nil {
		t.Fatal(err)
	}
	if err := insert("ETH", "ETH", 1, 1); err == nil || !strings.Contains(err.Error(), "paused") {
		t.Fatalf("a withdrawal of a paused currency was stored: %v", err)
	}
}

// TestTokenWithdrawalGasIsTheMerchants is break 2: a USDT withdrawal's gas
// comes from the same merchant's ETH balance (refused without it), never
// from the pooled hot wallet's other ETH; dust withdrawals are refused.
func TestTokenWithdrawalGasIsTheMerchants(t *testing.T) {
	db := testledger.Fresh(t)
	ctx := context.Background()
	m := merchantWith(t, db, "attacker", map[string]int64{"USDT": 50_000_000})
	other := merchantWith(t, db, "victim", map[string]int64{"ETH": 1_000_000_000_000_000_000})

	if _, _, err := sweep.CreateWithdrawal(ctx, db, m, "USDT", "dust", "0x00000000000000000000000000000000000000aa", big.NewInt(1), usdtPolicy); !errors.Is(err, sweep.ErrBelowMinimum) {
		t.Fatalf("0.000001 USDT: %v, want ErrBelowMinimum", err)
	}
	_, _, err := sweep.CreateWithdrawal(ctx, db, m, "USDT", "w1", "0x00000000000000000000000000000000000000aa", big.NewInt(5_000_000), usdtPolicy)
	if !errors.Is(err, sweep.ErrInsufficient) || !strings.Contains(err.Error(), "ETH") {
		t.Fatalf("a USDT withdrawal without ETH for its gas: %v", err)
	}
	credit(t, db, m, "ETH", 10_000_000_000_000_000) // 0.01 ETH: one reserve of 0.006 fits
	if _, _, err := sweep.CreateWithdrawal(ctx, db, m, "USDT", "w1", "0x00000000000000000000000000000000000000aa", big.NewInt(5_000_000), usdtPolicy); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sweep.CreateWithdrawal(ctx, db, m, "USDT", "w2", "0x00000000000000000000000000000000000000aa", big.NewInt(5_000_000), usdtPolicy); !errors.Is(err, sweep.ErrInsufficient) {
		t.Fatalf("a second USDT withdrawal with ETH for one: %v", err)
	}
	if b := balance(t, db, m, "ETH"); b != 4_000_000_000_000_000 {
		t.Fatalf("ETH balance %d, want 0.004 ETH after the 0.006 reserve", b)
	}
	if b := balance(t, db, m, "USDT"); b != 45_000_000 {
		t.Fatalf("USDT balance %d", b)
	}
	if b := balance(t, db, other, "ETH"); b != 1_000_000_000_000_000_000 {
		t.Fatalf("the other merchant's ETH moved: %d", b)
	}
}

// TestSolvency: the hot wallet on chain against the merchant balances; a
// shortfall or a negative balance is found.
func TestSolvency(t *testing.T) {
	db := testledger.Fresh(t)
	ctx := context.Background()
	a := merchantWith(t, db, "a", map[string]int64{"LTC": 300_000})
	merchantWith(t, db, "b", map[string]int64{"LTC": 700_000})
	if _, _, err := sweep.CreateWithdrawal(ctx, db, a, "LTC", "w", "ltc1dest", big.NewInt(100_000), sweep.Policy{FeeCurrency: "LTC", FeeReserve: big.NewInt(500)}); err != nil {
		t.Fatal(err)
	}
	// owed: a 199_500, b 700_000
	check := func(held int64) sweep.Solvency {
		t.Helper()
		res, err := sweep.CheckSolvency(ctx, db, map[string]*big.Int{"LTC": big.NewInt(held)})
		if err != nil || len(res) != 1 {
			t.Fatalf("%v %v", res, err)
		}
		return res[0]
	}
	if s := check(899_500); !s.OK() || s.Owed.Int64() != 899_500 {
		t.Fatalf("solvent: %s", s)
	}
	if s := check(899_499); s.OK() || s.Shortfall.Int64() != 1 {
		t.Fatalf("short by 1: %s", s)
	}
	// a credit taken back after money went out leaves a negative balance
	if _, err := db.Exec(ctx, "UPDATE sweeps SET state = 'broadcast' WHERE merchant_id = $1", a); err != nil {
		t.Fatal(err)
	}
	if s := check(10_000_000); s.OK() || len(s.Negative) != 1 {
		t.Fatalf("negative balance not found: %s", s)
	}
}

// TestReorgTakesBackSweepCredit is break 4: a confirmed, swept deposit is
// reorged out. The sweep's credit goes (the balance drops), withdrawals of
// the currency are paused, and a withdrawal against the reversed credit is
// refused; resuming lets them go again once the balance is back.
func TestReorgTakesBackSweepCredit(t *testing.T) {
	db := testledger.Fresh(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rd, err := stores.OpenRedis(strings.TrimSuffix(testenv.Get(t, "SLUICE_REDIS_URL"), "/0") + "/14") // this package's; see test/e2e newIndexEnv
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	rd.FlushDB(ctx)
	m := merchantWith(t, db, "shop", nil)
	const addr = "rltc1qtestdeposit"
	var wallet int64
	if err := db.QueryRow(ctx, `INSERT INTO wallets (merchant_id, currency, ext_id, chain, address, derivation_index)
		VALUES ($1, 'LTC', 'c1', 'ltc', $2, 0) RETURNING id`, m, addr).Scan(&wallet); err != nil {
		t.Fatal(err)
	}
	l := &payments.Ledger{DB: db}
	c := &payments.Consumer{Ledger: l, Redis: rd, Chain: "ltc", Name: "t", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go func() { _ = c.Run(ctx) }()
	pub := indexer.RedisPublisher{Client: rd}
	block := func(h int64, kind string, credits ...indexer.Credit) indexer.Event {
		return indexer.Event{Kind: kind, Height: h, Hash: "h" + strconv.FormatInt(h, 10), Credits: credits}
	}
	publish := func(evs ...indexer.Event) {
		t.Helper()
		if err := pub.Publish(ctx, "ltc", evs); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		for i := 0; i < 200 && !cond(); i++ {
			time.Sleep(50 * time.Millisecond)
		}
		if !cond() {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
	status := func() (s int) {
		_ = db.QueryRow(ctx, "SELECT status FROM deposits WHERE txid = 'aa'").Scan(&s)
		return
	}
	evs := []indexer.Event{block(10, "connected", indexer.Credit{Address: addr, Currency: "LTC", TxID: "aa", Position: "vout:0", Amount: "128000000"})}
	for h := int64(11); h < 20; h++ {
		evs = append(evs, block(h, "connected"))
	}
	publish(evs...)
	wait("confirmed", func() bool { return status() == 1 })
	// swept to the hot wallet and confirmed: the merchant's balance
	sw := credit(t, db, m, "LTC", 127_990_000)
	if _, err := db.Exec(ctx, "UPDATE deposits SET sweep_id = $1 WHERE txid = 'aa'", sw); err != nil {
		t.Fatal(err)
	}
	pol := sweep.Policy{FeeCurrency: "LTC", FeeReserve: big.NewInt(10_000)}
	if b := balance(t, db, m, "LTC"); b != 127_990_000 {
		t.Fatalf("balance %d", b)
	}

	// a reorg deeper than the confirmations takes block 10 away
	var back []indexer.Event
	for h := int64(19); h >= 10; h-- {
		back = append(back, block(h, "disconnected"))
	}
	publish(back...)
	wait("unconfirmed", func() bool { return status() == 0 })
	var state string
	if err := db.QueryRow(ctx, "SELECT state FROM sweeps WHERE id = $1", sw).Scan(&state); err != nil || state != "broadcast" {
		t.Fatalf("the sweep is %q (%v), want broadcast: its credit must go", state, err)
	}
	if b := balance(t, db, m, "LTC"); b != 0 {
		t.Fatalf("balance %d after the reorg, want 0", b)
	}
	why, err := sweep.Paused(ctx, db, "LTC")
	if err != nil || !strings.Contains(why, "reorg") {
		t.Fatalf("LTC withdrawals not paused after the reorg: %q %v", why, err)
	}
	if _, _, err := sweep.CreateWithdrawal(ctx, db, m, "LTC", "out", "ltc1dest", big.NewInt(128_000_000), pol); !errors.Is(err, sweep.ErrPaused) {
		t.Fatalf("a withdrawal against the reversed credit: %v", err)
	}

	// the transaction comes back, the sweep confirms again, an operator resumes
	publish(evs...)
	wait("confirmed again", func() bool { return status() == 1 })
	if _, err := db.Exec(ctx, "UPDATE sweeps SET state = 'confirmed' WHERE id = $1", sw); err != nil {
		t.Fatal(err)
	}
	if ok, err := sweep.Resume(ctx, db, "LTC"); err != nil || !ok {
		t.Fatalf("resume: %v %v", ok, err)
	}
	if _, _, err := sweep.CreateWithdrawal(ctx, db, m, "LTC", "out", "ltc1dest", big.NewInt(127_980_000), pol); err != nil {
		t.Fatal(err)
	}
}

// TestFeeReserveQuote: a sweeper's fresh quote lowers the reserve a
// withdrawal holds; a stale one, or one above the ceiling's, does not.
func TestFeeReserveQuote(t *testing.T) {
	db := testledger.Fresh(t)
	ctx := context.Background()
	m := merchantWith(t, db, "shop", map[string]int64{"BTC": 100_000})
	reserve := func() int64 {
		t.Helper()
		r, err := sweep.Reserve(ctx, db, "BTC", btcPolicy)
		if err != nil {
			t.Fatal(err)
		}
		return r.Int64()
	}
	if r := reserve(); r != 2000 {
		t.Fatalf("no quote: reserve %d, want the ceiling's 2000", r)
	}
	if err := sweep.SetQuote(ctx, db, "BTC", big.NewInt(442)); err != nil {
		t.Fatal(err)
	}
	if r := reserve(); r != 442 {
		t.Fatalf("fresh quote: reserve %d, want 442", r)
	}
	w, _, err := sweep.CreateWithdrawal(ctx, db, m, "BTC", "w", "bcrt1qdest", big.NewInt(10_000), btcPolicy)
	if err != nil || w.FeeReserved.Int64() != 442 {
		t.Fatalf("withdrawal reserved %v (%v), want 442", w.FeeReserved, err)
	}
	if b := balance(t, db, m, "BTC"); b != 100_000-10_000-442 {
		t.Fatalf("balance %d", b)
	}
	if _, err := db.Exec(ctx, "UPDATE withdrawal_fee_quotes SET quoted_at = now() - interval '11 minutes'"); err != nil {
		t.Fatal(err)
	}
	if r := reserve(); r != 2000 {
		t.Fatalf("stale quote: reserve %d, want 2000", r)
	}
	if err := sweep.SetQuote(ctx, db, "BTC", big.NewInt(5000)); err != nil {
		t.Fatal(err)
	}
	if r := reserve(); r != 2000 {
		t.Fatalf("a quote above the ceiling's reserve: %d, want 2000", r)
	}
}

// TestPauseReasonsAccumulate: a second cause of a pause is kept beside the
// first (the operator must see both before resuming); the same kind of
// cause repeated by a check each round is not appended again.
func TestPauseReasonsAccumulate(t *testing.T) {
	db := testledger.Fresh(t)
	ctx := context.Background()
	if first, err := sweep.Pause(ctx, db, "LTC", "solvency check: LTC short by 7"); err != nil || !first {
		t.Fatalf("first pause: %v %v", first, err)
	}
	if again, err := sweep.Pause(ctx, db, "LTC", "solvency check: LTC short by 8"); err != nil || again {
		t.Fatalf("a repeated solvency pause: %v %v", again, err)
	}
	if again, err := sweep.Pause(ctx, db, "LTC", "a reorg removed LTC block 9 (ab)"); err != nil || again {
		t.Fatalf("a reorg pause on a paused currency: %v %v", again, err)
	}
	why, err := sweep.Paused(ctx, db, "LTC")
	if err != nil {
		t.Fatal(err)
	}
	if want := "solvency check: LTC short by 7; a reorg removed LTC block 9 (ab)"; why != want {
		t.Fatalf("reason %q, want %q", why, want)
	}
}

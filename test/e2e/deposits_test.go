package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicepay/sluice/devnet"
	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/jsonrpc"

	"github.com/sluicepay/sluice/payments"
	"github.com/sluicepay/sluice/payments/keys"
	"github.com/sluicepay/sluice/stores"
	"github.com/sluicepay/sluice/watch"
)

type depositEnv struct {
	*indexEnv
	n      *node
	pg     *pgxpool.Pool
	wallet payments.Wallet
}

// newLedgerEnv makes a fresh index and ledger, a merchant, and a ledger
// whose new wallets go into the chain's watch set.
func newLedgerEnv(t *testing.T, chain string, networks map[string]string) (*depositEnv, *payments.Ledger, payments.Merchant) {
	t.Helper()
	ctx := context.Background()
	de := &depositEnv{indexEnv: newIndexEnv(t)}
	pg, err := stores.OpenPostgres(ctx, de.indexEnv.pg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Close)
	de.pg = pg
	ws, err := watch.Open(ctx, de.redis, chain, watch.Config{}) // the layout every sluice process uses
	if err != nil {
		t.Fatal(err)
	}
	l := &payments.Ledger{DB: pg, Keys: payments.SeedKeys{Seed: randomSeed(t), Networks: networks},
		Watch: func(ctx context.Context, w payments.Wallet) error { return ws.Add(ctx, w.Address) }}
	m, err := l.CreateMerchant(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	return de, l, m
}

// newDepositEnv makes an LTC wallet in a fresh ledger and starts an indexer
// on the stack's litecoind.
func newDepositEnv(t *testing.T) *depositEnv {
	t.Helper()
	de, l, m := newLedgerEnv(t, "ltc", map[string]string{"LTC": "regtest"})
	de.n = nodeFor(t, "ltc")
	var err error
	if de.wallet, _, err = l.WalletFor(context.Background(), m.ID, "LTC", "customer-42"); err != nil {
		t.Fatal(err)
	}
	de.start(t, nil, "--chain", "ltc")
	top := de.n.height(t)
	waitFor(t, "catch-up", 60*time.Second, func() bool { return de.checkpoint(t, "ltc") >= top })
	return de
}

// randomSeed gives each test wallets of its own: the nodes' chains are shared
// by every test run, and an indexer catching up would credit a fixed seed's
// addresses with earlier runs' payments too.
func randomSeed(t *testing.T) keys.Seed {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	seed, err := keys.ParseSeed(hex.EncodeToString(b))
	if err != nil {
		t.Fatal(err)
	}
	return seed
}

type dep struct {
	amount        string
	confs, status int
	block         string
}

func (de *depositEnv) deposit(txid string) (d dep, ok bool) {
	err := de.pg.QueryRow(context.Background(), "SELECT amount::text, confirmations, status, coalesce(block_hash, '') FROM deposits WHERE txid = $1",
		txid).Scan(&d.amount, &d.confs, &d.status, &d.block)
	return d, err == nil
}

func (de *depositEnv) from(t *testing.T, txid string) string {
	t.Helper()
	var from string
	if err := de.pg.QueryRow(context.Background(), "SELECT from_address FROM deposits WHERE txid = $1", txid).Scan(&from); err != nil {
		t.Fatal(err)
	}
	return from
}

func (de *depositEnv) pay(t *testing.T, ltc float64) string {
	t.Helper()
	var txid string
	if err := de.n.rpc.Call(context.Background(), "sendtoaddress", &txid, de.wallet.Address, ltc); err != nil {
		t.Fatal(err)
	}
	return txid
}

func (de *depositEnv) events(t *testing.T, txid string) []string {
	t.Helper()
	rows, err := de.pg.Query(context.Background(), `SELECT e.kind, e.status, e.confirmations FROM deposit_events e
		JOIN deposits d ON d.id = e.deposit_id WHERE d.txid = $1 ORDER BY e.id`, txid)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var kind string
		var status, confs int
		if err := rows.Scan(&kind, &status, &confs); err != nil {
			t.Fatal(err)
		}
		got = append(got, kind+"/"+strconv.Itoa(status)+"/"+strconv.Itoa(confs))
	}
	return got
}

var ltcLifecycle = []string{"created/0/1", "confirmations/0/2", "confirmations/0/3", "confirmations/0/4", "confirmations/0/5",
	"confirmations/0/6", "confirmed/1/6"}

// TestLTCDepositLifecycle: a payment to a ledger wallet on the stack's
// litecoind becomes a deposit with the exact amount, moves through its
// confirmations to confirmed at 6, and each event is in the outbox once.
func TestLTCDepositLifecycle(t *testing.T) {
	de := newDepositEnv(t)
	de.startSub(t, nil, "consume", "--chain", "ltc")
	txid := de.pay(t, 1.23456789)
	de.n.mine(t, 1)
	waitFor(t, "the deposit", 30*time.Second, func() bool { _, ok := de.deposit(txid); return ok })
	if d, _ := de.deposit(txid); d.amount != "123456789" || d.status != 0 {
		t.Fatalf("deposit %+v", d)
	}
	// fromAddress: the address of the output the payment's first input spends, by the node's own account
	var tx struct {
		Vin []struct {
			Txid string `json:"txid"`
			Vout uint32 `json:"vout"`
		} `json:"vin"`
	}
	if err := de.n.rpc.Call(context.Background(), "getrawtransaction", &tx, txid, 1); err != nil {
		t.Fatal(err)
	}
	var prev struct {
		Vout []struct {
			ScriptPubKey struct {
				Address   string   `json:"address"`
				Addresses []string `json:"addresses"` // Litecoin Core 0.21's form
			} `json:"scriptPubKey"`
		} `json:"vout"`
	}
	if err := de.n.rpc.Call(context.Background(), "getrawtransaction", &prev, tx.Vin[0].Txid, 1); err != nil {
		t.Fatal(err)
	}
	spk := prev.Vout[tx.Vin[0].Vout].ScriptPubKey
	payer := spk.Address
	if payer == "" && len(spk.Addresses) == 1 {
		payer = spk.Addresses[0]
	}
	if from := de.from(t, txid); from == "" || from != payer {
		t.Fatalf("fromAddress %q, node says %q", from, payer)
	}
	de.n.mine(t, 5)
	waitFor(t, "6 confirmations", 30*time.Second, func() bool { d, _ := de.deposit(txid); return d.status == 1 })
	if d, _ := de.deposit(txid); d.confs != 6 {
		t.Fatalf("confirmed at %d confirmations, want 6", d.confs)
	}
	de.n.mine(t, 2) // later blocks change nothing for a confirmed deposit
	time.Sleep(2 * time.Second)
	if got := de.events(t, txid); strings.Join(got, " ") != strings.Join(ltcLifecycle, " ") {
		t.Fatalf("events %v, want %v", got, ltcLifecycle)
	}

	// operators see it with `sluice deposits list`
	r := run(t, de.env, "deposits", "list", "--currency", "LTC", "--json")
	var listed []struct {
		TxID, Amount, Currency string
		Status                 int
	}
	if err := json.Unmarshal([]byte(r.stdout), &listed); err != nil || r.code != 0 {
		t.Fatalf("deposits list: %v %s %s", err, r.stdout, r.stderr)
	}
	if len(listed) != 1 || listed[0].TxID != txid || listed[0].Amount != "123456789" || listed[0].Status != 1 {
		t.Fatalf("deposits list: %+v", listed)
	}
	if r := run(t, de.env, "deposits", "list", "--currency", "DOGE"); r.code != 1 || !strings.Contains(r.stderr, "unknown currency") {
		t.Fatalf("bad currency: %d %s", r.code, r.stderr)
	}
}

// TestLTCDepositKill9BeforeCommit: the payments worker reads the block event,
// blocks inside its Postgres transaction (the test holds a table lock), and
// is killed with -9 there. After a restart the deposit and each of its
// events exist exactly once.
func TestLTCDepositKill9BeforeCommit(t *testing.T) {
	de := newDepositEnv(t)
	ctx := context.Background()
	worker := de.startSub(t, nil, "consume", "--chain", "ltc")
	// let the worker finish the backlog first: the entry it holds at the kill must be the payment's
	waitFor(t, "the worker through the backlog", 30*time.Second, func() bool {
		n, err := de.redis.XLen(ctx, "blocks:ltc").Result()
		g, gerr := de.redis.XInfoGroups(ctx, "blocks:ltc").Result()
		p, perr := de.redis.XPending(ctx, "blocks:ltc", "payments").Result()
		return err == nil && gerr == nil && perr == nil && len(g) == 1 && g[0].EntriesRead == n && p.Count == 0
	})
	lock, err := de.pg.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(ctx, "LOCK TABLE deposits IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	txid := de.pay(t, 0.5)
	de.n.mine(t, 1)
	// the worker holds the entry: read, not acknowledged, its transaction waiting on our lock
	waitFor(t, "the worker to read the block event", 30*time.Second, func() bool {
		p, err := de.redis.XPending(ctx, "blocks:ltc", "payments").Result()
		return err == nil && p.Count > 0
	})
	time.Sleep(300 * time.Millisecond)
	if err := worker.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-worker.done
	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := de.deposit(txid); ok {
		t.Fatal("a deposit was committed by a worker that was killed before its commit")
	}
	de.startSub(t, nil, "consume", "--chain", "ltc")
	waitFor(t, "the deposit after the restart", 30*time.Second, func() bool { _, ok := de.deposit(txid); return ok })
	waitFor(t, "nothing left unacknowledged", 30*time.Second, func() bool {
		p, err := de.redis.XPending(ctx, "blocks:ltc", "payments").Result()
		return err == nil && p.Count == 0
	})
	de.n.mine(t, 5)
	waitFor(t, "confirmed", 30*time.Second, func() bool { d, _ := de.deposit(txid); return d.status == 1 })
	if got := de.events(t, txid); strings.Join(got, " ") != strings.Join(ltcLifecycle, " ") {
		t.Fatalf("events %v, want %v", got, ltcLifecycle)
	}
}

// TestLTCDepositReorg: the block holding the deposit is removed; the
// deposit returns to unconfirmed, then follows the transaction into the
// new branch and confirms there.
func TestLTCDepositReorg(t *testing.T) {
	de := newDepositEnv(t)
	de.startSub(t, nil, "consume", "--chain", "ltc")
	txid := de.pay(t, 0.25)
	de.n.mine(t, 2)
	waitFor(t, "2 confirmations", 30*time.Second, func() bool { d, _ := de.deposit(txid); return d.confs == 2 })
	d, _ := de.deposit(txid)
	if err := de.n.rpc.Call(context.Background(), "invalidateblock", nil, d.block); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "unconfirmed after the reorg", 30*time.Second, func() bool {
		return strings.Contains(strings.Join(de.events(t, txid), " "), "unconfirmed/0/0")
	})
	de.n.mine(t, 6) // the transaction is back in the mempool: mined on the new branch
	waitFor(t, "confirmed on the new branch", 30*time.Second, func() bool { d, _ := de.deposit(txid); return d.status == 1 })
	if d2, _ := de.deposit(txid); d2.block == d.block || d2.amount != "25000000" {
		t.Fatalf("deposit still on the orphaned block or wrong amount: %+v", d2)
	}
	// the return to unconfirmed starts a new generation of events: the
	// merchant hears the confirmations again, each once
	want := "created/0/1 confirmations/0/2 unconfirmed/0/0 " + strings.Join(ltcLifecycle[1:], " ")
	if got := strings.Join(de.events(t, txid), " "); got != want {
		t.Fatalf("events\n got %s\nwant %s", got, want)
	}
	// what a double spend would collide with: the outpoints the payment spends
	var spends []string
	if err := de.pg.QueryRow(context.Background(), "SELECT spends FROM deposits WHERE txid = $1", txid).Scan(&spends); err != nil || len(spends) == 0 {
		t.Fatalf("deposit spends %v (%v)", spends, err)
	}
}

// TestEthDeposits: ETH and devnet-USDT payments to a merchant's wallets on
// the stack's geth become deposits with exact amounts and payers, and
// confirm at 12 blocks.
func TestEthDeposits(t *testing.T) {
	rpcURL := testenv.Get(t, "SLUICE_ETH_RPC")
	dev := testenv.Get(t, "SLUICE_ETH_DEV_ACCOUNT")
	usdt := testenv.Get(t, "SLUICE_USDT_CONTRACT")
	ctx := context.Background()
	de, l, m := newLedgerEnv(t, "eth", map[string]string{"ETH": "dev", "USDT": "dev"})
	ie, pg := de.indexEnv, de.pg
	ext := "customer-1"
	ethW, _, err := l.WalletFor(ctx, m.ID, "ETH", ext)
	if err != nil {
		t.Fatal(err)
	}
	usdtW, _, err := l.WalletFor(ctx, m.ID, "USDT", ext)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := jsonrpc.New(rpcURL)
	ie.start(t, []string{"SLUICE_USDT_CONTRACT=" + usdt}, "--chain", "eth")
	waitFor(t, "catch-up", 120*time.Second, func() bool { return ie.checkpoint(t, "eth") >= ethHead(t, c)-1 })
	ie.startSub(t, nil, "consume", "--chain", "eth")

	var ethTx string
	if err := c.Call(ctx, "eth_sendTransaction", &ethTx, map[string]any{"from": dev, "to": ethW.Address, "value": "0x2386f26fc10000"}); err != nil {
		t.Fatal(err)
	}
	if _, err := devnet.Mint(ctx, rpcURL, dev, usdt, dev, big.NewInt(100_000_000)); err != nil {
		t.Fatal(err)
	}
	usdtTx, err := devnet.TransferToken(ctx, rpcURL, dev, usdt, usdtW.Address, big.NewInt(25_500_000))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ tx, amount string }{{ethTx, "10000000000000000"}, {usdtTx, "25500000"}} {
		waitFor(t, "the deposit", 60*time.Second, func() bool { _, ok := de.deposit(c.tx); return ok })
		var from, currency, sender string
		var nonce *int64
		if err := pg.QueryRow(ctx, "SELECT from_address, currency, sender, nonce FROM deposits WHERE txid = $1", c.tx).Scan(&from, &currency, &sender, &nonce); err != nil {
			t.Fatal(err)
		}
		if d, _ := de.deposit(c.tx); d.amount != c.amount || !strings.EqualFold(from, dev) {
			t.Fatalf("%s deposit %+v from %s", currency, d, from)
		}
		// what a replacement would reuse: the sender's nonce
		if !strings.EqualFold(sender, dev) || nonce == nil {
			t.Fatalf("%s deposit sender %q nonce %v", currency, sender, nonce)
		}
	}
	waitFor(t, "12 confirmations", 60*time.Second, func() bool {
		a, _ := de.deposit(ethTx)
		b, _ := de.deposit(usdtTx)
		return a.status == 1 && b.status == 1
	})
	for _, tx := range []string{ethTx, usdtTx} {
		got := de.events(t, tx)
		if got[0] != "created/0/1" || got[len(got)-1] != "confirmed/1/12" || len(got) != 13 {
			t.Fatalf("events of %s: %v", tx, got)
		}
	}
}

// TestBTCDeposit pays a ledger wallet on the stack's btcd (no wallet there:
// the project's own signing spends the regtest mining key's coinbase) and
// follows the deposit to confirmed at 2.
func TestBTCDeposit(t *testing.T) {
	ctx := context.Background()
	n := nodeFor(t, "btc")
	key := btcMiningKey(t)
	de, w, _ := newBTCDepositEnv(t, "customer-7")

	txid, err := devnet.PayBTC(ctx, testenv.Get(t, "SLUICE_BTC_RPC"), key, w.Address, 12_345_678)
	if err != nil {
		t.Fatal(err)
	}
	n.mine(t, 1)
	waitFor(t, "the deposit", 30*time.Second, func() bool { _, ok := de.deposit(txid); return ok })
	if d, _ := de.deposit(txid); d.amount != "12345678" {
		t.Fatalf("deposit %+v", d)
	}
	if from := de.from(t, txid); from != testenv.Get(t, "SLUICE_BTC_MINING_ADDRESS") {
		t.Fatalf("fromAddress %q, want the mining address that paid", from)
	}
	n.mine(t, 1)
	waitFor(t, "confirmed at 2", 30*time.Second, func() bool { d, _ := de.deposit(txid); return d.status == 1 })
	if got := de.events(t, txid); strings.Join(got, " ") != "created/0/1 confirmations/0/2 confirmed/1/2" {
		t.Fatalf("events %v", got)
	}
}

// newBTCDepositEnv is a fresh ledger with a BTC wallet for extID, an
// indexer caught up with the stack's btcd, and a payments worker.
func newBTCDepositEnv(t *testing.T, extID string) (*depositEnv, payments.Wallet, *indexerProc) {
	t.Helper()
	de, l, m := newLedgerEnv(t, "btc", map[string]string{"BTC": "regtest"})
	w, _, err := l.WalletFor(context.Background(), m.ID, "BTC", extID)
	if err != nil {
		t.Fatal(err)
	}
	de.start(t, nil, "--chain", "btc")
	top := nodeFor(t, "btc").height(t)
	waitFor(t, "catch-up", 60*time.Second, func() bool { return de.checkpoint(t, "btc") >= top })
	return de, w, de.startSub(t, nil, "consume", "--chain", "btc")
}

// btcMiningKey is the key the stack's btcd mines to (its state file), which
// devnet payments spend from.
func btcMiningKey(t *testing.T) string {
	t.Helper()
	state, err := os.ReadFile(filepath.Join(testenv.Get(t, "SLUICE_STACK_DIR"), "stack.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Key string `json:"btc_mining_key"`
	}
	if err := json.Unmarshal(state, &st); err != nil || st.Key == "" {
		t.Fatalf("mining key: %v", err)
	}
	return st.Key
}

// TestReconcileUnwatchedWallet: under a running indexer and payments worker,
// a wallet the watch set never heard of (made by a process that died while
// Redis was down, before it could add it; a flushed or lost set the indexer's
// guard repairs by itself, see TestWatchSetFlushedWhileRunning) is paid; the
// fast path misses it, and `sluice reconcile` finds it in the chain index. A
// restarted indexer puts the ledger's wallets into the watch set.
func TestReconcileUnwatchedWallet(t *testing.T) {
	de := newDepositEnv(t)
	ctx := context.Background()
	de.startSub(t, nil, "consume", "--chain", "ltc")
	unwatched := &payments.Ledger{DB: de.pg, Keys: payments.SeedKeys{Seed: randomSeed(t), Networks: map[string]string{"LTC": "regtest"}}}
	var err error
	if de.wallet, _, err = unwatched.WalletFor(ctx, de.wallet.MerchantID, "LTC", "unwatched"); err != nil {
		t.Fatal(err)
	}
	txid := de.pay(t, 0.75)
	de.n.mine(t, 2)
	top := de.n.height(t)
	waitFor(t, "the blocks indexed", 30*time.Second, func() bool { return de.checkpoint(t, "ltc") >= top })
	time.Sleep(2 * time.Second)
	if _, ok := de.deposit(txid); ok {
		t.Fatal("the deposit was found although its wallet is not watched: the test proves nothing")
	}
	r := run(t, de.env, "reconcile", "--chain", "ltc")
	if r.code != 0 || !strings.Contains(r.stdout, "ltc: 1 deposits created") {
		t.Fatalf("reconcile: %d %s %s", r.code, r.stdout, r.stderr)
	}
	d, ok := de.deposit(txid)
	if !ok || d.amount != "75000000" || d.confs != 2 {
		t.Fatalf("reconciled deposit %+v", d)
	}
	if from := de.from(t, txid); from == "" {
		t.Error("the reconciled deposit has no fromAddress")
	}
	if r := run(t, de.env, "reconcile", "--chain", "ltc"); !strings.Contains(r.stdout, "ltc: 0 deposits created") {
		t.Fatalf("a second reconcile must find nothing new: %s %s", r.stdout, r.stderr)
	}
	// the deposit confirms with new blocks
	de.n.mine(t, 4)
	waitFor(t, "confirmed after the reconcile", 30*time.Second, func() bool { d, _ := de.deposit(txid); return d.status == 1 })

	// a restarted indexer puts the ledger's wallets into the watch set (its
	// check at start; or the running one's guard, if anything made it look)
	de.start(t, nil, "--chain", "ltc")
	ws, err := watch.Open(ctx, de.redis, "ltc", watch.Config{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the wallet watched", 30*time.Second, func() bool {
		got, err := ws.Match(ctx, []string{de.wallet.Address})
		return err == nil && len(got) == 1
	})
	txid2 := de.pay(t, 0.1)
	de.n.mine(t, 1)
	waitFor(t, "the next payment through the fast path", 30*time.Second, func() bool { _, ok := de.deposit(txid2); return ok })
}

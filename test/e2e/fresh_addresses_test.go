package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicepay/sluice/indexer/store"
	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/payments"
	"github.com/sluicepay/sluice/payments/keys"
)

// TestRestoredCounterSkipsUsedAddresses: wallets made after a "backup" are
// lost by a "restore" (their rows deleted, the counter rewound) after one of
// them was paid on the stack's litecoind. The gap scan (`sluice wallets
// rescan`, and the ledger's GapScan that serve runs at start) moves the
// counter past the paid address, and with the counter rewound again a new
// extId still never gets it: the address is skipped, logged and counted.
func TestRestoredCounterSkipsUsedAddresses(t *testing.T) {
	de, l, m := newLedgerEnv(t, "ltc", map[string]string{"LTC": "regtest"})
	ctx := context.Background()
	// a seed file of the test's own, for the ledger here and the CLI
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	seedFile := filepath.Join(t.TempDir(), "seed")
	if err := os.WriteFile(seedFile, []byte(hex.EncodeToString(b)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	seed, err := keys.ParseSeed(hex.EncodeToString(b))
	if err != nil {
		t.Fatal(err)
	}
	l.Keys = payments.SeedKeys{Seed: seed, Networks: map[string]string{"LTC": "regtest"}}
	l.Networks = map[string]string{"LTC": "regtest"}
	l.Used = func(ctx context.Context, chain string, addrs []string) (map[string]bool, error) {
		return store.UsedAddresses(ctx, de.ch, chain, addrs)
	}
	skipped := payments.NewSkippedAddresses(prometheus.NewRegistry(), []string{"LTC"})
	l.Skipped = skipped

	wallet := func(ext string) payments.Wallet {
		t.Helper()
		w, _, err := l.WalletFor(ctx, m.ID, "LTC", ext)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	counter := func() int64 {
		t.Helper()
		var n int64
		if err := de.pg.QueryRow(ctx, "SELECT next_index FROM wallet_counters WHERE merchant_id = $1 AND currency = 'LTC'", m.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	restore := func(next int64, exts ...string) {
		t.Helper()
		if _, err := de.pg.Exec(ctx, "DELETE FROM wallets WHERE merchant_id = $1 AND ext_id = ANY($2)", m.ID, exts); err != nil {
			t.Fatal(err)
		}
		if _, err := de.pg.Exec(ctx, "UPDATE wallet_counters SET next_index = $2 WHERE merchant_id = $1 AND currency = 'LTC'", m.ID, next); err != nil {
			t.Fatal(err)
		}
	}

	kept := wallet("before-backup") // index 0; the backup is taken here (counter 1)
	paid := wallet("after-backup-paid")
	unpaid := wallet("after-backup-unpaid")
	if kept.Index != 0 || paid.Index != 1 || unpaid.Index != 2 {
		t.Fatalf("indexes %d %d %d", kept.Index, paid.Index, unpaid.Index)
	}
	de.n = nodeFor(t, "ltc")
	de.wallet = paid
	de.start(t, nil, "--chain", "ltc")
	de.pay(t, 0.2)
	de.n.mine(t, 1)
	waitFor(t, "the payment in the chain index", 120*time.Second, func() bool {
		u, err := store.UsedAddresses(ctx, de.ch, "ltc", []string{paid.Address, unpaid.Address})
		if err != nil {
			t.Fatal(err)
		}
		if u[unpaid.Address] {
			t.Fatal("an unpaid address shows history")
		}
		return u[paid.Address]
	})

	// the restore: the wallets made after the backup are gone, the counter is 1
	restore(1, "after-backup-paid", "after-backup-unpaid")
	env := append(append([]string{}, de.env...), "SLUICE_SEED_FILE="+seedFile)
	r := run(t, env, "wallets", "rescan")
	if r.code != 0 || !strings.Contains(r.stdout, "LTC: counter 1 -> 2 (1 used addresses found)") {
		t.Fatalf("wallets rescan: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := counter(); n != 2 {
		t.Fatalf("counter after the rescan = %d, want 2 (past the paid address)", n)
	}
	if r := run(t, env, "wallets", "rescan"); r.code != 0 || !strings.Contains(r.stdout, "0 moved") {
		t.Fatalf("a second rescan must move nothing: %s%s", r.stdout, r.stderr)
	}

	// rewound again (a restore without the scan): wallet creation skips it itself
	restore(1)
	w := wallet("new-customer")
	if w.Address == paid.Address || w.Index != 2 {
		t.Fatalf("new extId got index %d %s; the paid address is %s (index 1)", w.Index, w.Address, paid.Address)
	}
	if v := testutil.ToFloat64(skipped.WithLabelValues("LTC", payments.SkipChainHistory)); v != 1 {
		t.Fatalf("skipped{chain_history} = %v", v)
	}
	if n := counter(); n != 3 {
		t.Fatalf("counter after the skip = %d, want 3", n)
	}
	// a counter behind a wallet the ledger holds: skipped too, never a unique-key failure
	restore(2)
	if w2 := wallet("another-customer"); w2.Index != 3 || w2.Address == w.Address {
		t.Fatalf("got index %d %s behind the ledger's %s", w2.Index, w2.Address, w.Address)
	}
	if v := testutil.ToFloat64(skipped.WithLabelValues("LTC", payments.SkipLedger)); v != 1 {
		t.Fatalf("skipped{ledger} = %v", v)
	}

	// the gap scan at start of serve: rewind once more, serve moves it before making wallets
	restore(1)
	res, err := l.GapScan(ctx, payments.DefaultGapLimit, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].From != 1 || res[0].To != 4 || res[0].Used != 3 {
		t.Fatalf("gap scan %+v; want 1 -> 4 past the paid address and the two ledger wallets", res)
	}
}

// TestRestoredBackupNeverReusesAddress restores an older pg_dump as
// docs/operations.md describes: a wallet made and paid after the dump is
// gone from the ledger and the counter is rewound, and the restarted serve
// (its gap scan at start) still never gives that address to a new extId.
func TestRestoredBackupNeverReusesAddress(t *testing.T) {
	a := newAPIEnv(t)
	ctx := context.Background()
	idx := a.start(t, nil, "--chain", "ltc")
	a.srv = startServe(t, a.env)
	before := a.walletWhenSynced(t, "LTC", "before-backup")

	dump := filepath.Join(t.TempDir(), "sluice.dump")
	if out, err := exec.Command("pg_dump", "--format=custom", "--file="+dump, a.pg).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	paid := a.walletWhenSynced(t, "LTC", "after-backup")
	devnetPay(t, "LTC", paid, "0.2")
	devnetMine(t, "ltc", 1)
	waitFor(t, "the payment in the chain index", 60*time.Second, func() bool {
		u, err := store.UsedAddresses(ctx, a.ch, "ltc", []string{paid})
		return err == nil && u[paid]
	})

	// the restore, with sluice stopped
	for _, p := range []*exec.Cmd{a.srv.cmd, idx.cmd} {
		_ = p.Process.Kill()
	}
	<-a.srv.done
	<-idx.done
	if out, err := exec.Command("pg_restore", "--clean", "--if-exists", "--dbname="+a.pg, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	a.start(t, nil, "--chain", "ltc")
	a.srv = startServe(t, a.env)
	fresh := a.walletWhenSynced(t, "LTC", "new-customer")
	if fresh == paid || fresh == before {
		t.Fatalf("a new extId after the restore got %s: before-backup %s, after-backup (paid) %s", fresh, before, paid)
	}
	if log := a.srv.stderr.String(); !strings.Contains(log, "gap scan: moved an address counter") || !strings.Contains(log, "gap scan done") {
		t.Fatalf("serve did not log its gap scan:\n%s", log)
	}
	var index int
	if err := a.pool(t).QueryRow(ctx, "SELECT derivation_index FROM wallets WHERE ext_id = 'new-customer'").Scan(&index); err != nil || index != 2 {
		t.Fatalf("the new wallet has index %d (%v); want 2, past the paid address", index, err)
	}
}

// TestRestoredCounterSkipsUsedEthAddresses: the same for Ethereum, where the
// chain index shows an address's ETH and token history in
// eth_address_transfers: an ETH and a USDT address paid after the "backup"
// are skipped once the counters are rewound.
func TestRestoredCounterSkipsUsedEthAddresses(t *testing.T) {
	de, l, m := newLedgerEnv(t, "eth", map[string]string{"ETH": "dev", "USDT": "dev"})
	ctx := context.Background()
	l.Used = func(ctx context.Context, chain string, addrs []string) (map[string]bool, error) {
		return store.UsedAddresses(ctx, de.ch, chain, addrs)
	}
	eth, _, err := l.WalletFor(ctx, m.ID, "ETH", "after-backup")
	if err != nil {
		t.Fatal(err)
	}
	usdt, _, err := l.WalletFor(ctx, m.ID, "USDT", "after-backup")
	if err != nil {
		t.Fatal(err)
	}
	de.start(t, []string{"SLUICE_USDT_CONTRACT=" + testenv.Get(t, "SLUICE_USDT_CONTRACT")}, "--chain", "eth")
	devnetPay(t, "ETH", eth.Address, "0.01")
	devnetPay(t, "USDT", usdt.Address, "1.5")
	waitFor(t, "both payments in the chain index", 120*time.Second, func() bool {
		// EIP-55 as the ledger keeps them; the index holds lower case
		u, err := store.UsedAddresses(ctx, de.ch, "eth", []string{eth.Address, usdt.Address})
		if err != nil {
			t.Fatal(err)
		}
		return u[eth.Address] && u[usdt.Address]
	})
	if _, err := de.pg.Exec(ctx, "DELETE FROM wallets WHERE merchant_id = $1", m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := de.pg.Exec(ctx, "UPDATE wallet_counters SET next_index = 0 WHERE merchant_id = $1", m.ID); err != nil {
		t.Fatal(err)
	}
	for _, old := range []payments.Wallet{eth, usdt} {
		w, _, err := l.WalletFor(ctx, m.ID, old.Currency, "new-customer")
		if err != nil {
			t.Fatal(err)
		}
		if w.Index != 1 || strings.EqualFold(w.Address, old.Address) {
			t.Fatalf("%s: a new extId got index %d %s; %s (index 0) was paid", old.Currency, w.Index, w.Address, old.Address)
		}
	}
}

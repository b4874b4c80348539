package payments

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sluicepay/sluice/internal/testledger"
	"github.com/sluicepay/sluice/payments/keys"
	"github.com/sluicepay/sluice/stores"
)

const testMnemonic = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"

func testKeys(t testing.TB) SeedKeys {
	t.Helper()
	seed, err := keys.ParseSeed(testMnemonic)
	if err != nil {
		t.Fatal(err)
	}
	return SeedKeys{Seed: seed, Networks: map[string]string{"BTC": "mainnet", "LTC": "mainnet", "ETH": "mainnet", "USDT": "mainnet"}}
}

// newLedger migrates a fresh database of the test stack's Postgres.
func newLedger(t *testing.T) (*Ledger, string) {
	t.Helper()
	dsn := testledger.DSN(t)
	return openLedger(t, dsn), dsn
}

func openLedger(t testing.TB, dsn string) *Ledger {
	t.Helper()
	pool, err := stores.OpenPostgres(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &Ledger{DB: pool, Keys: testKeys(t)}
}

func TestWalletFor(t *testing.T) {
	l, _ := newLedger(t)
	ctx := context.Background()
	m, err := l.CreateMerchant(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if m.KeyAccount != 0 {
		t.Fatalf("first merchant gets account %d", m.KeyAccount)
	}
	w, created, err := l.WalletFor(ctx, m.ID, "BTC", "customer-1")
	if err != nil || !created {
		t.Fatalf("%+v %v %v", w, created, err)
	}
	// BIP84 test vector: account 0, index 0 of the "abandon ... about" seed
	if w.Address != "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu" || w.Index != 0 || w.Chain != "btc" {
		t.Fatalf("first BTC wallet %+v", w)
	}
	again, created, err := l.WalletFor(ctx, m.ID, "BTC", "customer-1")
	if err != nil || created || again != w {
		t.Fatalf("second call: %+v %v %v", again, created, err)
	}
	w2, _, err := l.WalletFor(ctx, m.ID, "BTC", "customer-2")
	if err != nil || w2.Index != 1 || w2.Address != "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g" {
		t.Fatalf("second customer %+v %v", w2, err)
	}
	eth, _, err := l.WalletFor(ctx, m.ID, "ETH", "customer-1")
	if err != nil || eth.Address != "0x9858EfFD232B4033E47d90003D41EC34EcaEda94" {
		t.Fatalf("ETH wallet %+v %v", eth, err)
	}
	usdt, _, err := l.WalletFor(ctx, m.ID, "USDT", "customer-1")
	if err != nil || usdt.Address == eth.Address || usdt.Chain != "eth" {
		t.Fatalf("USDT wallet must be its own Ethereum address: %+v %v", usdt, err)
	}

	// another merchant: another HD account, other addresses
	m2, err := l.CreateMerchant(ctx, "other shop")
	if err != nil || m2.KeyAccount != 1 {
		t.Fatalf("%+v %v", m2, err)
	}
	o, _, err := l.WalletFor(ctx, m2.ID, "BTC", "customer-1")
	if err != nil || o.Address == w.Address {
		t.Fatalf("merchants share an address: %+v %v", o, err)
	}

	for _, c := range []struct {
		currency, extID, want string
	}{
		{"DOGE", "x", "unknown currency"},
		{"BTC", "", "extId is missing"},
		{"BTC", strings.Repeat("x", 129), "at most 128"},
		{"BTC", "a\x00b", "control characters"},
	} {
		if _, _, err := l.WalletFor(ctx, m.ID, c.currency, c.extID); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: want %q, got %v", c.currency, c.extID, c.want, err)
		}
	}
	if _, _, err := l.WalletFor(ctx, 99999, "BTC", "x"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("unknown merchant: %v", err)
	}
}

// TestWalletForConcurrentProcesses: 100 concurrent creations of one wallet,
// 50 in each of two processes, give one address and one row.
func TestWalletForConcurrentProcesses(t *testing.T) {
	l, dsn := newLedger(t)
	ctx := context.Background()
	m, err := l.CreateMerchant(ctx, "busy shop")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	outs := make([]string, 2)
	errs := make([]error, 2)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestWalletHelperProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), "SLUICE_WALLET_HELPER_DSN="+dsn, "SLUICE_WALLET_HELPER_MERCHANT="+strconv.FormatInt(m.ID, 10))
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(out), err
		}()
	}
	wg.Wait()
	addrs := map[string]int{}
	for i := range outs {
		if errs[i] != nil {
			t.Fatalf("helper process %d: %v\n%s", i, errs[i], outs[i])
		}
		for _, line := range strings.Split(outs[i], "\n") {
			if a, ok := strings.CutPrefix(line, "ADDRESS "); ok {
				addrs[a]++
			}
		}
	}
	if len(addrs) != 1 {
		t.Fatalf("want one address from 100 creations, got %v", addrs)
	}
	for _, n := range addrs {
		if n != 100 {
			t.Fatalf("want 100 answers, got %d", n)
		}
	}
	var rows int
	if err := l.DB.QueryRow(ctx, "SELECT count(*) FROM wallets WHERE merchant_id = $1 AND currency = 'LTC' AND ext_id = 'same-customer'", m.ID).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("wallet rows: %d, %v", rows, err)
	}
}

// TestWalletHelperProcess is the body of the helper processes above.
func TestWalletHelperProcess(t *testing.T) {
	dsn := os.Getenv("SLUICE_WALLET_HELPER_DSN")
	if dsn == "" {
		return // only does something as a helper process of TestWalletForConcurrentProcesses
	}
	merchant, _ := strconv.ParseInt(os.Getenv("SLUICE_WALLET_HELPER_MERCHANT"), 10, 64)
	l := openLedger(t, dsn)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, _, err := l.WalletFor(context.Background(), merchant, "LTC", "same-customer")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			fmt.Println("ADDRESS " + w.Address)
		}()
	}
	wg.Wait()
}

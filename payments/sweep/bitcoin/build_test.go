package bitcoin

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	ibtc "github.com/sluicepay/sluice/indexer/bitcoin"
	"github.com/sluicepay/sluice/payments/keys"
	"github.com/sluicepay/sluice/payments/sweep"
)

func script(t testing.TB, chain, network, addr string) []byte {
	t.Helper()
	p, err := ibtc.ParamsFor(chain, network)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ibtc.AddressScript(addr, p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDustLimit(t *testing.T) {
	btc, ltc := policyFor("btc"), policyFor("ltc")
	for _, c := range []struct {
		name   string
		pol    policy
		script []byte
		want   int64
	}{
		// Bitcoin Core's figures (policy.cpp: 294 for P2WPKH, 546 for P2PKH)
		{"btc p2wpkh", btc, script(t, "btc", "mainnet", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"), 294},
		{"btc p2pkh", btc, script(t, "btc", "mainnet", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"), 546},
		{"btc p2sh", btc, script(t, "btc", "mainnet", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"), 540},
		{"btc p2wsh", btc, script(t, "btc", "mainnet", "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3"), 330},
		{"btc p2tr", btc, script(t, "btc", "mainnet", "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297"), 330},
		// Litecoin: ten times the dust rate (litecoind refuses 2,939 litoshi to P2WPKH)
		{"ltc p2wpkh", ltc, script(t, "ltc", "mainnet", "ltc1qg42tkwuuxefutzxezdkdel39gfstuap288mfea"), 2940},
		{"ltc p2pkh", ltc, script(t, "ltc", "mainnet", "LM2WMpR1Rp6j3Sa59cMXMs1SPzj9eXpGc1"), 5460},
	} {
		if got := c.pol.dustLimit(c.script); got != c.want {
			t.Errorf("%s: dust limit %d, want %d", c.name, got, c.want)
		}
	}
}

// testCoins are n P2WPKH coins of fresh keys.
func testCoins(t testing.TB, values ...int64) []coin {
	t.Helper()
	coins := make([]coin, len(values))
	for i, v := range values {
		k, err := btcec.NewPrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		var h chainhash.Hash
		_, _ = rand.Read(h[:])
		coins[i] = coin{op: wire.OutPoint{Hash: h, Index: uint32(i)}, value: v, script: p2wpkhScript(k.PubKey()), key: k}
	}
	return coins
}

// The estimate is never below the signed size, and only above it by the
// signatures' slack (at most 2 bytes of witness each).
func TestEstimateVSize(t *testing.T) {
	dest := script(t, "btc", "mainnet", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2")
	fee := script(t, "btc", "mainnet", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")
	for n := 1; n <= 30; n += 3 {
		for round := 0; round < 5; round++ {
			vals := make([]int64, n)
			for i := range vals {
				vals[i] = 10_000
			}
			coins := testCoins(t, vals...)
			outs := []payment{{dest, 1000}, {fee, 1000}}
			tx, err := signTx(coins, outs)
			if err != nil {
				t.Fatal(err)
			}
			est, got := estimateVSize(n, scriptsOf(outs)), vsize(tx)
			if got > est || est-got > int64(n)/2+1 {
				t.Fatalf("%d inputs: estimate %d vB, signed %d vB", n, est, got)
			}
		}
	}
	// one input, one P2WPKH output: the well-known 110 vB (109.25 with 72-byte signatures)
	if v := estimateVSize(1, [][]byte{fee}); v != 110 {
		t.Errorf("1-in 1-out P2WPKH: %d vB", v)
	}
}

func TestBuildSweep(t *testing.T) {
	pol := policyFor("btc")
	dest := script(t, "btc", "regtest", "bcrt1qjypjvur70c56dkgnpvj6rfhxac0j0jmzqqw8sd")
	feeAddr := script(t, "btc", "mainnet", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2") // P2PKH: dust under 546

	coins := testCoins(t, 100_000, 50_000)
	s, err := buildSweep(sweepSpec{coins: coins, dest: dest, feeScript: feeAddr, feeService: 1_500, rate: 2_500, pol: pol})
	if err != nil {
		t.Fatal(err)
	}
	est := estimateVSize(2, [][]byte{dest, feeAddr})
	if s.feeNetwork != ceilDiv(2_500*est, 1000) || s.feeService != 1_500 || s.amount != 150_000-1_500-s.feeNetwork {
		t.Fatalf("amount %d, service %d, network %d (estimate %d vB)", s.amount, s.feeService, s.feeNetwork, est)
	}
	if len(s.tx.TxOut) != 2 || !bytes.Equal(s.tx.TxOut[0].PkScript, dest) || s.tx.TxOut[0].Value != s.amount ||
		!bytes.Equal(s.tx.TxOut[1].PkScript, feeAddr) || s.tx.TxOut[1].Value != 1_500 {
		t.Fatalf("outputs %+v", s.tx.TxOut)
	}
	for i, in := range s.tx.TxIn {
		if in.Sequence >= wire.MaxTxInSequenceNum-1 || in.PreviousOutPoint != coins[i].op || len(in.Witness) != 2 {
			t.Fatalf("input %d: %+v", i, in)
		}
	}
	if s.tx.Version != 2 || s.txid != s.tx.TxHash().String() {
		t.Fatal("version or txid")
	}
	if rate := s.feeNetwork * 1000 / vsize(s.tx); rate < 2_500 {
		t.Fatalf("pays %d per 1,000 vB, asked 2,500", rate)
	}

	// a dust service fee is left to the destination
	s, err = buildSweep(sweepSpec{coins: coins, dest: dest, feeScript: feeAddr, feeService: 545, rate: 1_000, pol: pol})
	if err != nil {
		t.Fatal(err)
	}
	if s.feeService != 0 || len(s.tx.TxOut) != 1 || s.amount != 150_000-s.feeNetwork {
		t.Fatalf("dust fee: %+v", s)
	}
	// minFee wins over the rate
	s, err = buildSweep(sweepSpec{coins: coins, dest: dest, rate: 1_000, minFee: 5_000, pol: pol})
	if err != nil || s.feeNetwork != 5_000 || s.amount != 145_000 {
		t.Fatalf("min fee: %+v, %v", s, err)
	}

	// what reaches the destination must not be dust: 294 sat for P2WPKH
	one := testCoins(t, 10_000)
	if s, err := buildSweep(sweepSpec{coins: one, dest: dest, rate: 10_000, minFee: 10_000 - 294, pol: pol}); err != nil {
		t.Fatalf("exactly the dust limit left: %v", err)
	} else if s.amount != 294 {
		t.Fatalf("amount %d", s.amount)
	}
	_, err = buildSweep(sweepSpec{coins: one, dest: dest, rate: 10_000, minFee: 10_000 - 293, pol: pol})
	if !errors.Is(err, sweep.ErrUneconomic) {
		t.Fatalf("293 left: %v, want ErrUneconomic", err)
	}
	_, err = buildSweep(sweepSpec{coins: testCoins(t, 300), dest: dest, rate: 1_000, pol: pol})
	if !errors.Is(err, sweep.ErrUneconomic) {
		t.Fatalf("300 sat in: %v, want ErrUneconomic", err)
	}
}

func TestBuildSpend(t *testing.T) {
	pol := policyFor("btc")
	dest := script(t, "btc", "regtest", "bcrt1qjypjvur70c56dkgnpvj6rfhxac0j0jmzqqw8sd")
	coins := testCoins(t, 80_000, 50_000, 20_000)
	change := coins[0].script
	for i := range coins {
		coins[i].script, coins[i].key = change, coins[0].key // one hot wallet
	}

	// one coin and change
	s, err := buildSpend(spendSpec{coins: coins, dest: dest, amount: 30_000, change: change, rate: 1_000, pol: pol})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.tx.TxIn) != 1 || len(s.tx.TxOut) != 2 || s.tx.TxOut[0].Value != 30_000 || s.change != 80_000-30_000-s.feeNetwork ||
		!bytes.Equal(s.tx.TxOut[1].PkScript, change) || s.feeNetwork != estimateVSize(1, [][]byte{dest, change}) {
		t.Fatalf("%+v", s)
	}
	// two coins
	s, err = buildSpend(spendSpec{coins: coins, dest: dest, amount: 100_000, change: change, rate: 1_000, pol: pol})
	if err != nil || len(s.tx.TxIn) != 2 || s.amount != 100_000 || s.change != 130_000-100_000-s.feeNetwork {
		t.Fatalf("%+v, %v", s, err)
	}
	// change that would be dust goes to the fee
	noChangeFee := estimateVSize(1, [][]byte{dest})
	s, err = buildSpend(spendSpec{coins: coins[:1], dest: dest, amount: 80_000 - noChangeFee - 100, change: change, rate: 1_000, pol: pol})
	if err != nil || len(s.tx.TxOut) != 1 || s.feeNetwork != noChangeFee+100 || s.change != 0 {
		t.Fatalf("%+v, %v", s, err)
	}
	// every coin, when asked (a replacement)
	s, err = buildSpend(spendSpec{coins: coins, useAll: true, dest: dest, amount: 1_000, change: change, rate: 1_000, pol: pol})
	if err != nil || len(s.tx.TxIn) != 3 {
		t.Fatalf("%+v, %v", s, err)
	}
	// not enough
	_, err = buildSpend(spendSpec{coins: coins, dest: dest, amount: 150_000, change: change, rate: 1_000, pol: pol})
	if !errors.Is(err, errShort) {
		t.Fatalf("%v, want errShort", err)
	}
	// dust to the destination
	_, err = buildSpend(spendSpec{coins: coins, dest: dest, amount: 293, change: change, rate: 1_000, pol: pol})
	if !errors.Is(err, sweep.ErrUneconomic) {
		t.Fatalf("%v, want ErrUneconomic", err)
	}
}

func TestOutpoint(t *testing.T) {
	txid := strings.Repeat("ab", 32)
	op, err := outpoint(txid, "vout:7")
	if err != nil || op.Index != 7 || op.Hash.String() != txid {
		t.Fatalf("%v %v", op, err)
	}
	for _, c := range [][2]string{{txid, "7"}, {txid, "log:1"}, {txid, "vout:-1"}, {txid, "vout:4294967296"}, {"abc", "vout:1"}, {txid + "00", "vout:1"}} {
		if _, err := outpoint(c[0], c[1]); err == nil {
			t.Errorf("%q %q accepted", c[0], c[1])
		}
	}
}

func TestBroadcastErrors(t *testing.T) {
	for _, m := range []string{"txn-already-in-mempool", "Transaction already in block chain", "txn-already-known",
		"TX rejected: already have transaction in mempool 1234", "TX rejected: transaction already exists in blockchain"} {
		if !alreadyKnown(strings.ToLower(m)) {
			t.Errorf("%q: not known", m)
		}
	}
	for _, m := range []string{"bad-txns-inputs-missingorspent", "Missing inputs", "txn-mempool-conflict",
		"insufficient fee, rejecting replacement 12ab, not enough additional fees to relay",
		"TX rejected: orphan transaction 12 references outputs of unknown or fully-spent transaction 34",
		"TX rejected: output already spent in mempool: output=1:0, tx=2",
		"TX rejected: 12: replacement transaction has an insufficient fee rate"} {
		if !conflict(strings.ToLower(m)) || alreadyKnown(strings.ToLower(m)) {
			t.Errorf("%q: not a conflict", m)
		}
	}
	for _, m := range []string{"min relay fee not met", "dust", "non-mandatory-script-verify-flag", "TX decode failed"} {
		if conflict(strings.ToLower(m)) || alreadyKnown(strings.ToLower(m)) {
			t.Errorf("%q: classified", m)
		}
	}
}

func TestRateText(t *testing.T) {
	for rate, want := range map[int64]string{1000: "1/vB", 12_500: "12.500/vB", 1: "0.001/vB"} {
		if got := rateText(rate); got != want {
			t.Errorf("%d: %q", rate, got)
		}
	}
}

func testSeed(t testing.TB) keys.Seed {
	t.Helper()
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	s, err := keys.ParseSeed(hex.EncodeToString(b))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHotWalletAddress(t *testing.T) {
	seed, err := keys.ParseSeed("000102030405060708090a0b0c0d0e0f")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ chain, network, prefix string }{
		{"btc", "mainnet", "bc1q"}, {"btc", "regtest", "bcrt1q"}, {"ltc", "mainnet", "ltc1q"}, {"ltc", "regtest", "rltc1q"},
	} {
		a, err := HotWalletAddress(seed, c.chain, c.network)
		if err != nil || !strings.HasPrefix(a, c.prefix) {
			t.Fatalf("%s %s: %q %v", c.chain, c.network, a, err)
		}
		// the same as the seed's own derivation of the reserved account
		p, _ := ibtc.ParamsFor(c.chain, c.network)
		want, err := seed.Address(currencyOf(p), c.network, 2147483646, 0)
		if err != nil || a != want {
			t.Fatalf("%s %s: %s, want %s (%v)", c.chain, c.network, a, want, err)
		}
	}
	if _, err := HotWalletAddress(seed, "eth", "mainnet"); err == nil {
		t.Fatal("eth accepted")
	}
}

func TestNewOptions(t *testing.T) {
	seed := testSeed(t)
	if _, err := New("btc", "regtest", "http://u:p@127.0.0.1:1", seed, WithFeeRates(5, 2)); err == nil {
		t.Error("floor over ceiling accepted")
	}
	if _, err := New("btc", "regtest", "http://u:p@127.0.0.1:1", seed, WithFeeRates(0, 2)); err == nil {
		t.Error("floor 0 accepted")
	}
	for _, r := range [][2]float64{{math.NaN(), 2}, {1, math.NaN()}, {1, math.Inf(1)}, {-1, 2}, {1, 2_000_000}} {
		if _, err := New("btc", "regtest", "http://u:p@127.0.0.1:1", seed, WithFeeRates(r[0], r[1])); err == nil {
			t.Errorf("rates %v accepted", r)
		}
	}
	if _, err := New("btc", "regtest", "http://u:p@127.0.0.1:1", seed, WithHTTPClient(nil)); err == nil {
		t.Error("nil HTTP client accepted")
	}
	if _, err := New("btc", "regtest", "http://u:p@127.0.0.1:1", seed, WithConfTarget(0)); err == nil {
		t.Error("target 0 accepted")
	}
	if _, err := New("doge", "regtest", "http://u:p@127.0.0.1:1", seed); err == nil {
		t.Error("doge accepted")
	}
	if _, err := New("btc", "regtest", "http://u:p@127.0.0.1:1", keys.Seed{}); err == nil {
		t.Error("empty seed accepted")
	}
	c, err := New("ltc", "regtest", "http://u:p@127.0.0.1:1", seed, WithFeeRates(0.5, 20))
	if err != nil || c.floor != 500 || c.ceiling != 20_000 || c.params.Chain != "ltc" {
		t.Fatalf("%+v %v", c, err)
	}
}

// Jobs that cannot be signed are refused before the node is asked anything.
func TestSignRefuses(t *testing.T) {
	seed := testSeed(t)
	c, err := New("btc", "regtest", "http://u:p@127.0.0.1:1", seed)
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := seed.Address(keys.BTC, "regtest", 3, 1)
	in := sweep.Input{DepositID: 1, TxID: strings.Repeat("11", 32), Position: "vout:0", Amount: big.NewInt(10_000),
		Address: addr, Currency: "BTC", Account: 3, Index: 1}
	job := func(mod func(j *sweep.Job)) *sweep.Job {
		j := &sweep.Job{ID: 9, Chain: "btc", Currency: "BTC", Kind: sweep.KindSettle, Destination: addr,
			Gross: big.NewInt(10_000), FeeService: new(big.Int), Inputs: []sweep.Input{in}}
		mod(j)
		return j
	}
	for name, j := range map[string]*sweep.Job{
		"ltc job":             job(func(j *sweep.Job) { j.Chain = "ltc" }),
		"eth currency":        job(func(j *sweep.Job) { j.Currency = "ETH" }),
		"gas kind":            job(func(j *sweep.Job) { j.Kind = sweep.KindGas }),
		"no inputs":           job(func(j *sweep.Job) { j.Inputs = nil }),
		"mainnet destination": job(func(j *sweep.Job) { j.Destination = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4" }),
		"ltc destination":     job(func(j *sweep.Job) { j.Destination = "rltc1qxzaz87g2lum5hz9pl38zzc082ye648560gh97j" }),
		"garbage destination": job(func(j *sweep.Job) { j.Destination = "pay me" }),
		"bad fee address":     job(func(j *sweep.Job) { j.FeeService = big.NewInt(1000); j.FeeAddress = "x" }),
		"withdraw no amount":  job(func(j *sweep.Job) { j.Kind = sweep.KindWithdraw; j.Gross = nil }),
		"negative fee":        job(func(j *sweep.Job) { j.FeeService = big.NewInt(-1) }),
		"gross not the sum":   job(func(j *sweep.Job) { j.Gross = big.NewInt(10_001) }),
	} {
		if err := c.Sign(t.Context(), j); err == nil || strings.Contains(err.Error(), "127.0.0.1") {
			t.Errorf("%s: %v, want a refusal before any node call", name, err)
		}
	}
	// inputs are checked against their keys before the node is asked
	coinsErr := func(mod func(in *sweep.Input)) error {
		i := in
		mod(&i)
		_, err := c.depositCoins(&sweep.Job{Inputs: []sweep.Input{i}})
		return err
	}
	for name, mod := range map[string]func(in *sweep.Input){
		"another key's address": func(in *sweep.Input) { in.Index = 2 },
		"bad position":          func(in *sweep.Input) { in.Position = "log:0" },
		"zero amount":           func(in *sweep.Input) { in.Amount = new(big.Int) },
		"ltc deposit":           func(in *sweep.Input) { in.Currency = "LTC" },
	} {
		if err := coinsErr(mod); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := c.depositCoins(&sweep.Job{Inputs: []sweep.Input{in, in}}); err == nil {
		t.Error("the same output twice accepted")
	}
	coins, err := c.depositCoins(&sweep.Job{Inputs: []sweep.Input{in}})
	if err != nil || len(coins) != 1 || coins[0].value != 10_000 || !bytes.Equal(coins[0].script, script(t, "btc", "regtest", addr)) {
		t.Fatalf("%+v %v", coins, err)
	}
}

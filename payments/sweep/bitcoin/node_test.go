package bitcoin

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicepay/sluice/devnet"
	ibtc "github.com/sluicepay/sluice/indexer/bitcoin"
	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/payments/keys"
	"github.com/sluicepay/sluice/payments/sweep"
)

// These tests run against the test stack's btcd (BTC regtest, no wallet: the
// deposits are paid from its mining key) and litecoind (LTC regtest, paid
// from its wallet). Other tests mine on the same nodes: nothing here counts
// on a height, only on conditions it waits for.

// node is one chain of the test stack with a Chain of a fresh seed.
type node struct {
	chain, cur string
	nodes      devnet.Nodes
	seed       keys.Seed
	c          *Chain
	floor, cap float64 // the Chain's fee rates per vB
}

func stackNodes(t *testing.T) devnet.Nodes {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Get(t, "SLUICE_STACK_DIR"), "stack.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Key    string `json:"btc_mining_key"`
		Wallet string `json:"ltc_wallet"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.Key == "" || st.Wallet == "" {
		t.Fatalf("stack state: %v", err)
	}
	return devnet.Nodes{BTCRPC: testenv.Get(t, "SLUICE_BTC_RPC"), BTCMiningKey: st.Key,
		LTCRPC: testenv.Get(t, "SLUICE_LTC_RPC"), LTCWallet: st.Wallet}
}

func newNode(t *testing.T, chain string, opts ...Option) *node {
	t.Helper()
	n := &node{chain: chain, cur: strings.ToUpper(chain), nodes: stackNodes(t), seed: testSeed(t)}
	// btcd estimates from the blocks the tests mine (none at first: the
	// floor); litecoind ~10/vB from its wallet's payments
	n.floor, n.cap = 2, 200
	if chain == "ltc" {
		n.floor, n.cap = 1, 100
	}
	c, err := New(chain, "regtest", n.url(), n.seed, append([]Option{WithFeeRates(n.floor, n.cap)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	n.c = c
	return n
}

// low is a Chain of the same seed that pays the floor: an original for a bump.
func (n *node) low(t *testing.T) *Chain {
	t.Helper()
	c, err := New(n.chain, "regtest", n.url(), n.seed, WithFeeRates(n.floor, n.floor))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testAccept asks litecoind whether it would take raw into its mempool.
func (n *node) testAccept(t *testing.T, raw string) (bool, string) {
	t.Helper()
	var res []struct {
		Allowed bool   `json:"allowed"`
		Reason  string `json:"reject-reason"`
	}
	if err := n.c.rpc.Call(ctxFor(t), "testmempoolaccept", &res, []string{raw}); err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 {
		t.Fatalf("testmempoolaccept: %+v", res)
	}
	return res[0].Allowed, res[0].Reason
}

func (n *node) url() string {
	if n.chain == "ltc" {
		return n.nodes.LTCRPC
	}
	return n.nodes.BTCRPC
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// fund pays each amount to a deposit address of the seed (account 5, index
// i) and returns the deposits as job inputs, not yet confirmed.
func (n *node) fund(t *testing.T, amounts ...int64) []sweep.Input {
	t.Helper()
	ctx := ctxFor(t)
	var ins []sweep.Input
	for i, amt := range amounts {
		addr, err := n.seed.Address(keys.Currency(n.cur), "regtest", 5, uint32(i))
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, n.pay(t, ctx, addr, amt, int64(i+1), 5, uint32(i)))
	}
	return ins
}

// pay pays amt to addr and returns the output as an input.
func (n *node) pay(t *testing.T, ctx context.Context, addr string, amt, depositID int64, account, index uint32) sweep.Input {
	t.Helper()
	txid, err := n.nodes.Pay(ctx, n.cur, addr, fmt.Sprintf("%d.%08d", amt/1e8, amt%1e8))
	if err != nil {
		t.Fatalf("pay %d to %s: %v", amt, addr, err)
	}
	outs, err := n.c.txOutputs(ctx, txid)
	if err != nil {
		t.Fatal(err)
	}
	want := hex.EncodeToString(script(t, n.chain, "regtest", addr))
	for _, o := range outs {
		if v, _ := o.units(); o.ScriptPubKey.Hex == want && v == amt {
			return sweep.Input{DepositID: depositID, TxID: txid, Position: fmt.Sprintf("vout:%d", o.N), Amount: big.NewInt(amt),
				Address: addr, Currency: n.cur, Account: account, Index: index}
		}
	}
	t.Fatalf("payment %s has no output of %d to %s", txid, amt, addr)
	return sweep.Input{}
}

// confirm mines until every txid has a confirmation.
func (n *node) confirm(t *testing.T, txids ...string) {
	t.Helper()
	ctx := ctxFor(t)
	deadline := time.Now().Add(2 * time.Minute)
	var lastMine time.Time
	for _, id := range txids {
		for ; ; time.Sleep(200 * time.Millisecond) {
			confs, known, err := n.c.Confirmations(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !known {
				t.Fatalf("%s: the node does not know %s", n.chain, id)
			}
			if confs >= 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s not confirmed", n.chain, id)
			}
			if time.Since(lastMine) > 10*time.Second {
				if _, err := n.nodes.Mine(ctx, n.chain, 1); err != nil {
					t.Fatal(err)
				}
				lastMine = time.Now()
			}
		}
	}
}

// newAddress is a fresh destination: a key not kept (btcd) or litecoind's wallet.
func (n *node) newAddress(t *testing.T) string {
	t.Helper()
	a, err := n.nodes.NewAddress(ctxFor(t), n.chain)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// onChain is a transaction as the node shows it.
type onChain struct {
	VSize int64 `json:"vsize"`
	Vin   []struct {
		TxID     string `json:"txid"`
		Vout     uint32 `json:"vout"`
		Sequence uint32 `json:"sequence"`
	} `json:"vin"`
	Vout []txOut `json:"vout"`
}

func (n *node) tx(t *testing.T, txid string) onChain {
	t.Helper()
	var tx onChain
	if err := n.c.rpc.Call(ctxFor(t), "getrawtransaction", &tx, txid, 1); err != nil {
		t.Fatal(err)
	}
	return tx
}

// paid is what output i of the transaction pays, and to which address.
func (n *node) paid(t *testing.T, tx onChain, i int) (int64, string) {
	t.Helper()
	v, err := tx.Vout[i].units()
	if err != nil {
		t.Fatal(err)
	}
	s, _ := hex.DecodeString(tx.Vout[i].ScriptPubKey.Hex)
	_, addr := ibtc.ClassifyScript(s, n.c.params)
	if addr == nil {
		t.Fatalf("output %d pays no address", i)
	}
	return v, *addr
}

func sum(ins []sweep.Input) *big.Int {
	s := new(big.Int)
	for _, in := range ins {
		s.Add(s, in.Amount)
	}
	return s
}

func chains(t *testing.T, f func(t *testing.T, chain string)) {
	for _, chain := range []string{"btc", "ltc"} {
		t.Run(chain, func(t *testing.T) { f(t, chain) })
	}
}

// TestSweep spends two deposits to a destination with a service fee, on
// btcd and litecoind: the destination gets exactly Gross − FeeService −
// FeeNetwork, the fee address exactly FeeService, at a rate within the floor
// and the ceiling; broadcasting again (before and after it confirms) is
// success; dust and bad destinations are refused.
func TestSweep(t *testing.T) {
	chains(t, func(t *testing.T, chain string) {
		n := newNode(t, chain)
		ctx := ctxFor(t)
		amounts := []int64{150_000, 260_000}
		ins := n.fund(t, amounts...)
		n.confirm(t, ins[0].TxID, ins[1].TxID)
		dest, feeAddr := n.newAddress(t), n.newAddress(t)
		job := func() *sweep.Job {
			return &sweep.Job{ID: 1, Chain: chain, Currency: n.cur, Kind: sweep.KindSettle, Destination: dest,
				Gross: sum(ins), FeeService: big.NewInt(7_000), FeeAddress: feeAddr, Inputs: ins}
		}

		// refusals first, while the deposits are unspent
		j := job()
		j.FeeService = big.NewInt(410_000 - 500)
		if err := n.c.Sign(ctx, j); !errors.Is(err, sweep.ErrUneconomic) {
			t.Fatalf("fees leaving dust: %v, want ErrUneconomic", err)
		}
		for _, bad := range []string{"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "ltc1qg42tkwuuxefutzxezdkdel39gfstuap288mfea",
			map[string]string{"btc": "rltc1qxzaz87g2lum5hz9pl38zzc082ye648560gh97j", "ltc": "bcrt1qjypjvur70c56dkgnpvj6rfhxac0j0jmzqqw8sd"}[chain],
			"", "not an address"} {
			j := job()
			j.Destination = bad
			if err := n.c.Sign(ctx, j); err == nil || !strings.Contains(err.Error(), "destination") {
				t.Errorf("destination %q: %v", bad, err)
			}
		}
		j = job()
		j.Inputs = append([]sweep.Input(nil), ins...)
		j.Inputs[1].Amount = big.NewInt(amounts[1] + 1)
		j.Gross = sum(j.Inputs)
		if err := n.c.Sign(ctx, j); err == nil || !strings.Contains(err.Error(), "ledger says") {
			t.Errorf("a wrong amount: %v", err)
		}

		j = job()
		if err := n.c.Sign(ctx, j); err != nil {
			t.Fatal(err)
		}
		if j.RawTx == "" || len(j.TxID) != 64 || j.FeeService.Int64() != 7_000 ||
			new(big.Int).Add(j.Amount, new(big.Int).Add(j.FeeService, j.FeeNetwork)).Cmp(j.Gross) != 0 {
			t.Fatalf("signed job: amount %s, service %s, network %s of %s", j.Amount, j.FeeService, j.FeeNetwork, j.Gross)
		}
		for i := 0; i < 2; i++ { // the second time the node has it already
			if err := n.c.Broadcast(ctx, j.RawTx); err != nil {
				t.Fatalf("broadcast %d: %v", i+1, err)
			}
		}
		if _, known, err := n.c.Confirmations(ctx, j.TxID); err != nil || !known {
			t.Fatalf("after broadcast: known %v, %v", known, err)
		}
		n.confirm(t, j.TxID)
		if err := n.c.Broadcast(ctx, j.RawTx); err != nil {
			t.Fatalf("broadcast after it confirmed: %v", err)
		}

		tx := n.tx(t, j.TxID)
		if len(tx.Vin) != 2 || len(tx.Vout) != 2 {
			t.Fatalf("%d inputs, %d outputs", len(tx.Vin), len(tx.Vout))
		}
		for i, in := range tx.Vin {
			if in.Sequence >= 0xfffffffe {
				t.Errorf("input %d does not signal RBF: sequence %x", i, in.Sequence)
			}
		}
		if v, a := n.paid(t, tx, 0); v != j.Amount.Int64() || a != dest {
			t.Errorf("destination: %d to %s, want %s to %s", v, a, j.Amount, dest)
		}
		if v, a := n.paid(t, tx, 1); v != 7_000 || a != feeAddr {
			t.Errorf("service fee: %d to %s, want 7000 to %s", v, a, feeAddr)
		}
		gross := amounts[0] + amounts[1]
		fee := gross - j.Amount.Int64() - 7_000
		if fee != j.FeeNetwork.Int64() {
			t.Errorf("network fee on chain %d, job %s", fee, j.FeeNetwork)
		}
		// the rate asked is within the floor and the ceiling; the size it was
		// applied to is at least the real one
		est := estimateVSize(2, [][]byte{script(t, chain, "regtest", dest), script(t, chain, "regtest", feeAddr)})
		if tx.VSize > est || float64(fee)/float64(tx.VSize) < n.floor || float64(fee)/float64(est) > n.cap+0.001 {
			t.Errorf("fee %d for %d vB (estimated %d): outside %v..%v per vB", fee, tx.VSize, est, n.floor, n.cap)
		}
		t.Logf("%s: swept %d, service fee 7000, network fee %d for %d vB (%.2f/vB)", chain, j.Amount, fee, tx.VSize, float64(fee)/float64(tx.VSize))

		// spent now: signing again is a conflict
		if err := n.c.Sign(ctx, job()); !errors.Is(err, ErrConflict) {
			t.Errorf("signing spent deposits: %v, want ErrConflict", err)
		}
	})
}

// TestBump replaces a sweep with a higher fee. btcd takes the replacement
// and drops the original, which then conflicts; the replacement confirms
// with the same destination and service fee. litecoind takes no
// replacement unless started with -mempoolreplacement=1 (Litecoin Core's
// own policy): there the replacement is checked with testmempoolaccept and
// sent instead of the original, which then conflicts.
func TestBump(t *testing.T) {
	chains(t, func(t *testing.T, chain string) {
		n := newNode(t, chain)
		ctx := ctxFor(t)
		dest, feeAddr := n.newAddress(t), n.newAddress(t)
		// Another test mining a block between broadcast and bump confirms the
		// original; then fund again and retry.
		for attempt := 1; ; attempt++ {
			ins := n.fund(t, 300_000)
			n.confirm(t, ins[0].TxID)
			job := &sweep.Job{ID: 41, Chain: chain, Currency: n.cur, Kind: sweep.KindForward, Destination: dest,
				Gross: sum(ins), FeeService: big.NewInt(5_000), FeeAddress: feeAddr, Inputs: ins}
			if err := n.low(t).Sign(ctx, job); err != nil {
				t.Fatal(err)
			}
			var bumped *sweep.Job
			var err error
			if chain == "btc" {
				if err := n.c.Broadcast(ctx, job.RawTx); err != nil {
					t.Fatal(err)
				}
				if bumped, err = n.c.Bump(ctx, job); err == nil {
					err = n.c.Broadcast(ctx, bumped.RawTx)
				}
				if err != nil {
					if confs, _, _ := n.c.Confirmations(ctx, job.TxID); confs > 0 && attempt < 3 {
						t.Logf("the original confirmed before its replacement (%v): again", err)
						continue
					}
					t.Fatal(err)
				}
				if _, known, err := n.c.Confirmations(ctx, job.TxID); err != nil || known {
					t.Fatalf("the original after its replacement: known %v, %v", known, err)
				}
			} else {
				// the original is not sent: litecoind would refuse its replacement
				if bumped, err = n.c.Bump(ctx, job); err != nil {
					t.Fatal(err)
				}
				if ok, why := n.testAccept(t, bumped.RawTx); !ok {
					t.Fatalf("litecoind would not take the replacement: %s", why)
				}
				if err := n.c.Broadcast(ctx, bumped.RawTx); err != nil {
					t.Fatal(err)
				}
			}
			oldFee, newFee := job.FeeNetwork.Int64(), bumped.FeeNetwork.Int64()
			oldTx, _ := decodeTx(job.RawTx)
			newTx, _ := decodeTx(bumped.RawTx)
			if bumped.Replaces != 41 || bumped.ID != 0 || bumped.State != sweep.StateSigned || bumped.TxID == job.TxID ||
				bumped.Destination != dest || bumped.FeeService.Int64() != 5_000 ||
				bumped.Amount.Int64() != 300_000-5_000-newFee {
				t.Fatalf("replacement job %+v", bumped)
			}
			if newFee < oldFee+vsize(newTx) || newFee*1000/vsize(newTx) < oldFee*1000/vsize(oldTx)+1000 {
				t.Fatalf("fee %d (%d vB) after %d (%d vB): not 1/vB more", newFee, vsize(newTx), oldFee, vsize(oldTx))
			}
			if err := n.c.Broadcast(ctx, job.RawTx); !errors.Is(err, ErrConflict) {
				t.Fatalf("the original again: %v, want ErrConflict", err)
			}
			n.confirm(t, bumped.TxID)
			if err := n.c.Broadcast(ctx, job.RawTx); !errors.Is(err, ErrConflict) {
				t.Fatalf("the original after the replacement confirmed: %v, want ErrConflict", err)
			}
			if _, err := n.c.Bump(ctx, bumped); err == nil {
				t.Fatal("a confirmed transaction bumped")
			}
			tx := n.tx(t, bumped.TxID)
			if v, a := n.paid(t, tx, 0); v != bumped.Amount.Int64() || a != dest {
				t.Fatalf("destination %d to %s", v, a)
			}
			if v, a := n.paid(t, tx, 1); v != 5_000 || a != feeAddr {
				t.Fatalf("fee %d to %s", v, a)
			}
			t.Logf("%s: network fee %d → %d", chain, oldFee, newFee)
			return
		}
	})
}

// TestBumpCeiling: no replacement over the ceiling.
func TestBumpCeiling(t *testing.T) {
	n := newNode(t, "btc")
	ins := n.fund(t, 100_000)
	c, err := New("btc", "regtest", n.nodes.BTCRPC, n.seed, WithFeeRates(2, 2.5))
	if err != nil {
		t.Fatal(err)
	}
	job := &sweep.Job{ID: 1, Chain: "btc", Kind: sweep.KindSettle, Destination: n.newAddress(t), Gross: sum(ins), Inputs: ins}
	ctx := ctxFor(t)
	if err := c.Sign(ctx, job); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Bump(ctx, job); !errors.Is(err, ErrAtCeiling) {
		t.Fatalf("%v, want ErrAtCeiling", err)
	}
}

// TestWithdraw: deposits swept to the hot wallet pay a withdrawal, with
// change back to the hot wallet; the withdrawal is bumped before it
// confirms. A second withdrawal waits while the hot wallet's only
// confirmed output is spent in the mempool.
func TestWithdraw(t *testing.T) {
	chains(t, func(t *testing.T, chain string) {
		n := newNode(t, chain)
		ctx := ctxFor(t)
		hot, err := HotWalletAddress(n.seed, chain, "regtest")
		if err != nil {
			t.Fatal(err)
		}
		ins := n.fund(t, 400_000, 500_000)
		n.confirm(t, ins[0].TxID, ins[1].TxID)
		hotJob := &sweep.Job{ID: 7, Chain: chain, Kind: sweep.KindHot, Destination: hot, Gross: sum(ins), Inputs: ins}
		if err := n.c.Sign(ctx, hotJob); err != nil {
			t.Fatal(err)
		}
		if err := n.c.Broadcast(ctx, hotJob.RawTx); err != nil {
			t.Fatal(err)
		}

		w := &sweep.Job{ID: 8, Chain: chain, Kind: sweep.KindWithdraw, Destination: n.newAddress(t), Gross: big.NewInt(250_000)}
		// unconfirmed hot outputs are not spent
		if err := n.c.Sign(ctx, w); !errors.Is(err, sweep.ErrWait) {
			t.Fatalf("before the hot sweep confirmed: %v, want ErrWait", err)
		}
		n.confirm(t, hotJob.TxID)
		balance := hotJob.Amount.Int64()

		// the ledger's list of transactions finds the same outputs as the node's index
		hotScript := script(t, chain, "regtest", hot)
		byNode, err := n.c.hotOutputs(ctx, hotScript)
		if err != nil || len(byNode) != 1 || byNode[0].value != balance {
			t.Fatalf("hot outputs from the node: %+v, %v", byNode, err)
		}
		listed, err := New(chain, "regtest", n.url(), n.seed,
			WithHotTxIDs(func(context.Context) ([]string, error) { return []string{hotJob.TxID, hotJob.TxID}, nil }))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := listed.hotOutputs(ctx, hotScript); err != nil || len(got) != 1 || got[0] != byNode[0] {
			t.Fatalf("hot outputs from the ledger's list: %+v, %v", got, err)
		}

		if err := n.low(t).Sign(ctx, w); err != nil {
			t.Fatal(err)
		}
		if w.Amount.Int64() != 250_000 || w.FeeNetwork.Sign() <= 0 {
			t.Fatalf("withdrawal: amount %s, fee %s", w.Amount, w.FeeNetwork)
		}
		// bumped: on btcd after the original is sent (replaced in the
		// mempool), on litecoind instead of it (see TestBump)
		final := w
		if chain == "btc" {
			if err := n.c.Broadcast(ctx, w.RawTx); err != nil {
				t.Fatal(err)
			}
		}
		bumped, err := n.c.Bump(ctx, w)
		if err == nil {
			err = n.c.Broadcast(ctx, bumped.RawTx)
		}
		switch confs, _, _ := n.c.Confirmations(ctx, w.TxID); {
		case err == nil:
			if bumped.FeeNetwork.Cmp(w.FeeNetwork) <= 0 || bumped.Amount.Int64() != 250_000 || bumped.Replaces != 8 {
				t.Fatalf("bumped withdrawal: amount %s, fee %s after %s", bumped.Amount, bumped.FeeNetwork, w.FeeNetwork)
			}
			final = bumped
		case confs > 0:
			t.Logf("the withdrawal confirmed before its replacement (%v): checking it as it is", err)
		default:
			t.Fatal(err)
		}
		// the only confirmed output is spent in the mempool now; a new Chain
		// (no reservations) must see that on the node
		w2 := &sweep.Job{ID: 9, Chain: chain, Kind: sweep.KindWithdraw, Destination: n.newAddress(t), Gross: big.NewInt(balance - 250_000)}
		if err := n.low(t).Sign(ctx, w2); !errors.Is(err, sweep.ErrWait) {
			t.Fatalf("second withdrawal: %v, want ErrWait", err)
		}
		n.confirm(t, final.TxID)
		tx := n.tx(t, final.TxID)
		if len(tx.Vout) != 2 {
			t.Fatalf("%d outputs", len(tx.Vout))
		}
		if v, a := n.paid(t, tx, 0); v != 250_000 || a != w.Destination {
			t.Errorf("withdrawal paid %d to %s", v, a)
		}
		change, a := n.paid(t, tx, 1)
		if a != hot || change != balance-250_000-final.FeeNetwork.Int64() {
			t.Errorf("change %d to %s, want %d to %s", change, a, balance-250_000-final.FeeNetwork.Int64(), hot)
		}
		// the change is the hot wallet's one output now
		if outs, err := n.c.hotOutputs(ctx, hotScript); err != nil || len(outs) != 1 || outs[0].value != change {
			t.Errorf("hot outputs after the withdrawal: %+v, %v", outs, err)
		}
		t.Logf("%s: withdrew 250000 from %d, network fee %s, change %d", chain, balance, final.FeeNetwork, change)
	})
}

func TestConfirmationsUnknown(t *testing.T) {
	chains(t, func(t *testing.T, chain string) {
		n := newNode(t, chain)
		confs, known, err := n.c.Confirmations(ctxFor(t), strings.Repeat("42", 32))
		if err != nil || known || confs != 0 {
			t.Fatalf("%d %v %v", confs, known, err)
		}
		if err := n.c.Broadcast(ctxFor(t), "00"); err == nil || errors.Is(err, ErrConflict) {
			t.Fatalf("garbage broadcast: %v", err)
		}
	})
}

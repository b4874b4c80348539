package bitcoin

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/sluicepay/sluice/jsonrpc"
	"github.com/sluicepay/sluice/payments/sweep"
)

// signWithdraw pays a withdrawal from the hot wallet's confirmed outputs,
// largest first, change back to the hot wallet. The outputs it spends are
// kept from other withdrawals signed here for a while (reserveFor), so that
// one signed and not yet broadcast is not double-spent by the next.
func (c *Chain) signWithdraw(ctx context.Context, job *sweep.Job, dest, feeScript []byte, feeService, rate int64) (*signed, error) {
	amount, err := toInt64(job.Gross, "amount")
	if err != nil {
		return nil, err
	}
	key, hot, err := c.key(HotWalletAccount, 0)
	if err != nil {
		return nil, fmt.Errorf("hot wallet: %w", err)
	}
	defer key.Zero()
	outs, err := c.hotOutputs(ctx, hot)
	if err != nil {
		return nil, fmt.Errorf("hot wallet outputs: %w", err)
	}
	now := time.Now()
	c.mu.Lock()
	coins := make([]coin, 0, len(outs))
	for _, o := range outs {
		if t, ok := c.reserved[o.op]; ok && now.Before(t) {
			continue
		}
		coins = append(coins, coin{op: o.op, value: o.value, script: hot, key: key})
	}
	c.mu.Unlock()
	sort.SliceStable(coins, func(i, j int) bool { return coins[i].value > coins[j].value })
	s, err := buildSpend(spendSpec{coins: coins, dest: dest, amount: amount, feeScript: feeScript, feeService: feeService,
		change: hot, rate: rate, pol: c.pol, destAddress: job.Destination})
	if errors.Is(err, errShort) {
		return nil, fmt.Errorf("%w: %w", sweep.ErrWait, err)
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	for op, t := range c.reserved {
		if now.After(t) {
			delete(c.reserved, op)
		}
	}
	for _, in := range s.tx.TxIn {
		c.reserved[in.PreviousOutPoint] = now.Add(c.reserveFor)
	}
	c.mu.Unlock()
	return s, nil
}

// hotCoinsOf gives the inputs of a withdrawal's transaction as hot-wallet
// coins, their values from the node.
func (c *Chain) hotCoinsOf(ctx context.Context, tx *wire.MsgTx) ([]coin, error) {
	key, hot, err := c.key(HotWalletAccount, 0)
	if err != nil {
		return nil, fmt.Errorf("hot wallet: %w", err)
	}
	coins := make([]coin, 0, len(tx.TxIn))
	for _, in := range tx.TxIn {
		outs, err := c.txOutputs(ctx, in.PreviousOutPoint.Hash.String())
		if err != nil {
			key.Zero()
			return nil, err
		}
		var found bool
		for _, o := range outs {
			if o.N != in.PreviousOutPoint.Index {
				continue
			}
			v, err := o.units()
			if err != nil || o.ScriptPubKey.Hex != hex.EncodeToString(hot) {
				key.Zero()
				return nil, fmt.Errorf("input %s is not a hot-wallet output", in.PreviousOutPoint)
			}
			coins = append(coins, coin{op: in.PreviousOutPoint, value: v, script: hot, key: key})
			found = true
		}
		if !found {
			key.Zero()
			return nil, fmt.Errorf("input %s: the node has no such output", in.PreviousOutPoint)
		}
	}
	return coins, nil
}

// utxo is an unspent output.
type utxo struct {
	op    wire.OutPoint
	value int64
}

// HotBalances is what the hot wallet holds in the chain (its confirmed
// unspent outputs, whatever the mempool spends: a withdrawal in the mempool
// is already off the merchant's balance), for the solvency check.
func (c *Chain) HotBalances(ctx context.Context) (map[string]*big.Int, error) {
	_, hot, err := c.key(HotWalletAccount, 0)
	if err != nil {
		return nil, fmt.Errorf("hot wallet: %w", err)
	}
	outs, err := c.hotUTXOs(ctx, hot, false)
	if err != nil {
		return nil, fmt.Errorf("hot wallet outputs: %w", err)
	}
	sum := new(big.Int)
	for _, o := range outs {
		sum.Add(sum, big.NewInt(o.value))
	}
	return map[string]*big.Int{strings.ToUpper(c.params.Chain): sum}, nil
}

// WithdrawalFeeQuote is the fee reserve of a withdrawal made now: twice the
// node's current rate (within the floor and the ceiling), for the size
// reserves are made for.
func (c *Chain) WithdrawalFeeQuote(ctx context.Context, _ string) (*big.Int, error) {
	rate, err := c.FeeRate(ctx)
	if err != nil {
		return nil, err
	}
	return big.NewInt(feeFor(min(2*rate, c.ceiling), withdrawalVSize())), nil
}

// hotOutputs lists the hot wallet's confirmed outputs that nothing spends,
// in the chain or the mempool.
func (c *Chain) hotOutputs(ctx context.Context, hot []byte) ([]utxo, error) {
	return c.hotUTXOs(ctx, hot, true)
}

// hotUTXOs lists the hot wallet's confirmed unspent outputs; with mempool,
// those a mempool transaction spends are left out.
func (c *Chain) hotUTXOs(ctx context.Context, hot []byte, mempool bool) ([]utxo, error) {
	btcd, err := c.isBtcd(ctx)
	if err != nil {
		return nil, err
	}
	want := hex.EncodeToString(hot)
	var cands []wire.OutPoint
	switch {
	case c.hotTxIDs != nil:
		txids, err := c.hotTxIDs(ctx)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, id := range txids {
			if seen[id] {
				continue
			}
			seen[id] = true
			outs, err := c.txOutputs(ctx, id)
			var re *jsonrpc.Error
			if errors.As(err, &re) && re.Code == -5 {
				continue // not (or no longer) in the node's chain or mempool
			}
			if err != nil {
				return nil, err
			}
			cands = append(cands, matching(id, outs, want)...)
		}
	case btcd:
		if cands, err = c.searchOutputs(ctx, want); err != nil {
			return nil, err
		}
	default:
		if cands, err = c.scanOutputs(ctx); err != nil {
			return nil, err
		}
	}
	var out []utxo
	for _, op := range cands {
		var o *txOut
		if err := c.rpc.Call(ctx, "gettxout", &o, op.Hash.String(), op.Index, mempool); err != nil {
			return nil, err
		}
		if o == nil || o.Confirmations < 1 || o.ScriptPubKey.Hex != want {
			continue // spent, or not yet confirmed
		}
		v, err := o.units()
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", op, err)
		}
		out = append(out, utxo{op: op, value: v})
	}
	if mempool && btcd && len(out) > 0 {
		// btcd's gettxout does not see the mempool's spends
		return c.unspentInMempool(ctx, out)
	}
	return out, nil
}

func matching(txid string, outs []txOut, script string) []wire.OutPoint {
	h, err := chainhash.NewHashFromStr(txid)
	if err != nil {
		return nil
	}
	var ops []wire.OutPoint
	for _, o := range outs {
		if o.ScriptPubKey.Hex == script {
			ops = append(ops, wire.OutPoint{Hash: *h, Index: o.N})
		}
	}
	return ops
}

// txOutputs reads a transaction's outputs from the node.
func (c *Chain) txOutputs(ctx context.Context, txid string) ([]txOut, error) {
	var tx struct {
		Vout []txOut `json:"vout"`
	}
	if err := c.rpc.Call(ctx, "getrawtransaction", &tx, txid, 1); err != nil {
		return nil, fmt.Errorf("transaction %s: %w", txid, err)
	}
	return tx.Vout, nil
}

// searchOutputs finds the hot wallet's outputs with btcd's address index.
func (c *Chain) searchOutputs(ctx context.Context, want string) ([]wire.OutPoint, error) {
	addr, err := HotWalletAddress(c.seed, c.params.Chain, c.params.Network)
	if err != nil {
		return nil, err
	}
	const page = 1000
	var ops []wire.OutPoint
	for skip := 0; ; skip += page {
		var txs []struct {
			TxID string  `json:"txid"`
			Vout []txOut `json:"vout"`
		}
		err := c.rpc.Call(ctx, "searchrawtransactions", &txs, addr, 1, skip, page)
		var re *jsonrpc.Error
		if errors.As(err, &re) && re.Code == -5 { // nothing (more) for the address
			break
		}
		if err != nil {
			return nil, err
		}
		for _, tx := range txs {
			ops = append(ops, matching(tx.TxID, tx.Vout, want)...)
		}
		if len(txs) < page {
			break
		}
	}
	return ops, nil
}

// scanOutputs finds the hot wallet's outputs in the UTXO set (bitcoind,
// litecoind: scantxoutset).
func (c *Chain) scanOutputs(ctx context.Context) ([]wire.OutPoint, error) {
	addr, err := HotWalletAddress(c.seed, c.params.Chain, c.params.Network)
	if err != nil {
		return nil, err
	}
	var res struct {
		Success  bool `json:"success"`
		Unspents []struct {
			TxID string `json:"txid"`
			Vout uint32 `json:"vout"`
		} `json:"unspents"`
	}
	if err := c.rpc.Call(ctx, "scantxoutset", &res, "start", []string{"addr(" + addr + ")"}); err != nil {
		return nil, err
	}
	if !res.Success {
		return nil, errors.New("scantxoutset did not finish")
	}
	ops := make([]wire.OutPoint, 0, len(res.Unspents))
	for _, u := range res.Unspents {
		h, err := chainhash.NewHashFromStr(u.TxID)
		if err != nil {
			return nil, fmt.Errorf("scantxoutset: txid %q: %w", u.TxID, err)
		}
		ops = append(ops, wire.OutPoint{Hash: *h, Index: u.Vout})
	}
	return ops, nil
}

// unspentInMempool drops the outputs a transaction in btcd's mempool spends.
func (c *Chain) unspentInMempool(ctx context.Context, outs []utxo) ([]utxo, error) {
	type outpoint struct {
		TxID string `json:"txid"`
		Vout uint32 `json:"vout"`
	}
	q := make([]outpoint, len(outs))
	for i, o := range outs {
		q[i] = outpoint{o.op.Hash.String(), o.op.Index}
	}
	var res []struct {
		TxID         string `json:"txid"`
		Vout         uint32 `json:"vout"`
		SpendingTxID string `json:"spendingtxid"`
	}
	if err := c.rpc.Call(ctx, "gettxspendingprevout", &res, q); err != nil {
		return nil, err
	}
	spent := map[outpoint]bool{}
	for _, r := range res {
		if r.SpendingTxID != "" {
			spent[outpoint{r.TxID, r.Vout}] = true
		}
	}
	kept := outs[:0]
	for i, o := range outs {
		if !spent[q[i]] {
			kept = append(kept, o)
		}
	}
	return kept, nil
}

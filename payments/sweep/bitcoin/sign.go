package bitcoin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	ibtc "github.com/sluicepay/sluice/indexer/bitcoin"
	"github.com/sluicepay/sluice/payments/keys"
	"github.com/sluicepay/sluice/payments/sweep"
)

// HotWalletAccount is the HD account of the operator's hot wallet, reserved
// at the top of the account range (merchants count up from 0): its address is
// index 0 of that account, m/84'/coin'/2147483646'/0/0.
const HotWalletAccount uint32 = 1<<31 - 2

// HotWalletAddress is the operator's hot-wallet address for chain ("btc" or
// "ltc") on network: where hot sweeps go and withdrawals come from.
func HotWalletAddress(seed keys.Seed, chain, network string) (string, error) {
	p, err := ibtc.ParamsFor(chain, network)
	if err != nil {
		return "", err
	}
	return seed.Address(currencyOf(p), p.Network, HotWalletAccount, 0)
}

func currencyOf(p *ibtc.Params) keys.Currency {
	if p.Chain == ibtc.ChainLTC {
		return keys.LTC
	}
	return keys.BTC
}

// Sign builds and signs job's transaction without broadcasting it: every
// deposit input of a settle, hot or forward job to its destination (and the
// service fee to the fee address), or, for a withdrawal, the amount from
// the hot wallet's confirmed outputs. It sets RawTx, TxID, Amount,
// FeeNetwork and FeeService (0 when the fee was dust and left to the
// destination). What the fees leave under the destination's dust limit is
// sweep.ErrUneconomic; a hot wallet without enough confirmed coins is
// sweep.ErrWait.
func (c *Chain) Sign(ctx context.Context, job *sweep.Job) error {
	if err := c.checkJob(job); err != nil {
		return err
	}
	dest, feeScript, feeService, err := c.outputs(job)
	if err != nil {
		return err
	}
	var coins []coin
	if job.Kind != sweep.KindWithdraw {
		if coins, err = c.depositCoins(job); err != nil {
			return fmt.Errorf("sweep %d: %w", job.ID, err)
		}
		defer zero(coins)
		if gross := grossOf(coins); job.Gross != nil && job.Gross.Cmp(big.NewInt(gross)) != 0 {
			return fmt.Errorf("sweep %d: its inputs hold %d, its gross amount is %s", job.ID, gross, job.Gross)
		}
		for i, cn := range coins {
			if err := c.checkUnspent(ctx, cn); err != nil {
				return fmt.Errorf("sweep %d: input %d (deposit %d): %w", job.ID, i, job.Inputs[i].DepositID, err)
			}
		}
	}
	rate, err := c.FeeRate(ctx)
	if err != nil {
		return fmt.Errorf("sweep %d: fee rate: %w", job.ID, err)
	}
	var s *signed
	if job.Kind == sweep.KindWithdraw {
		if job.FeeMax != nil && job.FeeMax.IsInt64() {
			// what its reserve pays for the size it was reserved for
			rate = max(min(rate, job.FeeMax.Int64()*1000/withdrawalVSize()), c.floor)
		}
		s, err = c.signWithdraw(ctx, job, dest, feeScript, feeService, rate)
	} else {
		s, err = buildSweep(sweepSpec{coins: coins, dest: dest, feeScript: feeScript, feeService: feeService,
			rate: rate, pol: c.pol, destAddress: job.Destination})
	}
	if err != nil {
		return fmt.Errorf("sweep %d: %w", job.ID, err)
	}
	apply(job, s)
	return nil
}

// Bump makes an RBF replacement of job (a broadcast, unconfirmed one),
// signed and not broadcast: the same inputs and destination, a fee rate at
// least 1/vB higher and at least the current estimate, an absolute fee
// higher by at least the incremental relay fee (1/vB) for its size: BIP 125
// rules 3, 4 and 6. The new job has Replaces set to job.ID, the state
// signed, no ID, and (for a sweep) Gross what the inputs hold; job itself is
// not changed. A sweep job needs its Inputs; a withdrawal's are read from
// its raw transaction. A replacement over the ceiling is ErrAtCeiling; one
// whose fee leaves the destination dust, sweep.ErrUneconomic.
//
// btcd and bitcoind take replacements; litecoind only when started with
// -mempoolreplacement=1 (Litecoin Core's default refuses any transaction
// that conflicts with its mempool): there Broadcast of the replacement is
// ErrConflict while the original is in the mempool.
func (c *Chain) Bump(ctx context.Context, job *sweep.Job) (*sweep.Job, error) {
	if err := c.checkJob(job); err != nil {
		return nil, err
	}
	old, err := decodeTx(job.RawTx)
	if err != nil {
		return nil, fmt.Errorf("sweep %d: %w", job.ID, err)
	}
	if job.TxID != "" && old.TxHash().String() != job.TxID {
		return nil, fmt.Errorf("sweep %d: its raw transaction is %s, not its txid %s", job.ID, old.TxHash(), job.TxID)
	}
	if confs, _, err := c.Confirmations(ctx, old.TxHash().String()); err != nil {
		return nil, fmt.Errorf("sweep %d: %w", job.ID, err)
	} else if confs > 0 {
		return nil, fmt.Errorf("sweep %d: %s has %d confirmations: nothing to bump", job.ID, old.TxHash(), confs)
	}
	dest, feeScript, feeService, err := c.outputs(job)
	if err != nil {
		return nil, err
	}
	var coins []coin
	if job.Kind == sweep.KindWithdraw {
		coins, err = c.hotCoinsOf(ctx, old)
	} else {
		coins, err = c.depositCoins(job)
	}
	if err != nil {
		return nil, fmt.Errorf("sweep %d: %w", job.ID, err)
	}
	defer zero(coins)
	if len(coins) != len(old.TxIn) {
		return nil, fmt.Errorf("sweep %d: its transaction spends %d outputs, the job %d", job.ID, len(old.TxIn), len(coins))
	}
	var in, out int64
	for i, cn := range coins {
		if old.TxIn[i].PreviousOutPoint != cn.op {
			return nil, fmt.Errorf("sweep %d: input %d of its transaction is %s, the job's %s", job.ID, i, old.TxIn[i].PreviousOutPoint, cn.op)
		}
		in += cn.value
	}
	scripts := make([][]byte, len(old.TxOut))
	for i, o := range old.TxOut {
		out += o.Value
		scripts[i] = o.PkScript
	}
	oldFee := in - out
	oldRate := oldFee * 1000 / vsize(old)
	est, err := c.FeeRate(ctx)
	if err != nil {
		return nil, fmt.Errorf("sweep %d: fee rate: %w", job.ID, err)
	}
	rate := max(est, oldRate+1000)
	if rate > c.ceiling {
		return nil, fmt.Errorf("sweep %d: %w: it pays %s, a replacement needs %s, the ceiling is %s",
			job.ID, ErrAtCeiling, rateText(oldRate), rateText(rate), rateText(c.ceiling))
	}
	// the replacement has these outputs or fewer
	minFee := oldFee + feeFor(c.pol.incremental, estimateVSize(len(coins), scripts))
	var s *signed
	if job.Kind == sweep.KindWithdraw {
		var amount int64
		if amount, err = toInt64(job.Gross, "amount"); err != nil {
			return nil, fmt.Errorf("sweep %d: %w", job.ID, err)
		}
		s, err = buildSpend(spendSpec{coins: coins, useAll: true, dest: dest, amount: amount, feeScript: feeScript,
			feeService: feeService, change: coins[0].script, rate: rate, minFee: minFee, pol: c.pol, destAddress: job.Destination})
		if errors.Is(err, errShort) {
			err = fmt.Errorf("its inputs do not cover a higher fee: %w", err)
		}
	} else {
		s, err = buildSweep(sweepSpec{coins: coins, dest: dest, feeScript: feeScript, feeService: feeService,
			rate: rate, minFee: minFee, pol: c.pol, destAddress: job.Destination})
	}
	if err != nil {
		return nil, fmt.Errorf("sweep %d: replacement: %w", job.ID, err)
	}
	nj := *job
	nj.ID, nj.State, nj.Replaces = 0, sweep.StateSigned, job.ID
	nj.Inputs = append([]sweep.Input(nil), job.Inputs...)
	if job.Kind != sweep.KindWithdraw {
		nj.Gross = big.NewInt(in)
	}
	apply(&nj, s)
	return &nj, nil
}

func grossOf(coins []coin) int64 {
	var g int64
	for _, c := range coins {
		g += c.value
	}
	return g
}

func apply(job *sweep.Job, s *signed) {
	job.RawTx, job.TxID = s.raw, s.txid
	job.Amount = big.NewInt(s.amount)
	job.FeeNetwork = big.NewInt(s.feeNetwork)
	job.FeeService = big.NewInt(s.feeService)
}

// checkJob refuses a job of another chain or currency, or of a kind this
// chain does not do.
func (c *Chain) checkJob(job *sweep.Job) error {
	if job == nil {
		return errors.New("no job")
	}
	if job.Chain != "" && job.Chain != c.params.Chain {
		return fmt.Errorf("sweep %d is a %s job; this is %s", job.ID, job.Chain, c.params.Chain)
	}
	if job.Currency != "" && job.Currency != string(c.cur) {
		return fmt.Errorf("sweep %d moves %s; this chain moves %s", job.ID, job.Currency, c.cur)
	}
	switch job.Kind {
	case sweep.KindSettle, sweep.KindHot, sweep.KindForward:
		if len(job.Inputs) == 0 {
			return fmt.Errorf("sweep %d has no inputs", job.ID)
		}
	case sweep.KindWithdraw:
		if job.Gross == nil || job.Gross.Sign() <= 0 {
			return fmt.Errorf("withdrawal sweep %d has no amount", job.ID)
		}
	default:
		return fmt.Errorf("sweep %d: %s jobs are not made on %s", job.ID, job.Kind, c.params.Chain)
	}
	return nil
}

// outputs checks the destination and the fee address and returns their
// scripts, with the service fee.
func (c *Chain) outputs(job *sweep.Job) (dest, feeScript []byte, feeService int64, err error) {
	dest, err = ibtc.AddressScript(job.Destination, c.params)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("sweep %d: destination: %w", job.ID, err)
	}
	if feeService, err = toInt64(job.FeeService, "service fee"); err != nil {
		return nil, nil, 0, fmt.Errorf("sweep %d: %w", job.ID, err)
	}
	if feeService > 0 {
		if feeScript, err = ibtc.AddressScript(job.FeeAddress, c.params); err != nil {
			return nil, nil, 0, fmt.Errorf("sweep %d: fee address: %w", job.ID, err)
		}
	}
	return dest, feeScript, feeService, nil
}

func toInt64(v *big.Int, what string) (int64, error) {
	switch {
	case v == nil:
		return 0, nil
	case v.Sign() < 0 || !v.IsInt64() || v.Int64() > btcutil.MaxSatoshi:
		return 0, fmt.Errorf("%s %s is out of range", what, v)
	}
	return v.Int64(), nil
}

// depositCoins derives each input's key and checks that it is the key of
// the input's address.
func (c *Chain) depositCoins(job *sweep.Job) ([]coin, error) {
	coins := make([]coin, 0, len(job.Inputs))
	seen := map[wire.OutPoint]bool{}
	for i, in := range job.Inputs {
		op, err := outpoint(in.TxID, in.Position)
		if err != nil {
			zero(coins)
			return nil, fmt.Errorf("input %d (deposit %d): %w", i, in.DepositID, err)
		}
		if seen[op] {
			zero(coins)
			return nil, fmt.Errorf("input %d (deposit %d): %s is spent twice", i, in.DepositID, op)
		}
		seen[op] = true
		value, err := toInt64(in.Amount, "amount")
		if err == nil && value == 0 {
			err = errors.New("amount 0")
		}
		if err == nil && in.Currency != "" && in.Currency != string(c.cur) {
			err = fmt.Errorf("a %s deposit", in.Currency)
		}
		if err != nil {
			zero(coins)
			return nil, fmt.Errorf("input %d (deposit %d): %w", i, in.DepositID, err)
		}
		key, script, err := c.key(in.Account, in.Index)
		if err != nil {
			zero(coins)
			return nil, fmt.Errorf("input %d (deposit %d): %w", i, in.DepositID, err)
		}
		coins = append(coins, coin{op: op, value: value, script: script, key: key})
		if want, err := ibtc.AddressScript(in.Address, c.params); err != nil || !bytes.Equal(want, script) {
			zero(coins)
			return nil, fmt.Errorf("input %d (deposit %d): %s is not the address of account %d index %d (%v)",
				i, in.DepositID, in.Address, in.Account, in.Index, err)
		}
	}
	return coins, nil
}

// key derives the signing key of (account, index) and its P2WPKH script.
func (c *Chain) key(account, index uint32) (*btcec.PrivateKey, []byte, error) {
	k, err := c.seed.PrivateKey(c.cur, c.params.Network, account, index)
	if err != nil {
		return nil, nil, err
	}
	priv := k.BTCEC()
	return priv, p2wpkhScript(priv.PubKey()), nil
}

// zero clears the coins' keys once signing is done.
func zero(coins []coin) {
	done := map[*btcec.PrivateKey]bool{}
	for _, c := range coins {
		if c.key != nil && !done[c.key] {
			c.key.Zero()
			done[c.key] = true
		}
	}
}

// outpoint reads a deposit's txid and position ("vout:N").
func outpoint(txid, position string) (wire.OutPoint, error) {
	h, err := chainhash.NewHashFromStr(txid)
	if err != nil || len(txid) != 64 {
		return wire.OutPoint{}, fmt.Errorf("txid %q is not 64 hex digits", txid)
	}
	n, ok := strings.CutPrefix(position, "vout:")
	v, err := strconv.ParseUint(n, 10, 32)
	if !ok || err != nil {
		return wire.OutPoint{}, fmt.Errorf("position %q: want vout:N", position)
	}
	return wire.OutPoint{Hash: *h, Index: uint32(v)}, nil
}

// txOut is an output as gettxout and getrawtransaction show it.
type txOut struct {
	Value         float64 `json:"value"`
	N             uint32  `json:"n"`
	Confirmations int64   `json:"confirmations"`
	ScriptPubKey  struct {
		Hex string `json:"hex"`
	} `json:"scriptPubKey"`
}

func (o txOut) units() (int64, error) {
	a, err := btcutil.NewAmount(o.Value)
	return int64(a), err
}

// checkUnspent asks the node whether the coin is an unspent output (counting
// the mempool's spends on bitcoind and litecoind) with the coin's value and
// script.
func (c *Chain) checkUnspent(ctx context.Context, cn coin) error {
	var o *txOut
	if err := c.rpc.Call(ctx, "gettxout", &o, cn.op.Hash.String(), cn.op.Index, true); err != nil {
		return err
	}
	if o == nil {
		return fmt.Errorf("%w: output %s is spent or unknown to the node", ErrConflict, cn.op)
	}
	v, err := o.units()
	if err != nil {
		return fmt.Errorf("output %s: %w", cn.op, err)
	}
	if v != cn.value {
		return fmt.Errorf("output %s holds %d on the node, the ledger says %d", cn.op, v, cn.value)
	}
	if o.ScriptPubKey.Hex != fmt.Sprintf("%x", cn.script) {
		return fmt.Errorf("output %s pays script %s on the node, not the deposit address's %x", cn.op, o.ScriptPubKey.Hex, cn.script)
	}
	return nil
}

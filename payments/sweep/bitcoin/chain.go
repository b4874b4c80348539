package bitcoin

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/wire"

	ibtc "github.com/sluicepay/sluice/indexer/bitcoin"
	"github.com/sluicepay/sluice/jsonrpc"
	"github.com/sluicepay/sluice/payments/keys"
	"github.com/sluicepay/sluice/payments/sweep"
)

// ErrConflict is returned by Broadcast (and Sign, for a deposit output the
// node no longer has) when a transaction's inputs are spent by another
// transaction, in the mempool or in the chain, or do not exist: this
// transaction cannot confirm as it is. The transaction itself being known to
// the node is not a conflict: Broadcast then succeeds.
var ErrConflict = sweep.ErrConflict

// ErrAtCeiling is returned by Bump when the replacement would have to pay
// more than the configured ceiling rate.
var ErrAtCeiling = errors.New("a replacement would pay more than the fee ceiling")

// Chain sweeps one Bitcoin-family chain (BTC or LTC on one network) through
// one node: bitcoind, litecoind or btcd. It is a sweep.Chain, and Bump makes
// RBF replacements. It is safe for concurrent use.
type Chain struct {
	rpc    *jsonrpc.Client
	params *ibtc.Params
	cur    keys.Currency
	seed   keys.Seed
	pol    policy

	floor, ceiling int64 // base units per 1,000 vB
	confTarget     int
	hotTxIDs       func(ctx context.Context) ([]string, error)
	reserveFor     time.Duration
	http           *http.Client

	mu       sync.Mutex
	btcd     *bool                       // which node answers: nil until known
	reserved map[wire.OutPoint]time.Time // hot-wallet outputs spent by withdrawals signed here
}

// Option changes a Chain.
type Option func(*Chain) error

// WithFeeRates sets the floor and the ceiling of the network fee rate, in
// base units (satoshi, litoshi) per vB; fractions are kept to 1/1000. The
// floor is the rate used when the node has no estimate. Default 1 and 500.
func WithFeeRates(floor, ceiling float64) Option {
	return func(c *Chain) error {
		// NaN fails every comparison: only the ! forms catch it
		if !(floor > 0 && ceiling >= floor && ceiling <= maxRate) {
			return fmt.Errorf("fee rates: floor %v and ceiling %v per vB: want 0 < floor ≤ ceiling ≤ %d", floor, ceiling, maxRate)
		}
		c.floor, c.ceiling = max(int64(math.Round(floor*1000)), 1), int64(math.Round(ceiling*1000))
		return nil
	}
}

// maxRate bounds the ceiling (per vB): far above any fee market, far below
// overflowing a fee.
const maxRate = 1_000_000

// WithConfTarget sets the confirmation target of the fee estimate, in blocks
// (default 2).
func WithConfTarget(blocks int) Option {
	return func(c *Chain) error {
		if blocks < 1 || blocks > 1008 {
			return fmt.Errorf("confirmation target %d: want 1 to 1008 blocks", blocks)
		}
		c.confTarget = blocks
		return nil
	}
}

// WithHotTxIDs gives withdrawals the transactions that may hold the hot
// wallet's outputs (those of its confirmed hot sweeps and withdrawals, from
// the ledger). Without it the node is asked for the hot wallet's outputs:
// scantxoutset on bitcoind and litecoind, which reads the whole UTXO set (a
// minute or more on mainnet), searchrawtransactions on btcd (--addrindex).
func WithHotTxIDs(fn func(ctx context.Context) ([]string, error)) Option {
	return func(c *Chain) error {
		c.hotTxIDs = fn
		return nil
	}
}

// WithHTTPClient replaces the node client's HTTP client (default: a 2 minute
// timeout, which scantxoutset needs).
func WithHTTPClient(h *http.Client) Option {
	return func(c *Chain) error {
		if h == nil {
			return errors.New("no HTTP client")
		}
		c.http = h
		return nil
	}
}

// New returns the Chain of chain ("btc" or "ltc") on network, signing with
// keys derived from seed, through the node at rpcURL
// (http://user:pass@host:port).
func New(chain, network, rpcURL string, seed keys.Seed, opts ...Option) (*Chain, error) {
	p, err := ibtc.ParamsFor(chain, network)
	if err != nil {
		return nil, err
	}
	cur := currencyOf(p)
	// the seed must derive on this network (it fails for an empty seed)
	if _, err := HotWalletAddress(seed, p.Chain, p.Network); err != nil {
		return nil, err
	}
	c := &Chain{params: p, cur: cur, seed: seed, pol: policyFor(p.Chain),
		floor: 1_000, ceiling: 500_000, confTarget: 2, reserveFor: time.Hour,
		reserved: map[wire.OutPoint]time.Time{}, http: &http.Client{Timeout: 2 * time.Minute}}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.rpc, err = jsonrpc.New(rpcURL, jsonrpc.WithVersion("1.0"), jsonrpc.WithHTTPClient(c.http)); err != nil {
		return nil, err
	}
	return c, nil
}

// FeeRate is the network fee rate a transaction signed now pays, in base
// units per 1,000 vB: the node's estimate for the confirmation target, within
// the floor and the ceiling; the floor when the node has none.
func (c *Chain) FeeRate(ctx context.Context) (int64, error) {
	btcd, err := c.isBtcd(ctx)
	if err != nil {
		return 0, err
	}
	var perKvB float64 // coins per 1,000 vB
	if btcd {
		// btcd: BTC per kB; 0 (or -1) without an estimate
		if err := c.rpc.Call(ctx, "estimatefee", &perKvB, c.confTarget); err != nil {
			var re *jsonrpc.Error
			if !errors.As(err, &re) {
				return 0, err
			}
			perKvB = 0 // the estimator answered that it has nothing
		}
	} else {
		var est struct {
			FeeRate *float64 `json:"feerate"`
		}
		if err := c.rpc.Call(ctx, "estimatesmartfee", &est, c.confTarget); err != nil {
			return 0, err
		}
		if est.FeeRate != nil {
			perKvB = *est.FeeRate
		}
	}
	rate := c.floor
	if perKvB > 0 {
		units, err := btcutil.NewAmount(perKvB)
		if err != nil {
			return 0, fmt.Errorf("fee estimate %v: %w", perKvB, err)
		}
		rate = int64(units)
	}
	return min(max(rate, c.floor), c.ceiling), nil
}

// isBtcd tells btcd (which has getinfo and estimatefee) from bitcoind and
// litecoind (which dropped getinfo), once.
func (c *Chain) isBtcd(ctx context.Context) (bool, error) {
	c.mu.Lock()
	known := c.btcd
	c.mu.Unlock()
	if known != nil {
		return *known, nil
	}
	var info map[string]any
	err := c.rpc.Call(ctx, "getinfo", &info)
	var re *jsonrpc.Error
	btcd := err == nil
	if err != nil && !(errors.As(err, &re) && re.Code == -32601) {
		return false, err
	}
	c.mu.Lock()
	c.btcd = &btcd
	c.mu.Unlock()
	return btcd, nil
}

// Broadcast sends a signed transaction (hex). A transaction the node already
// has, in its mempool or its chain, is success. Inputs spent by another
// transaction, or unknown, are ErrConflict.
func (c *Chain) Broadcast(ctx context.Context, raw string) error {
	tx, err := decodeTx(raw)
	if err != nil {
		return err
	}
	var txid string
	err = c.rpc.Call(ctx, "sendrawtransaction", &txid, raw)
	if err == nil {
		return nil
	}
	var re *jsonrpc.Error
	if !errors.As(err, &re) {
		return err // the node did not answer: try again
	}
	msg := strings.ToLower(re.Message)
	if re.Code == -27 || alreadyKnown(msg) {
		return nil
	}
	if !conflict(msg) {
		return fmt.Errorf("%s %s: %w", c.params.Chain, tx.TxHash(), err)
	}
	// The node says the inputs are gone: they may be gone into this very
	// transaction, confirmed with all its outputs spent since.
	if _, known, kerr := c.Confirmations(ctx, tx.TxHash().String()); kerr == nil && known {
		return nil
	}
	return fmt.Errorf("%w: %s %s: %s", ErrConflict, c.params.Chain, tx.TxHash(), re.Message)
}

// alreadyKnown: bitcoind and litecoind ("txn-already-in-mempool",
// "txn-already-known", "Transaction already in block chain", and
// "txn-same-nonwitness-data-in-mempool": the same txid with another
// witness), btcd
// ("already have transaction in mempool", "transaction already exists in
// blockchain").
func alreadyKnown(msg string) bool {
	for _, s := range []string{"txn-already-in-mempool", "txn-already-known", "already in block chain", "txn-same-nonwitness-data-in-mempool",
		"already have transaction", "transaction already exists"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// conflict: missing or spent inputs, a mempool conflict, a refused
// replacement (bitcoind and litecoind: "bad-txns-inputs-missingorspent",
// "Missing inputs", "txn-mempool-conflict", "insufficient fee, rejecting
// replacement"; btcd: "orphan transaction", "output already spent in
// mempool", "replacement transaction ...").
func conflict(msg string) bool {
	for _, s := range []string{"missingorspent", "missing inputs", "inputs-missing", "mempool-conflict", "replacement",
		"orphan transaction", "already spent", "txn-double-spend"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// Confirmations tells how deep txid is in the node's main chain (0 in the
// mempool) and whether the node knows it at all (both node kinds run with a
// transaction index here).
func (c *Chain) Confirmations(ctx context.Context, txid string) (int64, bool, error) {
	var tx struct {
		Confirmations int64 `json:"confirmations"`
	}
	err := c.rpc.Call(ctx, "getrawtransaction", &tx, txid, 1)
	var re *jsonrpc.Error
	if errors.As(err, &re) && re.Code == -5 { // no such transaction
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return tx.Confirmations, true, nil
}

var _ sweep.Chain = (*Chain)(nil)

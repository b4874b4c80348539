package devnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sluicepay/sluice/jsonrpc"
)

// ErrNodeDown means a node of the stack did not answer at all (connection
// refused): the stack is not running, or not this one.
var ErrNodeDown = errors.New("does not answer")

// MaxMine bounds the blocks one Mine call makes.
const MaxMine = 1000

// Nodes are the stack's nodes and funded accounts that Pay, Mine and
// NewAddress use; `sluice devnet` fills them from the stack's state.
type Nodes struct {
	BTCRPC        string // btcd, http://user:pass@host:port
	BTCMiningKey  string // hex key of btcd's mining address: BTC payments spend its coinbase outputs
	LTCRPC        string // litecoind, http://user:pass@host:port (no wallet path)
	LTCWallet     string // litecoind's funded wallet
	ETHRPC        string // geth --dev HTTP
	ETHDevAccount string // geth's funded, unlocked dev account
	USDTContract  string // the devnet USDT token, owned (mintable) by the dev account
	USDCContract  string // the devnet USDC token, owned (mintable) by the dev account
	// EVM are more EVM dev chains (chains.evm): pay their coin and tokens as
	// SYMBOL_KEY, mine and make addresses by their key.
	EVM []EVMChain
	Log io.Writer
}

func (n Nodes) logf(format string, args ...any) {
	if n.Log != nil {
		fmt.Fprintf(n.Log, format+"\n", args...)
	}
}

// bitcoinClient is a client for btcd or litecoind (wallet "" for none).
func bitcoinClient(name, rpcURL, wallet string) (*jsonrpc.Client, error) {
	if rpcURL == "" {
		return nil, fmt.Errorf("no RPC URL for %s", name)
	}
	if wallet != "" {
		rpcURL = strings.TrimRight(rpcURL, "/") + "/wallet/" + wallet
	}
	return jsonrpc.New(rpcURL, jsonrpc.WithVersion("1.0"), jsonrpc.WithHTTPClient(&http.Client{Timeout: 2 * time.Minute}))
}

func (n Nodes) btc() (*jsonrpc.Client, error) { return bitcoinClient("btcd", n.BTCRPC, "") }

func (n Nodes) ltc(wallet bool) (*jsonrpc.Client, error) {
	if wallet {
		if n.LTCWallet == "" {
			return nil, fmt.Errorf("no litecoind wallet named in the stack's state")
		}
		return bitcoinClient("litecoind", n.LTCRPC, n.LTCWallet)
	}
	return bitcoinClient("litecoind", n.LTCRPC, "")
}

// nodeErr marks an error that says the node is not there at all with ErrNodeDown.
func nodeErr(name string, c *jsonrpc.Client, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%s at %s %w", name, c.URL(), ErrNodeDown)
	}
	var re *jsonrpc.Error
	if errors.As(err, &re) && re.Code == -18 { // wallet not loaded
		return fmt.Errorf("%s: %w (`sluice stack up` loads the wallet)", name, err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// ping checks a Bitcoin-family node answers before anything is sent.
func ping(ctx context.Context, name string, c *jsonrpc.Client) error {
	var out any
	return nodeErr(name, c, c.Call(ctx, "getblockcount", &out))
}

// Pay pays amount (an exact decimal, ParseAmount) of currency to the address
// to from the stack's funded wallets, and returns the transaction's id once
// the node has accepted it: BTC and LTC in the mempool, ETH, USDT and USDC
// (and the coins and tokens of the EVM chains, SYMBOL_KEY) mined with status 1.
//
//   - BTC: btcd has no wallet; a matured coinbase output of the mining key
//     is spent (PayBTC), so one payment is at most one coinbase's value.
//   - LTC: litecoind's wallet sendtoaddress, with the exact amount.
//   - ETH: eth_sendTransaction from geth's dev account.
//   - USDT, USDC: transfer from the dev account, which mints what it lacks
//     first; the token's answer (nothing for USDT, true for USDC) and its
//     Transfer log of exactly the amount are checked (TransferToken).
//   - an EVM chain's coin and tokens (n.EVM) the same way on its node, from
//     its dev account, once the node reports the chain's id.
func (n Nodes) Pay(ctx context.Context, currency, to, amount string) (string, error) {
	cur, contract, err := n.Currency(currency)
	if err != nil {
		return "", err
	}
	units, err := cur.ParseAmount(amount)
	if err != nil {
		return "", err
	}
	if err := n.ValidateAddress(cur.Chain, to); err != nil {
		return "", fmt.Errorf("destination: %w", err)
	}
	switch cur.Chain {
	case "btc":
		return n.payBTC(ctx, cur, to, units)
	case "ltc":
		return n.payLTC(ctx, cur, to, units)
	}
	node, ok := n.evmNode(cur.Chain)
	if !ok {
		return "", fmt.Errorf("pay %s: no node for chain %s", cur.Code, cur.Chain)
	}
	if cur.Token {
		return n.payToken(ctx, node, cur, contract, to, units)
	}
	return n.payETH(ctx, node, cur, to, units)
}

// announce logs the payment once the node has answered.
func (n Nodes) announce(cur Currency, to string, units *big.Int) {
	n.logf("paying %s %s (%s %s) to %s", cur.Format(units), cur.Code, units, cur.Unit, to)
}

func (n Nodes) payBTC(ctx context.Context, cur Currency, to string, sats *big.Int) (string, error) {
	if !sats.IsInt64() {
		return "", fmt.Errorf("%s sat is more than any payment can be", sats)
	}
	if n.BTCMiningKey == "" {
		return "", fmt.Errorf("no btcd mining key in the stack's state: BTC payments spend its coinbase outputs")
	}
	c, err := n.btc()
	if err != nil {
		return "", err
	}
	if err := ping(ctx, "btcd", c); err != nil {
		return "", err
	}
	n.announce(cur, to, sats)
	var txid string
	for attempt := 1; ; attempt++ {
		txid, err = PayBTC(ctx, n.BTCRPC, n.BTCMiningKey, to, sats.Int64())
		// Another payment took the same coinbase output first: pick another.
		if err == nil || attempt == 5 || !conflict(err) {
			break
		}
		n.logf("the coinbase output was spent meanwhile; retrying")
	}
	if err != nil {
		return "", nodeErr("btcd", c, err)
	}
	if err := known(ctx, "btcd", c, txid); err != nil {
		return "", err
	}
	return txid, nil
}

// conflict reports whether btcd refused a payment because another spends the same output.
func conflict(err error) bool {
	m := err.Error()
	return strings.Contains(m, "already spent") || strings.Contains(m, "replacement transaction")
}

// known checks the node has the transaction (mempool or chain; both nodes run -txindex).
func known(ctx context.Context, name string, c *jsonrpc.Client, txid string) error {
	var raw string
	if err := c.Call(ctx, "getrawtransaction", &raw, txid, 0); err != nil {
		return nodeErr(name, c, fmt.Errorf("sent %s, but the node does not know it: %w", txid, err))
	}
	return nil
}

func (n Nodes) payLTC(ctx context.Context, cur Currency, to string, units *big.Int) (string, error) {
	c, err := n.ltc(true)
	if err != nil {
		return "", err
	}
	if err := ping(ctx, "litecoind", c); err != nil {
		return "", err
	}
	n.announce(cur, to, units)
	// The node reads the amount as a JSON number; written from the exact
	// decimal it never passes through a float64 here.
	var txid string
	if err := c.Call(ctx, "sendtoaddress", &txid, to, json.Number(cur.Format(units))); err != nil {
		return "", nodeErr("litecoind", c, fmt.Errorf("wallet %s: %w", n.LTCWallet, err))
	}
	if err := known(ctx, "litecoind", c, txid); err != nil {
		return "", err
	}
	return txid, nil
}

// PayManyLTC pays amount (an exact decimal) to each address in one
// transaction from litecoind's wallet (sendmany) and returns its txid.
func (n Nodes) PayManyLTC(ctx context.Context, to []string, amount string) (string, error) {
	cur, _ := LookupCurrency("LTC")
	units, err := cur.ParseAmount(amount)
	if err != nil {
		return "", err
	}
	outs := make(map[string]json.Number, len(to))
	for _, a := range to {
		if err := ValidateAddress("ltc", a); err != nil {
			return "", err
		}
		outs[a] = json.Number(cur.Format(units))
	}
	c, err := n.ltc(true)
	if err != nil {
		return "", err
	}
	var txid string
	if err := c.Call(ctx, "sendmany", &txid, "", outs); err != nil {
		return "", nodeErr("litecoind", c, fmt.Errorf("wallet %s: %w", n.LTCWallet, err))
	}
	return txid, known(ctx, "litecoind", c, txid)
}

// payETH pays wei of the chain's own coin cur (ETH, or an EVM chain's) from its dev account.
func (n Nodes) payETH(ctx context.Context, e evmNode, cur Currency, to string, wei *big.Int) (string, error) {
	if err := e.devAccount(); err != nil {
		return "", err
	}
	c, err := e.client()
	if err != nil {
		return "", err
	}
	if err := e.ping(ctx, c); err != nil {
		return "", err
	}
	if _, err := uintWord("value", wei); err != nil {
		return "", err
	}
	n.announce(cur, to, wei)
	r, err := transact(ctx, c, e.dev, to, nil, wei)
	if err != nil {
		return "", nodeErr(e.name, c, err)
	}
	return r.TxHash, nil
}

// payToken pays units of the devnet token cur (USDT, USDC, USDT_SIDECHAIN…) at contract.
func (n Nodes) payToken(ctx context.Context, e evmNode, cur Currency, contract, to string, units *big.Int) (string, error) {
	if err := e.devAccount(); err != nil {
		return "", err
	}
	if contract == "" {
		return "", fmt.Errorf("no %s contract in the stack's state: run `sluice stack up` (it deploys one)", cur.Code)
	}
	c, err := e.client()
	if err != nil {
		return "", err
	}
	if err := e.ping(ctx, c); err != nil {
		return "", err
	}
	if ok, err := hasCode(ctx, c, contract); err != nil {
		return "", nodeErr(e.name, c, err)
	} else if !ok {
		return "", fmt.Errorf("no contract at the stack's %s address %s (a new geth chain?): run `sluice stack up` to deploy it", cur.Code, contract)
	}
	n.announce(cur, to, units)
	bal, err := BalanceOf(ctx, e.rpc, contract, e.dev)
	if err != nil {
		return "", nodeErr(e.name, c, err)
	}
	if bal.Cmp(units) < 0 {
		short := new(big.Int).Sub(units, bal)
		n.logf("the dev account holds %s %s: minting %s %s first", cur.Format(bal), cur.Code, cur.Format(short), cur.Code)
		if _, err := Mint(ctx, e.rpc, e.dev, contract, e.dev, short); err != nil {
			return "", nodeErr(e.name, c, err)
		}
	}
	h, err := TransferToken(ctx, e.rpc, e.dev, contract, to, units)
	if err != nil {
		return "", nodeErr(e.name, c, err)
	}
	return h, nil
}

// Mined is what Mine made.
type Mined struct {
	Hashes []string // the new blocks, oldest first
	Height int64    // the tip after them
}

// Mine adds blocks to chain's node ("btc", "ltc", "eth" or an EVM chain's key): btcd generate
// (to the stack's mining address), litecoind generatetoaddress to a fresh
// address of its wallet. geth --dev seals blocks on its own (one a second on
// the stack): Mine waits for that many new blocks, and sends a zero-value
// transaction from the dev account to itself when no block comes for a few
// seconds (a dev chain that seals only on demand).
func (n Nodes) Mine(ctx context.Context, chain string, blocks int) (Mined, error) {
	chain, err := n.checkChain(chain)
	if err != nil {
		return Mined{}, err
	}
	if blocks < 1 || blocks > MaxMine {
		return Mined{}, fmt.Errorf("%d blocks: want 1 to %d", blocks, MaxMine)
	}
	switch chain {
	case "btc":
		c, err := n.btc()
		if err != nil {
			return Mined{}, err
		}
		return mineBitcoin(ctx, "btcd", c, blocks, "")
	case "ltc":
		c, err := n.ltc(true)
		if err != nil {
			return Mined{}, err
		}
		if err := ping(ctx, "litecoind", c); err != nil {
			return Mined{}, err
		}
		// A fresh address each time, so a re-mined height never repeats an invalidated block.
		var addr string
		if err := c.Call(ctx, "getnewaddress", &addr); err != nil {
			return Mined{}, nodeErr("litecoind", c, err)
		}
		return mineBitcoin(ctx, "litecoind", c, blocks, addr)
	}
	e, _ := n.evmNode(chain)
	return mineETH(ctx, e, blocks)
}

// mineBitcoin mines with generate (btcd, to its --miningaddr) or, with an
// address, generatetoaddress, in batches.
func mineBitcoin(ctx context.Context, name string, c *jsonrpc.Client, blocks int, addr string) (Mined, error) {
	var m Mined
	for len(m.Hashes) < blocks {
		k := min(blocks-len(m.Hashes), 50)
		var hashes []string
		var err error
		if addr == "" {
			err = c.Call(ctx, "generate", &hashes, k)
		} else {
			err = c.Call(ctx, "generatetoaddress", &hashes, k, addr)
		}
		if err != nil {
			return m, nodeErr(name, c, fmt.Errorf("mine: %w", err))
		}
		if len(hashes) == 0 {
			return m, fmt.Errorf("%s: mine: the node made no block", name)
		}
		m.Hashes = append(m.Hashes, hashes...)
	}
	if err := c.Call(ctx, "getblockcount", &m.Height); err != nil {
		return m, nodeErr(name, c, err)
	}
	return m, nil
}

// ethStall is how long Mine waits for geth to seal a block on its own before it sends a transaction.
const ethStall = 3 * time.Second

func mineETH(ctx context.Context, e evmNode, blocks int) (Mined, error) {
	c, err := e.client()
	if err != nil {
		return Mined{}, err
	}
	if err := e.ping(ctx, c); err != nil {
		return Mined{}, err
	}
	head := func() (int64, error) {
		var s string
		if err := c.Call(ctx, "eth_blockNumber", &s); err != nil {
			return 0, nodeErr(e.name, c, err)
		}
		v, err := strconv.ParseInt(strings.TrimPrefix(s, "0x"), 16, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: eth_blockNumber %q: %w", e.name, s, err)
		}
		return v, nil
	}
	start, err := head()
	if err != nil {
		return Mined{}, err
	}
	target := start + int64(blocks)
	ctx, cancel := context.WithTimeout(ctx, time.Duration(blocks)*ethStall+30*time.Second)
	defer cancel()
	last, lastAt := start, time.Now()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for last < target {
		select {
		case <-ctx.Done():
			return Mined{}, fmt.Errorf("%s: %d of %d blocks after %s: %w", e.name, last-start, blocks, time.Since(lastAt).Round(time.Second), ctx.Err())
		case <-tick.C:
		}
		h, err := head()
		if err != nil {
			return Mined{}, err
		}
		if h > last {
			last, lastAt = h, time.Now()
			continue
		}
		if time.Since(lastAt) >= ethStall && e.dev != "" {
			var hash string
			tx := map[string]string{"from": e.dev, "to": e.dev, "value": "0x0"}
			if err := c.Call(ctx, "eth_sendTransaction", &hash, tx); err != nil {
				return Mined{}, nodeErr(e.name, c, fmt.Errorf("no block for %s; a transaction to seal one failed: %w", ethStall, err))
			}
			lastAt = time.Now()
		}
	}
	m := Mined{Height: target}
	for h := start + 1; h <= target; h++ {
		var b struct {
			Hash string `json:"hash"`
		}
		if err := c.Call(ctx, "eth_getBlockByNumber", &b, "0x"+strconv.FormatInt(h, 16), false); err != nil {
			return m, nodeErr(e.name, c, err)
		}
		m.Hashes = append(m.Hashes, b.Hash)
	}
	return m, nil
}

// NewAddress returns a fresh destination address on chain: litecoind's
// wallet getnewaddress (bech32, rltc1…), so the coins stay in the stack's
// funded wallet; for btcd, which has no wallet, and the EVM chains (eth and
// n.EVM), the address of a fresh random key that is not kept (NewBTCAddress,
// NewETHAddress).
func (n Nodes) NewAddress(ctx context.Context, chain string) (string, error) {
	chain, err := n.checkChain(chain)
	if err != nil {
		return "", err
	}
	if chain == "btc" {
		return NewBTCAddress()
	}
	if _, ok := n.evmNode(chain); ok {
		return NewETHAddress()
	}
	c, err := n.ltc(true)
	if err != nil {
		return "", err
	}
	var addr string
	if err := c.Call(ctx, "getnewaddress", &addr, "", "bech32"); err != nil {
		return "", nodeErr("litecoind", c, err)
	}
	return addr, nil
}

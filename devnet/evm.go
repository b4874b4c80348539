package devnet

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/sluicepay/sluice/indexer/ethereum"
	"github.com/sluicepay/sluice/jsonrpc"
)

// EVMChain is an EVM chain of the stack besides geth's eth, configured under
// chains.evm.KEY (the stack's sidechain): its coin and tokens are the
// currencies SYMBOL_KEY (SIDE_SIDECHAIN, USDT_SIDECHAIN).
type EVMChain struct {
	Key        string // chains.evm key, lower case
	ChainID    int64  // what its node must report (eth_chainId) before anything is sent; 0: not checked
	RPC        string // its node's HTTP JSON-RPC
	DevAccount string // funded and unlocked on its node
	Native     Token  // its own coin (no contract)
	Tokens     []Token
}

// Token is a coin or token of an EVMChain.
type Token struct {
	Symbol   string // upper case; the currency is SYMBOL_KEY
	Decimals int
	Contract string // the token's contract, owned (mintable) by the chain's dev account; "" for the coin
}

// evmNode is one EVM node the stack pays and mines on.
type evmNode struct {
	name    string // in messages: geth, or geth (KEY)
	key     string // chain key
	rpc     string
	dev     string // the funded, unlocked dev account
	chainID int64  // 0: not checked
}

func (n Nodes) ethNode() evmNode {
	return evmNode{name: "geth", key: "eth", rpc: n.ETHRPC, dev: n.ETHDevAccount}
}

// evmNode is the node of EVM chain key (eth or an EVM key); false for btc, ltc and unknown keys.
func (n Nodes) evmNode(key string) (evmNode, bool) {
	if key == "eth" {
		return n.ethNode(), true
	}
	for _, c := range n.EVM {
		if c.Key == key {
			return evmNode{name: "geth (" + key + ")", key: key, rpc: c.RPC, dev: c.DevAccount, chainID: c.ChainID}, true
		}
	}
	return evmNode{}, false
}

func (e evmNode) client() (*jsonrpc.Client, error) {
	if e.rpc == "" {
		return nil, fmt.Errorf("no RPC URL for %s", e.name)
	}
	return jsonrpc.New(e.rpc)
}

// ping checks the node answers and, for a chains.evm chain, that it is that
// chain: a payment never goes to a node of another chain id.
func (e evmNode) ping(ctx context.Context, c *jsonrpc.Client) error {
	var id hexutil.Big
	if err := c.Call(ctx, "eth_chainId", &id); err != nil {
		return nodeErr(e.name, c, err)
	}
	if e.chainID != 0 && id.ToInt().Cmp(big.NewInt(e.chainID)) != 0 {
		return fmt.Errorf("%s at %s reports chain id %s, not %s's %d: the stack's state points at another node",
			e.name, c.URL(), id.ToInt(), e.key, e.chainID)
	}
	return nil
}

func (e evmNode) devAccount() error {
	if e.dev == "" {
		return fmt.Errorf("no %s dev account in the stack's state: run `sluice stack up`", e.name)
	}
	return nil
}

// chains lists the chain keys of the stack: btc, ltc, eth and the chains.evm ones.
func (n Nodes) chains() []string {
	out := slices.Clone(Chains)
	for _, c := range n.EVM {
		out = append(out, c.Key)
	}
	return out
}

// checkChain normalises a chain key and refuses one the stack lacks.
func (n Nodes) checkChain(chain string) (string, error) {
	c := strings.ToLower(strings.TrimSpace(chain))
	if !slices.Contains(n.chains(), c) {
		return "", fmt.Errorf("unknown chain %q (one of: %s)", chain, strings.Join(n.chains(), ", "))
	}
	return c, nil
}

// evmCurrencies are the coins and tokens of the chains.evm chains, with
// their contracts ("" for a coin).
func (n Nodes) evmCurrencies() ([]Currency, []string) {
	var curs []Currency
	var contracts []string
	for _, c := range n.EVM {
		suffix := "_" + strings.ToUpper(c.Key)
		curs = append(curs, Currency{Code: c.Native.Symbol + suffix, Chain: c.Key, Decimals: c.Native.Decimals, Unit: "wei"})
		contracts = append(contracts, "")
		for _, tk := range c.Tokens {
			curs = append(curs, Currency{Code: tk.Symbol + suffix, Chain: c.Key, Decimals: tk.Decimals, Unit: "token units", Token: true})
			contracts = append(contracts, tk.Contract)
		}
	}
	return curs, contracts
}

// CurrencyCodes lists the codes Currency accepts: the built-in ones and the
// chains.evm chains' SYMBOL_KEY.
func (n Nodes) CurrencyCodes() []string {
	codes := CurrencyCodes()
	curs, _ := n.evmCurrencies()
	for _, c := range curs {
		codes = append(codes, c.Code)
	}
	return codes
}

// Currency finds a currency of the stack by its code, in any case, and the
// contract of a token ("" for a chain's coin).
func (n Nodes) Currency(code string) (Currency, string, error) {
	if cur, err := LookupCurrency(code); err == nil {
		switch cur.Code {
		case "USDT":
			return cur, n.USDTContract, nil
		case "USDC":
			return cur, n.USDCContract, nil
		}
		return cur, "", nil
	}
	curs, contracts := n.evmCurrencies()
	for i, c := range curs {
		if strings.EqualFold(c.Code, strings.TrimSpace(code)) {
			return c, contracts[i], nil
		}
	}
	return Currency{}, "", fmt.Errorf("unknown currency %q (one of: %s)", code, strings.Join(n.CurrencyCodes(), ", "))
}

// ValidateAddress is the package's ValidateAddress for the stack's chains,
// the chains.evm ones included (an Ethereum address).
func (n Nodes) ValidateAddress(chain, addr string) error {
	if _, ok := n.evmNode(strings.ToLower(strings.TrimSpace(chain))); ok && chain != "eth" {
		if addr == "" {
			return fmt.Errorf("no destination address")
		}
		return ethereum.ValidateAddress(addr)
	}
	return ValidateAddress(chain, addr)
}

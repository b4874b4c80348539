package main

import (
	"context"
	"strings"
	"testing"

	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/indexer/ethereum"
	"github.com/sluicepay/sluice/internal/testenv"
)

// TestAddEVMChainAsDocumented follows docs/operations.md, "Another EVM
// chain": the documented section, added to a configuration, passes `sluice
// config check` and every command, and gives a registry with the chain and
// its currencies coded as the page says; the chain id check of step 3 is
// the one the follower runs, tried on the stack's second geth (chain id
// 1338): the documented 137 is refused there, 1338 accepted.
func TestAddEVMChainAsDocumented(t *testing.T) {
	side := testenv.Get(t, "SLUICE_SIDECHAIN_RPC")
	clearEnv(t)
	// the page's chain is a mainnet: no unbounded reorgs (the stack's dev setting)
	_, _, loaded := documentedConfig(t, "add-evm-chain", map[string]any{"indexer": map[string]any{"unbounded_reorgs": false}})
	reg, err := chain.New(loaded)
	if err != nil {
		t.Fatal(err)
	}
	ch, ok := reg.Chain("polygon")
	pol, _ := reg.Currency("POL_POLYGON")
	usdt, _ := reg.Currency("USDT_POLYGON")
	if !ok || ch.Family != chain.EVM || ch.Native != "POL_POLYGON" || pol.Confirmations != 64 || pol.Decimals != 18 ||
		usdt.Chain != "polygon" || usdt.KeyBranch != 1 || usdt.Decimals != 6 || usdt.Contract != "0xc2132d05d31c914a87c6611c10748aeb04b58e8f" {
		t.Fatalf("the registry: polygon %+v, POL_POLYGON %+v, USDT_POLYGON %+v", ch, pol, usdt)
	}
	if eth, _ := reg.Currency("USDT"); eth.Chain != "eth" {
		t.Fatalf("USDT must stay Ethereum's: %+v", eth)
	}

	// the node check the follower runs, against a real node of another chain id
	node, err := ethereum.Dial(context.Background(), "polygon", side, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	e := loaded.Chains.EVMChain("polygon")
	if err := ethereum.CheckChain(context.Background(), node, e.Network, e.ChainID); err == nil || !strings.Contains(err.Error(), "chain_id 137") {
		t.Fatalf("a node of chain id 1338 passed as 137: %v", err)
	}
	if err := ethereum.CheckChain(context.Background(), node, e.Network, 1338); err != nil {
		t.Fatal(err)
	}
}

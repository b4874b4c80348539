package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/sluicepay/sluice/contracts"
	"github.com/sluicepay/sluice/devnet"
)

// The stack's second EVM dev chain: another geth --dev (service geth2) with
// its own chain id and coin, configured as chains.evm.sidechain, so sluice
// runs two EVM chains side by side locally.
const (
	SidechainKey     = "sidechain" // its chains.evm key; its currencies are SYMBOL_SIDECHAIN
	SidechainService = "geth2"
	SidechainID      = 1338 // eth_chainId; geth --dev's own chain is 1337
	SidechainNative  = "SIDE"
)

// gethDevAccount is the account geth --dev imports into an empty keystore
// (go-ethereum cmd/utils DeveloperKey, a published key: dev chains only).
// A chain the stack initialises itself funds it in its genesis.
const gethDevAccount = "0x71562b71999873db5b286df957af199ec94617f7"

// DevToken is a devnet token deployed on one of the stack's EVM chains.
type DevToken struct {
	Symbol   string // on a chains.evm chain its currency is SYMBOL_KEY
	Decimals int
	Contract string // "" until the chain's setup deployed it
	artifact string // contracts.TetherToken, …
}

// EVMDevChain is an EVM dev chain of the stack other than geth's eth: what
// `sluice stack env`, the generated config (chains.evm.KEY) and `sluice
// devnet` know of it.
type EVMDevChain struct {
	Key            string // chains.evm key
	Service        string // the stack service that runs its node
	ChainID        int64
	Native         string // its coin's symbol (currency NATIVE_KEY)
	NativeDecimals int
	RPC, WS        string
	DevAccount     string // funded and unlocked on the node; "" before its first up
	Tokens         []DevToken
}

// EnvPrefix is the prefix of the chain's `sluice stack env` variables: SLUICE_KEY_.
func (c EVMDevChain) EnvPrefix() string { return "SLUICE_" + strings.ToUpper(c.Key) + "_" }

// DevChainState is what the stack remembers of an EVM dev chain of chains.evm.
type DevChainState struct {
	DevAccount string            `json:"dev_account,omitempty"`
	Contracts  map[string]string `json:"contracts,omitempty"` // token symbol → address
}

// EVMDevChains lists the stack's chains.evm dev chains (the sidechain).
func (s *Stack) EVMDevChains() []EVMDevChain {
	st := s.State.EVM[SidechainKey]
	if st == nil {
		st = &DevChainState{}
	}
	return []EVMDevChain{{
		Key: SidechainKey, Service: SidechainService, ChainID: SidechainID,
		Native: SidechainNative, NativeDecimals: 18,
		RPC: "http://" + s.loop(s.Ports.SidechainHTTP), WS: "ws://" + s.loop(s.Ports.SidechainWS),
		DevAccount: st.DevAccount,
		Tokens:     []DevToken{{Symbol: "USDT", Decimals: 6, Contract: st.Contracts["USDT"], artifact: contracts.TetherToken}},
	}}
}

// devChainState is the recorded state of chain key, made on first use.
// Up makes it before services start in parallel, so setups never write the map.
func (s *Stack) devChainState(key string) *DevChainState {
	if s.State.EVM == nil {
		s.State.EVM = map[string]*DevChainState{}
	}
	st := s.State.EVM[key]
	if st == nil {
		st = &DevChainState{}
		s.State.EVM[key] = st
	}
	if st.Contracts == nil {
		st.Contracts = map[string]string{}
	}
	return st
}

// ---- geth2 (the sidechain: a second Ethereum dev chain) ----

var geth2Svc = &service{
	name:       SidechainService,
	tools:      []goTool{toolGeth},
	timeout:    60 * time.Second,
	stopSignal: syscall.SIGTERM,
	ports:      func(s *Stack) []int { return []int{s.Ports.SidechainHTTP, s.Ports.SidechainWS} },
	addr: func(s *Stack) string {
		return fmt.Sprintf("%s (ws %d, chain id %d)", s.loop(s.Ports.SidechainHTTP), s.Ports.SidechainWS, SidechainID)
	},
	prepare: func(ctx context.Context, s *Stack) error {
		return initDevGenesis(ctx, s, geth2Datadir(s), SidechainID, filepath.Join(s.Dir, "logs", SidechainService+".log"))
	},
	argv: func(s *Stack) []string {
		return gethArgv(s, geth2Datadir(s), s.Ports.SidechainHTTP, s.Ports.SidechainWS)
	},
	ready: func(ctx context.Context, s *Stack) error {
		var n string
		return gethClient("http://"+s.loop(s.Ports.SidechainHTTP)).Call(ctx, "eth_blockNumber", &n)
	},
	setup: func(ctx context.Context, s *Stack) error {
		return setupDevChain(ctx, s, s.EVMDevChains()[0])
	},
}

func geth2Datadir(s *Stack) string { return filepath.Join(s.Dir, SidechainService, "data") }

// initDevGenesis initialises datadir, once, with geth --dev's own genesis
// (geth --dev dumpgenesis, so it fits the binary's dev rules: merged at
// genesis) under another chain id, funding geth's dev account: geth --dev
// on a datadir that holds a chain keeps that chain, chain id included.
// It initialises a scratch directory and renames it, so a kill midway
// leaves no half chain.
func initDevGenesis(ctx context.Context, s *Stack, datadir string, chainID int64, logFile string) error {
	if _, err := os.Stat(filepath.Join(datadir, "geth", "chaindata")); err == nil {
		return nil
	}
	geth := filepath.Join(s.BinDir, "geth")
	dump := execCommand(ctx, []string{geth, "--dev", "dumpgenesis"}, s.Dir)
	var stderr bytes.Buffer
	dump.Stderr = &stderr
	out, err := dump.Output()
	if err != nil {
		return fmt.Errorf("geth --dev dumpgenesis: %w: %.300s", err, stderr.String())
	}
	genesis, err := devGenesis(out, chainID, gethDevAccount)
	if err != nil {
		return err
	}
	file := filepath.Join(filepath.Dir(datadir), "genesis.json")
	if err := writeFileAtomic(file, genesis, 0o644); err != nil {
		return err
	}
	tmp := datadir + ".init"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	s.printf("%-10s geth init %s (chain id %d)\n", SidechainService, datadir, chainID)
	if err := runAs(ctx, []string{geth, "init", "--datadir", tmp, "--state.scheme", "hash", file},
		filepath.Dir(datadir), logFile, nil); err != nil {
		return fmt.Errorf("geth init: %w (see %s)", err, logFile)
	}
	return os.Rename(tmp, datadir)
}

// devFunds is the dev account's genesis balance: 2^255 wei, as good as endless.
var devFunds = "0x8" + strings.Repeat("0", 63)

// devGenesis rewrites geth's dev genesis (JSON) to chainID and funds account.
// Numbers pass through untouched (json.Number).
func devGenesis(dump []byte, chainID int64, account string) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(dump))
	d.UseNumber()
	var g map[string]any
	if err := d.Decode(&g); err != nil {
		return nil, fmt.Errorf("geth --dev dumpgenesis: %w", err)
	}
	cfg, ok := g["config"].(map[string]any)
	if !ok {
		return nil, errors.New("geth --dev dumpgenesis: no config object")
	}
	if _, ok := cfg["terminalTotalDifficulty"]; !ok {
		return nil, errors.New("geth --dev dumpgenesis: no terminalTotalDifficulty: not a dev genesis")
	}
	cfg["chainId"] = json.Number(strconv.FormatInt(chainID, 10))
	alloc, ok := g["alloc"].(map[string]any)
	if !ok {
		alloc = map[string]any{}
		g["alloc"] = alloc
	}
	alloc[strings.TrimPrefix(strings.ToLower(account), "0x")] = map[string]any{"balance": devFunds}
	return json.MarshalIndent(g, "", "  ")
}

// setupDevChain checks the node is chain c (its chain id), learns its dev
// account and deploys c's devnet tokens once per chain, as geth's setup does.
func setupDevChain(ctx context.Context, s *Stack, c EVMDevChain) error {
	client := gethClient(c.RPC)
	var id hexutil.Big
	if err := client.Call(ctx, "eth_chainId", &id); err != nil {
		return err
	}
	if id.ToInt().Int64() != c.ChainID {
		return fmt.Errorf("the node reports chain id %s, not %d: its datadir holds another chain; stop it and remove %s to start afresh",
			id.ToInt(), c.ChainID, filepath.Join(s.Dir, c.Service))
	}
	var accts []string
	if err := client.Call(ctx, "eth_accounts", &accts); err != nil {
		return err
	}
	if len(accts) == 0 {
		return fmt.Errorf("geth --dev has no developer account")
	}
	var bal hexutil.Big
	if err := client.Call(ctx, "eth_getBalance", &bal, accts[0], "latest"); err != nil {
		return err
	}
	if bal.ToInt().Sign() == 0 {
		return fmt.Errorf("the dev account %s holds nothing (the genesis funds %s): stop %s and remove %s to start afresh",
			accts[0], gethDevAccount, c.Service, filepath.Join(s.Dir, c.Service))
	}
	st := s.devChainState(c.Key)
	st.DevAccount = accts[0]
	for _, tk := range c.Tokens {
		if addr := st.Contracts[tk.Symbol]; addr != "" {
			ok, err := devnet.DeployedAt(ctx, c.RPC, st.DevAccount, addr, tk.artifact)
			if err != nil {
				return err
			}
			if ok {
				continue
			}
		}
		r, err := devnet.Deploy(ctx, c.RPC, st.DevAccount, tk.artifact)
		if err != nil {
			return fmt.Errorf("deploy devnet contract: %w", err)
		}
		st.Contracts[tk.Symbol] = r.ContractAddress
	}
	return nil
}

package bitcoin

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicepay/sluice/indexer"
	"github.com/sluicepay/sluice/jsonrpc"
)

// Node is a typed client of a Bitcoin Core-style JSON-RPC node (bitcoind,
// litecoind, btcd): only the calls the indexer makes, no logic of its own.
type Node struct {
	rpc     *jsonrpc.Client
	chain   string
	latency *prometheus.HistogramVec
}

// NewNode returns a client for the node at rawURL (http://user:pass@host:port).
// latency may be nil.
func NewNode(chain, rawURL string, latency *prometheus.HistogramVec) (*Node, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	c, err := jsonrpc.New(rawURL, jsonrpc.WithVersion("1.0"), jsonrpc.WithHTTPClient(&http.Client{Timeout: 60 * time.Second, Transport: tr}))
	if err != nil {
		return nil, err
	}
	if latency == nil {
		latency = indexer.NewRPCLatency(nil)
	}
	return &Node{rpc: c, chain: chain, latency: latency}, nil
}

// URL is the node's address with the password hidden.
func (n *Node) URL() string { return n.rpc.URL() }

func (n *Node) call(ctx context.Context, method string, result any, params ...any) error {
	start := time.Now()
	err := n.rpc.Call(ctx, method, result, params...)
	res := "ok"
	if err != nil {
		res = "error"
	}
	n.latency.WithLabelValues(n.chain, method, res).Observe(time.Since(start).Seconds())
	return err
}

// ChainInfo is the part of getblockchaininfo the indexer reads.
type ChainInfo struct {
	Chain         string `json:"chain"`
	Blocks        int64  `json:"blocks"`
	BestBlockHash string `json:"bestblockhash"`
}

// BlockchainInfo calls getblockchaininfo.
func (n *Node) BlockchainInfo(ctx context.Context) (ChainInfo, error) {
	var ci ChainInfo
	err := n.call(ctx, "getblockchaininfo", &ci)
	return ci, err
}

// BlockHash calls getblockhash; a height above the node's tip is indexer.ErrNoBlock.
func (n *Node) BlockHash(ctx context.Context, height int64) (string, error) {
	var h string
	err := n.call(ctx, "getblockhash", &h, height)
	var re *jsonrpc.Error
	// Core answers -8 "Block height out of range", btcd -1 "Block number out of range".
	if errors.As(err, &re) && (re.Code == -8 || strings.Contains(re.Message, "out of range")) {
		return "", fmt.Errorf("height %d: %w", height, indexer.ErrNoBlock)
	}
	return h, err
}

// RawBlock calls getblock HASH 0 and returns the serialized block.
func (n *Node) RawBlock(ctx context.Context, hash string) ([]byte, error) {
	var s string
	if err := n.call(ctx, "getblock", &s, hash, 0); err != nil {
		return nil, err
	}
	raw, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("getblock %s: %w: the block is not hex (%v)", hash, ErrGarbage, err)
	}
	return raw, nil
}

// ErrGarbage marks a reply from the node that is not a valid block.
var ErrGarbage = errors.New("node sent garbage")

// nodeChainNames are the names nodes report for each configured network.
var nodeChainNames = map[string][]string{
	"mainnet":  {"main", "mainnet"},
	"testnet":  {"test", "testnet3", "testnet"},
	"testnet4": {"test", "testnet4"},
	"regtest":  {"regtest"},
	"signet":   {"signet"},
}

// CheckNetwork fails clearly when the node is on another network than network.
func (n *Node) CheckNetwork(ctx context.Context, network string) error {
	ci, err := n.BlockchainInfo(ctx)
	if err != nil {
		return err
	}
	if !slices.Contains(nodeChainNames[network], ci.Chain) {
		return fmt.Errorf("the %s node at %s is on network %q, but the config says %s", n.chain, n.URL(), ci.Chain, network)
	}
	return nil
}

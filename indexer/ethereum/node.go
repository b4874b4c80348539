package ethereum

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicepay/sluice/indexer"
)

// Node is a thin typed client of geth's JSON-RPC (over WebSocket in
// production; any go-ethereum rpc.Client works, in-process included).
// Blocks are always fetched by hash: a number can race a reorg.
type Node struct {
	rpc     *rpc.Client
	chain   string
	url     string
	latency *prometheus.HistogramVec
	// noBlockReceipts is set once the node answers eth_getBlockReceipts with
	// "method not found": receipts are then fetched one by one.
	noBlockReceipts bool
}

// Dial connects to rawURL (ws://, wss://, http://, https://).
func Dial(ctx context.Context, chain, rawURL string, latency *prometheus.HistogramVec) (*Node, error) {
	c, err := rpc.DialContext(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("%s node at %s: %w", chain, rawURL, err)
	}
	return NewNode(chain, rawURL, c, latency), nil
}

// NewNode wraps an rpc.Client; latency may be nil.
func NewNode(chain, url string, c *rpc.Client, latency *prometheus.HistogramVec) *Node {
	if latency == nil {
		latency = indexer.NewRPCLatency(nil)
	}
	return &Node{rpc: c, chain: chain, url: url, latency: latency}
}

// Close drops the connection.
func (n *Node) Close() { n.rpc.Close() }

// URL is where the node is.
func (n *Node) URL() string { return n.url }

func (n *Node) call(ctx context.Context, result any, method string, args ...any) error {
	start := time.Now()
	err := n.rpc.CallContext(ctx, result, method, args...)
	res := "ok"
	if err != nil {
		res = "error"
		err = fmt.Errorf("%s at %s: %w", method, n.url, err)
	}
	n.latency.WithLabelValues(n.chain, method, res).Observe(time.Since(start).Seconds())
	return err
}

type headRef struct {
	Number hexutil.Uint64 `json:"number"`
	Hash   string         `json:"hash"`
}

// Head returns the number and hash of the block the tag names ("latest", "finalized", ...).
func (n *Node) Head(ctx context.Context, tag string) (uint64, string, error) {
	var h *headRef
	if err := n.call(ctx, &h, "eth_getBlockByNumber", tag, false); err != nil {
		return 0, "", err
	}
	if h == nil {
		return 0, "", fmt.Errorf("eth_getBlockByNumber %s at %s: no such block", tag, n.url)
	}
	return uint64(h.Number), strings.ToLower(h.Hash), nil
}

// NonceAt returns how many transactions sender had sent as of the block at
// height (eth_getTransactionCount): a transaction with a lower nonce that is
// not on the chain can never be mined any more.
func (n *Node) NonceAt(ctx context.Context, sender string, height uint64) (uint64, error) {
	var c hexutil.Uint64
	if err := n.call(ctx, &c, "eth_getTransactionCount", sender, hexutil.Uint64(height)); err != nil {
		return 0, err
	}
	return uint64(c), nil
}

// HashAt returns the main-chain hash at height, or indexer.ErrNoBlock.
func (n *Node) HashAt(ctx context.Context, height uint64) (string, error) {
	var h *headRef
	if err := n.call(ctx, &h, "eth_getBlockByNumber", hexutil.Uint64(height), false); err != nil {
		return "", err
	}
	if h == nil {
		return "", fmt.Errorf("height %d: %w", height, indexer.ErrNoBlock)
	}
	return strings.ToLower(h.Hash), nil
}

// ChainID calls eth_chainId.
func (n *Node) ChainID(ctx context.Context) (*big.Int, error) {
	var id hexutil.Big
	if err := n.call(ctx, &id, "eth_chainId"); err != nil {
		return nil, err
	}
	return id.ToInt(), nil
}

// ErrBlockGone means the node no longer has the block (a reorg under us).
var ErrBlockGone = errors.New("the node no longer has this block")

// RawBlock returns eth_getBlockByHash(hash, true) and the block's receipts as
// the node sent them.
func (n *Node) RawBlock(ctx context.Context, hash string) (block, receipts json.RawMessage, err error) {
	if err := n.call(ctx, &block, "eth_getBlockByHash", hash, true); err != nil {
		return nil, nil, err
	}
	if len(block) == 0 || string(block) == "null" {
		return nil, nil, fmt.Errorf("block %s: %w", hash, ErrBlockGone)
	}
	if !n.noBlockReceipts {
		err := n.call(ctx, &receipts, "eth_getBlockReceipts", hash)
		var re rpc.Error
		switch {
		case err == nil && string(receipts) != "null":
			return block, receipts, nil
		case err == nil:
			return nil, nil, fmt.Errorf("receipts of block %s: %w", hash, ErrBlockGone)
		case errors.As(err, &re) && re.ErrorCode() == -32601:
			n.noBlockReceipts = true // an older node: fall back for good
		default:
			return nil, nil, err
		}
	}
	var txs struct {
		Transactions []struct {
			Hash string `json:"hash"`
		} `json:"transactions"`
	}
	if err := json.Unmarshal(block, &txs); err != nil {
		return nil, nil, fmt.Errorf("block %s: %w", hash, err)
	}
	batch := make([]rpc.BatchElem, len(txs.Transactions))
	parts := make([]json.RawMessage, len(txs.Transactions))
	for i, tx := range txs.Transactions {
		batch[i] = rpc.BatchElem{Method: "eth_getTransactionReceipt", Args: []any{tx.Hash}, Result: &parts[i]}
	}
	if len(batch) > 0 {
		if err := n.rpc.BatchCallContext(ctx, batch); err != nil {
			return nil, nil, fmt.Errorf("receipts of block %s at %s: %w", hash, n.url, err)
		}
		for _, b := range batch {
			if b.Error != nil {
				return nil, nil, fmt.Errorf("receipt of %v in block %s: %w", b.Args[0], hash, b.Error)
			}
		}
	}
	receipts, err = json.Marshal(parts)
	return block, receipts, err
}

// Traces returns debug_traceBlockByHash with the call tracer.
func (n *Node) Traces(ctx context.Context, hash string) (json.RawMessage, error) {
	var raw json.RawMessage
	err := n.call(ctx, &raw, "debug_traceBlockByHash", hash, map[string]any{"tracer": "callTracer"})
	return raw, err
}

// NewHeads wakes the follower on every newHeads notification, re-subscribing
// with backoff when the subscription dies with its connection.
type NewHeads struct {
	Node *Node
	Log  *slog.Logger
}

// Run subscribes until ctx ends.
func (t NewHeads) Run(ctx context.Context, wake func(kind string)) error {
	return indexer.Reconnect(ctx, t.Log, "newHeads subscription", t.Node.url, func() error {
		ch := make(chan json.RawMessage, 16)
		sub, err := t.Node.rpc.EthSubscribe(ctx, ch, "newHeads")
		if err != nil {
			return err
		}
		defer sub.Unsubscribe()
		t.Log.Info("newHeads subscribed", "url", t.Node.url)
		wake("websocket") // heads may have passed while we were not subscribed
		for {
			select {
			case <-ch:
				wake("websocket")
			case err := <-sub.Err():
				if err == nil {
					err = errors.New("subscription closed")
				}
				return err
			case <-ctx.Done():
				return nil
			}
		}
	})
}

// ChainIDs are the chain ids of the networks the config accepts.
var ChainIDs = map[string]int64{"mainnet": 1, "sepolia": 11155111, "holesky": 17000, "dev": 1337}

// CheckChain is CheckNetwork with the chain id the configuration gives
// (chain_id; required for chains.evm), when it gives one.
func CheckChain(ctx context.Context, n *Node, network string, chainID int64) error {
	if chainID <= 0 {
		return CheckNetwork(ctx, n, network)
	}
	id, err := n.ChainID(ctx)
	if err != nil {
		return err
	}
	if id.Cmp(big.NewInt(chainID)) != 0 {
		return fmt.Errorf("the node at %s has chain id %s, but the config says chain_id %d", n.url, id, chainID)
	}
	return nil
}

// CheckNetwork fails clearly when the node's chain id is not the network's.
func CheckNetwork(ctx context.Context, n *Node, network string) error {
	id, err := n.ChainID(ctx)
	if err != nil {
		return err
	}
	want, ok := ChainIDs[network]
	if !ok {
		return fmt.Errorf("unknown Ethereum network %q", network)
	}
	if id.Cmp(big.NewInt(want)) != 0 {
		return fmt.Errorf("the eth node at %s has chain id %s, but the config says %s (chain id %d)", n.url, id, network, want)
	}
	return nil
}

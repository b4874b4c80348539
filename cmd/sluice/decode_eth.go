package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/indexer/ethereum"
)

// maxEthFile bounds what decode eth-block reads: call traces of a full
// block run to tens of MB, so anything past this is the wrong file.
const maxEthFile = 512 << 20

func newDecodeEthBlockCmd() *cobra.Command {
	var receiptsPath, tracesPath string
	cmd := &cobra.Command{
		Use:   "eth-block FILE",
		Short: "Print an Ethereum block, its receipts and token transfers as JSON",
		Long: `Decodes one Ethereum block as geth's JSON-RPC returns it, joined with its receipts,
and prints what the indexer would store: the header, every transaction with its
receipt's status, gas used and effective gas price, the ERC-20 Transfer logs of
successful transactions, and, when call traces are given, the ether moved by
calls inside them. Amounts are decimal strings of the raw integer (wei, token
base units); "to" is null for a contract creation.

FILE holds JSON in one of these shapes, told apart by content:
  {"block": BLOCK, "receipts": [RECEIPT...], "traces": [TRACE...]}
          BLOCK is an eth_getBlockByHash(hash, true) result (full transactions),
          each RECEIPT an eth_getTransactionReceipt result in any order (or
          "receipts" is the eth_getBlockReceipts result); "traces" is optional,
          the debug_traceBlockByHash(hash, {"tracer": "callTracer"}) result
  BLOCK   alone, with the receipts array in a second file: --receipts FILE
  {"ethereum": {"header": ..., "transactionReceipts": [...], "transactionTraces": [...]}}
          a coinbase/chainstorage raw block: the same JSON, base64-encoded
Any of these, BLOCK, the receipts array, each receipt and the traces may be
wrapped in its JSON-RPC response {"jsonrpc": "2.0", "id": 1, "result": ...}.
Use - to read standard input. A block without transactions needs no receipts.

Every transaction needs exactly one receipt from the same block. Receipts from
before Byzantium have no status: those transactions are shown as successful.

The output is one JSON object:
  hash, number, parent_hash, time
  token_transfers     [{token, from, to, value, tx_hash, log_index}]: the ERC-20
                      Transfer logs (three topics, one 32-byte data word) of
                      successful transactions; log_index is block-wide
  bad_transfer_logs   [{tx_hash, log_index, address, topics, data}]: logs with the
                      Transfer topic in another shape, such as ERC-721's
  internal_transfers  [{tx_hash, trace_address, call_type, from, to, value}], with
                      traces only: nested CALL, CREATE, CREATE2 and SELFDESTRUCT
                      frames with a value, outside reverted frames, of successful
                      transactions; trace_address is the place in the call tree
  transactions        [{hash, index, type, from, to, value, status, gas_used,
                      effective_gas_price, contract_address}]`,
		Example: `  H=0x394c2fd2da46d076b800b24eef6ae5d52e5f0f19a6d1704c1e98229139410a2c   # a block hash
  curl -s -H 'content-type: application/json' localhost:8545 \
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByHash","params":["'$H'",true]}' > block.json
  curl -s -H 'content-type: application/json' localhost:8545 \
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_getBlockReceipts","params":["'$H'"]}' > receipts.json
  sluice decode eth-block block.json --receipts receipts.json | jq '.token_transfers'
  jq -n --slurpfile b block.json --slurpfile r receipts.json '{block: $b[0], receipts: $r[0]}' > both.json
  sluice decode eth-block both.json | jq '.transactions[] | select(.status == 0) | .hash'
  sluice decode eth-block raw_block_11098450.json | jq '.internal_transfers | length'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			out, err := decodeEthBlock(path, receiptsPath, tracesPath, cmd.InOrStdin())
			if err != nil {
				return fmt.Errorf("decode eth-block %s: %w", path, err)
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}
	cmd.Flags().StringVar(&receiptsPath, "receipts", "", "file with the block's receipts, a JSON array (when FILE holds the block alone)")
	cmd.Flags().StringVar(&tracesPath, "traces", "", "file with the block's callTracer traces (debug_traceBlockByHash)")
	return cmd
}

func decodeEthBlock(path, receiptsPath, tracesPath string, stdin io.Reader) (*ethBlockOut, error) {
	data, err := readJSONFile(path, stdin)
	if err != nil {
		return nil, err
	}
	bu, err := ethereum.ParseBundle(data)
	if err != nil {
		return nil, err
	}
	if receiptsPath != "" {
		if bu.Receipts != nil {
			return nil, errors.New("the file holds receipts already; drop --receipts")
		}
		if bu.Receipts, err = readSideFile(receiptsPath, stdin); err != nil {
			return nil, fmt.Errorf("--receipts %s: %w", receiptsPath, err)
		}
	}
	if tracesPath != "" {
		if bu.Traces != nil {
			return nil, errors.New("the file holds traces already; drop --traces")
		}
		if bu.Traces, err = readSideFile(tracesPath, stdin); err != nil {
			return nil, fmt.Errorf("--traces %s: %w", tracesPath, err)
		}
	}
	b, err := ethereum.DecodeBlock(bu.Block, bu.Receipts)
	if err != nil {
		if bu.Receipts == nil {
			return nil, fmt.Errorf("%w (no receipts were given: add \"receipts\" to the file or use --receipts FILE)", err)
		}
		return nil, err
	}
	if bu.Traces != nil {
		if err := ethereum.DecodeTraces(bu.Traces, b); err != nil {
			return nil, err
		}
	}
	return newEthBlockOut(b), nil
}

// readSideFile reads a --receipts or --traces file, which may be a JSON-RPC
// response.
func readSideFile(path string, stdin io.Reader) (json.RawMessage, error) {
	data, err := readJSONFile(path, stdin)
	if err != nil {
		return nil, err
	}
	return ethereum.UnwrapRPC(data)
}

// readJSONFile reads path ("-" for stdin), bounded by maxEthFile.
func readJSONFile(path string, stdin io.Reader) ([]byte, error) {
	return readInput(path, stdin, maxEthFile, "no block's JSON is")
}

// The output shapes: snake_case keys, amounts as decimal strings so that no
// JSON reader rounds them.

// ethBlockOut lists the transfers before the transactions: they are what
// one looks for, and a block's transactions run to thousands of lines.
type ethBlockOut struct {
	Hash              string           `json:"hash"`
	Number            uint64           `json:"number"`
	ParentHash        string           `json:"parent_hash"`
	Time              time.Time        `json:"time"`
	TokenTransfers    []ethTransferOut `json:"token_transfers"`
	BadTransferLogs   []ethBadLogOut   `json:"bad_transfer_logs"`
	InternalTransfers *[]ethInternal   `json:"internal_transfers,omitempty"` // only when traced
	Transactions      []ethTxOut       `json:"transactions"`
}

type ethTxOut struct {
	Hash              string  `json:"hash"`
	Index             uint32  `json:"index"`
	Type              uint8   `json:"type"`
	From              string  `json:"from"`
	To                *string `json:"to"`
	Value             string  `json:"value"`
	Status            uint8   `json:"status"`
	GasUsed           uint64  `json:"gas_used"`
	EffectiveGasPrice string  `json:"effective_gas_price"`
	ContractAddress   *string `json:"contract_address"`
}

type ethTransferOut struct {
	Token    string `json:"token"`
	From     string `json:"from"`
	To       string `json:"to"`
	Value    string `json:"value"`
	TxHash   string `json:"tx_hash"`
	LogIndex uint32 `json:"log_index"`
}

type ethBadLogOut struct {
	TxHash   string   `json:"tx_hash"`
	LogIndex uint32   `json:"log_index"`
	Address  string   `json:"address"`
	Topics   []string `json:"topics"`
	Data     string   `json:"data"`
}

type ethInternal struct {
	TxHash       string `json:"tx_hash"`
	TraceAddress string `json:"trace_address"`
	CallType     string `json:"call_type"`
	From         string `json:"from"`
	To           string `json:"to"`
	Value        string `json:"value"`
}

func newEthBlockOut(b *ethereum.Block) *ethBlockOut {
	out := &ethBlockOut{
		Hash: b.Hash, Number: b.Number, ParentHash: b.ParentHash, Time: b.Time,
		Transactions:    make([]ethTxOut, 0, len(b.Txs)),
		TokenTransfers:  make([]ethTransferOut, 0, len(b.Transfers)),
		BadTransferLogs: make([]ethBadLogOut, 0, len(b.BadTransferLogs)),
	}
	for _, tx := range b.Txs {
		out.Transactions = append(out.Transactions, ethTxOut{
			Hash: tx.Hash, Index: tx.Index, Type: tx.Type, From: tx.From, To: nullIfEmpty(tx.To),
			Value: tx.Value.String(), Status: tx.Status, GasUsed: tx.GasUsed,
			EffectiveGasPrice: tx.EffectiveGasPrice.String(), ContractAddress: nullIfEmpty(tx.ContractAddress),
		})
	}
	for _, t := range b.Transfers {
		out.TokenTransfers = append(out.TokenTransfers, ethTransferOut{
			Token: t.Token, From: t.From, To: t.To, Value: t.Value.String(), TxHash: t.TxHash, LogIndex: t.LogIndex,
		})
	}
	for _, l := range b.BadTransferLogs {
		out.BadTransferLogs = append(out.BadTransferLogs, ethBadLogOut{
			TxHash: l.TxHash, LogIndex: l.LogIndex, Address: l.Address, Topics: l.Topics, Data: l.Data,
		})
	}
	if b.Internal != nil {
		in := make([]ethInternal, 0, len(b.Internal))
		for _, t := range b.Internal {
			in = append(in, ethInternal{
				TxHash: t.TxHash, TraceAddress: t.TraceAddress, CallType: t.CallType,
				From: t.From, To: t.To, Value: t.Value.String(),
			})
		}
		out.InternalTransfers = &in
	}
	return out
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

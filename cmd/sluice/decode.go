package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/indexer/bitcoin"
)

// maxBlockFile bounds what decode reads: a block is at most 4 MB, 8 MB as
// hex, so anything much larger is the wrong file.
const maxBlockFile = 64 << 20

func newDecodeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "decode",
		Short: "Decode raw chain data offline, without a node or database",
		Long: `Decode raw chain data the way the indexer does and print what it would store.
Nothing is read from a node or written anywhere.`,
	}
	cmd.AddCommand(newDecodeBlockCmd())
	cmd.AddCommand(newDecodeEthBlockCmd())
	return cmd
}

func newDecodeBlockCmd() *cobra.Command {
	var chain, network string
	cmd := &cobra.Command{
		Use:   "block FILE",
		Short: "Print a raw Bitcoin or Litecoin block as JSON",
		Long: `Decodes one serialized block and prints it as indented JSON: the header fields,
and every transaction with its txid, inputs (prev_txid, prev_vout, coinbase) and
outputs (n, value as an integer in satoshi or litoshi, type, address or null).

FILE holds the block in either form, told apart by content:
  hex     the text "bitcoin-cli getblock HASH 0" prints (whitespace and line
          breaks are ignored)
  binary  the same bytes undecoded: a block as sent on the wire, or one record
          of a blk*.dat file without its 8-byte magic and length
Use - to read standard input.

The block's structure is checked and its txids must hash to the header's merkle
root. Output types are p2pkh, p2sh, p2wpkh, p2wsh, p2tr, p2pk, multisig,
nulldata, witness_unknown and nonstandard. As in bitcoind, the address is null
for p2pk, multisig, nulldata and nonstandard outputs (and, as in litecoind, for
Litecoin's MWEB peg-in and HogEx programs). A Litecoin MWEB block decodes with
"mweb": true and its HogEx marked "hogex": true; the extension block itself is
not printed.

Networks: btc: ` + strings.Join(bitcoin.Networks(bitcoin.ChainBTC), ", ") + `; ltc: ` + strings.Join(bitcoin.Networks(bitcoin.ChainLTC), ", ") + `.`,
		Example: `  bitcoin-cli getblock "$(bitcoin-cli getblockhash 840000)" 0 > block.hex
  sluice decode block --chain btc block.hex
  sluice decode block --chain ltc --network testnet4 2215584.raw | jq '.txs[-1]'
  litecoin-cli getblock "$HASH" 0 | sluice decode block --chain ltc -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			p, err := bitcoin.ParamsFor(chain, network)
			if err != nil {
				return fmt.Errorf("decode block %s: %w", path, err)
			}
			raw, err := readBlockFile(path, cmd.InOrStdin())
			if err != nil {
				return fmt.Errorf("decode block %s: %w", path, err)
			}
			b, err := bitcoin.Decode(raw, p)
			if err != nil {
				return fmt.Errorf("decode block %s (%s %s): %w", path, p.Chain, p.Network, err)
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(b)
		},
	}
	cmd.Flags().StringVar(&chain, "chain", "", "chain of the block: btc or ltc (required)")
	cmd.Flags().StringVar(&network, "network", "mainnet", "network of the block, for its address formats and rules")
	_ = cmd.MarkFlagRequired("chain")
	return cmd
}

// readBlockFile reads a block from path ("-" for stdin) and returns its
// bytes, hex-decoding the content when it is text.
func readBlockFile(path string, stdin io.Reader) ([]byte, error) {
	data, err := readInput(path, stdin, maxBlockFile, "no block is")
	if err != nil {
		return nil, err
	}
	if !isText(data) {
		return data, nil // binary: a serialized block always holds control bytes
	}
	compact := strings.Join(strings.Fields(string(data)), "")
	raw, err := hex.DecodeString(compact)
	if err != nil {
		return nil, fmt.Errorf("the file is text but not hex (%w); give the block as hex or as raw bytes", err)
	}
	return raw, nil
}

// isText reports whether data is printable ASCII and whitespace only.
func isText(data []byte) bool {
	for _, c := range data {
		if (c < 0x20 || c > 0x7e) && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	return true
}

// readInput reads path ("-" for stdin), refusing more than limit bytes
// ("larger than N MiB, which <why>") and an empty file.
func readInput(path string, stdin io.Reader, limit int, why string) ([]byte, error) {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				return nil, pe.Err // the caller names the file
			}
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > limit {
		return nil, fmt.Errorf("larger than %d MiB, which %s", limit>>20, why)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("the file is empty")
	}
	return data, nil
}

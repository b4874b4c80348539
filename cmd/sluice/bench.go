package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/bench"
	"github.com/sluicepay/sluice/indexer/bitcoin"
	"github.com/sluicepay/sluice/indexer/ethereum"
	"github.com/sluicepay/sluice/schema"
	"github.com/sluicepay/sluice/stores"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure sluice's pipelines next to their limits (see BENCHMARKS.md)",
	}
	var (
		chain, network     string
		raws, bundles      []string
		nodeBlocks, blocks int
		workers, batchRows int
		asJSON             bool
	)
	ingest := &cobra.Command{
		Use:   "ingest",
		Short: "Blocks/s, tx/s and rows/s of the indexer pipeline, next to the decode-only and ClickHouse-insert limits",
		Long: `Runs three measurements on the same blocks, in one run:

  decode-only limit   the blocks decoded on --workers goroutines, nothing written
  insert-only limit   the same rows, decoded beforehand, written to ClickHouse in
                      batches of --batch-rows rows by one writer
  pipeline            the follower's full catch-up: parallel fetch and decode, ordered
                      parent-hash checks, batched writes, block events, checkpoints

The blocks are real serialized blocks (--raw FILE, repeatable; binary or hex), or the
node's latest --node-blocks blocks, or for eth block+receipts(+traces) bundles
(--bundle FILE, repeatable), repeated to make --blocks blocks and re-linked by
height so they form a chain. Writes go to a scratch ClickHouse database
(<database>_bench) that is dropped at the end. ratio_to_limit is the pipeline's
rows/s over the smaller limit's.`,
		Example: `  sluice bench ingest --chain btc --raw ../shared/testdata/btc/540107.raw --raw ../shared/testdata/btc/574200.raw --blocks 200
  sluice bench ingest --chain ltc --node-blocks 50 --blocks 2000 --json
  sluice bench ingest --chain eth --bundle ../shared/testdata/eth/11098450/chainstorage_raw_block_11098450.json --blocks 300`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if network == "" {
				network = "mainnet"
				if c := map[string]bool{"btc": cfg.Chains.BTC.IsEnabled(), "ltc": cfg.Chains.LTC.IsEnabled()}; c[chain] && len(raws) == 0 {
					network = map[string]string{"btc": cfg.Chains.BTC.Network, "ltc": cfg.Chains.LTC.Network}[chain]
				}
			}
			var ethData []ethereum.Bundle
			for _, f := range bundles {
				b, err := os.ReadFile(f)
				if err != nil {
					return fmt.Errorf("--bundle: %w", err)
				}
				bu, err := ethereum.ParseBundle(b)
				if err != nil {
					return fmt.Errorf("--bundle %s: %w", f, err)
				}
				ethData = append(ethData, bu)
			}
			if chain == "eth" && len(ethData) == 0 {
				return fmt.Errorf("give Ethereum blocks to ingest: --bundle FILE (block + receipts JSON, as `sluice decode eth-block` reads)")
			}
			var params *bitcoin.Params
			if chain != "eth" {
				if params, err = bitcoin.ParamsFor(chain, network); err != nil {
					return err
				}
			}
			var data [][]byte
			for _, f := range raws {
				b, err := readBlockFile(f, cmd.InOrStdin())
				if err != nil {
					return fmt.Errorf("--raw %s: %w", f, err)
				}
				data = append(data, b)
			}
			if nodeBlocks > 0 {
				bc := map[string]string{"btc": "", "ltc": ""}
				if cfg.Chains.BTC.IsEnabled() {
					bc["btc"] = cfg.Chains.BTC.RPC
				}
				if cfg.Chains.LTC.IsEnabled() {
					bc["ltc"] = cfg.Chains.LTC.RPC
				}
				node, err := bitcoin.NewNode(chain, bc[chain], nil)
				if err != nil {
					return fmt.Errorf("--node-blocks needs chains.%s.rpc: %w", chain, err)
				}
				ci, err := node.BlockchainInfo(ctx)
				if err != nil {
					return err
				}
				for h := max(0, ci.Blocks-int64(nodeBlocks)+1); h <= ci.Blocks; h++ {
					hash, err := node.BlockHash(ctx, h)
					if err != nil {
						return err
					}
					b, err := node.RawBlock(ctx, hash)
					if err != nil {
						return err
					}
					data = append(data, b)
				}
			}
			if len(data) == 0 && chain != "eth" {
				return fmt.Errorf("give blocks to ingest: --raw FILE (repeatable) or --node-blocks N")
			}

			u, err := url.Parse(cfg.ClickHouse.DSN)
			if err != nil {
				return fmt.Errorf("clickhouse DSN: %w", err)
			}
			u.Path = strings.TrimSuffix(u.Path, "/") + "_bench"
			if err := schema.Migrate(ctx, cfg.Postgres.DSN, u.String(), version, cmd.ErrOrStderr()); err != nil {
				return err
			}
			ch, err := stores.OpenClickHouse(u.String())
			if err != nil {
				return err
			}
			defer func() {
				_ = ch.Exec(ctx, "DROP DATABASE IF EXISTS "+ch.Database)
				ch.Close()
			}()
			rd, err := stores.OpenRedis(cfg.Redis.URL)
			if err != nil {
				return err
			}
			defer rd.Close()
			if workers == 0 {
				workers = cfg.Indexer.Workers
			}
			if batchRows == 0 {
				batchRows = cfg.Indexer.BatchRows
			}
			opts := bench.IngestOptions{Chain: chain, Blocks: blocks, Workers: workers, BatchRows: batchRows,
				CH: ch, Redis: rd, Progress: cmd.ErrOrStderr()}
			var res *bench.IngestResult
			distinct := len(data)
			if chain == "eth" {
				distinct = len(ethData)
				res, err = bench.IngestEthereum(ctx, opts, ethData)
			} else {
				res, err = bench.IngestBitcoin(ctx, opts, params, data)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "sluice bench ingest: %s, %d blocks (%d distinct), %d txs, %d rows, %.1f MB; %d workers, batches of %d rows; %d CPUs\n\n",
				res.Chain, res.Blocks, distinct, res.Txs, res.Rows, float64(res.Bytes)/1e6, res.Workers, res.BatchRows, runtime.NumCPU())
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "measurement\tseconds\tblocks/s\ttx/s\trows/s\t")
			for _, r := range []struct {
				name string
				r    bench.Rate
			}{{"pipeline", res.Pipeline}, {"decode-only limit", res.DecodeLimit}, {"insert-only limit", res.InsertLimit}} {
				fmt.Fprintf(tw, "%s\t%.2f\t%.0f\t%.0f\t%.0f\t\n", r.name, r.r.Seconds, r.r.BlocksPerS, r.r.TxPerS, r.r.RowsPerS)
			}
			tw.Flush()
			fmt.Fprintf(out, "\npipeline / smaller limit: %.2f\n", res.RatioToLimit)
			return nil
		},
	}
	ingest.Flags().StringVar(&chain, "chain", "btc", "btc, ltc or eth")
	ingest.Flags().StringVar(&network, "network", "", "network of the blocks (default mainnet for --raw, the config's for --node-blocks)")
	ingest.Flags().StringArrayVar(&raws, "raw", nil, "a serialized block file (binary or hex); repeatable (btc, ltc)")
	ingest.Flags().StringArrayVar(&bundles, "bundle", nil, "an Ethereum block + receipts (+ traces) JSON file, any shape `sluice decode eth-block` reads; repeatable (eth)")
	ingest.Flags().IntVar(&nodeBlocks, "node-blocks", 0, "take the node's latest N blocks")
	ingest.Flags().IntVar(&blocks, "blocks", 200, "blocks to ingest (the given blocks, repeated)")
	ingest.Flags().IntVar(&workers, "workers", 0, "parallel fetch/decode workers (default indexer.workers)")
	ingest.Flags().IntVar(&batchRows, "batch-rows", 0, "rows per ClickHouse batch (default indexer.batch_rows)")
	ingest.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.AddCommand(ingest)
	cmd.AddCommand(newBenchWatchCmd(), newBenchWebhooksCmd(), newBenchExplorerCmd())
	return cmd
}

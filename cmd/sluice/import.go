package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/indexer"
	"github.com/sluicepay/sluice/indexer/bitcoin"
	"github.com/sluicepay/sluice/indexer/store"
)

func newImportCmd() *cobra.Command {
	var chain, dir, network, tip string
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Initial sync of a Bitcoin-family chain straight from a node's blk*.dat files",
		Long: `Reads the node's blocks directory (blk*.dat: network magic + length + block, in the
order the node received them; Bitcoin Core 28+ xor.dat obfuscation is undone), orders
the blocks by parent hash, and writes the main chain into ClickHouse through the same
pipeline, checks and checkpoints as "sluice index". The main chain ends at the node's
best block when chains.<chain>.rpc is configured and reachable (else --tip, else the
highest block in the files). Afterwards "sluice index" follows the node from where
the import stopped. Safe to interrupt and run again: it resumes from its checkpoint.

Stop the node first, or copy its blocks directory: a node appends to the last file
while it runs (the import stops at a torn record and reports it).`,
		Example: `  sluice import --chain btc --blocks-dir ~/.bitcoin/blocks
  sluice import --chain ltc --blocks-dir /srv/litecoin/regtest/blocks --network regtest`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := loadConfigAndLogger(cmd)
			if err != nil {
				return err
			}
			return runImport(cmd, cfg, log, chain, dir, network, tip)
		},
	}
	cmd.Flags().StringVar(&chain, "chain", "", "btc or ltc (required)")
	cmd.Flags().StringVar(&dir, "blocks-dir", "", "the node's blocks directory, holding blk*.dat (required)")
	cmd.Flags().StringVar(&network, "network", "", "network of the files (default: chains.<chain>.network, else mainnet)")
	cmd.Flags().StringVar(&tip, "tip", "", "hash of the last block to import (default: the node's best block, else the highest in the files)")
	_ = cmd.MarkFlagRequired("chain")
	_ = cmd.MarkFlagRequired("blocks-dir")
	return cmd
}

func runImport(cmd *cobra.Command, cfg *config.Config, log *slog.Logger, chain, dir, network, tip string) error {
	ctx := cmd.Context()
	bc := map[string]*config.Bitcoin{"btc": cfg.Chains.BTC, "ltc": cfg.Chains.LTC}[chain]
	if chain != "btc" && chain != "ltc" {
		return fmt.Errorf("--chain %q: import reads btc or ltc block files", chain)
	}
	if network == "" {
		network = "mainnet"
		if bc.IsEnabled() {
			network = bc.Network
		}
	}
	params, err := bitcoin.ParamsFor(chain, network)
	if err != nil {
		return err
	}
	if tip == "" && bc.IsEnabled() {
		node, err := bitcoin.NewNode(chain, bc.RPC, nil)
		if err == nil {
			if ci, err := node.BlockchainInfo(ctx); err == nil {
				tip = ci.BestBlockHash
				log.Info("importing up to the node's best block", "height", ci.Blocks, "hash", tip)
			} else {
				log.Warn("node not reachable; importing the highest chain in the files", "err", err)
			}
		}
	}

	start := time.Now()
	out := cmd.ErrOrStderr()
	bd, err := bitcoin.ScanBlocksDir(dir, params.Magic, func(file string, blocks int) {
		fmt.Fprintf(out, "scanned %s: %d blocks so far\n", file, blocks)
	})
	if err != nil {
		return err
	}
	if bd.Skipped > 0 {
		log.Warn("records skipped (other network, or a torn write at a file's end)", "count", bd.Skipped)
	}
	hashes, err := bd.Chain(tip)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "found %d blocks in %s; main chain 0..%d (%.1fs)\n", bd.Len(), dir, len(hashes)-1, time.Since(start).Seconds())

	st, err := openStores(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()

	cps := indexer.PGCheckpoints{DB: st.PG}
	if cp, ok, err := cps.Load(ctx, chain); err != nil {
		return err
	} else if ok {
		if cp.Height >= int64(len(hashes)-1) {
			fmt.Fprintf(out, "nothing to import: the index is at height %d, the files end at %d\n", cp.Height, len(hashes)-1)
			return nil
		}
		if hashes[cp.Height].String() != cp.Hash {
			return fmt.Errorf("the files' chain has %s at height %d, the index %s: they are different chains (wrong --network or blocks dir?)",
				hashes[cp.Height], cp.Height, cp.Hash)
		}
	}
	reg := prometheus.NewRegistry()
	f := indexer.NewFollower(indexer.Options[bitcoin.Indexed]{
		Chain: chain, Workers: cfg.Indexer.Workers, BatchRows: cfg.Indexer.BatchRows, MaxReorg: cfg.Indexer.MaxReorg, Log: log,
	}, &bitcoin.FileSource{Dir: bd, Chain: hashes, Params: params}, store.NewBitcoinSink(store.NewWriter(st.CH, reg), chain),
		cps, indexer.RedisPublisher{Client: st.Redis}, indexer.NewMetrics(reg))
	if err := f.SyncOnce(ctx); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	end, _ := f.Checkpoint()
	d := time.Since(start)
	fmt.Fprintf(out, "imported %s to height %d in %s (%.0f blocks/s); now run `sluice index --chain %s` to follow the node\n",
		chain, end.Height, d.Round(time.Millisecond), float64(len(hashes))/d.Seconds(), chain)
	return nil
}

// Command sluice is the whole product in one binary: the local stack, the
// schema migrator, the HTTP server and (later) the indexers and workers.
// This package only wires flags to packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// commit is the git commit the binary was built from (make build sets it).
var commit = "unknown"

type redisLog struct{}

func (redisLog) Printf(ctx context.Context, format string, v ...any) {
	slog.Default().DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}

// exitError carries a specific exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// go-redis prints every failed dial to stderr on its own; route it through slog at debug level.
	redis.SetLogger(redisLog{})
	root := newRootCmd()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "sluice:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "sluice",
		Short: "Self-hosted blockchain indexer and payment gateway (BTC, LTC, ETH, USDT)",
		Long: `sluice follows full nodes, streams every block into ClickHouse, matches payments to
watched addresses and turns them into deposits with confirmations, webhooks, sweeps
and withdrawals, with the ledger in PostgreSQL.

Start here:
  sluice stack up        start a local ClickHouse, PostgreSQL, Redis, btcd, litecoind and geth
  eval "$(sluice stack env)"
  sluice migrate         create or update the schema
  sluice serve           run the HTTP API

Configuration comes from --config FILE (or $SLUICE_CONFIG, or var/stack/sluice.yaml when
present) with SLUICE_* environment overrides; see "sluice config --help".`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.PersistentFlags().String("config", "", "configuration file (default $SLUICE_CONFIG, else var/stack/sluice.yaml if present)")
	root.AddCommand(newStackCmd(), newConfigCmd(), newMigrateCmd(), newServeCmd(), newIndexCmd(), newImportCmd(), newConsumeCmd(), newDepositsCmd(), newReconcileCmd(), newMerchantCmd(), newLedgerCmd(), newSweepCmd(), newWebhooksCmd(), newRatesCmd(),
		newDecodeCmd(), newBenchCmd(), newDevnetCmd(), newVersionCmd())
	root.AddCommand(newSchemaCmd(), newWithdrawalsCmd(), newReceiveCmd())
	root.AddCommand(newWalletsCmd())
	root.AddCommand(newSecretsCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and the commit it was built from",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "sluice", version, "commit", commit)
		},
	}
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/payments"
	"github.com/sluicepay/sluice/schema"
	"github.com/sluicepay/sluice/stores"
)

func newConfigCmd() *cobra.Command {
	var lines []string
	for _, ev := range config.EnvVars {
		lines = append(lines, fmt.Sprintf("  %-28s %s", ev.Name, ev.Key))
	}
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check configuration files",
		Long: `sluice reads one YAML file (--config, else $SLUICE_CONFIG, else var/stack/sluice.yaml
when present) and then these environment variables, which override the file:

` + strings.Join(lines, "\n") + `

"sluice stack up" writes a complete example to var/stack/sluice.yaml.`,
	}
	check := &cobra.Command{
		Use:   "check FILE",
		Short: "Validate a configuration file (with the SLUICE_* overrides applied) and its seed file; exit 1 listing every problem",
		Example: `  sluice config check var/stack/sluice.yaml
  sluice config check /etc/sluice/sluice.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(args[0], os.Getenv)
			if err != nil {
				return err
			}
			// the seed is read where the keys are made; check it here too
			keys, err := payments.KeysFromConfig(cfg)
			if err != nil {
				return err
			}
			if keys == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (no payments.seed_file: no custodial wallets, only merchants' watch-only ones)\n", args[0])
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(check)
	return cmd
}

// loadConfig resolves the config file the way every subcommand does and loads it.
func loadConfig(cmd *cobra.Command) (*config.Config, error) {
	path, _ := cmd.Flags().GetString("config")
	if path == "" {
		path = os.Getenv("SLUICE_CONFIG")
	}
	if path == "" {
		if _, err := os.Stat("var/stack/sluice.yaml"); err == nil {
			path = "var/stack/sluice.yaml"
		}
	}
	cfg, err := config.Load(path, os.Getenv)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// loadConfigAndLogger loads the config and makes its logger the process default.
func loadConfigAndLogger(cmd *cobra.Command) (*config.Config, *slog.Logger, error) {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return nil, nil, err
	}
	log := newLogger(cfg)
	slog.SetDefault(log)
	return cfg, log, nil
}

// newLogger builds the process logger from the config.
func newLogger(cfg *config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// withLedger loads the configuration and runs fn with the ledger open.
func withLedger(cmd *cobra.Command, fn func(cfg *config.Config, pg *pgxpool.Pool) error) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	pg, err := stores.OpenPostgres(cmd.Context(), cfg.Postgres.DSN)
	if err != nil {
		return err
	}
	defer pg.Close()
	return fn(cfg, pg)
}

// openStores opens the three stores and refuses a ledger whose schema a
// newer sluice migrated (schema.CheckVersion).
func openStores(ctx context.Context, cfg *config.Config) (*stores.Set, error) {
	st, err := stores.Open(ctx, cfg.ClickHouse.DSN, cfg.Postgres.DSN, cfg.Redis.URL)
	if err != nil {
		return nil, err
	}
	if err := schema.CheckVersion(ctx, st.PG); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

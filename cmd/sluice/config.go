package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/internal/secrets"
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
		Short: "Check a configuration file (with the SLUICE_* overrides applied) as every sluice process does at start; exit 1 listing every problem",
		Long: `Checks FILE, with the SLUICE_* variables of the environment applied, with the code the
sluice commands run at start before they touch a store or a node: the checks of every
command together (the seed, say, is read only by those that derive keys: serve, sweep,
wallets rescan, ledger check). It says ok exactly when every process accepts the
configuration, and otherwise lists every problem in one run, each with its file, line and
key (or the SLUICE_* variable that set it), and exits 1:

  - the file: YAML syntax, unknown keys, values of the wrong type ("fast" for an integer);
  - the values: URLs and DSNs (which must carry their passwords), networks, listen
    addresses, durations and limits, tokens, rates sources, log settings, and more;
  - chains: one at least (index and consume need one);
  - sweeps.fee_addresses: each must be an address of its currency's configured network
    (a regtest bcrt1... for BTC on regtest; 0x and 40 hex digits for ETH and USDT);
  - sweeps.withdrawal_minimum: at most as many decimals as the currency has;
  - payments.seed_file and payments.seed_passphrase_file: present, mode 0600 (no group or
    other access), and a mnemonic or hex seed (a configuration without one is not refused:
    the processes that need no keys run without it, and "sluice sweep" says so);
  - secrets.key_file: present, mode 0600, and a key (without one: a warning that webhook
    secrets are stored in the clear).

It connects to nothing: whether the stores and nodes answer, and on the network configured,
is checked by the processes when they start (and shown by /readyz).`,
		Example: `  sluice config check var/stack/sluice.yaml
  sluice config check /etc/sluice/sluice.yaml
  SLUICE_SEED_FILE=/run/sluice/seed/seed sluice config check /etc/sluice/sluice.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfigFile(args[0], needSeed|needSecrets|needChain)
			if err != nil {
				return err
			}
			if cfg.Secrets.KeyFile == "" {
				fmt.Fprintf(cmd.OutOrStdout(), "warning: %s\n", secrets.ClearWarning)
			}
			if cfg.Payments.SeedFile == "" {
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

// need is what a command checks of its configuration at start beyond what
// every command checks.
type need int

const (
	needSeed    need = 1 << iota // it derives keys: payments.seed_file must be a seed
	needSecrets                  // it reads or writes webhook secrets: secrets.key_file must be a key
	needChain                    // it works on the configured chains: one at least
)

// configNeeds is what cmd, with its flags, needs of its configuration.
func configNeeds(cmd *cobra.Command) need {
	switch cmd.CommandPath() {
	case "sluice serve":
		if index, _ := cmd.Flags().GetBool("index"); index {
			return needSeed | needSecrets
		}
		return needSeed
	case "sluice sweep":
		return needSeed
	case "sluice wallets rescan":
		return needSeed
	case "sluice index", "sluice consume":
		return needChain
	case "sluice webhooks", "sluice merchant create", "sluice merchant rotate-secret",
		"sluice secrets encrypt", "sluice secrets check", "sluice secrets rekey":
		return needSecrets
	case "sluice ledger check":
		if noSolvency, _ := cmd.Flags().GetBool("no-solvency"); !noSolvency {
			return needSeed
		}
	}
	return 0
}

// configChecks are the checks config.Load runs for a command needing n;
// "sluice config check" runs them all.
func configChecks(n need) []config.Check {
	checks := []config.Check{chain.Check, payments.CheckFeeAddresses}
	if n&needSeed != 0 {
		checks = append(checks, payments.CheckSeed)
	}
	if n&needSecrets != 0 {
		checks = append(checks, secrets.CheckKeyFile)
	}
	if n&needChain != 0 {
		checks = append(checks, checkSomeChain)
	}
	return checks
}

// checkSomeChain refuses a configuration without a chain, which the
// indexers and payments workers have nothing to do with.
func checkSomeChain(cfg *config.Config) []config.Problem {
	if reg, _ := chain.New(cfg); len(reg.Chains()) > 0 {
		return nil
	}
	return []config.Problem{{Key: "chains", Msg: "no chain configured: index and consume need chains.btc, chains.ltc or chains.eth (or SLUICE_BTC_RPC, SLUICE_LTC_RPC, SLUICE_ETH_WS)"}}
}

// loadConfigFile loads path (none when empty) with the environment's
// overrides and the checks of a command needing n.
func loadConfigFile(path string, n need) (*config.Config, error) {
	return config.Load(path, os.Getenv, configChecks(n)...)
}

// loadConfig resolves the config file the way every subcommand does and
// loads it with the checks cmd needs (configNeeds).
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
	return loadConfigFile(path, configNeeds(cmd))
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
// newer sluice migrated (schema.CheckVersion). A ledger that does not
// answer yet is no reason to stop: the process starts (its /readyz says
// postgres is down) and checks the version once the ledger answers,
// exiting then if the schema is newer.
func openStores(ctx context.Context, cfg *config.Config) (*stores.Set, error) {
	st, err := stores.Open(ctx, cfg.ClickHouse.DSN, cfg.Postgres.DSN, cfg.Redis.URL)
	if err != nil {
		return nil, err
	}
	err = startupCheck(ctx, "the ledger's schema version", schema.ErrSchemaNewer, func(ctx context.Context) error {
		return schema.CheckVersion(ctx, st.PG)
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// startupCheck runs a check a process must pass before it works on the
// ledger: an answer that is fatal (errors.Is) stops the start; any other
// error (the ledger not answering yet) is no reason not to start: the check
// is tried again every 5 s in the background until it answers, and a fatal
// answer then ends the process.
func startupCheck(ctx context.Context, what string, fatal error, check func(context.Context) error) error {
	err := check(ctx)
	if err == nil || errors.Is(err, fatal) {
		return err
	}
	slog.Warn("cannot check "+what+" yet; starting, and checking again until the ledger answers", "err", err)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Second):
			}
			err := check(ctx)
			if errors.Is(err, fatal) {
				slog.Error("refusing to run", "err", err)
				os.Exit(1)
			}
			if err == nil {
				slog.Info("checked "+what+" against the ledger", "what", what)
				return
			}
		}
	}()
	return nil
}

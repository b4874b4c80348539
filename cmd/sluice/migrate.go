package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/schema"
)

func newMigrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create or update the PostgreSQL and ClickHouse schema",
		Long: `Applies the schema files embedded in this binary (schema/postgres, schema/clickhouse)
that the databases do not have yet, and records each one. Safe to run again at
any time, and from several processes at once: they take turns on a Postgres
advisory lock. The ClickHouse database named in the DSN is created if missing.`,
		Example: `  eval "$(sluice stack env)" && sluice migrate
  sluice migrate --config /etc/sluice/sluice.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if err := schema.Migrate(cmd.Context(), cfg.Postgres.DSN, cfg.ClickHouse.DSN, version, cmd.OutOrStdout()); err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
			return nil
		},
	}
}

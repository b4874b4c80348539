package main

import (
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/internal/secrets"
	"github.com/sluicepay/sluice/merchant"
)

// defaultOverlap is how long a replaced secret or key stays valid unless
// --overlap says otherwise: a day for the merchant to switch over.
const defaultOverlap = 24 * time.Hour

func newMerchantRotateSecretCmd() *cobra.Command {
	var overlap time.Duration
	cmd := &cobra.Command{
		Use:   "rotate-secret ID",
		Short: "Give a merchant a new webhook secret (printed once, as JSON); the old one keeps signing for --overlap",
		Long: `Makes a new webhook signing secret for the merchant and prints it, once, as JSON on stdout:

  {"id": 1, "webhook_secret": "…", "previous_valid_until": "2026-01-02T15:04:05Z"}

Until previous_valid_until every delivery carries two signatures in X-Sluice-Signature,
one with the new secret and one with the old, so the merchant's receiver verifies with
either while it is switched over (docs/webhooks.md, Rotating the secret); after it, only
the new secret signs. --overlap 0 switches at once (previous_valid_until is null): use it
when the old secret leaked. Only two secrets are ever valid: rotating again during an
overlap ends the older secret's at once ("dropped_earlier_secret": true).

With secrets.key_file configured the new secret is stored encrypted.`,
		Example: `  sluice merchant rotate-secret 1
  sluice merchant rotate-secret 1 --overlap 72h
  sluice merchant rotate-secret 1 --overlap 0     # the old secret leaked: stop it now`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := merchantIDArg(args[0])
			if err != nil {
				return err
			}
			return withLedger(cmd, func(cfg *config.Config, pg *pgxpool.Pool) error {
				key, err := secrets.KeyFromConfig(cfg)
				if err != nil {
					return err
				}
				r, err := merchant.RotateSecret(cmd.Context(), pg, key, id, overlap)
				if err != nil {
					return err
				}
				return printJSON(cmd, r)
			})
		},
	}
	cmd.Flags().DurationVar(&overlap, "overlap", defaultOverlap, "how long the old secret keeps signing beside the new one; 0 stops it now")
	return cmd
}

func newMerchantKeyRotateCmd() *cobra.Command {
	var id int64
	var overlap time.Duration
	cmd := &cobra.Command{
		Use:   "rotate KEY_ID|PREFIX",
		Short: "Replace an API key with a new one (printed once, as JSON); the old one works for --overlap more",
		Long: `Creates a new API key with the old one's name, scopes, networks (--allow-ip) and rate
limit, and, when the old key expires, the same lifetime from now. Prints it once, as JSON:

  {"key_id": 4, "prefix": "…", "api_key": "sluice_…", "old_key_id": 3, "old_prefix": "…",
   "old_key_ends_at": "2026-01-02T15:04:05Z"}

The old key keeps working until old_key_ends_at (it expires then: requests with it get
403 "API key expired"), so the merchant can deploy the new one; --overlap 0 revokes it now.
The key is found by its key_id or its prefix (the part after sluice_).`,
		Example: `  sluice merchant key rotate --merchant 1 3f9a0c1d2e4b
  sluice merchant key rotate --merchant 1 3f9a0c1d2e4b --overlap 0   # the key leaked`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withLedger(cmd, func(cfg *config.Config, pg *pgxpool.Pool) error {
				r, err := merchant.RotateKey(cmd.Context(), pg, id, args[0], overlap)
				if err != nil {
					return err
				}
				return printJSON(cmd, r)
			})
		},
	}
	cmd.Flags().Int64Var(&id, "merchant", 0, "the merchant's id (required)")
	cmd.Flags().DurationVar(&overlap, "overlap", defaultOverlap, "how long the old key keeps working; 0 revokes it now")
	_ = cmd.MarkFlagRequired("merchant")
	return cmd
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/internal/secrets"
	"github.com/sluicepay/sluice/merchant"
)

func newSecretsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "The key that encrypts merchants' webhook secrets at rest: create it, encrypt, check, rekey",
		Long: `Merchants' webhook secrets must be kept readable (they sign every delivery), so the
ledger stores them encrypted with AES-256-GCM under the key in secrets.key_file
(SLUICE_SECRETS_KEY_FILE), each bound to its merchant: a database dump alone does not
reveal them. Without a key they are stored in the clear, and sluice warns.

"sluice webhooks" (and "sluice serve", which runs them) encrypts any secret still in the
clear when it starts, and refuses to start when a stored secret does not decrypt with the
configured key. Keep the key file apart from database backups: a restore needs both.`,
	}
	cmd.AddCommand(newSecretsKeygenCmd(), newSecretsEncryptCmd(), newSecretsCheckCmd(), newSecretsRekeyCmd())
	return cmd
}

func newSecretsKeygenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keygen FILE",
		Short: "Write a new random key to FILE (mode 0600); never overwrites a file",
		Long: `Writes 32 random bytes as 64 hex digits and a newline to FILE, mode 0600, for
secrets.key_file. An existing FILE is refused: what its key encrypted could not be read
again.`,
		Example: `  sluice secrets keygen /etc/sluice/secrets.key
  # then in the config:  secrets: {key_file: /etc/sluice/secrets.key}`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := secrets.Keygen(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote a new key to %s (mode 0600); name it in secrets.key_file and keep a copy apart from database backups\n", args[0])
			return nil
		},
	}
}

func newSecretsEncryptCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "encrypt",
		Short: "Encrypt every webhook secret still stored in the clear with secrets.key_file",
		Long: `Encrypts the webhook secrets (current, and replaced ones still in a rotation's overlap)
stored in the clear, each in its merchant's row. Running it again changes nothing; the
webhooks process does the same when it starts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withLedger(cmd, func(cfg *config.Config, pg *pgxpool.Pool) error {
				key, err := secrets.KeyFromConfig(cfg)
				if err != nil {
					return err
				}
				if key == nil {
					return errors.New("no secrets.key_file (SLUICE_SECRETS_KEY_FILE) is configured: create one with sluice secrets keygen FILE")
				}
				n, err := merchant.EncryptPlaintext(cmd.Context(), pg, key)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "encrypted the webhook secrets of %d merchants\n", n)
				return nil
			})
		},
	}
}

func newSecretsCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Check that every stored webhook secret decrypts with secrets.key_file; count those in the clear",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withLedger(cmd, func(cfg *config.Config, pg *pgxpool.Pool) error {
				key, err := secrets.KeyFromConfig(cfg)
				if err != nil {
					return err
				}
				clear, err := merchant.CheckSecrets(cmd.Context(), pg, key)
				if err != nil {
					return err
				}
				switch {
				case key == nil:
					fmt.Fprintf(cmd.OutOrStdout(), "warning: %s (%d merchants)\n", secrets.ClearWarning, clear)
				case clear > 0:
					fmt.Fprintf(cmd.OutOrStdout(), "ok: every encrypted secret decrypts; %d merchants' secrets are still in the clear (sluice secrets encrypt)\n", clear)
				default:
					fmt.Fprintln(cmd.OutOrStdout(), "ok: every webhook secret is encrypted and decrypts with secrets.key_file")
				}
				return nil
			})
		},
	}
}

func newSecretsRekeyCmd() *cobra.Command {
	var to string
	var plain bool
	cmd := &cobra.Command{
		Use:   "rekey --to NEW_KEY_FILE | --to-plaintext",
		Short: "Re-encrypt every webhook secret from secrets.key_file to another key (or back to the clear)",
		Long: `Decrypts every stored webhook secret with the configured secrets.key_file (secrets still
in the clear are read as they are) and encrypts it with the key in NEW_KEY_FILE, in one
transaction: if any secret does not decrypt, nothing changes and its merchant is named.
Then point secrets.key_file at NEW_KEY_FILE and restart the webhooks processes (stop them
first: until restarted they hold the old key, and postpone deliveries they cannot decrypt).

--to-plaintext stores them in the clear instead: only to roll back to a sluice older than
schema version 10, which reads them as they are.`,
		Example: `  sluice secrets keygen /etc/sluice/secrets.key.new
  sluice secrets rekey --to /etc/sluice/secrets.key.new`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (to == "") == !plain {
				return &exitError{2, errors.New("give one of --to NEW_KEY_FILE or --to-plaintext")}
			}
			var next *secrets.Key
			if to != "" {
				var err error
				if next, err = secrets.LoadKeyFile(to); err != nil {
					return err
				}
			}
			return withLedger(cmd, func(cfg *config.Config, pg *pgxpool.Pool) error {
				key, err := secrets.KeyFromConfig(cfg)
				if err != nil {
					return err
				}
				n, err := merchant.Rekey(cmd.Context(), pg, key, next)
				if err != nil {
					return err
				}
				if plain {
					fmt.Fprintf(cmd.OutOrStdout(), "stored the webhook secrets of %d merchants in the clear\n", n)
					return nil
				}
				fmt.Fprintf(cmd.OutOrStdout(), "re-encrypted the webhook secrets of %d merchants with %s: set secrets.key_file to it and restart sluice webhooks\n", n, to)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the new key file (sluice secrets keygen writes one)")
	cmd.Flags().BoolVar(&plain, "to-plaintext", false, "store the secrets in the clear (to roll back to an older sluice)")
	return cmd
}

// webhookSecrets loads secrets.key_file for the webhooks process, warns
// when there is none, encrypts the secrets still in the clear, and checks
// that every stored one opens, so a wrong key stops the process at start
// rather than postponing deliveries one by one. A ledger that does not
// answer is waited for, as the worker waits for it anyway.
func webhookSecrets(ctx context.Context, cfg *config.Config, pg *pgxpool.Pool, log *slog.Logger) (*secrets.Key, error) {
	key, err := secrets.KeyFromConfig(cfg)
	if err != nil {
		return nil, err
	}
	if key == nil {
		log.Warn(secrets.ClearWarning)
	}
	for retry := time.Second; ; retry = min(2*retry, 30*time.Second) {
		err = prepareSecrets(ctx, pg, key, log)
		if err == nil || errors.Is(err, secrets.ErrWrongKey) || errors.Is(err, secrets.ErrNoKey) || ctx.Err() != nil {
			return key, err
		}
		log.Warn("webhook secrets: the ledger does not answer; retrying", "err", err, "retry_in", retry)
		sleepCtx(ctx, retry)
	}
}

func prepareSecrets(ctx context.Context, pg *pgxpool.Pool, key *secrets.Key, log *slog.Logger) error {
	if key != nil {
		n, err := merchant.EncryptPlaintext(ctx, pg, key)
		if err != nil {
			return err
		}
		if n > 0 {
			log.Info("encrypted webhook secrets stored in the clear", "merchants", n)
		}
	}
	_, err := merchant.CheckSecrets(ctx, pg, key)
	return err
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

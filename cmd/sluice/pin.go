package main

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/payments"
)

// pinCurrencies holds the configured currencies to what the ledger recorded
// of them (payments.PinCurrencies), at the start of every process that
// writes wallets or deposits (serve, consume, sweep, index): a currency
// whose contract, decimals or key branch changed is an error, and the
// process does not start. A ledger that does not answer (or is not
// migrated yet) is no reason to stop, as in openStores: the pinning is
// tried again every 5 s, and a change found then ends the process.
func pinCurrencies(ctx context.Context, cfg *config.Config, db *pgxpool.Pool) error {
	reg, err := chain.New(cfg)
	if err != nil {
		return err // config.Load ran chain.Check: not reached
	}
	return startupCheck(ctx, "the configured currencies", payments.ErrCurrencyChanged, func(ctx context.Context) error {
		return pinOnce(ctx, db, reg)
	})
}

// pinOnce pins the currencies once and logs what it found.
func pinOnce(ctx context.Context, db *pgxpool.Pool, reg *chain.Registry) error {
	p, err := payments.PinCurrencies(ctx, db, reg)
	if err != nil {
		return err
	}
	if len(p.Added) > 0 {
		slog.Info("the ledger recorded new currencies: their contract, decimals and key branch are fixed from now on", "currencies", p.Added)
	}
	for _, code := range p.Unconfigured {
		slog.Warn("the ledger has wallets of a currency this configuration lacks: this process does not follow their deposits", "currency", code)
	}
	return nil
}

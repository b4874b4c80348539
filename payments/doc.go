// Package payments is the ledger in PostgreSQL, the source of truth for
// money: merchants, deposit wallets, deposits and their events.
package payments

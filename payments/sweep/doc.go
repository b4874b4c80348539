// Package sweep moves confirmed deposits out of their deposit addresses: to
// the merchant's settlement address (settle), to the operator's hot wallet as
// the merchant's balance (hot), to a litepay receive address's destination
// (forward); it tops up USDT deposit addresses with gas (gas) and pays
// withdrawals from the hot wallet (withdraw).
//
// Every movement is a job in Postgres (table sweeps) that goes planned →
// signed → broadcast → confirmed (or failed, or replaced by an RBF bump).
// The signed transaction is stored with the state signed before anything is
// broadcast, so a crash at any point re-broadcasts the same bytes: a sweep is
// never sent twice and never lost. The chain-specific parts (building and
// signing, broadcasting, watching) are a Chain; the Runner drives the jobs.
package sweep

// Package secrets encrypts the merchant secrets the ledger must keep in
// readable form (the webhook signing secrets) with AES-256-GCM under a key
// from a file (secrets.key_file), so a database dump alone does not reveal
// them. Each stored value is bound to its row: moved to another merchant,
// it no longer decrypts.
package secrets

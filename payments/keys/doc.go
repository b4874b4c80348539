// Package keys derives deposit keys and addresses from the master seed (BIP39, BIP32, BIP84, BIP44)
// and from merchants' watch-only account keys; secrets in it never print, log or marshal.
package keys

package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// Why a derived address was skipped (the reason label of
// sluice_wallet_addresses_skipped_total).
const (
	SkipChainHistory = "chain_history" // the chain index shows payments to (or from) it
	SkipLedger       = "ledger"        // a wallet in the ledger holds it
)

// maxSkip bounds the addresses one wallet creation skips: a restore behind
// by more is a job for GapScan (run at start and by `sluice wallets rescan`).
const maxSkip = 1000

// readyWait is how long WalletFor waits for the start-up gap scan.
const readyWait = 10 * time.Second

// ErrNotReady is returned while the start-up gap scan has not finished.
var ErrNotReady = errors.New("new wallets are held until the start-up check of the address counters against the chain (gap scan) finishes; retry in a few seconds")

// NewSkippedAddresses registers sluice_wallet_addresses_skipped_total on reg,
// its known label values at 0.
func NewSkippedAddresses(reg prometheus.Registerer, currencies []string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_wallet_addresses_skipped_total",
		Help: "Derived deposit addresses skipped because they have history (the chain index shows payments, or a ledger wallet holds them): the address counter was behind, as after restoring an older ledger backup."},
		[]string{"currency", "reason"})
	for _, cur := range currencies {
		c.WithLabelValues(cur, SkipChainHistory)
		c.WithLabelValues(cur, SkipLedger)
	}
	reg.MustRegister(c)
	return c
}

func (l *Ledger) ready(ctx context.Context) error {
	if l.Ready == nil {
		return nil
	}
	t := time.NewTimer(readyWait)
	defer t.Stop()
	select {
	case <-l.Ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return ErrNotReady
	}
}

func (l *Ledger) logger() *slog.Logger {
	if l.Log == nil {
		return slog.Default()
	}
	return l.Log
}

// derivation returns how the merchant's addresses of currency are derived:
// from its registered watch-only key when xpub is set, else from the seed.
func (l *Ledger) derivation(merchantID int64, currency string, account uint32, xpub string) (func(uint32) (string, error), error) {
	switch {
	case xpub != "":
		x, err := l.parseXPub(currency, xpub)
		if err != nil {
			return nil, fmt.Errorf("merchant %d's registered %w", merchantID, err)
		}
		return func(index uint32) (string, error) {
			a, err := x.Address(index)
			if err != nil {
				return "", fmt.Errorf("derive watch-only %s address %d: %w", currency, index, err)
			}
			return a, nil
		}, nil
	case l.Keys == nil:
		return nil, fmt.Errorf("custodial %s wallet: %w", currency, ErrNoSeed)
	default:
		return func(index uint32) (string, error) {
			a, err := l.Keys.Address(currency, account, index)
			if err != nil {
				return "", fmt.Errorf("derive %s address %d/%d: %w", currency, account, index, err)
			}
			return a, nil
		}, nil
	}
}

// used returns which of addrs have history: on the chain (l.Used) or in a
// ledger wallet, with the reason.
func (l *Ledger) used(ctx context.Context, q pgx.Tx, chain string, addrs []string) (map[string]string, error) {
	out := map[string]string{}
	lower := make([]string, len(addrs))
	for i, a := range addrs {
		lower[i] = strings.ToLower(a)
	}
	rows, err := q.Query(ctx, "SELECT lower(address) FROM wallets WHERE chain = $1 AND lower(address) = ANY($2)", chain, lower)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	held := map[string]bool{}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			rows.Close()
			return nil, fmt.Errorf("ledger: %w", err)
		}
		held[a] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	for i, a := range addrs {
		if held[lower[i]] {
			out[a] = SkipLedger
		}
	}
	if l.Used != nil {
		onChain, err := l.Used(ctx, chain, addrs)
		if err != nil {
			return nil, fmt.Errorf("check that the new %s addresses never received anything: %w", chain, err)
		}
		for _, a := range addrs {
			if onChain[a] {
				out[a] = SkipChainHistory
			}
		}
	}
	return out, nil
}

// freshAddress derives the address of index and, while it has history,
// of the next indexes; it moves the counter past what it skipped (the
// caller holds the counter's row lock in tx) and returns the index and
// address to hand out. One ledger and one chain-index lookup per address.
func (l *Ledger) freshAddress(ctx context.Context, tx pgx.Tx, merchantID int64, currency string, index uint32, derive func(uint32) (string, error)) (uint32, string, error) {
	chain := l.chainOf(currency)
	first := index
	for {
		a, err := derive(index)
		if err != nil {
			return 0, "", err
		}
		used, err := l.used(ctx, tx, chain, []string{a})
		if err != nil {
			return 0, "", err
		}
		reason, skip := used[a]
		if !skip {
			if index != first {
				if _, err := tx.Exec(ctx, "UPDATE wallet_counters SET next_index = $3 WHERE merchant_id = $1 AND currency = $2",
					merchantID, currency, int64(index)+1); err != nil {
					return 0, "", fmt.Errorf("ledger: %w", err)
				}
			}
			return index, a, nil
		}
		l.logger().Warn("skipped a derived deposit address that has history: the address counter was behind (a restored ledger backup?)",
			"merchant", merchantID, "currency", currency, "index", index, "address", a, "reason", reason)
		if l.Skipped != nil {
			l.Skipped.WithLabelValues(currency, reason).Inc()
		}
		if index-first >= maxSkip {
			return 0, "", fmt.Errorf("merchant %d %s: %d addresses in a row from index %d have history: run `sluice wallets rescan`", merchantID, currency, maxSkip, first)
		}
		index++
	}
}

// DefaultGapLimit is how many unused addresses past the last used one
// GapScan looks at, as wallet apps do.
const DefaultGapLimit = 20

// GapResult is what GapScan did for one merchant and currency.
type GapResult struct {
	MerchantID int64
	Currency   string
	From, To   uint32 // the counter before and after
	Used       int    // addresses with history found at or past From
}

// GapScan moves every merchant's address counter of every configured
// currency past each address the chain index (or the ledger) shows as used:
// it derives gap addresses from the counter on; when any has history it
// moves the counter past the last such one and looks gap further, until gap
// addresses in a row are unused. This repairs counters a restored (older)
// ledger backup rewound, so no customer's used address is handed out again.
// Counters only move up. progress, when set, is called after each merchant
// and currency. Run it before the API makes wallets (serve does, at start).
func (l *Ledger) GapScan(ctx context.Context, gap int, progress func(GapResult)) ([]GapResult, error) {
	if gap <= 0 {
		gap = DefaultGapLimit
	}
	type mc struct {
		id      int64
		account uint32
	}
	rows, err := l.DB.Query(ctx, "SELECT id, key_account FROM merchants ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	var merchants []mc
	for rows.Next() {
		var m mc
		if err := rows.Scan(&m.id, &m.account); err != nil {
			rows.Close()
			return nil, fmt.Errorf("ledger: %w", err)
		}
		merchants = append(merchants, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	var out []GapResult
	for _, m := range merchants {
		for _, cur := range slices.Sorted(maps.Keys(l.Networks)) {
			r, err := l.gapScanOne(ctx, m.id, m.account, cur, gap)
			if errors.Is(err, ErrNoSeed) {
				continue // no seed and no watch-only key: no addresses to hand out
			}
			if err != nil {
				return out, fmt.Errorf("gap scan of merchant %d %s: %w", m.id, cur, err)
			}
			out = append(out, r)
			if progress != nil {
				progress(r)
			}
		}
	}
	return out, nil
}

func (l *Ledger) gapScanOne(ctx context.Context, merchantID int64, account uint32, currency string, gap int) (GapResult, error) {
	r := GapResult{MerchantID: merchantID, Currency: currency}
	tx, err := l.DB.Begin(ctx)
	if err != nil {
		return r, fmt.Errorf("ledger: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	// The counter's row lock, as WalletFor takes it: no wallet of this
	// merchant and currency is made while its counter is checked.
	var next int64
	if err := tx.QueryRow(ctx, `INSERT INTO wallet_counters (merchant_id, currency, next_index) VALUES ($1, $2, 0)
		ON CONFLICT (merchant_id, currency) DO UPDATE SET next_index = wallet_counters.next_index
		RETURNING next_index`, merchantID, currency).Scan(&next); err != nil {
		return r, fmt.Errorf("ledger: %w", err)
	}
	xpub, err := l.xpubOf(ctx, tx, merchantID, currency)
	if err != nil {
		return r, err
	}
	derive, err := l.derivation(merchantID, currency, account, xpub)
	if err != nil {
		return r, err
	}
	r.From, r.To = uint32(next), uint32(next)
	for start := r.To; ; {
		addrs := make([]string, gap)
		for i := range addrs {
			if addrs[i], err = derive(start + uint32(i)); err != nil {
				return r, err
			}
		}
		used, err := l.used(ctx, tx, l.chainOf(currency), addrs)
		if err != nil {
			return r, err
		}
		last := -1
		for i, a := range addrs {
			if _, ok := used[a]; ok {
				last = i
				r.Used++
			}
		}
		if last < 0 {
			break
		}
		r.To = start + uint32(last) + 1
		start = r.To
	}
	if r.To != r.From {
		if _, err := tx.Exec(ctx, "UPDATE wallet_counters SET next_index = $3 WHERE merchant_id = $1 AND currency = $2",
			merchantID, currency, int64(r.To)); err != nil {
			return r, fmt.Errorf("ledger: %w", err)
		}
		l.logger().Warn("gap scan: moved an address counter past addresses with history (a restored ledger backup?)",
			"merchant", merchantID, "currency", currency, "from", r.From, "to", r.To, "used", r.Used)
	}
	if err := tx.Commit(ctx); err != nil {
		return r, fmt.Errorf("ledger: %w", err)
	}
	return r, nil
}

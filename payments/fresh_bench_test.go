package payments

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/sluicepay/sluice/indexer/store"
	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/schema"
	"github.com/sluicepay/sluice/stores"
)

// BenchmarkWalletFor is the write path of wallet creation (counter row lock,
// derivation, insert, commit) without and with the check that the new
// address has no history (one ledger and one chain-index lookup), against
// the test stack's Postgres and ClickHouse:
//
//	go test -run '^$' -bench WalletFor ./payments/
func BenchmarkWalletFor(b *testing.B) {
	ctx := context.Background()
	pgDSN, chDSN := testenv.FreshPostgres(b), testenv.FreshClickHouse(b)
	if err := schema.Migrate(ctx, pgDSN, chDSN, "", io.Discard); err != nil {
		b.Fatal(err)
	}
	ch, err := stores.OpenClickHouse(chDSN)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ch.Close() })
	b.Run("lookup-alone", func(b *testing.B) {
		addr, err := testKeys(b).Address("LTC", 0, 0)
		if err != nil {
			b.Fatal(err)
		}
		for range b.N {
			if _, err := store.UsedAddresses(ctx, ch, "ltc", []string{addr}); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, check := range []bool{false, true} {
		b.Run(fmt.Sprintf("chain-check=%v", check), func(b *testing.B) {
			l := openLedger(b, pgDSN)
			l.Keys = testKeys(b)
			if check {
				l.Used = func(ctx context.Context, chain string, addrs []string) (map[string]bool, error) {
					return store.UsedAddresses(ctx, ch, chain, addrs)
				}
			}
			m, err := l.CreateMerchant(ctx, "bench")
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				if _, _, err := l.WalletFor(ctx, m.ID, "LTC", fmt.Sprint("customer-", i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

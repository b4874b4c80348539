package explorer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/schema"
	"github.com/sluicepay/sluice/stores"
)

// TestEthereumBalanceExact: against the test stack's ClickHouse (18.16 in
// CI), an address's ETH and token totals are exact past 10^21 (where 18.16's
// toString of a Decimal(38, 0) sum has NUL bytes), at 10^38 - 1, past 10^38
// (value_dec 0: the amount would drop out of a Decimal sum) and at the
// uint256 maximum, with rows of an orphaned block left out and duplicates
// (ReplacingMergeTree before a merge) counted once.
func TestEthereumBalanceExact(t *testing.T) {
	dsn := testenv.FreshClickHouse(t)
	if err := schema.Migrate(context.Background(), testenv.FreshPostgres(t), dsn, "", io.Discard); err != nil {
		t.Fatal(err)
	}
	ch, err := stores.OpenClickHouse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	ctx := context.Background()
	f := &chainFixture{t: t, ch: ch}
	block := func(h uint64, hash string, canonical uint8) {
		f.ver++
		f.row("blocks", "chain, height, hash, prev_hash, time, tx_count, size", "eth", h, hash, "",
			time.Unix(1700000000+int64(h)*12, 0), uint32(1), uint32(600))
		f.row("block_status", "chain, hash, height, canonical, version", "eth", hash, h, canonical, f.ver)
	}
	n := func(s string) *big.Int {
		v, ok := new(big.Int).SetString(s, 10)
		if !ok {
			t.Fatalf("bad number %q", s)
		}
		return v
	}
	maxDec := new(big.Int).Sub(new(big.Int).Exp(big.NewInt(10), big.NewInt(38), nil), big.NewInt(1))
	pos := 0
	// move writes a transfer's row on the address's side as the indexer
	// does: value exact, value_dec 0 when it overflows Decimal(38, 0).
	move := func(addr, token string, dir int8, value *big.Int, h uint64, hash string) {
		pos++
		dec := decimal.Zero
		if value.Cmp(maxDec) <= 0 {
			dec = decimal.NewFromBigInt(value, 0)
		}
		f.row("eth_address_transfers", "chain, address, block_height, block_hash, block_time, tx_hash, position, token, counterparty, direction, value, value_dec",
			"eth", addr, h, hash, time.Unix(1700000000+int64(h)*12, 0), fmt.Sprintf("0x%064x", pos),
			fmt.Sprintf("log:%d", pos), token, "0x"+strings.Repeat("9", 40), dir, value.String(), dec)
	}
	A := "0x" + strings.Repeat("a", 40)
	usdt := "0x" + strings.Repeat("d", 40)
	spam := "0x" + strings.Repeat("e", 40)
	block(1, hx('1'), 1)
	block(2, hx('2'), 1)
	block(3, hx('3'), 1)
	block(3, hx('4'), 0) // orphaned at height 3

	// ETH: 12345929901234567890123 in (past 10^22), 1234567890123456789 out
	move(A, "", 1, n("12345000000000000000000"), 1, hx('1'))
	move(A, "", 1, n("929901234567890123"), 2, hx('2'))
	move(A, "", -1, n("1234567890123456789"), 3, hx('3'))
	move(A, "", 1, n("999000000000000000000000"), 3, hx('4')) // the orphaned block's: not counted
	// USDT: twice 10^38 - 1 (the sum overflows Decimal128), one row written twice
	move(A, usdt, 1, maxDec, 1, hx('1'))
	move(A, usdt, 1, maxDec, 2, hx('2'))
	pos--
	move(A, usdt, 1, maxDec, 2, hx('2')) // the same transfer again: a duplicate
	// a spam token: the uint256 maximum in, 10^38 (value_dec 0) out
	u256 := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	move(A, spam, 1, u256, 2, hx('2'))
	move(A, spam, -1, n("100000000000000000000000000000000000000"), 3, hx('3'))

	rd := &Reader{CH: ch}
	b, err := rd.EthereumBalance(ctx, "eth", A)
	if err != nil {
		t.Fatal(err)
	}
	twice := new(big.Int).Mul(maxDec, big.NewInt(2))
	spamNet := new(big.Int).Sub(u256, n("100000000000000000000000000000000000000"))
	want := []Asset{
		{Token: "", Received: "12345929901234567890123", Sent: "1234567890123456789", Net: "12344695333344444433334"},
		{Token: usdt, Received: twice.String(), Sent: "0", Net: twice.String()},
		{Token: spam, Received: u256.String(), Sent: "100000000000000000000000000000000000000", Net: spamNet.String()},
	}
	if len(b.Assets) != len(want) {
		t.Fatalf("assets %+v, want %+v", b.Assets, want)
	}
	for i, a := range b.Assets {
		if a != want[i] {
			t.Errorf("asset %d:\n got %+v\nwant %+v", i, a, want[i])
		}
		for _, s := range []string{a.Received, a.Sent, a.Net} {
			if strings.ContainsRune(s, 0) {
				t.Errorf("NUL byte in %q", s)
			}
		}
	}
	if b.IndexedHeight != 3 {
		t.Errorf("indexed height %d", b.IndexedHeight)
	}

	// a sent total above the received one: a negative net, exact
	B := "0x" + strings.Repeat("b", 40)
	move(B, "", 1, n("5"), 1, hx('1'))
	move(B, "", -1, n("20000000000000000000000"), 2, hx('2'))
	if b, err := rd.EthereumBalance(ctx, "eth", B); err != nil || len(b.Assets) != 1 || b.Assets[0].Net != "-19999999999999999999995" {
		t.Errorf("B: %+v %v", b, err)
	}

	// a value that is not a decimal integer (never written by the indexer)
	// fails the read instead of counting as 0
	C := "0x" + strings.Repeat("c", 40)
	f.row("eth_address_transfers", "chain, address, block_height, block_hash, block_time, tx_hash, position, token, counterparty, direction, value, value_dec",
		"eth", C, uint64(1), hx('1'), time.Unix(1700000012, 0), "0x"+strings.Repeat("cd", 32), "tx", "", A, int8(1), "1e30", decimal.Zero)
	if _, err := rd.EthereumBalance(ctx, "eth", C); !errors.Is(err, ErrNotRepresentable) {
		t.Errorf("a corrupt value: %v", err)
	}
}

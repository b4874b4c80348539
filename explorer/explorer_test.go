package explorer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/schema"
	"github.com/sluicepay/sluice/stores"
)

func TestInputs(t *testing.T) {
	for _, c := range []struct {
		chain, in, want string
		ok              bool
	}{
		{"btc", "BCRT1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KYGT080", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", true},
		{"btc", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", true},
		{"btc", "not an address", "", false},
		{"btc", "x';DROP", "", false},
		{"eth", "0xAbC0000000000000000000000000000000000001", "0xabc0000000000000000000000000000000000001", true},
		{"eth", "0x123", "", false},
	} {
		got, err := Address(c.chain, c.in)
		if (err == nil) != c.ok || got != c.want || (err != nil && !errors.Is(err, ErrBadInput)) {
			t.Errorf("Address(%s, %q) = %q, %v", c.chain, c.in, got, err)
		}
	}
	if _, err := TxID("btc", strings.Repeat("g", 64)); err == nil {
		t.Error("a non-hex txid taken")
	}
	if id, err := TxID("eth", "0x"+strings.Repeat("AB", 32)); err != nil || id != "0x"+strings.Repeat("ab", 32) {
		t.Errorf("eth txid %q %v", id, err)
	}
	if h, hash, err := HeightOrHash("btc", "120"); err != nil || h == nil || *h != 120 || hash != "" {
		t.Errorf("height: %v %q %v", h, hash, err)
	}
	for _, s := range []string{"", "0", "201", "x"} {
		if _, err := Limit(s); (err == nil) != (s == "") {
			t.Errorf("limit %q: %v", s, err)
		}
	}
	for _, s := range []string{"x", "12", "12:zz", ":" + strings.Repeat("a", 64), "-1:" + strings.Repeat("a", 64)} {
		if _, err := parseCursor(s, btcKey); err == nil {
			t.Errorf("cursor %q taken", s)
		}
	}
	c, err := parseCursor("7:"+strings.Repeat("a", 64), btcKey)
	if err != nil || c.height != 7 || c.String() != "7:"+strings.Repeat("a", 64) {
		t.Errorf("cursor %+v %v", c, err)
	}
}

// chainFixture writes Bitcoin-family index rows as the indexer would.
type chainFixture struct {
	t   *testing.T
	ch  *stores.ClickHouse
	ver uint64
}

func (f *chainFixture) row(table, cols string, vals ...any) {
	f.t.Helper()
	if err := insertRow(context.Background(), f.ch, table, cols, vals...); err != nil {
		f.t.Fatal(err)
	}
}

func (f *chainFixture) block(height uint64, hash, prev string) {
	f.ver++
	f.row("blocks", "chain, height, hash, prev_hash, time, tx_count, size", "btc", height, hash, prev,
		time.Unix(1700000000+int64(height)*600, 0), uint32(1), uint32(200))
	f.row("block_status", "chain, hash, height, canonical, version", "btc", hash, height, uint8(1), f.ver)
}

func (f *chainFixture) orphan(height uint64, hash string) {
	f.ver++
	f.row("block_status", "chain, hash, height, canonical, version", "btc", hash, height, uint8(0), f.ver)
}

type out struct {
	addr  string
	value uint64
}

// tx writes a transaction spending prevs ("txid:n") and paying outs.
func (f *chainFixture) tx(height uint64, block, txid string, prevs []string, outs []out) {
	at := time.Unix(1700000000+int64(height)*600, 0)
	coinbase := uint8(0)
	if len(prevs) == 0 {
		coinbase = 1
		prevs = []string{strings.Repeat("0", 64) + ":4294967295"}
	}
	f.row("transactions", `chain, block_height, block_hash, block_time, tx_index, txid, size, vsize, version, locktime,
		is_coinbase, input_count, output_count, output_value`, "btc", height, block, at, uint32(0), txid, uint32(200), uint32(150),
		int32(2), uint32(0), coinbase, uint32(len(prevs)), uint32(len(outs)), uint64(0))
	for i, p := range prevs {
		pt, pn, _ := strings.Cut(p, ":")
		var n uint32
		fmt.Sscan(pn, &n)
		f.row("inputs", "chain, block_height, block_hash, block_time, txid, tx_index, n, prev_txid, prev_vout, sequence, is_coinbase",
			"btc", height, block, at, txid, uint32(0), uint32(i), pt, n, uint32(4294967293), coinbase)
	}
	for i, o := range outs {
		f.row("outputs", "chain, block_height, block_hash, block_time, txid, tx_index, n, value, script_type, address, script_hex",
			"btc", height, block, at, txid, uint32(0), uint32(i), o.value, "witness_v0_keyhash", o.addr, "0014")
		f.row("address_outputs", "chain, address, block_height, block_hash, block_time, txid, n, value",
			"btc", o.addr, height, block, at, txid, uint32(i), o.value)
	}
}

func hx(c byte) string { return strings.Repeat(string(c), 64) }

// TestResolverAndReads: against the test stack's ClickHouse, the spend
// resolver finds which address each input spends, balances and histories
// read both sides, and after a reorg below its progress it goes back: the
// abandoned block's spends no longer count, the new block's do.
func TestResolverAndReads(t *testing.T) {
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
	A, B, C, D := "bcrt1qaaaa", "bcrt1qbbbb", "bcrt1qcccc", "bcrt1qdddd"
	f.block(0, hx('0'), "")
	f.tx(0, hx('0'), hx('c'), nil, []out{{A, 5_000_000_000}})
	f.block(1, hx('1'), hx('0'))
	f.tx(1, hx('1'), hx('d'), []string{hx('c') + ":0"}, []out{{B, 3_000}, {A, 4_999_990_000}})
	f.block(2, hx('2'), hx('1'))
	f.tx(2, hx('2'), hx('e'), []string{hx('d') + ":0"}, []out{{C, 2_500}})

	r := &Resolver{CH: ch, Chains: []string{"btc"}, Log: slog.New(slog.DiscardHandler)}
	if h, err := r.Round(ctx, "btc"); err != nil || h != 2 {
		t.Fatalf("round: %d %v", h, err)
	}
	rd := &Reader{CH: ch}
	check := func(addr, recv, sent, bal string, txs int) {
		t.Helper()
		b, err := rd.BitcoinBalance(ctx, "btc", addr)
		if err != nil || b.Received != recv || b.Sent != sent || b.Balance != bal || b.TxCount != uint64(txs) || b.ResolvedHeight != 2 {
			t.Errorf("balance of %s: %+v %v; want received %s sent %s balance %s in %d txs", addr, b, err, recv, sent, bal, txs)
		}
	}
	check(A, "9999990000", "5000000000", "4999990000", 2)
	check(B, "3000", "3000", "0", 2)
	check(C, "2500", "0", "2500", 1)

	// A's history, one per page, newest first
	p1, next, err := rd.BitcoinAddressTxs(ctx, "btc", A, "", 1)
	if err != nil || len(p1) != 1 || p1[0].TxID != hx('d') || p1[0].Received != "4999990000" || p1[0].Sent != "5000000000" || next == "" {
		t.Fatalf("page 1: %+v %q %v", p1, next, err)
	}
	p2, next2, err := rd.BitcoinAddressTxs(ctx, "btc", A, next, 1)
	if err != nil || len(p2) != 1 || p2[0].TxID != hx('c') || next2 != "" {
		t.Fatalf("page 2: %+v %q %v", p2, next2, err)
	}
	tx, err := rd.BitcoinTx(ctx, "btc", hx('d'))
	if err != nil || tx.Inputs[0].Address != A || tx.Inputs[0].Value != "5000000000" || tx.Fee != "7000" ||
		tx.Outputs[0].SpentBy == nil || tx.Outputs[0].SpentBy.TxID != hx('e') || tx.Outputs[1].SpentBy != nil || tx.Confirmations != 2 {
		t.Fatalf("tx %+v %v", tx, err)
	}

	// a reorg: block 2 replaced by 2' spending A's change instead
	f.orphan(2, hx('2'))
	f.block(2, hx('3'), hx('1'))
	f.tx(2, hx('3'), hx('f'), []string{hx('d') + ":1"}, []out{{D, 4_999_980_000}})
	if h, err := r.Round(ctx, "btc"); err != nil || h != 2 {
		t.Fatalf("round after the reorg: %d %v", h, err)
	}
	check(A, "9999990000", "9999990000", "0", 3)
	check(B, "3000", "0", "3000", 1)
	check(C, "0", "0", "0", 0)
	if tx, _ := rd.BitcoinTx(ctx, "btc", hx('d')); tx.Outputs[0].SpentBy != nil || tx.Outputs[1].SpentBy == nil {
		t.Errorf("spends after the reorg: %+v", tx.Outputs)
	}
	if _, err := rd.BitcoinTx(ctx, "btc", hx('e')); !errors.Is(err, ErrNotFound) {
		t.Errorf("the abandoned transaction: %v", err)
	}
	if _, err := rd.BitcoinBlock(ctx, "btc", nil, hx('2')); !errors.Is(err, ErrNotFound) {
		t.Errorf("the abandoned block: %v", err)
	}
	b, err := rd.BitcoinBlock(ctx, "btc", ptr(uint64(2)), "")
	if err != nil || b.Hash != hx('3') || len(b.TxIDs) != 1 || b.TxIDs[0] != hx('f') {
		t.Errorf("block 2: %+v %v", b, err)
	}
	// twice over the same blocks writes nothing new that counts
	f.row("spend_progress", "chain, height, hash, version", "btc", int64(-1), "", uint64(time.Now().UnixNano()))
	if _, err := r.Round(ctx, "btc"); err != nil {
		t.Fatal(err)
	}
	check(A, "9999990000", "9999990000", "0", 3)
}

func ptr[T any](v T) *T { return &v }

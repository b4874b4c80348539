// Package docs_test checks that the documentation's examples work as
// written, against real data.
//
// TestAnalyticsExamples runs every ```sql block of docs/analytics.md on
// ClickHouse: it pays BTC, LTC, ETH and devnet USDT to fresh addresses on
// the test stack's chains, indexes those chains into a fresh ClickHouse
// database with `sluice index` (SLUICE_BIN), stops the indexer, and runs
// each query there. It needs the test stack (`make test`, or
// `eval "$(sluice stack env --dir var/teststack)"` and SLUICE_BIN): without
// it the test skips, under CI=true it fails.
//
// Markers in docs/analytics.md (comment lines, which ClickHouse ignores):
//
//	-- test: id=NAME          names the block; the checks below find blocks by
//	                          name, every block must have one, and every name
//	                          checked here must be in the page.
//	-- test: PARAM=LITERAL    the block uses LITERAL as an example value of
//	                          PARAM; every occurrence of LITERAL in the block
//	                          is replaced by the test's value:
//	    btc_address, ltc_address   the address the test paid on btc / ltc
//	    eth_address                the address the test paid ETH (lower case)
//	    usdt_address               the address the test paid devnet USDT
//	    usdt_contract              the devnet USDT contract (SLUICE_USDT_CONTRACT)
//	    from, to                   two days before and after now (UTC)
//	    limit                      a LIMIT clause: made large enough to keep
//	                               every row (the paid address is no top 20)
//
// The ```sh blocks of the merchant example are emulated, not run: each
// `\copy (SELECT ...) TO 'FILE'` runs as COPY ... TO STDOUT on the test's
// ledger database (psql's \copy writes that same text format), with
// $MERCHANT replaced by the test's merchant; each `--external --file=FILE
// --name=NAME --structure='...'` of the clickhouse-client command becomes an
// external table NAME holding those rows, sent with every query that uses
// NAME, as clickhouse-client sends it.
package docs_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/shopspring/decimal"

	"github.com/sluicepay/sluice/amount"
	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/jsonrpc"
	"github.com/sluicepay/sluice/stores"
)

// The payments the test makes: odd amounts, so that a wrong scale or a
// rounding shows.
const (
	payBTC  = "0.12345678"
	payLTC  = "0.87654321"
	payETH  = "1.234567890123456789"
	payUSDT = "12.345678"
)

// checked are the blocks whose results the test checks; each must exist.
var checked = []string{"duplicates", "daily_volume", "top_receivers", "top_receivers_eth", "btc_balance",
	"btc_history", "eth_balance", "eth_history", "block_stats", "eth_gas", "token_transfers",
	"merchant_credits", "merchant_history"}

// sqlBlock is one ```sql block of the page.
type sqlBlock struct {
	id     string
	line   int               // where it starts in the page
	params map[string]string // PARAM -> LITERAL
	text   string
}

// export is one `\copy (QUERY) TO 'FILE'` of the page.
type export struct{ query, file string }

// external is one --external table of the clickhouse-client command.
type external struct{ file, name, structure string }

type page struct {
	sql       []sqlBlock
	exports   []export
	externals []external
}

var (
	fenceRe    = regexp.MustCompile("(?ms)^```(\\w*)\\n(.*?)^```")
	markerRe   = regexp.MustCompile(`(?m)^-- test: (\w+)=(.*)$`)
	copyRe     = regexp.MustCompile(`\\copy \((.*)\) TO '([^']+)'`)
	externalRe = regexp.MustCompile(`--external\s+--file=(\S+)\s+--name=(\S+)\s+--structure='([^']*)'`)
)

func readPage(t *testing.T) page {
	t.Helper()
	path := filepath.Join(testenv.RepoRoot(t), "docs", "analytics.md")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	var p page
	seen := map[string]bool{}
	for _, m := range fenceRe.FindAllStringSubmatchIndex(doc, -1) {
		lang, body := doc[m[2]:m[3]], doc[m[4]:m[5]]
		line := 1 + strings.Count(doc[:m[0]], "\n")
		switch lang {
		case "sql":
			b := sqlBlock{line: line, params: map[string]string{}, text: body}
			for _, mk := range markerRe.FindAllStringSubmatch(body, -1) {
				if mk[1] == "id" {
					b.id = strings.TrimSpace(mk[2])
				} else {
					b.params[mk[1]] = mk[2]
				}
			}
			if b.id == "" {
				t.Errorf("docs/analytics.md:%d: sql block without a `-- test: id=NAME` line", line)
				continue
			}
			if seen[b.id] {
				t.Errorf("docs/analytics.md:%d: a second sql block with id %s", line, b.id)
			}
			seen[b.id] = true
			p.sql = append(p.sql, b)
		case "sh":
			joined := strings.ReplaceAll(body, "\\\n", " ")
			for _, c := range copyRe.FindAllStringSubmatch(joined, -1) {
				p.exports = append(p.exports, export{query: c[1], file: c[2]})
			}
			for _, e := range externalRe.FindAllStringSubmatch(joined, -1) {
				p.externals = append(p.externals, external{file: e[1], name: e[2], structure: e[3]})
			}
		}
	}
	for _, id := range checked {
		if !seen[id] {
			t.Errorf("docs/analytics.md has no sql block with `-- test: id=%s`", id)
		}
	}
	if len(p.externals) == 0 {
		t.Error("docs/analytics.md: no clickhouse-client --external table found in a sh block")
	}
	for _, e := range p.externals {
		found := false
		for _, x := range p.exports {
			found = found || x.file == e.file
		}
		if !found {
			t.Errorf("docs/analytics.md: external table %s reads %s, which no \\copy writes", e.name, e.file)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return p
}

// TestAnalyticsPageParses needs no server: the markers and the merchant
// recipe must be readable.
func TestAnalyticsPageParses(t *testing.T) {
	p := readPage(t)
	if len(p.sql) < len(checked) {
		t.Fatalf("%d sql blocks", len(p.sql))
	}
}

// sluice runs the binary to completion and returns its trimmed stdout.
func sluice(t *testing.T, bin string, extra []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = testenv.SluiceEnv(extra...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("sluice %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return strings.TrimSpace(out.String())
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func units(t *testing.T, s, currency string) *big.Int {
	t.Helper()
	dec, _ := chain.Decimals(currency)
	v, err := amount.Parse(s, dec)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAnalyticsExamples(t *testing.T) {
	p := readPage(t)
	bin := testenv.Get(t, "SLUICE_BIN")
	stackDir := testenv.Get(t, "SLUICE_STACK_DIR")
	usdt := strings.ToLower(testenv.Get(t, "SLUICE_USDT_CONTRACT"))
	ethRPC := testenv.Get(t, "SLUICE_ETH_RPC")
	btcRPC := testenv.Get(t, "SLUICE_BTC_RPC")
	redisURL := testenv.Get(t, "SLUICE_REDIS_URL")
	pgDSN, chDSN := testenv.FreshPostgres(t), testenv.FreshClickHouse(t)
	ctx := context.Background()

	// Redis database 0 of the test stack: the indexer publishes its block
	// events there. test/e2e's indexers use databases 1 to 15 and read
	// their streams back, so they never see these.
	u, _, _ := strings.Cut(redisURL, "?")
	if i := strings.LastIndex(u, "/"); i > len("redis://") {
		u = u[:i]
	}
	storeEnv := []string{"SLUICE_POSTGRES_DSN=" + pgDSN, "SLUICE_CLICKHOUSE_DSN=" + chDSN, "SLUICE_REDIS_URL=" + u + "/0"}
	sluice(t, bin, storeEnv, "migrate")

	// Pay fresh addresses on every chain.
	dir := "--dir=" + stackDir
	btcAddr := sluice(t, bin, nil, "devnet", "address", dir, "--chain", "btc")
	ltcAddr := sluice(t, bin, nil, "devnet", "address", dir, "--chain", "ltc")
	ethChecksum := sluice(t, bin, nil, "devnet", "address", dir, "--chain", "eth")
	usdtChecksum := sluice(t, bin, nil, "devnet", "address", dir, "--chain", "eth")
	ethAddr, usdtAddr := strings.ToLower(ethChecksum), strings.ToLower(usdtChecksum)
	btcTx := sluice(t, bin, nil, "devnet", "pay", dir, "--currency", "BTC", "--to", btcAddr, "--amount", payBTC)
	ltcTx := sluice(t, bin, nil, "devnet", "pay", dir, "--currency", "LTC", "--to", ltcAddr, "--amount", payLTC)
	ethTx := sluice(t, bin, nil, "devnet", "pay", dir, "--currency", "ETH", "--to", ethAddr, "--amount", payETH)
	usdtTx := sluice(t, bin, nil, "devnet", "pay", dir, "--currency", "USDT", "--to", usdtAddr, "--amount", payUSDT)
	btcTip, _ := strconv.ParseInt(sluice(t, bin, nil, "devnet", "mine", dir, "--chain", "btc"), 10, 64)
	ltcTip, _ := strconv.ParseInt(sluice(t, bin, nil, "devnet", "mine", dir, "--chain", "ltc"), 10, 64)
	eth, err := jsonrpc.New(ethRPC)
	if err != nil {
		t.Fatal(err)
	}
	var head string
	if err := eth.Call(ctx, "eth_blockNumber", &head); err != nil {
		t.Fatal(err)
	}
	ethTip, err := strconv.ParseInt(strings.TrimPrefix(head, "0x"), 16, 64)
	if err != nil || btcTip <= 0 || ltcTip <= 0 {
		t.Fatalf("tips: btc %d, ltc %d, eth %q (%v)", btcTip, ltcTip, head, err)
	}
	t.Logf("paid %s BTC to %s (%s), %s LTC to %s (%s), %s ETH to %s (%s), %s USDT to %s (%s); tips btc %d, ltc %d, eth %d",
		payBTC, btcAddr, btcTx, payLTC, ltcAddr, ltcTx, payETH, ethAddr, ethTx, payUSDT, usdtAddr, usdtTx, btcTip, ltcTip, ethTip)

	// Index the three chains up to those tips, then stop the indexer.
	indexChains(t, bin, storeEnv, pgDSN, map[string]int64{"btc": btcTip, "ltc": ltcTip, "eth": ethTip})

	ch, err := stores.OpenClickHouse(chDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })

	// The ledger side of the merchant example: a merchant with the four
	// addresses as wallets (Ethereum ones in EIP-55 case, as sluice keeps
	// them) and deposits for three of the payments; the LTC one is left
	// out, to show as a credit the ledger lacks.
	btcVout := scalar(t, ch, "SELECT toString(any(n)) FROM address_outputs WHERE chain = 'btc' AND txid = ? AND address = ?", btcTx, btcAddr)
	usdtLog := scalar(t, ch, "SELECT toString(any(log_index)) FROM token_transfers WHERE chain = 'eth' AND tx_hash = ?", usdtTx)
	merchant := ledger(t, pgDSN, []wallet{
		{"BTC", "btc", btcAddr, &deposit{btcTx, "vout:" + btcVout, units(t, payBTC, "BTC")}},
		{"LTC", "ltc", ltcAddr, nil},
		{"ETH", "eth", ethChecksum, &deposit{ethTx, "tx", units(t, payETH, "ETH")}},
		{"USDT", "eth", usdtChecksum, &deposit{usdtTx, "log:" + usdtLog, units(t, payUSDT, "USDT")}},
	})
	tables := exportLedger(t, p, pgDSN, merchant)

	now := time.Now().UTC()
	values := map[string]string{
		"btc_address": btcAddr, "ltc_address": ltcAddr, "eth_address": ethAddr, "usdt_address": usdtAddr,
		"usdt_contract": usdt,
		"from":          now.Add(-48 * time.Hour).Format(time.DateTime),
		"to":            now.Add(48 * time.Hour).Format(time.DateTime),
		"limit":         "LIMIT 1000000",
	}
	results := map[string][]map[string]string{}
	for _, b := range p.sql {
		q := b.text
		for param, literal := range b.params {
			v, ok := values[param]
			if !ok {
				t.Fatalf("docs/analytics.md:%d: unknown parameter %q (known: see the package comment)", b.line, param)
			}
			q = strings.ReplaceAll(q, literal, v)
		}
		rows, err := query(ctx, ch, q, tables)
		if err != nil {
			t.Errorf("docs/analytics.md:%d (%s) fails on ClickHouse: %v", b.line, b.id, err)
			continue
		}
		t.Logf("%s: %d rows", b.id, len(rows))
		results[b.id] = rows
	}
	if t.Failed() {
		t.FailNow()
	}

	btcSat, ltcLit := units(t, payBTC, "BTC"), units(t, payLTC, "LTC")
	wei, usdtUnits := units(t, payETH, "ETH"), units(t, payUSDT, "USDT")

	// The index against the nodes: the paid amounts as the nodes hold them.
	if got := nodeBTCValue(t, btcRPC, btcTx, btcAddr); got.Cmp(btcSat) != 0 {
		t.Fatalf("btcd says %s pays %s sat to %s, not %s", btcTx, got, btcAddr, btcSat)
	}
	var ethTxn struct{ Value string }
	if err := eth.Call(ctx, "eth_getTransactionByHash", &ethTxn, ethTx); err != nil {
		t.Fatal(err)
	}
	if v, ok := new(big.Int).SetString(strings.TrimPrefix(ethTxn.Value, "0x"), 16); !ok || v.Cmp(wei) != 0 {
		t.Fatalf("geth says %s carries %s wei, want %s", ethTx, ethTxn.Value, wei)
	}

	// duplicates: a fresh index without reorgs has none
	for _, r := range need(t, results, "duplicates", 1) {
		if r["rows"] != r["distinct_rows"] {
			t.Errorf("duplicates: %v", r)
		}
	}

	// daily_volume: each decimal is the exact decimal of its units, every
	// currency has a day, and the days hold at least what the test paid
	decimals := map[string]int{"BTC": 8, "LTC": 8, "ETH": 18, "USDT": 6}
	totals := map[string]*big.Int{}
	for _, r := range need(t, results, "daily_volume", 4) {
		cur := r["currency"]
		d, ok := decimals[cur]
		if !ok {
			t.Fatalf("daily_volume: currency %q", cur)
		}
		if want, err := amount.FormatString(r["units"], d); err != nil || r["amount"] != want {
			t.Errorf("daily_volume %s %s: amount %q for %s units, want %q (%v)", r["day"], cur, r["amount"], r["units"], want, err)
		}
		if totals[cur] == nil {
			totals[cur] = new(big.Int)
		}
		totals[cur].Add(totals[cur], bigOf(t, r["units"]))
	}
	for cur, paid := range map[string]*big.Int{"BTC": btcSat, "LTC": ltcLit, "ETH": wei, "USDT": usdtUnits} {
		if totals[cur] == nil || totals[cur].Cmp(paid) < 0 {
			t.Errorf("daily_volume: %s total %v is below the %s paid", cur, totals[cur], paid)
		}
	}

	// top_receivers: the paid address, with exactly what it was paid
	r := one(t, results, "top_receivers", "address", btcAddr)
	expect(t, "top_receivers", r, map[string]string{"received": btcSat.String(), "received_btc": payBTC, "outputs": "1", "transactions": "1"})
	r = one(t, results, "top_receivers_eth", "address", ethAddr)
	expect(t, "top_receivers_eth", r, map[string]string{"received_wei": wei.String(), "transfers": "1"})

	// balances and histories of the paid addresses
	r = need(t, results, "btc_balance", 1)[0]
	expect(t, "btc_balance", r, map[string]string{"received": btcSat.String(), "spent": "0", "balance": btcSat.String(),
		"balance_btc": payBTC, "outputs": "1", "unspent_outputs": "1"})
	r = one(t, results, "btc_history", "txid", btcTx)
	expect(t, "btc_history", r, map[string]string{"kind": "received", "position": "vout:" + btcVout, "value": btcSat.String()})
	if n := len(results["btc_history"]); n != 1 {
		t.Errorf("btc_history: %d rows, want 1", n)
	}
	r = one(t, results, "eth_balance", "asset", "ETH")
	expect(t, "eth_balance", r, map[string]string{"received": wei.String(), "sent": "0", "fees": "0", "balance": wei.String()})
	r = one(t, results, "eth_history", "tx_hash", ethTx)
	expect(t, "eth_history", r, map[string]string{"position": "tx", "asset": "ETH", "flow": "in", "value": wei.String()})

	// block_stats: each chain's canonical blocks are heights 0 to its top,
	// each once, and reach the tip measured after the payments
	count, low, top := map[string]int64{}, map[string]int64{}, map[string]int64{}
	for _, r := range need(t, results, "block_stats", 3) {
		c := r["chain"]
		n, _ := strconv.ParseInt(r["blocks"], 10, 64)
		first, _ := strconv.ParseInt(r["first_height"], 10, 64)
		last, _ := strconv.ParseInt(r["last_height"], 10, 64)
		if _, ok := low[c]; !ok || first < low[c] {
			low[c] = first
		}
		count[c], top[c] = count[c]+n, max(top[c], last)
	}
	for chain, tip := range map[string]int64{"btc": btcTip, "ltc": ltcTip, "eth": ethTip} {
		if low[chain] != 0 || count[chain] != top[chain]+1 || top[chain] < tip {
			t.Errorf("block_stats: %d canonical %s blocks from height %d to %d; want each of 0 to at least %d once",
				count[chain], chain, low[chain], top[chain], tip)
		}
	}
	need(t, results, "eth_gas", 1)

	r = one(t, results, "token_transfers", "tx_hash", usdtTx)
	expect(t, "token_transfers", r, map[string]string{"to_address": usdtAddr, "value": usdtUnits.String(), "amount": payUSDT,
		"log_index": usdtLog, "value_overflow": "0"})

	// the merchant's credits, pasted and exported
	credits := []struct{ addr, txid, asset, amount string }{
		{btcAddr, btcTx, "BTC", btcSat.String()}, {ltcAddr, ltcTx, "LTC", ltcLit.String()},
		{ethAddr, ethTx, "ETH", wei.String()}, {usdtAddr, usdtTx, "USDT", usdtUnits.String()},
	}
	for _, c := range credits {
		r := one(t, results, "merchant_credits", "txid", c.txid)
		expect(t, "merchant_credits", r, map[string]string{"address": c.addr, "asset": c.asset, "amount": c.amount})
		r = one(t, results, "merchant_history", "txid", c.txid)
		want := map[string]string{"address": c.addr, "asset": c.asset, "chain_amount": c.amount, "in_ledger": "1", "ledger_amount": c.amount, "ledger_status": "1"}
		if c.asset == "LTC" {
			want = map[string]string{"address": c.addr, "chain_amount": c.amount, "in_ledger": "0", "ledger_amount": ""}
		}
		expect(t, "merchant_history", r, want)
	}
	if n := len(results["merchant_credits"]); n != len(credits) {
		t.Errorf("merchant_credits: %d rows, want %d", n, len(credits))
	}
	if n := len(results["merchant_history"]); n != len(credits) {
		t.Errorf("merchant_history: %d rows, want %d", n, len(credits))
	}
}

// indexChains runs `sluice index` until each chain's checkpoint reaches its
// tip, then stops it.
func indexChains(t *testing.T, bin string, storeEnv []string, pgDSN string, tips map[string]int64) {
	t.Helper()
	cmd := exec.Command(bin, "index", "--chain", "btc,ltc,eth")
	cmd.Dir = t.TempDir()
	cmd.Env = testenv.SluiceEnv(storeEnv...)
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("indexer log:\n%s", logs.String())
		}
	})
	conn, err := pgx.Connect(context.Background(), pgDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	cps := map[string]int64{}
	read := func() {
		rows, err := conn.Query(context.Background(), "SELECT chain, height FROM chain_checkpoints")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var c string
			var h int64
			if err := rows.Scan(&c, &h); err != nil {
				t.Fatal(err)
			}
			cps[c] = h
		}
	}
	start := time.Now()
	waitFor(t, "the indexer to reach the tips", 6*time.Minute, func() bool {
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("sluice index exited: %v\n%s", err, logs.String())
		default:
		}
		read()
		for chain, tip := range tips {
			if h, ok := cps[chain]; !ok || h < tip {
				return false
			}
		}
		return true
	})
	t.Logf("indexed btc, ltc and eth to %v in %s", cps, time.Since(start).Round(time.Second))
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	stopped = true
}

type deposit struct {
	txid, position string
	amount         *big.Int
}

type wallet struct {
	currency, chain, address string
	deposit                  *deposit
}

// ledger writes a merchant, its wallets and their confirmed deposits to the
// ledger database, as sluice would have, and returns the merchant's id.
func ledger(t *testing.T, pgDSN string, ws []wallet) int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var id int64
	if err := conn.QueryRow(ctx, "INSERT INTO merchants (name, key_account) VALUES ('analytics', 0) RETURNING id").Scan(&id); err != nil {
		t.Fatal(err)
	}
	for i, w := range ws {
		addr := w.address
		if w.chain == "eth" {
			addr = common.HexToAddress(addr).Hex() // EIP-55, as wallets keep it
		}
		var wid int64
		if err := conn.QueryRow(ctx, `INSERT INTO wallets (merchant_id, currency, ext_id, chain, address, derivation_index)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, id, w.currency, fmt.Sprintf("order-%d", i), w.chain, addr, i).Scan(&wid); err != nil {
			t.Fatal(err)
		}
		if d := w.deposit; d != nil {
			if _, err := conn.Exec(ctx, `INSERT INTO deposits (wallet_id, chain, currency, txid, position, amount, status, confirmations)
				VALUES ($1, $2, $3, $4, $5, $6, 1, 6)`, wid, w.chain, w.currency, d.txid, d.position, pgtype.Numeric{Int: d.amount, Valid: true}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return id
}

// exportLedger runs the page's \copy exports for merchant and builds the
// external tables of its clickhouse-client command from their output.
func exportLedger(t *testing.T, p page, pgDSN string, merchant int64) []*ext.Table {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	files := map[string]string{}
	for _, e := range p.exports {
		q := strings.ReplaceAll(e.query, "$MERCHANT", strconv.FormatInt(merchant, 10))
		var out bytes.Buffer
		if _, err := conn.PgConn().CopyTo(ctx, &out, "COPY ("+q+") TO STDOUT"); err != nil {
			t.Fatalf("the page's \\copy to %s fails on PostgreSQL: %v\n%s", e.file, err, q)
		}
		files[e.file] = out.String()
	}
	var tables []*ext.Table
	for _, e := range p.externals {
		tbl, err := externalTable(e, files[e.file])
		if err != nil {
			t.Fatalf("external table %s: %v", e.name, err)
		}
		tables = append(tables, tbl)
	}
	return tables
}

// externalTable builds an external table from its structure and the
// tab-separated text COPY wrote.
func externalTable(e external, tsv string) (*ext.Table, error) {
	type col struct{ name, typ string }
	var cols []col
	var opts []func(*ext.Table) error
	for _, part := range strings.Split(e.structure, ",") {
		f := strings.Fields(part)
		if len(f) != 2 {
			return nil, fmt.Errorf("structure %q: want NAME TYPE pairs", e.structure)
		}
		cols = append(cols, col{f[0], f[1]})
		opts = append(opts, ext.Column(f[0], column.Type(f[1])))
	}
	tbl, err := ext.NewTable(e.name, opts...)
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(strings.TrimSuffix(tsv, "\n"), "\n") {
		if line == "" {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) != len(cols) {
			return nil, fmt.Errorf("%s: %d fields in %q, the structure has %d", e.file, len(fields), line, len(cols))
		}
		row := make([]any, len(cols))
		for i, c := range cols {
			v := fields[i]
			if v == `\N` || strings.Contains(v, `\`) {
				return nil, fmt.Errorf("%s: field %q needs unescaping this test does not do", e.file, v)
			}
			switch c.typ {
			case "String":
				row[i] = v
			case "UInt8", "UInt32", "UInt64":
				bits, _ := strconv.Atoi(strings.TrimPrefix(c.typ, "UInt"))
				n, err := strconv.ParseUint(v, 10, bits)
				if err != nil {
					return nil, fmt.Errorf("%s: %s %q: %w", e.file, c.name, v, err)
				}
				switch bits {
				case 8:
					row[i] = uint8(n)
				case 32:
					row[i] = uint32(n)
				default:
					row[i] = n
				}
			default:
				return nil, fmt.Errorf("column type %s: not handled by this test", c.typ)
			}
		}
		if err := tbl.Append(row...); err != nil {
			return nil, err
		}
	}
	return tbl, nil
}

// query runs q with the external tables it names and returns its rows as
// text, column by column.
func query(ctx context.Context, ch *stores.ClickHouse, q string, tables []*ext.Table) ([]map[string]string, error) {
	var use []*ext.Table
	for _, tbl := range tables {
		if regexp.MustCompile(`\b` + tbl.Name() + `\b`).MatchString(q) {
			use = append(use, tbl)
		}
	}
	if len(use) > 0 {
		ctx = clickhouse.Context(ctx, clickhouse.WithExternalTable(use...))
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rows, err := ch.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	var out []map[string]string
	for rows.Next() {
		ptrs := make([]any, len(types))
		for i, ct := range types {
			ptrs[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := map[string]string{}
		for i, ct := range types {
			row[ct.Name()] = text(reflect.ValueOf(ptrs[i]).Elem().Interface())
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// text prints a value exactly: Decimal(38, 0) as its integer, times in UTC.
func text(v any) string {
	switch x := v.(type) {
	case decimal.Decimal:
		return x.String()
	case time.Time:
		return x.UTC().Format(time.DateTime)
	case string:
		return x
	}
	return fmt.Sprint(v)
}

func scalar(t *testing.T, ch *stores.ClickHouse, q string, args ...any) string {
	t.Helper()
	var s string
	if err := ch.QueryRow(context.Background(), q, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

func bigOf(t *testing.T, s string) *big.Int {
	t.Helper()
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("%q is not an integer", s)
	}
	return v
}

// need returns the rows of a block, failing with fewer than min.
func need(t *testing.T, results map[string][]map[string]string, id string, min int) []map[string]string {
	t.Helper()
	rows := results[id]
	if len(rows) < min {
		t.Fatalf("%s: %d rows, want at least %d: %v", id, len(rows), min, rows)
	}
	return rows
}

// one returns the single row of a block whose column col is v.
func one(t *testing.T, results map[string][]map[string]string, id, col, v string) map[string]string {
	t.Helper()
	var found []map[string]string
	for _, r := range results[id] {
		if r[col] == v {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: %d rows with %s = %s, want 1; rows: %v", id, len(found), col, v, results[id])
	}
	return found[0]
}

func expect(t *testing.T, id string, row, want map[string]string) {
	t.Helper()
	for k, v := range want {
		got, ok := row[k]
		if !ok {
			t.Errorf("%s: no column %s in %v", id, k, row)
		} else if got != v {
			t.Errorf("%s: %s = %q, want %q (row %v)", id, k, got, v, row)
		}
	}
}

// nodeBTCValue asks btcd what txid pays to addr, in satoshi.
func nodeBTCValue(t *testing.T, rpcURL, txid, addr string) *big.Int {
	t.Helper()
	c, err := jsonrpc.New(rpcURL, jsonrpc.WithVersion("1.0"))
	if err != nil {
		t.Fatal(err)
	}
	var tx struct {
		Vout []struct {
			Value        float64
			ScriptPubKey struct {
				Address   string
				Addresses []string
			}
		}
	}
	if err := c.Call(context.Background(), "getrawtransaction", &tx, txid, 1); err != nil {
		t.Fatal(err)
	}
	sum := new(big.Int)
	for _, o := range tx.Vout {
		if o.ScriptPubKey.Address == addr || (len(o.ScriptPubKey.Addresses) == 1 && o.ScriptPubKey.Addresses[0] == addr) {
			// exact: a float64 holds every satoshi amount below 2^53 sat
			sum.Add(sum, big.NewInt(int64(math.Round(o.Value*1e8))))
		}
	}
	return sum
}

// syncBuffer collects a process's output while it runs.
type syncBuffer = testenv.SyncBuffer

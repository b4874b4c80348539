package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicepay/sluice/api"
	"github.com/sluicepay/sluice/explorer"
	"github.com/sluicepay/sluice/health"
	"github.com/sluicepay/sluice/stores"
)

// ExplorerLatency fills a scratch ClickHouse database (already migrated)
// with a synthetic BTC index, Outputs outputs in all (100 per block, two per
// transaction), HotTxs of them paying one address and half of those spent,
// then times the explorer API over HTTP on loopback for that address.
type ExplorerLatency struct {
	CH       *stores.ClickHouse
	Outputs  int // default 10,000,000
	HotTxs   int // default 10,000
	Requests int // per measurement (default 300)
	// Reuse measures a database an earlier run filled (and kept).
	Reuse bool
	Out   io.Writer
}

// HotAddress is the busy address the benchmark reads.
const HotAddress = "bcrt1qhotaddressforexplorerbenchmark0000000"

// ExplorerResult is what ExplorerLatency measured.
type ExplorerResult struct {
	Outputs, HotTxs, Requests    int
	FillTime                     time.Duration
	FirstPage, DeepPage, Balance Quantiles // GET address/txs (limit 50), the page after a cursor halfway down, GET balance
	Floor                        Quantiles // GET /healthz over the same HTTP stack, and SELECT 1 below
	SelectOne                    Quantiles
}

// Run fills the database and measures.
func (b ExplorerLatency) Run(ctx context.Context) (ExplorerResult, error) {
	if b.Outputs <= 0 {
		b.Outputs = 10_000_000
	}
	if b.HotTxs <= 0 {
		b.HotTxs = 10_000
	}
	if b.Requests <= 0 {
		b.Requests = 300
	}
	logf := func(format string, args ...any) {
		if b.Out != nil {
			fmt.Fprintf(b.Out, format+"\n", args...)
		}
	}
	res := ExplorerResult{Outputs: b.Outputs, HotTxs: b.HotTxs, Requests: b.Requests}
	start := time.Now()
	every := b.Outputs / b.HotTxs // every every-th output pays the hot address
	blocks := (b.Outputs + 99) / 100
	hash := func(prefix, n string) string {
		return "lower(hex(SHA256(concat('" + prefix + "', toString(" + n + ")))))"
	}
	steps := []struct{ what, sql string }{
		{"blocks", `INSERT INTO blocks (chain, height, hash, prev_hash, time, tx_count, size)
			SELECT 'btc', number, ` + hash("b", "number") + `, ` + hash("b", "number - 1") + `,
				toDateTime(1600000000 + number * 600), 50, 100000 FROM numbers(` + fmt.Sprint(blocks) + `)`},
		{"block_status", `INSERT INTO block_status (chain, hash, height, canonical, version)
			SELECT 'btc', ` + hash("b", "number") + `, number, 1, 1 FROM numbers(` + fmt.Sprint(blocks) + `)`},
		{"outputs", `INSERT INTO outputs (chain, block_height, block_hash, block_time, txid, tx_index, n, value, script_type, address, script_hex)
			SELECT 'btc', intDiv(number, 100), ` + hash("b", "intDiv(number, 100)") + `, toDateTime(1600000000 + intDiv(number, 100) * 600),
				` + hash("t", "intDiv(number, 2)") + `, toUInt32(intDiv(number % 100, 2)), toUInt32(number % 2), 546 + number % 100000,
				'witness_v0_keyhash', ` + addrExpr(every) + `, '0014' FROM numbers(` + fmt.Sprint(b.Outputs) + `)`},
		{"address_outputs", `INSERT INTO address_outputs (chain, address, block_height, block_hash, block_time, txid, n, value)
			SELECT chain, address, block_height, block_hash, block_time, txid, n, value FROM outputs WHERE chain = 'btc'`},
		{"address_spends", `INSERT INTO address_spends (chain, address, block_height, block_hash, block_time, txid, n, prev_txid, prev_vout, value)
			SELECT chain, address, block_height + 1, ` + hash("b", "block_height + 1") + `, block_time + 600,
				` + hash("s", "cityHash64(txid, n)") + `, 0, txid, n, value
			FROM outputs WHERE chain = 'btc' AND (address = '` + HotAddress + `' AND n = 0 OR cityHash64(txid, n) % 10 = 0)
				AND block_height + 1 < ` + fmt.Sprint(blocks)},
		{"spend_progress", `INSERT INTO spend_progress (chain, height, hash, version)
			SELECT 'btc', toInt64(` + fmt.Sprint(blocks-1) + `), ` + hash("b", fmt.Sprint(blocks-1)) + `, 1`},
	}
	if b.Reuse {
		steps = nil
		logf("reusing the filled database")
	}
	for _, s := range steps {
		t := time.Now()
		if err := b.CH.Exec(ctx, s.sql); err != nil {
			return res, fmt.Errorf("fill %s: %w", s.what, err)
		}
		logf("filled %-16s in %s", s.what, time.Since(t).Round(time.Millisecond))
	}
	res.FillTime = time.Since(start)

	gin.SetMode(gin.ReleaseMode)
	srv := httptest.NewServer(api.New(api.Deps{Log: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(),
		Ready: noReadiness{}, Explorer: &api.Explorer{Reader: &explorer.Reader{CH: b.CH}, Chains: []string{"btc"}, Log: slog.New(slog.DiscardHandler)}}))
	defer srv.Close()
	get := func(path string) (time.Duration, error) {
		t := time.Now()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("GET %s: HTTP %d", path, resp.StatusCode)
		}
		return time.Since(t), nil
	}
	// the cursor halfway down: the page after the HotTxs/2-th newest item
	r := explorer.Reader{CH: b.CH}
	var deep string
	if _, next, err := r.BitcoinAddressTxs(ctx, "btc", HotAddress, "", b.HotTxs/2); err != nil {
		return res, err
	} else {
		deep = next
	}
	first, _, err := r.BitcoinAddressTxs(ctx, "btc", HotAddress, "", 50)
	if err != nil || len(first) != 50 {
		return res, fmt.Errorf("the hot address's first page: %d items, %v", len(first), err)
	}
	measure := func(what, path string) (Quantiles, error) {
		var ds []time.Duration
		for range b.Requests {
			d, err := get(path)
			if err != nil {
				return Quantiles{}, err
			}
			ds = append(ds, d)
		}
		q := quantiles(ds)
		logf("%-28s p50 %-8s p99 %s", what, q.P50.Round(10*time.Microsecond), q.P99.Round(10*time.Microsecond))
		return q, nil
	}
	if res.Floor, err = measure("GET /healthz (floor)", "/healthz"); err != nil {
		return res, err
	}
	if res.FirstPage, err = measure("address txs, first page", "/v1/btc/address/"+HotAddress+"/txs?limit=50"); err != nil {
		return res, err
	}
	if res.DeepPage, err = measure("address txs, page halfway", "/v1/btc/address/"+HotAddress+"/txs?limit=50&cursor="+deep); err != nil {
		return res, err
	}
	if res.Balance, err = measure("address balance", "/v1/btc/address/"+HotAddress+"/balance"); err != nil {
		return res, err
	}
	var one []time.Duration
	for range b.Requests {
		t := time.Now()
		var x uint8
		if err := b.CH.QueryRow(ctx, "SELECT 1").Scan(&x); err != nil {
			return res, err
		}
		one = append(one, time.Since(t))
	}
	res.SelectOne = quantiles(one)
	return res, nil
}

// addrExpr is the address of output number: the hot address for every
// every-th, else one of a million others.
func addrExpr(every int) string {
	return fmt.Sprintf("if(number %% %d = 0, '%s', concat('bcrt1q', lower(hex(cityHash64(number %% 1000000)))))", every, HotAddress)
}

type noReadiness struct{}

func (noReadiness) Run(context.Context) (map[string]health.Result, bool) { return nil, true }

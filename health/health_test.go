package health

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicepay/sluice/indexer/bitcoin"
	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/stores"
)

func TestCheckerAgainstStack(t *testing.T) {
	ctx := context.Background()
	pg, err := stores.OpenPostgres(ctx, testenv.Get(t, "SLUICE_POSTGRES_DSN"))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	deadCH, err := stores.OpenClickHouse("clickhouse://default:x@127.0.0.1:1/sluice")
	if err != nil {
		t.Fatal(err)
	}
	defer deadCH.Close()
	rd, err := stores.OpenRedis(testenv.Get(t, "SLUICE_REDIS_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	btc, _ := bitcoin.NewNode("btc", testenv.Get(t, "SLUICE_BTC_RPC"), nil)
	ltc, _ := bitcoin.NewNode("ltc", testenv.Get(t, "SLUICE_LTC_RPC"), nil)

	reg := prometheus.NewRegistry()
	c := New(reg, 3*time.Second, Postgres(pg), ClickHouse(deadCH), Redis(rd),
		BitcoinNode("btc", btc, "regtest"), BitcoinNode("ltc", ltc, "testnet4"),
		EthereumNode("eth", testenv.Get(t, "SLUICE_ETH_RPC"), "dev", 0), TCP("eth_ws", testenv.Get(t, "SLUICE_ETH_WS")))
	res, ok := c.Run(ctx)
	if ok {
		t.Fatal("all ok although clickhouse is dead and ltc is on another network")
	}
	for _, name := range []string{"postgres", "redis", "btc", "eth", "eth_ws"} {
		if !res[name].OK {
			t.Errorf("%s: %+v", name, res[name])
		}
	}
	if r := res["clickhouse"]; r.OK || !strings.Contains(r.Error, "127.0.0.1:1") {
		t.Errorf("clickhouse: %+v", r)
	}
	if r := res["ltc"]; r.OK || !strings.Contains(r.Error, `on network "regtest", but the config says testnet4`) {
		t.Errorf("ltc: %+v", r)
	}
	if v := testutil.ToFloat64(c.up.WithLabelValues("clickhouse")); v != 0 {
		t.Errorf("sluice_dependency_up{clickhouse} = %v", v)
	}
	if v := testutil.ToFloat64(c.up.WithLabelValues("postgres")); v != 1 {
		t.Errorf("sluice_dependency_up{postgres} = %v", v)
	}
}

func TestCheckTimesOut(t *testing.T) {
	c := New(prometheus.NewRegistry(), 50*time.Millisecond, Check{Name: "slow", Run: func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}})
	start := time.Now()
	res, ok := c.Run(context.Background())
	if ok || res["slow"].OK || time.Since(start) > 5*time.Second {
		t.Fatalf("a hung dependency must fail its check by the timeout: %+v", res)
	}
}

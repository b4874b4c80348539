package rates

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/payments/webhook"
)

var _ webhook.Converter = (*Service)(nil)

// testRedisDB is this package's Redis database on the test stack; each test
// has its own key prefix in it and deletes its keys.
const testRedisDB = 11

// cache gives a test a Redis client and a key prefix of its own.
func cache(t *testing.T) (*redis.Client, string) {
	t.Helper()
	opts, err := redis.ParseURL(testenv.Get(t, "SLUICE_REDIS_URL"))
	if err != nil {
		t.Fatal(err)
	}
	opts.DB = testRedisDB
	rdb := redis.NewClient(opts)
	prefix := testenv.Name("ratestest") + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		rdb.Close()
	})
	return rdb, prefix
}

// testAssets are the currencies the tests price: the built-ins, and a
// second USDC (on another chain) that shares its rate id.
var testAssets = []Asset{
	{"BTC", "BTC", 8}, {"LTC", "LTC", 8}, {"ETH", "ETH", 18}, {"USDT", "USDT", 6}, {"USDC", "USDC", 6},
	{"USDC_POLYGON", "USDC", 6},
}

func newService(t *testing.T, rdb *redis.Client, prefix string, m *Metrics, sources ...Source) *Service {
	t.Helper()
	s, err := New(Options{Redis: rdb, KeyPrefix: prefix, Sources: sources, Metrics: m, Assets: testAssets,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.retryEvery = 0
	return s
}

func down(t *testing.T) *api { return newAPI(t, fixed(503, `{"error":"Service Unavailable"}`)) }

func TestFallbackOrder(t *testing.T) {
	rdb, prefix := cache(t)
	gecko, kr := down(t), newAPI(t, fixed(200, krakenBody))
	m := NewMetrics(prometheus.NewRegistry())
	s := newService(t, rdb, prefix, m, source(t, CoinGecko, gecko.URL), source(t, Kraken, kr.URL))
	r, err := s.Price(context.Background(), "BTC", "USD")
	if err != nil {
		t.Fatal(err)
	}
	if r.Price != "43250.1" || r.Source != "kraken" || time.Since(r.At) > time.Minute {
		t.Fatalf("rate %+v", r)
	}
	if gecko.hits() != 1 || kr.hits() != 1 {
		t.Fatalf("hits %d %d", gecko.hits(), kr.hits())
	}
	// cached now: neither is asked again, and the source is remembered
	if r2, err := s.Price(context.Background(), "BTC", "USD"); err != nil || r2 != (Rate{Price: r.Price, Source: "kraken", At: r.At.Truncate(time.Millisecond)}) {
		t.Fatalf("cached %+v %v", r2, err)
	}
	if gecko.hits() != 1 || kr.hits() != 1 {
		t.Fatalf("asked again: %d %d", gecko.hits(), kr.hits())
	}
	if ok, bad := testutil.ToFloat64(m.Fetches.WithLabelValues("kraken", ResultOK)), testutil.ToFloat64(m.Fetches.WithLabelValues("coingecko", ResultError)); ok != 1 || bad != 1 {
		t.Fatalf("metrics ok %v error %v", ok, bad)
	}

	// the first source back: it wins again for what is not cached
	gecko.set(fixed(200, coinGeckoBody))
	if r, err := s.Price(context.Background(), "ETH", "EUR"); err != nil || r.Source != "coingecko" || r.Price != "2131.1" {
		t.Fatalf("%+v %v", r, err)
	}
	// a pair the first does not price comes from the next
	gecko.set(fixed(200, `{"bitcoin":{"usd":1}}`))
	if r, err := s.Price(context.Background(), "LTC", "USD"); err != nil || r.Source != "kraken" || r.Price != "72.35" {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestStaleness(t *testing.T) {
	rdb, prefix := cache(t)
	gecko, kr := down(t), newAPI(t, fixed(200, `{"error":["EService:Unavailable"]}`))
	s := newService(t, rdb, prefix, nil, source(t, CoinGecko, gecko.URL), source(t, Kraken, kr.URL))
	ctx := context.Background()
	now := time.Now()

	// younger than max_age (10m): used, no source asked
	if err := s.store(ctx, btcUSD, Rate{"43000", "coinbase", now.Add(-9 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Price(ctx, "BTC", "USD"); err != nil || r.Price != "43000" || r.Source != "coinbase" {
		t.Fatalf("%+v %v", r, err)
	}
	if gecko.hits()+kr.hits() != 0 {
		t.Fatal("a fresh cached price should not ask the sources")
	}

	// older than max_age, and every source down: no rate, never the stale one
	if err := s.store(ctx, btcEUR, Rate{"39000", "coinbase", now.Add(-11 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	r, err := s.Price(ctx, "BTC", "EUR")
	if !errors.Is(err, ErrNoRate) || r != (Rate{}) {
		t.Fatalf("%+v %v", r, err)
	}
	t.Log(err)
	for _, want := range []string{"BTC/EUR", "(39000, coinbase) is 11m0s old", "max_age 10m0s", "coingecko: HTTP 503", "kraken: EService:Unavailable"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// nothing cached at all
	if _, err := s.Price(ctx, "LTC", "EUR"); !errors.Is(err, ErrNoRate) || !strings.Contains(err.Error(), "none is cached") {
		t.Fatalf("%v", err)
	}
	// on-demand retries of a pair no source priced are spaced out
	s.retryEvery = time.Hour
	_, _ = s.Price(ctx, "LTC", "EUR")
	before := gecko.hits()
	if _, err := s.Price(ctx, "LTC", "EUR"); !errors.Is(err, ErrNoRate) || gecko.hits() != before {
		t.Fatalf("asked again at once: %v", err)
	}
	s.retryEvery = 0

	// a source back: the stale price is replaced by a fresh one
	kr.set(fixed(200, `{"error":[],"result":{"XXBTZEUR":{"c":["39800.5","1"]}}}`))
	if r, err := s.Price(ctx, "BTC", "EUR"); err != nil || r.Price != "39800.5" || r.Source != "kraken" || time.Since(r.At) > time.Minute {
		t.Fatalf("%+v %v", r, err)
	}

	// a pair that is not one
	if _, err := s.Price(ctx, "DOGE", "USD"); err == nil || errors.Is(err, ErrNoRate) {
		t.Fatalf("DOGE: %v", err)
	}
	if _, err := s.Price(ctx, "BTC", "GBP"); err == nil || errors.Is(err, ErrNoRate) {
		t.Fatalf("GBP: %v", err)
	}
}

// TestSharedCache: two processes share the cache; a write never replaces
// a younger price.
func TestSharedCache(t *testing.T) {
	rdb, prefix := cache(t)
	ctx := context.Background()
	a1, a2 := newAPI(t, fixed(200, coinGeckoBody)), newAPI(t, fixed(200, `{"bitcoin":{"usd":1,"eur":1}}`))
	one := newService(t, rdb, prefix, nil, source(t, CoinGecko, a1.URL))
	two := newService(t, rdb, prefix, nil, source(t, CoinGecko, a2.URL))
	if err := one.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if a1.hits() != 1 {
		t.Fatalf("one request for every pair, got %d", a1.hits())
	}
	if len(one.Pairs()) != 10 {
		t.Fatalf("pairs %v", one.Pairs())
	}
	for _, a := range testAssets {
		for _, f := range Fiats {
			r, err := two.Price(ctx, a.Code, f)
			if err != nil || r.Source != "coingecko" {
				t.Fatalf("%s/%s: %+v %v", a.Code, f, r, err)
			}
			if a.Code == "USDT" && f == "EUR" && r.Price != "0.9201" || a.RateID == "USDC" && f == "USD" && r.Price != "0.9997" {
				t.Fatalf("%s/%s: %+v", a.Code, f, r)
			}
		}
	}
	if a2.hits() != 0 {
		t.Fatalf("the second service asked its source %d times", a2.hits())
	}
	// Run of the second: everything is fresh, nothing is fetched
	two.refreshDue(ctx)
	if a2.hits() != 0 {
		t.Fatal("refreshDue fetched fresh prices")
	}
	// an older write loses
	r, _ := two.Price(ctx, "BTC", "USD")
	if err := two.store(ctx, btcUSD, Rate{"1", "kraken", r.At.Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := two.Cached(ctx, "BTC", "USD"); got != r {
		t.Fatalf("older write replaced %+v with %+v", r, got)
	}
}

// TestRun: the loop fetches every pair, again once they are refresh old,
// and keeps the age gauge.
func TestRun(t *testing.T) {
	rdb, prefix := cache(t)
	a := newAPI(t, fixed(200, coinGeckoBody))
	m := NewMetrics(prometheus.NewRegistry())
	s, err := New(Options{Redis: rdb, KeyPrefix: prefix, Sources: []Source{source(t, CoinGecko, a.URL)}, Metrics: m, Assets: testAssets,
		Refresh: 200 * time.Millisecond, MaxAge: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if testutil.CollectAndCount(m.Age) != 0 {
		t.Fatal("age before Run")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for a.hits() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d fetches", a.hits())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(m.Fetches.WithLabelValues("coingecko", ResultOK)); n < 30 { // 10 pairs (USDC once) a fetch
		t.Fatalf("fetched %v pairs", n)
	}
	for _, id := range []string{"USDT", "USDC"} {
		if age := testutil.ToFloat64(m.Age.WithLabelValues(id, "EUR")); age < 0 || age > 5 {
			t.Fatalf("age of %s %v", id, age)
		}
	}
	// nothing cached: +Inf
	rdb.Del(context.Background(), s.key(usdtEUR))
	s.observeAges(context.Background())
	if age := testutil.ToFloat64(m.Age.WithLabelValues("USDT", "EUR")); !math.IsInf(age, 1) {
		t.Fatalf("age of nothing %v", age)
	}
	// the metrics of a second service in the same registry are shared
	if NewMetrics(prometheusRegistryOf(m)).Fetches != m.Fetches {
		t.Fatal("not shared")
	}
}

func prometheusRegistryOf(m *Metrics) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.Fetches, m.Age)
	return reg
}

func TestRateLimited(t *testing.T) {
	rdb, prefix := cache(t)
	gecko, kr := newAPI(t, fixed(429, `{"status":{"error_code":429,"error_message":"You've exceeded the Rate Limit."}}`)), newAPI(t, fixed(200, krakenBody))
	m := NewMetrics(prometheus.NewRegistry())
	s := newService(t, rdb, prefix, m, source(t, CoinGecko, gecko.URL), source(t, Kraken, kr.URL))
	ctx := context.Background()
	if r, err := s.Price(ctx, "BTC", "USD"); err != nil || r.Source != "kraken" {
		t.Fatalf("%+v %v", r, err)
	}
	// Retry-After: 30: CoinGecko is left alone meanwhile
	if r, err := s.Price(ctx, "LTC", "USD"); err != nil || r.Source != "kraken" {
		t.Fatalf("%+v %v", r, err)
	}
	if gecko.hits() != 1 || testutil.ToFloat64(m.Fetches.WithLabelValues("coingecko", ResultRateLimited)) != 1 {
		t.Fatalf("rate-limited source asked %d times", gecko.hits())
	}
}

func TestConvertUnits(t *testing.T) {
	for _, tc := range []struct {
		units    string
		decimals int
		price    string
		want     string
	}{
		{"12345678", 8, "43250.12", "5339.52"}, // 0.12345678 BTC × 43250.12 = 5339.5205498136
		{"25500000", 6, "0.9998", "25.49"},     // 25.5 USDT × 0.9998 = 25.4949
		{"5000", 6, "1", "0.01"},               // 0.005: half up
		{"4999", 6, "1", "0.00"},               // 0.004999
		{"15000", 6, "1", "0.02"},              // 0.015
		{"10000", 8, "72.35", "0.01"},          // 0.0001 LTC × 72.35 = 0.007235
		{"1", 18, "2315.8", "0.00"},            // one wei
		{"1000000000000000000000000", 18, "2315.8", "2315800000.00"},
		{"0", 8, "43250.12", "0.00"},
		{"2100000000000000", 8, "43250.123456789012345678", "908252592592.57"}, // 21M BTC
		{"1234567891", 6, "0.9997", "1234.20"},                                 // 1234.567891 USDC × 0.9997 = 1234.1975206327
		{"1", 0, "2.5", "2.50"},
	} {
		units, _ := new(big.Int).SetString(tc.units, 10)
		got, err := ConvertUnits(units, tc.decimals, tc.price)
		if err != nil || got != tc.want {
			t.Errorf("%s units (%d decimals) @ %s: %q %v, want %s", tc.units, tc.decimals, tc.price, got, err, tc.want)
		}
	}
	if _, err := ConvertUnits(big.NewInt(1), -1, "1"); err == nil {
		t.Error("negative decimals accepted")
	}
	if _, err := ConvertUnits(big.NewInt(-1), 8, "1"); err == nil {
		t.Error("negative amount converted")
	}
	if _, err := ConvertUnits(nil, 8, "1"); err == nil {
		t.Error("nil amount converted")
	}
}

func TestConvertAndMinimum(t *testing.T) {
	rdb, prefix := cache(t)
	a := newAPI(t, fixed(200, coinGeckoBody))
	s := newService(t, rdb, prefix, nil, source(t, CoinGecko, a.URL))
	ctx := context.Background()
	// without a ledger: the current price
	price, conv, err := s.Convert(ctx, 0, "BTC", "USD", big.NewInt(12345678))
	if err != nil || price != "43250.12" || conv != "5339.52" {
		t.Fatalf("%s %s %v", price, conv, err)
	}
	price, conv, err = s.Convert(ctx, 0, "USDT", "EUR", big.NewInt(25500000))
	if err != nil || price != "0.9201" || conv != "23.46" { // 23.46255
		t.Fatalf("%s %s %v", price, conv, err)
	}

	for _, tc := range []struct {
		currency, units, min string
		want                 bool
	}{
		{"LTC", "10000", MinimumUSD, false},     // 0.0001 LTC = 0.007235 USD
		{"LTC", "2000000", MinimumUSD, true},    // 0.02 LTC = 1.447 USD
		{"USDT", "1000200", MinimumUSD, false},  // 1.0002 × 0.9998 = 0.99999996: not rounded up to 1
		{"USDT", "1000300", MinimumUSD, true},   // 1.00009994
		{"BTC", "2313", MinimumUSD, true},       // 1.00037...
		{"BTC", "2312", MinimumUSD, false},      // 0.99994...
		{"ETH", "1", "0", true},                 // no minimum
		{"USDT", "1000200", "0.99999996", true}, // exactly
	} {
		units, _ := new(big.Int).SetString(tc.units, 10)
		ok, r, err := s.MeetsMinimum(ctx, tc.currency, units, tc.min)
		if err != nil || ok != tc.want || r.Source != "coingecko" {
			t.Errorf("%s %s ≥ %s USD: %v %+v %v", tc.units, tc.currency, tc.min, ok, r, err)
		}
	}
	if _, _, err := s.MeetsMinimum(ctx, "LTC", big.NewInt(1), "one"); err == nil {
		t.Error("minimum 'one' accepted")
	}
	// no fresh rate: no answer (forwarding waits)
	s2 := newService(t, rdb, prefix+"other:", nil, source(t, CoinGecko, down(t).URL))
	if ok, _, err := s2.MeetsMinimum(ctx, "LTC", big.NewInt(2000000), MinimumUSD); !errors.Is(err, ErrNoRate) || ok {
		t.Fatalf("%v %v", ok, err)
	}
	if _, _, err := s2.Convert(ctx, 0, "LTC", "USD", big.NewInt(1)); !errors.Is(err, ErrNoRate) {
		t.Fatalf("%v", err)
	}
}

func TestNoSources(t *testing.T) {
	rdb, prefix := cache(t)
	s := newService(t, rdb, prefix, nil)
	if _, err := s.Price(context.Background(), "BTC", "USD"); !errors.Is(err, ErrNoRate) || !strings.Contains(err.Error(), "no sources configured") {
		t.Fatalf("%v", err)
	}
	if _, err := New(Options{Assets: testAssets}); err == nil {
		t.Fatal("no Redis accepted")
	}
}

// TestConcurrentPrice: callers at once share one fetch.
func TestConcurrentPrice(t *testing.T) {
	rdb, prefix := cache(t)
	a := newAPI(t, func(*http.Request) (int, string) { time.Sleep(50 * time.Millisecond); return 200, coinGeckoBody })
	s := newService(t, rdb, prefix, nil, source(t, CoinGecko, a.URL))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := s.Price(context.Background(), "BTC", "USD"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if a.hits() != 1 {
		t.Fatalf("%d fetches", a.hits())
	}
}

// TestRedisDown: without the cache a process still prices from the
// sources, and reuses its own fetch while it is fresh.
func TestRedisDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer rdb.Close()
	a := newAPI(t, fixed(200, coinGeckoBody))
	s := newService(t, rdb, "x:", nil, source(t, CoinGecko, a.URL))
	for range 3 {
		if r, err := s.Price(context.Background(), "LTC", "EUR"); err != nil || r.Price != "66.58" {
			t.Fatalf("%+v %v", r, err)
		}
	}
	if a.hits() != 1 {
		t.Fatalf("%d fetches", a.hits())
	}
}

// TestUSDC: USDC is priced by each source under its own ids, and a USDC
// amount (6 decimals) converts exactly; a second code of the same rate id
// (USDC on another chain) shares the price and the cache.
func TestUSDC(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		source string
		api    func(*http.Request) (int, string)
	}{
		{CoinGecko, fixed(200, coinGeckoBody)},
		{Kraken, fixed(200, krakenBody)},
		{Coinbase, func(r *http.Request) (int, string) {
			switch r.URL.Path {
			case "/v2/prices/USDC-USD/spot":
				return 200, `{"data":{"amount":"0.9997","base":"USDC","currency":"USD"}}`
			case "/v2/prices/USDC-EUR/spot":
				return 200, `{"data":{"amount":"0.9198","base":"USDC","currency":"EUR"}}`
			}
			return 404, `{"errors":[{"id":"not_found","message":"Invalid currency"}]}`
		}},
	} {
		t.Run(tc.source, func(t *testing.T) {
			rdb, prefix := cache(t)
			a := newAPI(t, tc.api)
			s := newService(t, rdb, prefix, nil, source(t, tc.source, a.URL))
			r, err := s.Price(ctx, "USDC", "USD")
			if err != nil || r.Price != "0.9997" || r.Source != tc.source {
				t.Fatalf("%+v %v", r, err)
			}
			// 1234.567891 USDC × 0.9198 = 1135.5555461418
			price, conv, err := s.Convert(ctx, 0, "USDC", "EUR", big.NewInt(1234567891))
			if err != nil || price != "0.9198" || conv != "1135.56" {
				t.Fatalf("%s %s %v", price, conv, err)
			}
			hits := a.hits()
			// the same rate id: cached, not asked again; converted with its own decimals
			price, conv, err = s.Convert(ctx, 0, "USDC_POLYGON", "USD", big.NewInt(1234567891))
			if err != nil || price != "0.9997" || conv != "1234.20" || a.hits() != hits {
				t.Fatalf("%s %s %v, %d requests", price, conv, err, a.hits()-hits)
			}
			// 1.0003 × 0.9997 = 0.99999991: under 1 USD, not rounded up; 1.0004 is over
			for units, want := range map[int64]bool{1000300: false, 1000400: true} {
				if ok, _, err := s.MeetsMinimum(ctx, "USDC", big.NewInt(units), MinimumUSD); err != nil || ok != want {
					t.Errorf("%d USDC units: %v %v", units, ok, err)
				}
			}
			if r, ok, err := s.Cached(ctx, "USDC_POLYGON", "EUR"); err != nil || !ok || r.Price != "0.9198" {
				t.Fatalf("cached %+v %v %v", r, ok, err)
			}
		})
	}
}

// TestPricedCurrencies: the service prices the currencies it is given, each
// by its rate id through the sources that know it; what none knows is named
// at once, not waited for.
func TestPricedCurrencies(t *testing.T) {
	rdb, prefix := cache(t)
	kr := newAPI(t, fixed(200, krakenBody))
	s, err := New(Options{Redis: rdb, KeyPrefix: prefix, Sources: []Source{source(t, Kraken, kr.URL)},
		Assets: []Asset{{"BTC", "BTC", 8}, {"DOGE", "DOGE", 8}, {"USDC", "USDC", 6}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(s.Pairs()); got != "[BTC/USD BTC/EUR USDC/USD USDC/EUR]" {
		t.Fatalf("pairs %s", got)
	}
	if got := s.Unpriced(); len(got) != 1 || got[0] != "DOGE" {
		t.Fatalf("unpriced %v", got)
	}
	ctx := context.Background()
	if err := s.Refresh(ctx); err == nil || !strings.Contains(err.Error(), "BTC/EUR") || strings.Contains(err.Error(), "DOGE") {
		t.Fatalf("refresh: %v", err) // krakenBody has no XXBTZEUR
	}
	if u := kr.last(); u.Query().Get("pair") != "XBTUSD,XBTEUR,USDCUSD,USDCEUR" {
		t.Fatalf("asked %s", u)
	}
	n := kr.hits()
	_, err = s.Price(ctx, "DOGE", "USD")
	if err == nil || errors.Is(err, ErrNoRate) || !strings.Contains(err.Error(), "DOGE (rate id DOGE) in USD: none of the sources in rates.sources (kraken) prices it") || kr.hits() != n {
		t.Fatalf("DOGE: %v", err)
	}
	if _, err := s.Price(ctx, "LTC", "USD"); err == nil || !strings.Contains(err.Error(), `"LTC" is not one sluice prices here (configured: BTC, DOGE, USDC)`) {
		t.Fatalf("LTC: %v", err)
	}
	if _, err := s.Price(ctx, "BTC", "GBP"); err == nil || errors.Is(err, ErrNoRate) || !strings.Contains(err.Error(), "USD, EUR") {
		t.Fatalf("GBP: %v", err)
	}
	if r, err := s.Price(ctx, "USDC", "EUR"); err != nil || r.Price != "0.9198" || r.Source != Kraken {
		t.Fatalf("USDC: %+v %v", r, err)
	}

	for _, tc := range []struct {
		assets []Asset
		want   string
	}{
		{nil, "no currencies to price"},
		{[]Asset{{"BTC", "BTC", 8}, {"BTC", "BTC", 8}}, "BTC is listed twice"},
		{[]Asset{{"BTC", "", 8}}, "BTC has no rate id"},
		{[]Asset{{"", "BTC", 8}}, "without a code"},
		{[]Asset{{"BTC", "BTC", -1}}, "-1 decimals"},
	} {
		if _, err := New(Options{Redis: rdb, Assets: tc.assets}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.assets, err, tc.want)
		}
	}
}

// TestAssetsOfRegistry: the chain registry's currencies, USDC among them,
// are what the service prices.
func TestAssetsOfRegistry(t *testing.T) {
	reg, err := chain.New(&config.Config{Chains: config.Chains{
		BTC: &config.Bitcoin{Network: "regtest"},
		ETH: &config.Ethereum{Network: "dev", Tokens: []config.Token{{Symbol: "USDC", Address: "0xabc", Decimals: 6}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := AssetsOf(reg.Currencies())
	want := []Asset{{"BTC", "BTC", 8}, {"ETH", "ETH", 18}, {"USDC", "USDC", 6}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("assets %v, want %v", got, want)
	}
	for _, a := range got {
		for _, f := range Fiats {
			for _, name := range SourceNames {
				if src, _ := NewSource(name, "", nil); !src.Knows(Pair{a.RateID, f}) {
					t.Errorf("%s does not price %s in %s", name, a.Code, f)
				}
			}
		}
	}
}

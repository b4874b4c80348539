package devnet

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluicepay/sluice/payments/rates"
)

// TestPrices: the local price server answers in CoinGecko's format, which
// sluice's CoinGecko source reads.
func TestPrices(t *testing.T) {
	p := NewPrices()
	if err := p.Set("ltc", "eur", "60.50"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()

	src, err := rates.NewSource(rates.CoinGecko, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	var pairs []rates.Pair
	for id := range rates.CoinGeckoIDs {
		for _, f := range rates.Fiats {
			pairs = append(pairs, rates.Pair{RateID: id, Fiat: f})
		}
	}
	if len(pairs) != 10 {
		t.Fatalf("pairs %v", pairs)
	}
	got, err := src.Prices(context.Background(), pairs)
	if err != nil {
		t.Fatal(err)
	}
	for _, pair := range pairs {
		want := DefaultPrices[pair.RateID][pair.Fiat]
		if pair == (rates.Pair{RateID: "LTC", Fiat: "EUR"}) {
			want = "60.5"
		}
		if want == "" || got[pair] != want {
			t.Errorf("%s: %q, want %q", pair, got[pair], want)
		}
	}
	// USDC: about 1 USD and 0.92 EUR, and not USDT's price
	usdcUSD, usdcEUR := rates.Pair{RateID: "USDC", Fiat: "USD"}, rates.Pair{RateID: "USDC", Fiat: "EUR"}
	if got[usdcUSD] != "1.0001" || got[usdcEUR] != "0.9204" {
		t.Errorf("USDC %s %s", got[usdcUSD], got[usdcEUR])
	}

	resp, err := http.Get(srv.URL + "/api/v3/simple/price?ids=bitcoin,dogecoin&vs_currencies=usd,gbp")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	// like CoinGecko: what it does not know is left out
	if strings.TrimSpace(string(body)) != `{"bitcoin":{"usd":43250.12}}` || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("answer %s", body)
	}
	for _, bad := range [][3]string{{"DOGE", "USD", "1"}, {"BTC", "GBP", "1"}, {"BTC", "USD", "0"}, {"BTC", "USD", "x"}} {
		if err := p.Set(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if err := p.Set("DOGE", "USD", "1"); err == nil || !strings.Contains(err.Error(), "one of BTC, ETH, LTC, USDC, USDT") {
		t.Errorf("DOGE: %v", err)
	}
	if err := p.Set("usdc", "eur", "0.93"); err != nil {
		t.Fatal(err)
	}
	if got, err := src.Prices(context.Background(), []rates.Pair{usdcEUR}); err != nil || got[usdcEUR] != "0.93" {
		t.Errorf("USDC set: %v %v", got, err)
	}
}

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
	got, err := src.Prices(context.Background(), rates.AllPairs())
	if err != nil {
		t.Fatal(err)
	}
	for _, pair := range rates.AllPairs() {
		want := DefaultPrices[pair.Currency][pair.Fiat]
		if pair == (rates.Pair{Currency: "LTC", Fiat: "EUR"}) {
			want = "60.5"
		}
		if got[pair] != want {
			t.Errorf("%s: %q, want %q", pair, got[pair], want)
		}
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
}

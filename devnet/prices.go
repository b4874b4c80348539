package devnet

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/shopspring/decimal"

	"github.com/sluicepay/sluice/payments/rates"
)

// DefaultPrices are the fixed prices the local stack's price server
// (`sluice devnet prices`) answers with, per rate id (a currency's RateID in
// the chain registry) and fiat currency: the local stack has no internet,
// so webhook conversions and the litepay 1 USD minimum are computed against
// these. A payment of 0.0001 LTC (0.007235 USD) is under the minimum; 0.02
// LTC (1.447 USD) is over it. USDC's price differs from USDT's, so a
// conversion shows which one it used.
var DefaultPrices = map[string]map[string]string{
	"BTC":  {"USD": "43250.12", "EUR": "39800.55"},
	"LTC":  {"USD": "72.35", "EUR": "66.58"},
	"ETH":  {"USD": "2315.8", "EUR": "2131.1"},
	"USDT": {"USD": "0.9998", "EUR": "0.9201"},
	"USDC": {"USD": "1.0001", "EUR": "0.9204"},
}

// Prices is a price server in CoinGecko's format for the local stack:
//
//	GET /api/v3/simple/price?ids=bitcoin,tether,usd-coin&vs_currencies=usd,eur
//	{"bitcoin":{"eur":39800.55,"usd":43250.12},"tether":{"eur":0.9201,"usd":0.9998},"usd-coin":{"eur":0.9204,"usd":1.0001}}
//
// answering with the prices it holds (DefaultPrices unless set), as JSON
// numbers printed exactly. Like CoinGecko it leaves out ids and currencies
// it does not know. Point rates.sources at it as a coingecko source.
type Prices struct {
	mu     sync.RWMutex
	prices map[string]map[string]string
}

// NewPrices serves DefaultPrices.
func NewPrices() *Prices {
	p := &Prices{prices: map[string]map[string]string{}}
	for c, fs := range DefaultPrices {
		for f, v := range fs {
			_ = p.Set(c, f, v)
		}
	}
	return p
}

// Set changes the price of a rate id (BTC, LTC, ETH, USDT, USDC: those with
// a CoinGecko id) in fiat (USD, EUR).
func (p *Prices) Set(currency, fiat, price string) error {
	currency, fiat = strings.ToUpper(currency), strings.ToUpper(fiat)
	if rates.CoinGeckoIDs[currency] == "" || (fiat != "USD" && fiat != "EUR") {
		known := slices.Sorted(maps.Keys(rates.CoinGeckoIDs))
		return fmt.Errorf("price of %s in %s: the currency is one of %s and the fiat USD or EUR", currency, fiat, strings.Join(known, ", "))
	}
	d, err := decimal.NewFromString(price)
	if err != nil || d.Sign() <= 0 {
		return fmt.Errorf("price of %s in %s: %q is not a positive decimal", currency, fiat, price)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.prices[currency] == nil {
		p.prices[currency] = map[string]string{}
	}
	p.prices[currency][fiat] = d.String()
	return nil
}

// ServeHTTP implements http.Handler.
func (p *Prices) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if r.URL.Path != "/api/v3/simple/price" {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"Incorrect path. Please check https://www.coingecko.com/api/"}`))
		return
	}
	q := r.URL.Query()
	ids, vs := priceParams(q.Get("ids")), priceParams(q.Get("vs_currencies"))
	if len(ids) == 0 || len(vs) == 0 {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"Missing parameter ids or vs_currencies"}`))
		return
	}
	out := map[string]map[string]json.Number{}
	p.mu.RLock()
	for cur, id := range rates.CoinGeckoIDs {
		if !slices.Contains(ids, id) {
			continue
		}
		for fiat, price := range p.prices[cur] {
			if f := strings.ToLower(fiat); slices.Contains(vs, f) {
				if out[id] == nil {
					out[id] = map[string]json.Number{}
				}
				out[id][f] = json.Number(price)
			}
		}
	}
	p.mu.RUnlock()
	_ = json.NewEncoder(w).Encode(out)
}

func priceParams(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.ToLower(strings.TrimSpace(x)); x != "" {
			out = append(out, x)
		}
	}
	return out
}

package rates

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Source is one public price API.
type Source interface {
	// Name says which API it is (coingecko, kraken, coinbase): the source
	// recorded with each price and the source label of the metrics.
	Name() string
	// Knows says whether the source can price p: the pairs it does not
	// know are never asked of it.
	Knows(p Pair) bool
	// Prices asks for pairs and returns the prices it got, each an exact
	// canonical decimal; a pair it could not price is absent. The error
	// says what went wrong; a source asked one pair at a time may return
	// some prices and an error for the others.
	Prices(ctx context.Context, pairs []Pair) (map[Pair]string, error)
}

// The sources sluice knows, by their name in rates.sources.
const (
	CoinGecko = "coingecko"
	Kraken    = "kraken"
	Coinbase  = "coinbase"
)

// SourceNames lists the known sources in the default fallback order.
var SourceNames = []string{CoinGecko, Kraken, Coinbase}

// DefaultURLs are the public base URLs of the sources.
var DefaultURLs = map[string]string{
	CoinGecko: "https://api.coingecko.com",
	Kraken:    "https://api.kraken.com",
	Coinbase:  "https://api.coinbase.com",
}

// NewSource makes the source called name at baseURL (its DefaultURLs entry
// when empty). The base URL may carry a path prefix and query parameters (an
// API key, say), kept in every request. client nil means a client with a
// 10 s timeout.
func NewSource(name, baseURL string, client *http.Client) (Source, error) {
	if _, ok := DefaultURLs[name]; !ok {
		return nil, fmt.Errorf("rates: unknown source %q (one of: %s)", name, strings.Join(SourceNames, ", "))
	}
	if baseURL == "" {
		baseURL = DefaultURLs[name]
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("rates: source %s: base URL %q is not an http(s) URL", name, baseURL)
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	h := httpSource{name: name, base: u, client: client}
	switch name {
	case CoinGecko:
		return &coinGecko{h}, nil
	case Kraken:
		return &kraken{h}, nil
	default:
		return &coinbase{h}, nil
	}
}

// HTTPError is a source answering with a status other than 200.
type HTTPError struct {
	Source     string
	Status     int
	RetryAfter time.Duration // from a 429's Retry-After header, when given in seconds
	Msg        string        // the API's own error message, or the start of the body
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("%s: HTTP %d", e.Source, e.Status)
	if e.Status == http.StatusTooManyRequests {
		s += " (rate limited)"
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// httpSource is what every source shares: its base URL and the client.
type httpSource struct {
	name   string
	base   *url.URL
	client *http.Client
}

func (h httpSource) Name() string { return h.name }

// maxBody bounds what is read of a response.
const maxBody = 1 << 20

// get fetches p (below the base URL) with query q and decodes the JSON
// answer into out, numbers kept as json.Number.
func (h httpSource) get(ctx context.Context, p string, q url.Values, out any) error {
	u := *h.base
	u.Path = path.Join("/", u.Path, p)
	u.RawPath = ""
	bq := u.Query()
	for k, vs := range q {
		bq[k] = vs
	}
	u.RawQuery = bq.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("%s: %w", h.name, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "sluice-rates/1")
	resp, err := h.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may carry an API key
		}
		return fmt.Errorf("%s: %w", h.name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("%s: reading the answer: %w", h.name, err)
	}
	if resp.StatusCode != http.StatusOK {
		e := &HTTPError{Source: h.name, Status: resp.StatusCode, Msg: apiMessage(body)}
		if secs, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && secs > 0 {
			e.RetryAfter = time.Duration(secs) * time.Second
		}
		return e
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%s: the answer is not the expected JSON (%v): %s", h.name, err, excerpt(body))
	}
	return nil
}

// apiMessage finds the error message in an error body of any of the three
// APIs, or quotes the start of the body.
func apiMessage(body []byte) string {
	var e struct {
		Error  json.RawMessage `json:"error"` // CoinGecko {"error": "..."}, Kraken {"error": ["..."]}
		Errors []struct {      // Coinbase {"errors": [{"id": "not_found", "message": "Invalid currency"}]}
			ID, Message string
		} `json:"errors"`
		Status struct { // CoinGecko {"status": {"error_code": 429, "error_message": "..."}}
			ErrorMessage string `json:"error_message"`
		} `json:"status"`
	}
	if json.Unmarshal(body, &e) == nil {
		var msgs []string
		var s string
		var ss []string
		switch {
		case json.Unmarshal(e.Error, &s) == nil && s != "":
			msgs = append(msgs, s)
		case json.Unmarshal(e.Error, &ss) == nil:
			msgs = append(msgs, ss...)
		}
		for _, x := range e.Errors {
			msgs = append(msgs, strings.TrimPrefix(x.ID+": "+x.Message, ": "))
		}
		if e.Status.ErrorMessage != "" {
			msgs = append(msgs, e.Status.ErrorMessage)
		}
		if len(msgs) > 0 {
			return clip(strings.Join(msgs, "; "))
		}
	}
	return excerpt(body)
}

func excerpt(body []byte) string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(body), "?"))
	if s == "" {
		return "(empty body)"
	}
	return strconv.Quote(clip(s))
}

func clip(s string) string {
	if len(s) <= 200 {
		return s
	}
	s = s[:200]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// jsonPrice reads a price given as a JSON number (CoinGecko); null is no price.
func jsonPrice(raw json.RawMessage) (string, bool, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return "", false, nil
	}
	if s[0] == '"' || s[0] == '{' || s[0] == '[' || s == "true" || s == "false" {
		return "", false, fmt.Errorf("price %s is not a JSON number", clip(s))
	}
	p, err := parsePrice(s)
	return p, err == nil, err
}

// --- CoinGecko: GET /api/v3/simple/price?ids=bitcoin,tether,usd-coin&vs_currencies=usd,eur
//   {"bitcoin":{"usd":43250.12,"eur":39800.55},"tether":{"usd":0.9998,"eur":0.9201},"usd-coin":{...}}
// Prices are JSON numbers (read exactly, never as floats); an id or fiat it
// does not know is left out of the answer.

type coinGecko struct{ httpSource }

// CoinGeckoIDs are CoinGecko's API ids, by rate id.
var CoinGeckoIDs = map[string]string{"BTC": "bitcoin", "LTC": "litecoin", "ETH": "ethereum", "USDT": "tether", "USDC": "usd-coin"}

func (s *coinGecko) Knows(p Pair) bool {
	return CoinGeckoIDs[p.RateID] != "" && slices.Contains(Fiats, p.Fiat)
}

func (s *coinGecko) Prices(ctx context.Context, pairs []Pair) (map[Pair]string, error) {
	var ids, vs []string
	for _, p := range pairs {
		if !s.Knows(p) {
			continue
		}
		if id := CoinGeckoIDs[p.RateID]; !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
		if f := strings.ToLower(p.Fiat); !slices.Contains(vs, f) {
			vs = append(vs, f)
		}
	}
	if len(ids) == 0 {
		return map[Pair]string{}, nil
	}
	var body map[string]map[string]json.RawMessage
	err := s.get(ctx, "/api/v3/simple/price", url.Values{"ids": {strings.Join(ids, ",")},
		"vs_currencies": {strings.Join(vs, ",")}, "precision": {"full"}}, &body)
	if err != nil {
		return nil, err
	}
	out := map[Pair]string{}
	var errs []error
	for _, p := range pairs {
		if !s.Knows(p) {
			continue
		}
		raw, ok := body[CoinGeckoIDs[p.RateID]][strings.ToLower(p.Fiat)]
		if !ok {
			continue
		}
		price, ok, err := jsonPrice(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", s.name, p, err))
		} else if ok {
			out[p] = price
		}
	}
	return out, joinErrors(errs...)
}

// --- Kraken: GET /0/public/Ticker?pair=XBTUSD,ETHEUR
//   {"error":[],"result":{"XXBTZUSD":{"a":[...],"b":[...],"c":["43250.10000","0.0015"],...},"XETHZEUR":{...}}}
// The price is the last trade, c[0], a decimal string. The result is keyed
// by Kraken's own pair names (XXBTZUSD for XBTUSD). Errors come as HTTP 200
// with {"error":["EQuery:Unknown asset pair"]}; one unknown pair fails the
// whole request.

type kraken struct{ httpSource }

// KrakenPairs are, per pair, the name Kraken is asked for and the key its
// answer uses (its AssetPairs: the key, and the altname asked for).
var KrakenPairs = map[Pair][2]string{
	{"BTC", "USD"}: {"XBTUSD", "XXBTZUSD"}, {"BTC", "EUR"}: {"XBTEUR", "XXBTZEUR"},
	{"LTC", "USD"}: {"LTCUSD", "XLTCZUSD"}, {"LTC", "EUR"}: {"LTCEUR", "XLTCZEUR"},
	{"ETH", "USD"}: {"ETHUSD", "XETHZUSD"}, {"ETH", "EUR"}: {"ETHEUR", "XETHZEUR"},
	{"USDT", "USD"}: {"USDTUSD", "USDTZUSD"}, {"USDT", "EUR"}: {"USDTEUR", "USDTEUR"},
	{"USDC", "USD"}: {"USDCUSD", "USDCUSD"}, {"USDC", "EUR"}: {"USDCEUR", "USDCEUR"},
}

func (s *kraken) Knows(p Pair) bool { _, ok := KrakenPairs[p]; return ok }

func (s *kraken) Prices(ctx context.Context, pairs []Pair) (map[Pair]string, error) {
	var names []string
	for _, p := range pairs {
		if n, ok := KrakenPairs[p]; ok {
			names = append(names, n[0])
		}
	}
	var body struct {
		Error  []string `json:"error"`
		Result map[string]struct {
			C []json.RawMessage `json:"c"`
		} `json:"result"`
	}
	if len(names) == 0 {
		return map[Pair]string{}, nil
	}
	if err := s.get(ctx, "/0/public/Ticker", url.Values{"pair": {strings.Join(names, ",")}}, &body); err != nil {
		return nil, err
	}
	var kerrs []string
	for _, e := range body.Error {
		if !strings.HasPrefix(e, "W") { // W… are warnings
			kerrs = append(kerrs, e)
		}
	}
	if len(kerrs) > 0 {
		return nil, fmt.Errorf("%s: %s", s.name, clip(strings.Join(kerrs, "; ")))
	}
	out := map[Pair]string{}
	var errs []error
	for _, p := range pairs {
		n, ok := KrakenPairs[p]
		if !ok {
			continue
		}
		t, ok := body.Result[n[1]]
		if !ok {
			if t, ok = body.Result[n[0]]; !ok {
				continue
			}
		}
		if len(t.C) == 0 {
			errs = append(errs, fmt.Errorf("%s: %s: no last trade price (c) in the ticker", s.name, p))
			continue
		}
		var str string
		if err := json.Unmarshal(t.C[0], &str); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: last trade price %s is not a decimal string", s.name, p, clip(string(t.C[0]))))
			continue
		}
		price, err := parsePrice(str)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", s.name, p, err))
			continue
		}
		out[p] = price
	}
	return out, joinErrors(errs...)
}

// --- Coinbase: GET /v2/prices/BTC-USD/spot, one pair per request
//   {"data":{"amount":"43250.12","base":"BTC","currency":"USD"}}
// Errors: {"errors":[{"id":"not_found","message":"Invalid currency"}]} with
// HTTP 404 (or 400).

type coinbase struct{ httpSource }

// CoinbaseIDs are Coinbase's currency codes, by rate id: the base of its
// pairs (USDC-USD, USDC-EUR).
var CoinbaseIDs = map[string]string{"BTC": "BTC", "LTC": "LTC", "ETH": "ETH", "USDT": "USDT", "USDC": "USDC"}

func (s *coinbase) Knows(p Pair) bool {
	return CoinbaseIDs[p.RateID] != "" && slices.Contains(Fiats, p.Fiat)
}

func (s *coinbase) Prices(ctx context.Context, pairs []Pair) (map[Pair]string, error) {
	out := map[Pair]string{}
	var errs []error
	for _, p := range pairs {
		if !s.Knows(p) {
			continue
		}
		base := CoinbaseIDs[p.RateID]
		var body struct {
			Data struct {
				Amount   json.RawMessage `json:"amount"`
				Base     string          `json:"base"`
				Currency string          `json:"currency"`
			} `json:"data"`
		}
		if err := s.get(ctx, "/v2/prices/"+base+"-"+p.Fiat+"/spot", nil, &body); err != nil {
			var he *HTTPError
			if errors.As(err, &he) && he.Status == http.StatusTooManyRequests {
				return out, joinErrors(append(errs, err)...) // asking for the rest would not help
			}
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		d := body.Data
		if (d.Base != "" && d.Base != base) || (d.Currency != "" && d.Currency != p.Fiat) {
			errs = append(errs, fmt.Errorf("%s: asked for %s, got %s-%s", s.name, p, d.Base, d.Currency))
			continue
		}
		var str string
		if err := json.Unmarshal(d.Amount, &str); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: amount %s is not a decimal string", s.name, p, clip(string(d.Amount))))
			continue
		}
		price, err := parsePrice(str)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", s.name, p, err))
			continue
		}
		out[p] = price
	}
	return out, joinErrors(errs...)
}

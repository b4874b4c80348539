package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluicepay/sluice/amount"
	"github.com/sluicepay/sluice/chain"
)

// Payload is the iqpay-flavour webhook: the seed's fields first, exactly as
// named there, then sluice's own. Amounts are JSON numbers printed exactly
// from base units (1124 satoshi is 0.00001124), never through a float.
type Payload struct {
	Address         string      `json:"address"`
	WalletExtID     string      `json:"wallet_ext_id"`
	FromAddress     string      `json:"fromAddress"`
	TxID            string      `json:"txid"`
	Amount          json.Number `json:"amount"`
	Currency        string      `json:"currency"`
	Status          int         `json:"status"` // 0 seen, 1 confirmed, 2 failed
	ConvertCurrency string      `json:"convert_currency"`
	ConvertPrice    json.Number `json:"convert_price"`
	ConvertedAmount json.Number `json:"converted_amount"`

	EventID               int64  `json:"event_id"`               // also the X-Sluice-Event-Id header; de-duplicate on it
	DepositID             int64  `json:"deposit_id"`             // one deposit, many events
	Kind                  string `json:"kind"`                   // created, confirmations, confirmed, unconfirmed, failed
	Confirmations         int    `json:"confirmations"`          // at the event
	ConfirmationsRequired int    `json:"confirmations_required"` // for status 1
	Position              string `json:"position"`               // vout:N, log:N, tx, trace:…: two payments in one transaction differ here
	AmountBaseUnits       string `json:"amount_base_units"`      // the amount in base units, as an integer string
	CreatedAt             int64  `json:"created_at"`             // when the event happened, unix seconds
}

// Converter prices a deposit in the merchant's fiat currency for the iqpay
// fields convert_price and converted_amount, as exact decimal strings
// (payments/rates.Service is one: it fixes the rate in the deposit's row the
// first time, so every webhook of a deposit carries the same conversion).
// Without a Converter in Deps, or when it fails (no fresh rate), both
// fields are 0, as the seed shows for merchants without conversion.
type Converter interface {
	Convert(ctx context.Context, depositID int64, currency, fiat string, units *big.Int) (price, converted string, err error)
}

// event is what one delivery says, read from the ledger at send time.
type event struct {
	ID, DepositID         int64
	Kind                  string
	Status, Confirmations int
	At                    time.Time
	Address, ExtID, From  string
	TxID, Position        string
	Currency, Chain       string
	Units                 string // base units, decimal integer text
	DepositStatus         int
	BlockHeight, Tip      *int64
	DepositConfirmations  int
	Secret                signingSecrets // opened at load
	Convert               string
	Required              int
	Destination           string // litepay receive address: where the payment is forwarded
	Donation              bool   // litepay: under the minimum, never forwarded
	SweepState            string // the state of the sweep (litepay: the forward) that spends it, "" if none
}

// payload builds the iqpay body of ev.
func payload(ev event, chains *chain.Registry, price, converted string) (Payload, error) {
	dec, ok := chains.DecimalsOf(ev.Currency)
	if !ok {
		return Payload{}, fmt.Errorf("webhook: currency %q has no known decimals", ev.Currency)
	}
	amt, err := amount.FormatString(ev.Units, dec)
	if err != nil {
		return Payload{}, fmt.Errorf("webhook: deposit %d: %w", ev.DepositID, err)
	}
	if price == "" {
		price = "0"
	}
	if converted == "" {
		converted = "0"
	}
	return Payload{
		Address: ev.Address, WalletExtID: ev.ExtID, FromAddress: ev.From, TxID: ev.TxID,
		Amount: json.Number(amt), Currency: ev.Currency, Status: ev.Status,
		ConvertCurrency: ev.Convert, ConvertPrice: json.Number(price), ConvertedAmount: json.Number(converted),
		EventID: ev.ID, DepositID: ev.DepositID, Kind: ev.Kind, Confirmations: ev.Confirmations,
		ConfirmationsRequired: ev.Required, Position: ev.Position, AmountBaseUnits: ev.Units, CreatedAt: ev.At.Unix(),
	}, nil
}

// request is one HTTP request ready to send: Signed is what the signature
// covers (the body, or the raw query string when there is no body), Kind
// the event kind signed with it.
type request struct {
	Method, URL, Kind string
	Body              []byte
	Signed            []byte
}

// params is p as query parameters, in the body's order.
func (p Payload) params() [][2]string {
	return [][2]string{
		{"address", p.Address}, {"wallet_ext_id", p.WalletExtID}, {"fromAddress", p.FromAddress}, {"txid", p.TxID},
		{"amount", p.Amount.String()}, {"currency", p.Currency}, {"status", strconv.Itoa(p.Status)},
		{"convert_currency", p.ConvertCurrency}, {"convert_price", p.ConvertPrice.String()},
		{"converted_amount", p.ConvertedAmount.String()},
		{"event_id", strconv.FormatInt(p.EventID, 10)}, {"deposit_id", strconv.FormatInt(p.DepositID, 10)},
		{"kind", p.Kind}, {"confirmations", strconv.Itoa(p.Confirmations)},
		{"confirmations_required", strconv.Itoa(p.ConfirmationsRequired)}, {"position", p.Position},
		{"amount_base_units", p.AmountBaseUnits}, {"created_at", strconv.FormatInt(p.CreatedAt, 10)},
	}
}

// iqpayRequest sends an iqpay-flavour event (flavour iqpay or withdrawal)
// of kind with method: body as JSON for POST and PUT, params added to the
// URL's own query for GET and DELETE. A URL whose own query already uses
// one of the names sluice adds is refused (ErrShadowedParam).
func iqpayRequest(flavour, kind, method, rawURL string, body any, params [][2]string) (request, error) {
	u, err := parseTarget(rawURL)
	if err != nil {
		return request{}, err
	}
	switch method {
	case "POST", "PUT":
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // receivers get "&", not "\u0026", in an extId
		if err := enc.Encode(body); err != nil {
			return request{}, fmt.Errorf("webhook: encode event: %w", err)
		}
		b := bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
		u.Fragment = ""
		return request{Method: method, URL: u.String(), Kind: kind, Body: b, Signed: b}, nil
	case "GET", "DELETE":
		if err := shadowed(u.RawQuery, flavour, method); err != nil {
			return request{}, err
		}
		q := withQuery(u, params)
		return request{Method: method, URL: u.String(), Kind: kind, Signed: []byte(q)}, nil
	}
	return request{}, fmt.Errorf("webhook: method %q is not GET, POST, PUT or DELETE", method)
}

// litepayParams are the parameters a litepay callback adds to its URL.
func litepayParams(ev event, confirmations int) [][2]string {
	return [][2]string{
		{"value", ev.Units}, {"input_address", ev.Address}, {"transaction_hash", ev.TxID},
		{"destination_address", ev.Destination}, {"coin", ev.Currency},
		{"confirmations", strconv.Itoa(confirmations)}, {"event_id", strconv.FormatInt(ev.ID, 10)},
	}
}

// litepayRequest is the litepay callback: a GET to the receive address's
// callback URL, its own parameters kept, the payment's added. A URL whose
// own query already uses one of those names, or reads as an iqpay webhook,
// is refused (ErrShadowedParam).
func litepayRequest(rawURL string, ev event, confirmations int) (request, error) {
	u, err := parseTarget(rawURL)
	if err != nil {
		return request{}, err
	}
	if err := shadowed(u.RawQuery, FlavourLitepay, "GET"); err != nil {
		return request{}, err
	}
	q := withQuery(u, litepayParams(ev, confirmations))
	return request{Method: "GET", URL: u.String(), Kind: KindPayment, Signed: []byte(q)}, nil
}

// withQuery appends params, in order, to u's own query, which stays as the
// merchant wrote it (their secret parameter included), and returns the raw
// query that is sent.
func withQuery(u *url.URL, params [][2]string) string {
	var b strings.Builder
	b.WriteString(u.RawQuery)
	for _, kv := range params {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv[0]))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(kv[1]))
	}
	u.RawQuery = b.String()
	u.ForceQuery = false
	u.Fragment = ""
	return u.RawQuery
}

package webhook_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluicepay/sluice/payments/webhook"
)

// A receiver checks every request before trusting it, against what it
// knows from its own configuration: the flavours its URL is registered for
// in sluice, and that URL (never the X-Sluice-Flavour header, nor the
// request's Host). The signature covers the flavour, the event kind and
// id, the method, the URL without its query, the timestamp (at most five
// minutes away) and the payload: the body, or for GET and DELETE the raw
// query string. Then it reads only Verified.Payload, de-duplicates on the
// event id and answers.
func ExampleVerifyRequest() {
	secret := "whsec_7f3a9c" // the merchant's webhook_secret, shown once at creation

	// The merchant's iqpay endpoint: deposits and withdrawals (one --webhook-url).
	iqpay := func(w http.ResponseWriter, r *http.Request) {
		v, err := webhook.VerifyRequest(secret, webhook.Expect{
			Flavours: []string{webhook.FlavourIqpay, webhook.FlavourWithdrawal},
			URL:      "https://shop.example/hooks/iqpay", // as registered in sluice
		}, r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		// record v.EventID; if it was seen before, answer 200 and stop here
		fmt.Println("iqpay endpoint:", v.Flavour, v.Kind, "event", v.EventID)
		w.WriteHeader(http.StatusOK)
	}

	// Its litepay callback: the callback URL it gave /api/receive.
	litepay := func(w http.ResponseWriter, r *http.Request) {
		v, err := webhook.VerifyRequest(secret, webhook.Expect{
			Flavours: []string{webhook.FlavourLitepay},
			URL:      "https://shop.example/callback.php",
		}, r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		q, _ := url.ParseQuery(string(v.Payload)) // the signed query, nothing else
		fmt.Println("litepay callback:", v.Kind, "event", v.EventID, "value", q.Get("value"))
		fmt.Fprint(w, "*ok*")
	}

	// What sluice sends, built by hand here.
	send := func(to http.HandlerFunc, target, body, onTheWire string, p webhook.Purpose) int {
		ts := time.Now().Unix()
		payload := body
		if p.Method == http.MethodGet || p.Method == http.MethodDelete {
			_, payload, _ = strings.Cut(target, "?")
		}
		sig, err := webhook.Sign(secret, ts, p, []byte(payload))
		if err != nil {
			return 0
		}
		r := httptest.NewRequest(p.Method, target, strings.NewReader(onTheWire))
		r.Header.Set("X-Sluice-Timestamp", strconv.FormatInt(ts, 10))
		r.Header.Set("X-Sluice-Flavour", p.Flavour)
		r.Header.Set("X-Sluice-Event-Kind", p.Kind)
		r.Header.Set("X-Sluice-Event-Id", strconv.FormatInt(p.EventID, 10))
		r.Header.Set("X-Sluice-Signature", sig)
		w := httptest.NewRecorder()
		to(w, r)
		return w.Code
	}
	hook := "https://shop.example/hooks/iqpay"
	deposit := webhook.Purpose{Flavour: webhook.FlavourIqpay, Kind: "confirmed", EventID: 42, Method: http.MethodPost, URL: hook}
	body := `{"address":"bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu","amount":0.00001124,"currency":"BTC","status":1,"event_id":42}`
	fmt.Println(send(iqpay, hook, body, body, deposit))
	fmt.Println(send(iqpay, hook, body, strings.Replace(body, "0.00001124", "1124", 1), deposit)) // tampered on the way

	callback := "https://shop.example/callback.php?id=123&secret=abc&value=150000&coin=BTC&confirmations=1&event_id=41"
	payment := webhook.Purpose{Flavour: webhook.FlavourLitepay, Kind: webhook.KindPayment, EventID: 41, Method: http.MethodGet, URL: callback}
	fmt.Println(send(litepay, callback, "", "", payment))

	// A litepay callback whose URL is the iqpay endpoint, dressed as a deposit (issue 14):
	// signed as litepay, it is refused there.
	forged := hook + "?address=bc1qvictim&wallet_ext_id=1&status=1&kind=confirmed&amount=1000&txid=forged&value=600&event_id=43"
	fmt.Println(send(iqpay, forged, "", "", webhook.Purpose{Flavour: webhook.FlavourLitepay, Kind: webhook.KindPayment, EventID: 43,
		Method: http.MethodGet, URL: forged}))
	// Output:
	// iqpay endpoint: iqpay confirmed event 42
	// 200
	// 401
	// litepay callback: payment event 41 value 150000
	// 200
	// 401
}

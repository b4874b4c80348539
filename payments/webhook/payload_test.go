package webhook

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func testEvent(currency, units string) event {
	h := int64(100)
	return event{ID: 7, DepositID: 3, Kind: "confirmed", Status: 1, Confirmations: 2, At: time.Unix(1700000000, 0),
		Address: "bc1qaddr", ExtID: "cust&1", From: "bc1qfrom", TxID: "ab12", Position: "vout:1",
		Currency: currency, Chain: "btc", Units: units, BlockHeight: &h, Required: 2, Destination: "bc1qdest"}
}

func TestPayloadAmounts(t *testing.T) {
	cases := []struct{ currency, units, want string }{
		{"BTC", "1124", "0.00001124"},
		{"BTC", "100000000", "1"},
		{"BTC", "2100000000000000", "21000000"},
		{"LTC", "150000000", "1.5"},
		{"ETH", "1000000000000000000", "1"},
		{"ETH", "1", "0.000000000000000001"},
		{"ETH", "123456789012345678901234567890", "123456789012.34567890123456789"},
		{"USDT", "25500000", "25.5"},
		{"USDT", "1", "0.000001"},
	}
	for _, tc := range cases {
		p, err := payload(testEvent(tc.currency, tc.units), nil, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if string(p.Amount) != tc.want {
			t.Errorf("%s %s: amount %s, want %s", tc.units, tc.currency, p.Amount, tc.want)
		}
	}
}

func TestIQPayBody(t *testing.T) {
	p, err := payload(testEvent("BTC", "1124"), nil, "", "")
	if err != nil {
		t.Fatal(err)
	}
	req, err := iqpayRequest(FlavourIqpay, p.Kind, "POST", "https://shop.example/hook?src=sluice#frag", p, p.params())
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"address":"bc1qaddr","wallet_ext_id":"cust&1","fromAddress":"bc1qfrom","txid":"ab12","amount":0.00001124,` +
		`"currency":"BTC","status":1,"convert_currency":"","convert_price":0,"converted_amount":0,"event_id":7,"deposit_id":3,` +
		`"kind":"confirmed","confirmations":2,"confirmations_required":2,"position":"vout:1","amount_base_units":"1124","created_at":1700000000}`
	if string(req.Body) != want || string(req.Signed) != want {
		t.Fatalf("body\n%s\nwant\n%s", req.Body, want)
	}
	if req.URL != "https://shop.example/hook?src=sluice" || req.Method != "POST" {
		t.Fatalf("%s %s", req.Method, req.URL)
	}

	// GET and DELETE: the same fields as query parameters after the URL's own; the query is what is signed
	for _, m := range []string{"GET", "DELETE"} {
		req, err := iqpayRequest(FlavourIqpay, p.Kind, m, "https://shop.example/hook?token=a%2Fb&x=1", p, p.params())
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(req.URL)
		if req.Body != nil || string(req.Signed) != u.RawQuery || !strings.HasPrefix(u.RawQuery, "token=a%2Fb&x=1&address=bc1qaddr&") {
			t.Fatalf("%s: body %q, query %s", m, req.Body, u.RawQuery)
		}
		q := u.Query()
		if q.Get("amount") != "0.00001124" || q.Get("wallet_ext_id") != "cust&1" || q.Get("status") != "1" ||
			q.Get("event_id") != "7" || q.Get("fromAddress") != "bc1qfrom" || q.Get("converted_amount") != "0" || q.Get("token") != "a/b" {
			t.Fatalf("%s: query %v", m, q)
		}
	}
	if _, err := iqpayRequest(FlavourIqpay, p.Kind, "PATCH", "https://shop.example/", p, p.params()); err == nil {
		t.Fatal("PATCH accepted")
	}
}

func TestLitepayQuery(t *testing.T) {
	req, err := litepayRequest("https://shop.example/cb.php?id=123&secret=s%20x", testEvent("BTC", "150000"), 3)
	if err != nil {
		t.Fatal(err)
	}
	const want = "https://shop.example/cb.php?id=123&secret=s%20x&value=150000&input_address=bc1qaddr&transaction_hash=ab12" +
		"&destination_address=bc1qdest&coin=BTC&confirmations=3&event_id=7"
	if req.URL != want || req.Method != "GET" || req.Body != nil {
		t.Fatalf("got %s %s", req.Method, req.URL)
	}
	if string(req.Signed) != strings.SplitN(want, "?", 2)[1] {
		t.Fatalf("signed %s", req.Signed)
	}
}

func TestBackoff(t *testing.T) {
	base, ceiling := 10*time.Second, time.Hour
	prevMax := time.Duration(0)
	for n := 1; n <= 40; n++ {
		full := min(base<<min(n-1, 20), ceiling)
		for range 50 {
			d := backoff(n, base, ceiling)
			if d < full/2 || d > full {
				t.Fatalf("attempt %d: %s outside [%s, %s]", n, d, full/2, full)
			}
		}
		if full < prevMax {
			t.Fatalf("attempt %d: backoff shrank", n)
		}
		prevMax = full
	}
	if backoff(1000, base, ceiling) > ceiling {
		t.Fatal("not capped")
	}
}

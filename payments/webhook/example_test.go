package webhook_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/sluicepay/sluice/payments/webhook"
)

// A receiver checks every request before trusting it: the signature over
// the timestamp and the body (or, for GET and DELETE, the raw query
// string), and a timestamp no older than five minutes. Then it
// de-duplicates on the event id and answers 200.
func ExampleVerify() {
	secret := "whsec_7f3a9c" // the merchant's webhook_secret, shown once at creation

	receiver := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		payload := body
		if r.Method == http.MethodGet || r.Method == http.MethodDelete {
			payload = []byte(r.URL.RawQuery) // no body: the query string is signed
		}
		err = webhook.Verify(secret, r.Header.Get("X-Sluice-Timestamp"), r.Header.Get("X-Sluice-Signature"), payload, 5*time.Minute)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		// record X-Sluice-Event-Id; if it was seen before, answer 200 and stop here
		fmt.Println("verified event", r.Header.Get("X-Sluice-Event-Id"))
		w.WriteHeader(http.StatusOK)
	})
	srv := httptest.NewServer(receiver)
	defer srv.Close()

	// What sluice sends, built by hand here.
	send := func(body []byte, signedBody []byte) int {
		ts := time.Now().Unix()
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		req.Header.Set("X-Sluice-Event-Id", "42")
		req.Header.Set("X-Sluice-Timestamp", strconv.FormatInt(ts, 10))
		req.Header.Set("X-Sluice-Signature", webhook.Sign(secret, ts, signedBody))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body := []byte(`{"address":"bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu","amount":0.00001124,"currency":"BTC","status":1,"event_id":42}`)
	fmt.Println(send(body, body))
	fmt.Println(send(bytes.Replace(body, []byte("0.00001124"), []byte("1124"), 1), body)) // tampered on the way
	// Output:
	// verified event 42
	// 200
	// 401
}

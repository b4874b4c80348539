package webhook

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicepay/sluice/internal/secrets"
)

func sealedKey(t *testing.T, b byte) *secrets.Key {
	t.Helper()
	k, err := secrets.NewKey(bytes.Repeat([]byte{b}, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// verifies tells whether the hit verifies with secret alone.
func verifies(h hit, url, secret string) bool {
	_, err := Verify(secret, Expect{Flavours: []string{FlavourIqpay}, Method: h.Method, URL: url, Tolerance: time.Minute}, h.Header, h.Body)
	return err == nil
}

func TestRotationOverlapSignsWithBoth(t *testing.T) {
	db := newDB(t)
	f := fixture{t, db}
	key := sealedKey(t, 1)
	rcv := newReceiver(t, nil)
	m := f.merchant("", allKinds("POST", rcv.URL))
	const oldSecret, newSecret = "old-secret-1", "new-secret-2"
	seal := func(s string) string {
		v, err := key.SealWebhookSecret(m, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// as merchant.RotateSecret leaves it: the new secret, the old one for an hour
	f.exec(`UPDATE merchants SET webhook_secret = $2, previous_webhook_secret = $3,
		previous_webhook_secret_expires_at = now() + interval '1 hour' WHERE id = $1`, m, seal(newSecret), seal(oldSecret))
	w, _ := f.wallet(m, "BTC")
	dep := f.deposit(w, "BTC", "1000", ptr(int64(1)))
	f.event(dep, "created", 0, 1, 0)

	d := testDeps(db)
	d.Secrets = key
	start(t, d)
	waitFor(t, 10*time.Second, "the first delivery", func() bool { return len(rcv.hits()) == 1 })
	h := rcv.hits()[0]
	if sigs := strings.Split(h.Header.Get(HeaderSignature), ","); len(sigs) != 2 {
		t.Fatalf("during the overlap %s = %q, want two signatures", HeaderSignature, h.Header.Get(HeaderSignature))
	}
	if !verifies(h, rcv.URL, oldSecret) || !verifies(h, rcv.URL, newSecret) {
		t.Fatal("during the overlap a receiver with either secret alone must verify")
	}
	if verifies(h, rcv.URL, "another") {
		t.Fatal("a third secret verified")
	}

	// the overlap is over: the next delivery is signed with the new secret only
	f.exec(`UPDATE merchants SET previous_webhook_secret_expires_at = now() - interval '1 second' WHERE id = $1`, m)
	f.event(dep, "confirmations", 0, 2, 0)
	waitFor(t, 10*time.Second, "the second delivery", func() bool { return len(rcv.hits()) == 2 })
	h = rcv.hits()[1]
	if strings.Contains(h.Header.Get(HeaderSignature), ",") {
		t.Fatalf("after the overlap %s = %q, want one signature", HeaderSignature, h.Header.Get(HeaderSignature))
	}
	if !verifies(h, rcv.URL, newSecret) || verifies(h, rcv.URL, oldSecret) {
		t.Fatal("after the overlap only the new secret may verify")
	}
}

func TestSecretThatDoesNotOpenIsNotSent(t *testing.T) {
	db := newDB(t)
	f := fixture{t, db}
	rcv := newReceiver(t, nil)
	m := f.merchant("", allKinds("POST", rcv.URL))
	const secret = "the-real-secret"
	stored, err := sealedKey(t, 1).SealWebhookSecret(m, secret)
	if err != nil {
		t.Fatal(err)
	}
	f.exec(`UPDATE merchants SET webhook_secret = $2 WHERE id = $1`, m, stored)
	w, _ := f.wallet(m, "BTC")
	ev := f.event(f.deposit(w, "BTC", "1000", ptr(int64(1))), "created", 0, 1, 0)
	mustFanOut(t, db)

	for _, c := range []struct {
		name string
		key  *secrets.Key
		want error
	}{{"another key", sealedKey(t, 2), secrets.ErrWrongKey}, {"no key", nil, secrets.ErrNoKey}} {
		d := testDeps(db)
		d.Secrets = c.key
		r := mustRunner(t, d)
		_, err := r.load(context.Background(), ev)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), "merchant ") || strings.Contains(err.Error(), secret) {
			t.Fatalf("%s: load = %v, want %v naming the merchant, not the secret", c.name, err, c.want)
		}
		if j := step(t, r); j == nil {
			t.Fatalf("%s: nothing claimed", c.name)
		}
		f.exec(`UPDATE webhook_deliveries SET next_at = now()`) // the lease, cut short
	}
	if n := len(rcv.hits()); n != 0 {
		t.Fatalf("%d requests sent unsigned or wrongly signed", n)
	}
	if n := f.count(`SELECT count(*) FROM webhook_attempts`); n != 0 {
		t.Fatalf("%d attempts recorded for deliveries never sent", n)
	}
	if d := f.delivery(f.deliveryOf(ev, FlavourIqpay)); d.State != "pending" {
		t.Fatalf("delivery %s, want pending until the key is right", d.State)
	}
}

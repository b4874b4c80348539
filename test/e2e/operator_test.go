package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// opDelivery is what `sluice webhooks deliveries --json` prints of a delivery.
type opDelivery struct {
	ID         int64  `json:"id"`
	MerchantID int64  `json:"merchant_id"`
	EventID    int64  `json:"event_id"`
	Kind       string `json:"kind"`
	State      string `json:"state"`
	Attempts   int    `json:"attempts"`
	Log        []struct {
		StatusCode *int `json:"status_code"`
	} `json:"log"`
}

// TestOperatorListings: the operator, who holds no merchant's API key, sees
// across merchants with the CLI: two merchants, one whose receiver is down
// until its delivery fails; `webhooks deliveries --state failed` lists that
// one, with its merchant, and nothing of the other; `merchant list`, `merchant
// show` and `merchant key list` show settings, never a secret; `webhooks
// redeliver --merchant --state failed` re-queues it and it is delivered; the
// delivery counter says whose deliveries it counted.
func TestOperatorListings(t *testing.T) {
	hA, hB := newHookReceiver(t), newHookReceiver(t)
	hA.set(func(hookReq) (int, string) { return 500, "down" })
	a := newAPIEnvHooks(t, hA.srv.URL+"/iqpay")
	r := run(t, a.env, "merchant", "create", "--name", "other shop", "--webhook-url", hB.srv.URL+"/iqpay", "--rate-limit", "100000",
		"--key-name", "b main", "--scope", "wallet,read", "--allow-ip", "127.0.0.1", "--confirmations", "LTC=3")
	var b struct {
		ID     int64  `json:"id"`
		Key    string `json:"api_key"`
		Secret string `json:"webhook_secret"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &b) != nil || b.Key == "" {
		t.Fatalf("second merchant create: %s %s", r.stdout, r.stderr)
	}
	hA.mu.Lock()
	hA.secret = a.secret
	hA.mu.Unlock()
	hB.mu.Lock()
	hB.secret = b.Secret
	hB.mu.Unlock()
	secrets := map[string]string{"merchant 1's API key": a.key, "merchant 1's webhook secret": a.secret,
		"merchant 2's API key": b.Key, "merchant 2's webhook secret": b.Secret}
	// every listing the operator runs, checked for secrets at the end
	var outputs []string
	op := func(args ...string) result {
		t.Helper()
		r := run(t, a.env, args...)
		noCrash(t, r)
		outputs = append(outputs, strings.Join(args, " ")+"\n"+r.stdout+r.stderr)
		return r
	}
	deliveries := func(args ...string) []opDelivery {
		t.Helper()
		r := op(append([]string{"webhooks", "deliveries", "--json"}, args...)...)
		var ds []opDelivery
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &ds) != nil {
			t.Fatalf("webhooks deliveries %v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		return ds
	}

	a.srv = startServeArgs(t, a.env)
	addrA := a.walletWhenSynced(t, "LTC", "op-a")
	code, body := a.call(t, "POST", "/wallet/create/LTC", b.Key, map[string]any{"extId": "op-b"})
	if code != 200 {
		t.Fatalf("merchant 2's wallet: %d %v", code, body)
	}
	addrB := body["data"].(map[string]any)["publicKey"].(string)
	txA, txB := devnetPay(t, "LTC", addrA, "0.1"), devnetPay(t, "LTC", addrB, "0.2")
	devnetMine(t, "ltc", 1)
	waitFor(t, "merchant 2's webhook", 90*time.Second, func() bool { return len(hB.bodies(txB)) > 0 })

	waitFor(t, "a first try at merchant 1's down receiver", 90*time.Second, func() bool { return len(hA.bodies(txA)) > 0 })
	// its retry window (webhooks.max_age, at least 1m) has passed: given up at the next try
	if _, err := a.pgExec(t, `UPDATE webhook_deliveries SET created_at = now() - interval '73 hours', next_at = now()
		WHERE merchant_id = $1 AND state = 'pending'`, a.id); err != nil {
		t.Fatal(err)
	}
	var failed []opDelivery
	waitFor(t, "merchant 1's delivery failed", 60*time.Second, func() bool {
		failed = deliveries("--state", "failed")
		return len(failed) > 0
	})
	for _, d := range failed {
		if d.MerchantID != a.id || d.State != "failed" || len(d.Log) == 0 || d.Log[0].StatusCode == nil || *d.Log[0].StatusCode != 500 {
			t.Fatalf("failed deliveries across merchants: %+v", failed)
		}
	}
	target := failed[len(failed)-1] // the oldest: the deposit's first event
	if target.Kind != "created" {
		t.Fatalf("oldest failed delivery %+v, want merchant 1's created event", target)
	}
	all := deliveries()
	merchants := map[int64]bool{}
	for _, d := range all {
		merchants[d.MerchantID] = true
	}
	if !merchants[a.id] || !merchants[b.ID] || len(merchants) != 2 {
		t.Fatalf("every delivery should span both merchants: %+v", all)
	}
	if ds := deliveries("--merchant", fmt.Sprint(b.ID), "--state", "failed"); len(ds) != 0 {
		t.Fatalf("merchant 2 has failed deliveries: %+v", ds)
	}
	tbl := op("webhooks", "deliveries", "--state", "failed")
	row := regexp.MustCompile(`(?m)^` + strconv.FormatInt(target.ID, 10) + `\s+` + strconv.FormatInt(a.id, 10) + `\s+` +
		strconv.FormatInt(target.EventID, 10) + `\s+iqpay\s+created\s+failed\s+.*HTTP 500, not 200`)
	if tbl.code != 0 || !strings.HasPrefix(tbl.stdout, "ID ") || !row.MatchString(tbl.stdout) {
		t.Fatalf("the failed table lacks delivery %d of merchant %d:\n%s%s", target.ID, a.id, tbl.stdout, tbl.stderr)
	}

	// the merchants, their settings and keys
	list := op("merchant", "list")
	if list.code != 0 || !regexp.MustCompile(`(?m)^`+strconv.FormatInt(a.id, 10)+`\s+shop\s+\S+\s+1/1\s+5\s+\d+\s+[1-9]`).MatchString(list.stdout) ||
		!regexp.MustCompile(`(?m)^`+strconv.FormatInt(b.ID, 10)+`\s+other shop\s+\S+\s+1/1\s+5\s+\d+\s+0$`).MatchString(list.stdout) {
		t.Fatalf("merchant list:\n%s%s", list.stdout, list.stderr)
	}
	show := op("merchant", "show", fmt.Sprint(b.ID))
	prefix := strings.Split(b.Key, "_")[1]
	for _, want := range []string{"other shop", "hot wallet", prefix, "wallet,read", "127.0.0.1/32", "active"} {
		if show.code != 0 || !strings.Contains(show.stdout, want) {
			t.Fatalf("merchant show lacks %q:\n%s%s", want, show.stdout, show.stderr)
		}
	}
	if !regexp.MustCompile(`(?m)^confirmed\s+POST\s+` + regexp.QuoteMeta(hB.srv.URL+"/iqpay") + `$`).MatchString(show.stdout) {
		t.Fatalf("merchant show: the confirmed endpoint:\n%s", show.stdout)
	}
	if !regexp.MustCompile(`(?m)^LTC\s+3\s+hot wallet`).MatchString(show.stdout) || !regexp.MustCompile(`(?m)^BTC\s+2 \(default\)`).MatchString(show.stdout) {
		t.Fatalf("merchant show: confirmations per currency:\n%s", show.stdout)
	}
	var detail struct {
		ID       int64 `json:"id"`
		Balances []struct {
			Currency, Units, Amount string
		} `json:"balances"`
		Keys []struct {
			Prefix string `json:"prefix"`
		} `json:"keys"`
		Webhooks map[string]struct{ Method, URL string } `json:"webhooks"`
	}
	sj := op("merchant", "show", fmt.Sprint(a.id), "--json")
	if sj.code != 0 || json.Unmarshal([]byte(sj.stdout), &detail) != nil || detail.ID != a.id || len(detail.Balances) < 4 ||
		detail.Balances[1].Currency != "LTC" || detail.Balances[1].Units != "0" || len(detail.Keys) != 1 ||
		detail.Keys[0].Prefix != strings.Split(a.key, "_")[1] || detail.Webhooks["confirmed"].URL != hA.srv.URL+"/iqpay" {
		t.Fatalf("merchant show --json:\n%s%s", sj.stdout, sj.stderr)
	}
	keys := op("merchant", "key", "list")
	if keys.code != 0 || !strings.Contains(keys.stdout, prefix) || !strings.Contains(keys.stdout, strings.Split(a.key, "_")[1]) {
		t.Fatalf("key list:\n%s%s", keys.stdout, keys.stderr)
	}
	op("merchant", "key", "list", "--merchant", fmt.Sprint(b.ID), "--json")
	op("merchant", "list", "--json")
	if r := op("merchant", "show", "999999"); r.code == 0 || !strings.Contains(r.stderr, "no merchant 999999") {
		t.Fatalf("show of an unknown merchant: exit %d %s", r.code, r.stderr)
	}

	// the delivery counter carries the merchant
	page := metricsPage(t, a.srv.url)
	for _, want := range []string{
		fmt.Sprintf(`sluice_webhook_deliveries_total{flavour="iqpay",merchant="%d",result="failed"} `, a.id),
		fmt.Sprintf(`sluice_webhook_deliveries_total{flavour="iqpay",merchant="%d",result="delivered"} `, b.ID),
	} {
		v, ok := metricValue(page, want)
		if !ok || v < 1 {
			t.Fatalf("metrics: %s is %v (present %v)", want, v, ok)
		}
	}
	if v, ok := metricValue(page, fmt.Sprintf(`sluice_webhook_deliveries_total{flavour="iqpay",merchant="%d",result="failed"} `, b.ID)); !ok || v != 0 {
		t.Fatalf("merchant 2's failed counter: %v (present %v)", v, ok)
	}

	// bulk redelivery needs a merchant named; an unknown delivery changes nothing
	if r := op("webhooks", "redeliver", "--state", "failed"); r.code == 0 || !strings.Contains(r.stderr, "--all-merchants") {
		t.Fatalf("redeliver --state without a merchant: exit %d %s", r.code, r.stderr)
	}
	if r := op("webhooks", "redeliver", fmt.Sprint(target.ID), "999999999"); r.code == 0 || !strings.Contains(r.stderr, "999999999") {
		t.Fatalf("redeliver of an unknown delivery: exit %d %s", r.code, r.stderr)
	}
	if ds := deliveries("--merchant", fmt.Sprint(a.id), "--state", "failed"); len(ds) == 0 || ds[len(ds)-1].ID != target.ID {
		t.Fatalf("a refused redelivery changed the failed ones: %+v", ds)
	}
	// the receiver is back: the operator sends merchant 1's failed deliveries again
	hA.set(nil)
	n := len(hA.bodies(txA))
	re := op("webhooks", "redeliver", "--merchant", fmt.Sprint(a.id), "--state", "failed")
	if re.code != 0 || !regexp.MustCompile(`(?m)^`+strconv.FormatInt(target.ID, 10)+`\s+`+strconv.FormatInt(a.id, 10)+`\s+\d+\s+iqpay\s+created\s+pending\s+0\s`).MatchString(re.stdout) ||
		!regexp.MustCompile(`re-queued [1-9]\d* deliveries`).MatchString(re.stdout) {
		t.Fatalf("redeliver:\n%s%s", re.stdout, re.stderr)
	}
	waitFor(t, "the redelivered webhook at merchant 1's receiver", 60*time.Second, func() bool { return len(hA.bodies(txA)) > n })
	waitFor(t, "the redelivered delivery delivered", 30*time.Second, func() bool {
		for _, d := range deliveries("--merchant", fmt.Sprint(a.id), "--event", fmt.Sprint(target.EventID)) {
			if d.ID == target.ID {
				return d.State == "delivered"
			}
		}
		return false
	})

	for _, out := range outputs {
		for what, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s appears in the output of sluice %s", what, strings.SplitN(out, "\n", 2)[0])
			}
		}
	}
	for _, h := range []*hookReceiver{hA, hB} {
		h.mu.Lock()
		if len(h.unsig) > 0 {
			t.Errorf("requests not signed with their merchant's secret: %v", h.unsig)
		}
		h.mu.Unlock()
	}
}

func metricsPage(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// metricValue finds the line starting with series (name{labels} and a space).
func metricValue(page, series string) (float64, bool) {
	for _, line := range strings.Split(page, "\n") {
		if rest, ok := strings.CutPrefix(line, series); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

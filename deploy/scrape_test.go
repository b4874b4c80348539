package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicepay/sluice/internal/testenv"
)

// appearAfterEvent are the metric families that sluice registers at start
// but that may have no series until something happens which a fresh sluice
// on the test stack does not do within this test. Each is missing from a
// fresh scrape by design; if one shows up, the test logs it. None is listed
// now: every labelled series the dashboards and alerts use is exported from
// the start (see startSeries), so a fresh install's panels show 0, not
// "No data". List one here only with the reason it cannot be.
var appearAfterEvent = map[string]string{}

// startSeries are the labelled series that a fresh sluice serve must export
// before any event, with every label value it knows from its configuration:
// the chains it indexes (btc with btcd's websocket, ltc polled, eth with
// newHeads on the test stack), the currencies it serves, the webhook
// flavours. zero: the value is 0 on a fresh ledger (nothing happened yet);
// the others count what may already have happened: a sync error, a block
// the push trigger missed, a reorg (other tests reorg the stack's nodes,
// which this serve indexes).
var startSeries = []struct {
	series string
	label  string
	values []string
	zero   bool
}{
	{"sluice_index_reorg_depth_blocks_count", "chain", []string{"btc", "eth", "ltc"}, false},
	{"sluice_index_reorg_depth_blocks_bucket", "chain", []string{"btc", "eth", "ltc"}, false},
	{"sluice_index_reorg_too_deep", "chain", []string{"btc", "eth", "ltc"}, false},
	{"sluice_index_sync_errors_total", "chain", []string{"btc", "eth", "ltc"}, false},
	{"sluice_index_trigger_missed_total", "chain", []string{"btc", "eth"}, false}, // the chains with a push trigger
	{"sluice_zmq_sequence_gaps_total", "chain", []string{"btc", "ltc"}, true},
	{"sluice_deposits", "currency", []string{"BTC", "ETH", "LTC"}, true},
	{"sluice_deposits", "status", []string{"confirmed", "failed", "seen"}, true},
	{"sluice_deposits_created_total", "currency", []string{"BTC", "ETH", "LTC"}, true},
	{"sluice_deposits_failed_total", "currency", []string{"BTC", "ETH", "LTC"}, true},
	{"sluice_reconciler_deposits_found_total", "chain", []string{"btc", "eth", "ltc"}, true},
	{"sluice_webhook_deliveries_total", "flavour", []string{"iqpay", "litepay", "withdrawal"}, true},
	{"sluice_webhook_deliveries_total", "merchant", []string{"1"}, true}, // the merchant created before serve
	{"sluice_webhook_delivery_duration_seconds_count", "flavour", []string{"iqpay", "litepay", "withdrawal"}, true},
	{"sluice_webhook_delivery_duration_seconds_bucket", "flavour", []string{"iqpay", "litepay", "withdrawal"}, true},
	{"sluice_sweep_jobs_total", "chain", []string{"btc", "eth", "ltc"}, true},
}

// checkStartSeries waits for every startSeries entry to have its label
// values in Prometheus, and wants the zero ones at 0.
func checkStartSeries(t *testing.T, api promAPI) {
	t.Helper()
	for _, s := range startSeries {
		var last string
		ok := false
		for end := time.Now().Add(20 * time.Second); ; {
			var res []struct {
				Metric map[string]string `json:"metric"`
			}
			if err := api.query(fmt.Sprintf("count by (%s) (%s)", s.label, s.series), &res); err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, r := range res {
				got[r.Metric[s.label]] = true
			}
			var lack []string
			for _, v := range s.values {
				if !got[v] {
					lack = append(lack, v)
				}
			}
			if len(lack) == 0 {
				ok = true
				break
			}
			last = fmt.Sprintf("no %s with %s %v (has %v)", s.series, s.label, lack, slices.Sorted(maps.Keys(got)))
			if time.Now().After(end) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if !ok {
			t.Errorf("%s: a labelled series must exist from the start, before its first event", last)
			continue
		}
		if !s.zero {
			continue
		}
		var nonzero []json.RawMessage
		if err := api.query(s.series+" != 0", &nonzero); err != nil {
			t.Fatal(err)
		}
		if len(nonzero) > 0 {
			t.Errorf("%s is not 0 on a fresh ledger and index: %s", s.series, nonzero)
		}
	}
}

// TestRealScrape runs sluice serve on a fresh ledger and index of the test
// stack and a real Prometheus that scrapes it every second with the alerting
// rules loaded, then checks through Prometheus' HTTP API that every metric
// the dashboards and the alerts use is in the scrape, that the rules
// evaluate, and that every dashboard query runs.
func TestRealScrape(t *testing.T) {
	if testing.Short() {
		t.Skip("starts sluice serve and Prometheus")
	}
	start := time.Now()
	bin := sluiceBin(t)
	promBin := requireTool(t, "prometheus", "Debian package prometheus")
	redisBin := requireTool(t, "redis-server", "Debian package redis-server")
	want := wantedSeries(t)
	pgDSN, chDSN := testenv.FreshPostgres(t), testenv.FreshClickHouse(t) // skip (fail under CI) without the stack

	// A private Redis: every database of the stack's Redis belongs to other
	// tests, and the indexers here would publish block streams into it.
	redisAddr := freeAddr(t)
	_, redisPort, _ := net.SplitHostPort(redisAddr)
	startProc(t, "redis-server", nil, redisBin, "--bind", "127.0.0.1", "--port", redisPort,
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	waitFor(t, "redis-server", 10*time.Second, func() (bool, string) {
		c, err := net.Dial("tcp", redisAddr)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	})

	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		t.Fatal(err)
	}
	seedFile := filepath.Join(t.TempDir(), "seed")
	if err := os.WriteFile(seedFile, []byte(hex.EncodeToString(seed)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	apiAddr := freeAddr(t)
	env := testenv.SluiceEnv(
		"SLUICE_POSTGRES_DSN="+pgDSN,
		"SLUICE_CLICKHOUSE_DSN="+chDSN,
		"SLUICE_REDIS_URL=redis://"+redisAddr+"/0",
		"SLUICE_SEED_FILE="+seedFile,
		"SLUICE_API_LISTEN="+apiAddr,
		"SLUICE_SWEEPS_ENABLED=true", // the sweepers' and the gas tank's metrics
		// the fiat rates' metrics; nothing listens there, so fetches fail fast
		"SLUICE_RATES_SOURCES=coingecko=http://"+freeAddr(t),
	)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	migrate := exec.CommandContext(ctx, bin, "migrate")
	migrate.Dir, migrate.Env = t.TempDir(), env
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("sluice migrate: %v\n%s", err, out)
	}
	t.Logf("fresh ledger and index migrated after %s", time.Since(start).Round(time.Millisecond))
	// a merchant: the webhook delivery counter has a series per merchant
	mc := exec.CommandContext(ctx, bin, "merchant", "create", "--name", "scrape")
	mc.Dir, mc.Env = t.TempDir(), env
	if out, err := mc.Output(); err != nil {
		t.Fatalf("sluice merchant create: %v\n%s", err, out)
	}

	serve := startProc(t, "sluice serve", env, bin, "serve")
	waitFor(t, "sluice serve /healthz", 20*time.Second, func() (bool, string) {
		if serve.exited() {
			t.Fatalf("sluice serve exited: %v\n%s", serve.err, tail(serve.out.String()))
		}
		resp, err := http.Get("http://" + apiAddr + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})

	alerts, err := filepath.Abs(filepath.Join("prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: sluice
    static_configs:
      - targets: [%q]
`, alerts, apiAddr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	promAddr := freeAddr(t)
	prom := startProc(t, "prometheus", nil, promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr)
	api := promAPI{base: "http://" + promAddr}

	waitFor(t, "Prometheus to scrape sluice (up == 1)", 20*time.Second, func() (bool, string) {
		if prom.exited() {
			t.Fatalf("prometheus exited: %v\n%s", prom.err, tail(prom.out.String()))
		}
		var res []struct {
			Value [2]any `json:"value"`
		}
		if err := api.query(`up{job="sluice"}`, &res); err != nil {
			return false, err.Error()
		}
		return len(res) == 1 && res[0].Value[1] == "1", fmt.Sprint(res)
	})

	// Poll the names Prometheus has stored until every wanted series is
	// there but those that appear only after an event.
	var have map[string]bool
	missing := func() []string {
		var out []string
		for fam, series := range want {
			if _, late := appearAfterEvent[fam]; late {
				continue
			}
			for _, s := range series.names {
				if !have[s] {
					out = append(out, s)
				}
			}
		}
		slices.Sort(out)
		return out
	}
	deadline := start.Add(50 * time.Second)
	for {
		var names []string
		if err := api.get("/api/v1/label/__name__/values", nil, &names); err != nil {
			t.Fatal(err)
		}
		have = map[string]bool{}
		for _, n := range names {
			have[n] = true
		}
		if len(missing()) == 0 || time.Now().After(deadline) {
			break
		}
		if serve.exited() {
			t.Fatalf("sluice serve exited: %v\n%s", serve.err, tail(serve.out.String()))
		}
		time.Sleep(time.Second)
	}
	for _, s := range missing() {
		t.Errorf("%s is not in the scrape of a running sluice serve (used by %s): a renamed or unregistered metric, "+
			"or one that appears only after an event (then list it in appearAfterEvent with the reason)", s, want[family(s, want)].where)
	}
	for _, fam := range slices.Sorted(maps.Keys(appearAfterEvent)) {
		reason := appearAfterEvent[fam]
		w, used := want[fam]
		if !used {
			t.Errorf("appearAfterEvent lists %s, which no dashboard or alert uses: remove it", fam)
			continue
		}
		if have[w.names[0]] {
			t.Logf("%s is in the scrape already (listed as appearing after an event: %s)", fam, reason)
		} else {
			t.Logf("not yet in the scrape, as expected: %s (%s)", fam, reason)
		}
	}
	var unused []string
	for n := range have {
		if strings.HasPrefix(n, "sluice_") && family(n, want) == "" {
			unused = append(unused, n)
		}
	}
	slices.Sort(unused)
	t.Logf("sluice series in the scrape that no dashboard or alert uses: %v", unused)

	checkStartSeries(t, api)
	checkRulesEvaluate(t, api)
	checkDashboardQueriesRun(t, api, apiAddr, want, have)
	t.Logf("done after %s", time.Since(start).Round(time.Millisecond))
}

// seriesSet is the series names of one metric family that a query needs,
// and where the first use is.
type seriesSet struct {
	names []string
	where string
}

// promName is a metric name in PromQL: sluice's, and the Go and process
// collectors' that the dashboards use.
var promName = regexp.MustCompile(`\b(?:sluice|go|process)_[a-z0-9_]+`)

// wantedSeries maps each metric family the dashboards and alerts use to the
// series names a scrape must hold for it: the name itself, or for a
// histogram its _bucket, _sum and _count series.
func wantedSeries(t *testing.T) map[string]seriesSet {
	t.Helper()
	registered := goMetricNames(t, testenv.RepoRoot(t))
	want := map[string]seriesSet{}
	add := func(where, expr string) {
		for _, n := range promName.FindAllString(expr, -1) {
			fam, names := n, []string{n}
			if base := histogramBase(n); base != n && !registered[n] && registered[base] {
				fam, names = base, []string{base + "_bucket", base + "_sum", base + "_count"}
			}
			if _, ok := want[fam]; !ok {
				want[fam] = seriesSet{names: names, where: where}
			}
		}
	}
	for _, d := range loadDashboards(t) {
		for _, q := range d.queries(t) {
			add(q.where, q.expr)
		}
	}
	for _, r := range alertRules(t) {
		add("alert "+r.Alert, r.Expr)
	}
	if len(want) < 20 {
		t.Fatalf("only %d metric families found in the dashboards and alerts", len(want))
	}
	return want
}

// family is the family of want that series name belongs to, or "".
func family(name string, want map[string]seriesSet) string {
	for fam, s := range want {
		if slices.Contains(s.names, name) {
			return fam
		}
	}
	return ""
}

// checkRulesEvaluate waits for every alerting rule to be evaluated and
// wants none to fail (a query error, e.g. many-to-many matching).
func checkRulesEvaluate(t *testing.T, api promAPI) {
	t.Helper()
	type ruleState struct {
		Name      string `json:"name"`
		Health    string `json:"health"`
		LastError string `json:"lastError"`
	}
	var rules []ruleState
	waitFor(t, "the alerting rules to be evaluated", 15*time.Second, func() (bool, string) {
		var data struct {
			Groups []struct {
				Rules []ruleState `json:"rules"`
			} `json:"groups"`
		}
		if err := api.get("/api/v1/rules", nil, &data); err != nil {
			return false, err.Error()
		}
		rules = nil
		for _, g := range data.Groups {
			rules = append(rules, g.Rules...)
		}
		for _, r := range rules {
			if r.Health == "unknown" {
				return false, r.Name + " not evaluated yet"
			}
		}
		return len(rules) > 0, "no rules loaded"
	})
	for _, r := range rules {
		if r.Health != "ok" {
			t.Errorf("alert %s: health %s: %s", r.Name, r.Health, r.LastError)
		}
	}
	if n := len(alertRules(t)); len(rules) != n {
		t.Errorf("Prometheus loaded %d rules, alerts.yml has %d", len(rules), n)
	}
}

// checkDashboardQueriesRun runs every dashboard query against the live
// Prometheus, its variables set to match everything: each must run, and
// each whose metrics are all in the scrape must return something (a label
// mismatch in a binary operation returns nothing), unless it picks label
// values that may not exist yet.
func checkDashboardQueriesRun(t *testing.T, api promAPI, instance string, want map[string]seriesSet, have map[string]bool) {
	t.Helper()
	// rate() needs two samples in its window
	waitFor(t, "three scrapes", 15*time.Second, func() (bool, string) {
		var res []struct {
			Value [2]any `json:"value"`
		}
		if err := api.query(`count_over_time(up{job="sluice"}[5m]) >= 3`, &res); err != nil {
			return false, err.Error()
		}
		return len(res) == 1, "fewer"
	})
	values := map[string]string{"instance": instance, "chain": ".*", "flavour": ".*", "route": ".*"}
	ran, empty := 0, 0
	for _, d := range loadDashboards(t) {
		for _, q := range d.queries(t) {
			expr, unknown := expand(q.expr, values)
			if len(unknown) > 0 {
				t.Errorf("%s: no live value for $%s", q.where, strings.Join(unknown, ", $"))
				continue
			}
			var res []json.RawMessage
			if err := api.query(expr, &res); err != nil {
				t.Errorf("%s: %v\n%s", q.where, err, expr)
				continue
			}
			ran++
			complete := true
			for _, n := range promName.FindAllString(expr, -1) {
				if fam := family(n, want); fam == "" || !have[want[fam].names[0]] {
					complete = false
				}
			}
			if len(res) == 0 {
				empty++
				if complete && !selectsValues(expr) {
					t.Errorf("%s returns nothing though its metrics are in the scrape: %s", q.where, expr)
				}
			}
		}
	}
	t.Logf("%d dashboard queries ran, %d returned nothing (metrics that appear after an event, or label values not seen yet)", ran, empty)
}

// valueMatcher is a label matcher with its value, as in code=~"5..".
var valueMatcher = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"`)

// selectsValues reports whether expr picks particular values of a label that
// is no dashboard variable's (code=~"5..", state="confirmed"): a fresh
// sluice may rightly have no such series yet.
func selectsValues(expr string) bool {
	for _, m := range valueMatcher.FindAllStringSubmatch(expr, -1) {
		switch m[1] {
		case "instance", "chain", "flavour", "route", "job":
		default:
			return true
		}
	}
	return false
}

// promAPI is Prometheus' HTTP API.
type promAPI struct{ base string }

// get decodes the data of a successful answer to path into data.
func (p promAPI) get(path string, params url.Values, data any) error {
	u := p.base + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("GET %s: %s: %w", path, resp.Status, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, body.Error)
	}
	return json.Unmarshal(body.Data, data)
}

// query runs an instant query and decodes its vector (or scalar) result.
func (p promAPI) query(expr string, result any) error {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := p.get("/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return err
	}
	if data.ResultType == "scalar" {
		data.Result = []byte("[" + string(data.Result) + "]")
	}
	return json.Unmarshal(data.Result, result)
}

// sluiceBin is $SLUICE_BIN (make build: var/bin/sluice). Without it the test
// skips, except under CI=true, where it fails.
func sluiceBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("SLUICE_BIN")
	msg := "SLUICE_BIN is not set; run `make build` and set SLUICE_BIN=$PWD/var/bin/sluice"
	if bin != "" {
		if _, err := os.Stat(bin); err == nil {
			return bin
		}
		msg = "SLUICE_BIN=" + bin + " does not exist; run `make build`"
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "; under CI it is required")
	}
	t.Skip(msg)
	return ""
}

// freeAddr is a loopback address where nothing listens right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is a program the test started; it is killed when the test ends.
type proc struct {
	out  *syncBuffer
	done chan struct{}
	err  error
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// startProc starts path with args, its output kept for failures. env nil is
// this process' environment. The test's cleanup kills it (by its pid) and
// waits for it, before its temporary directories are removed.
func startProc(t *testing.T, name string, env []string, path string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = env
	p := &proc{out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s (pid %d) did not exit after SIGKILL", name, cmd.Process.Pid)
		}
		if t.Failed() {
			t.Logf("%s output (end):\n%s", name, tail(p.out.String()))
		}
	})
	return p
}

// waitFor polls cond until it holds, or fails the test after timeout with
// cond's last word.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	end := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("waited %s for %s: %s", timeout, what, why)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// tail is the end of a program's output.
func tail(s string) string {
	const n = 6000
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// syncBuffer collects a process's output while it runs.
type syncBuffer = testenv.SyncBuffer

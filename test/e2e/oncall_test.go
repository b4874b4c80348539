package e2e

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicepay/sluice/payments"
	"github.com/sluicepay/sluice/payments/keys"
)

// workerReady reads a worker's /readyz on its metrics listener.
func workerReady(t *testing.T, addr string) (int, readyz) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, readyz{}
	}
	defer resp.Body.Close()
	var r readyz
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("/readyz: %v", err)
	}
	return resp.StatusCode, r
}

// TestWorkerReadiness: a consume worker whose Postgres does not answer
// starts anyway and says so: /readyz 503 naming postgres (what a readiness
// probe acts on), sluice_dependency_up{dependency="postgres"} 0 (what
// SluiceDependencyDown fires on), its role in sluice_build_info; /healthz
// still 200. A webhooks worker with its ledger answers ready. Both log
// their stop on SIGTERM.
func TestWorkerReadiness(t *testing.T) {
	ie := newIndexEnv(t)
	u, err := url.Parse(ie.pg)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = deadPort(t)
	broken := ie.startSub(t, []string{"SLUICE_POSTGRES_DSN=" + u.String()}, "consume", "--chain", "ltc", "--metrics-listen", deadPort(t))
	healthy := ie.startSub(t, nil, "webhooks", "--metrics-listen", deadPort(t))
	addr := func(p *indexerProc) string {
		for _, a := range p.cmd.Args {
			if strings.HasPrefix(a, "127.0.0.1:") {
				return a
			}
		}
		t.Fatal("no --metrics-listen")
		return ""
	}

	var r readyz
	var code int
	waitFor(t, "consume's /readyz", 20*time.Second, func() bool { code, r = workerReady(t, addr(broken)); return code != 0 })
	if code != http.StatusServiceUnavailable || r.Status != "unavailable" || r.Dependencies["postgres"].OK ||
		!strings.Contains(r.Dependencies["postgres"].Error, "connect") || !r.Dependencies["redis"].OK || !r.Dependencies["ltc"].OK {
		t.Fatalf("consume with its ledger unreachable: /readyz %d %+v", code, r)
	}
	m := addr(broken)
	waitFor(t, "the dependency metric", 20*time.Second, func() bool {
		return metric(t, m, `sluice_dependency_up{dependency="redis"}`) == 1
	})
	if v := metric(t, m, `sluice_dependency_up{dependency="postgres"}`); v != 0 {
		t.Fatalf(`sluice_dependency_up{dependency="postgres"} %v, want 0`, v)
	}
	resp, err := http.Get("http://" + m + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `role="consume"`) {
		t.Fatalf("/metrics %d without the build info's role:\n%s", resp.StatusCode, body)
	}
	if resp, err := http.Get("http://" + m + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz: %v %v", resp, err)
	}

	waitFor(t, "webhooks ready", 20*time.Second, func() bool { code, r = workerReady(t, addr(healthy)); return code == 200 })
	if r.Status != "ok" || !r.Dependencies["postgres"].OK {
		t.Fatalf("webhooks /readyz %+v", r)
	}

	for name, p := range map[string]*indexerProc{"consume": broken, "webhooks": healthy} {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s did not stop on SIGTERM", name)
		}
		if log := p.stderr.String(); !strings.Contains(log, "msg=stopped role="+name) || !strings.Contains(log, "msg=starting role="+name) {
			t.Fatalf("%s logged no start and stop with its role:\n%s", name, log)
		}
	}
}

// TestSweepThatCannotBeBuilt: a confirmed deposit whose output is not on
// chain (spent outside sluice, or a ledger restored from the wrong backup)
// is planned into a sweep that can never be signed. The sweeper counts the
// failure by stage (SluiceSweepErrors), the planned job's age grows
// (SluiceSweepJobOld), and `sluice sweep jobs` shows the job with why.
func TestSweepThatCannotBeBuilt(t *testing.T) {
	a := newAPIEnv(t)
	ctx := context.Background()
	pg := a.pool(t)
	raw, err := os.ReadFile(envOf(a.env, "SLUICE_SEED_FILE"))
	if err != nil {
		t.Fatal(err)
	}
	seed, err := keys.ParseSeed(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	nets := map[string]string{"LTC": "regtest"}
	l := &payments.Ledger{DB: pg, Keys: payments.SeedKeys{Seed: seed, Networks: nets}, Networks: nets}
	w, _, err := l.WalletFor(ctx, a.id, "LTC", "ghost")
	if err != nil {
		t.Fatal(err)
	}
	txid := strings.Repeat("ab", 32)
	if _, err := pg.Exec(ctx, `INSERT INTO deposits (wallet_id, chain, currency, txid, position, amount, confirmations, status, block_height, block_hash)
		VALUES ($1, 'ltc', 'LTC', $2, 'vout:0', 100000000, 6, 1, 1, 'aa')`, w.ID, txid); err != nil {
		t.Fatal(err)
	}
	metrics := deadPort(t)
	a.startSub(t, nil, "sweep", "--chain", "ltc", "--metrics-listen", metrics)
	errs := `sluice_sweep_round_errors_total{chain="ltc",stage="job"}`
	waitFor(t, "a counted job failure", 60*time.Second, func() bool { return metric(t, metrics, errs) >= 1 })
	waitFor(t, "the planned job's age", 30*time.Second, func() bool {
		return metric(t, metrics, `sluice_sweep_job_oldest_seconds{chain="ltc",state="planned"}`) > 0
	})
	if v := metric(t, metrics, `sluice_sweep_round_errors_total{chain="ltc",stage="plan"}`); v != 0 {
		t.Fatalf("plan failures %v: planning worked", v)
	}
	r := run(t, a.env, "sweep", "jobs", "--chain", "ltc", "--json")
	var jobs []struct {
		Kind, State, Error string
		Attempts           int
	}
	if err := json.Unmarshal([]byte(r.stdout), &jobs); err != nil || len(jobs) != 1 {
		t.Fatalf("sweep jobs: %s %s (%v)", r.stdout, r.stderr, err)
	}
	if j := jobs[0]; j.State != "planned" || !strings.Contains(j.Error, txid) {
		t.Fatalf("the job does not say why it waits: %+v", j)
	}
	text := run(t, a.env, "sweep", "jobs").stdout
	if !strings.Contains(text, "planned") || !strings.Contains(text, txid) {
		t.Fatalf("sweep jobs table:\n%s", text)
	}
}

// TestStalePriceShows: with no rates source answering, the webhooks
// worker exports the price age as +Inf next to rates.max_age, the two
// series SluiceFiatPriceStale compares.
func TestStalePriceShows(t *testing.T) {
	ie := newIndexEnv(t)
	metrics := deadPort(t)
	ie.startSub(t, []string{"SLUICE_RATES_SOURCES=coingecko=http://" + deadPort(t), "SLUICE_RATES_MAX_AGE=2m", "SLUICE_RATES_REFRESH=1s"},
		"webhooks", "--metrics-listen", metrics)
	waitFor(t, "the max age", 20*time.Second, func() bool { return metric(t, metrics, "sluice_rate_max_age_seconds") == 120 })
	waitFor(t, "the price age", 20*time.Second, func() bool {
		return math.IsInf(metric(t, metrics, `sluice_rate_age_seconds{currency="BTC",fiat="USD"}`), 1)
	})
	if v := metric(t, metrics, `sluice_rate_fetch_total{result="error",source="coingecko"}`); v < 1 {
		t.Fatalf("no failed fetch counted: %v", v)
	}
}

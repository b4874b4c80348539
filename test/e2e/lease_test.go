package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const standbyLine = "standby: chain ltc is indexed by another process"

// scrape returns the metrics page at addr ("" while nothing answers).
func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// leaderSample is the sluice_index_leader line of an indexer's metrics.
func leaderSample(t *testing.T, addr string) string {
	for _, line := range strings.Split(scrape(t, addr), "\n") {
		if strings.HasPrefix(line, `sluice_index_leader{chain="ltc"} `) {
			return line
		}
	}
	return ""
}

// leaseHolders lists the application names of the sessions holding an
// advisory lock in the index's ledger database.
func (ie *indexEnv) leaseHolders(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, ie.pg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestIndexerLease runs two `sluice index --chain ltc` on the same stores:
// one indexes, the other stands by; kill -9 of the active one hands the
// chain to the standby within seconds, and the index ends equal to the
// node's chain, block by block.
func TestIndexerLease(t *testing.T) {
	n := nodeFor(t, "ltc")
	ie := newIndexEnv(t)
	ma, mb := deadPort(t), deadPort(t)
	a := ie.start(t, nil, "--chain", "ltc", "--metrics-listen", ma)
	waitFor(t, "the first indexer to take the lease", 30*time.Second, func() bool {
		return leaderSample(t, ma) == `sluice_index_leader{chain="ltc"} 1`
	})
	top := n.height(t)
	waitFor(t, "catch-up", 60*time.Second, func() bool { return ie.checkpoint(t, "ltc") >= top })

	b := ie.start(t, nil, "--chain", "ltc", "--metrics-listen", mb)
	waitFor(t, "the second indexer to stand by", 30*time.Second, func() bool {
		return strings.Contains(b.stderr.String(), standbyLine) && leaderSample(t, mb) == `sluice_index_leader{chain="ltc"} 0`
	})
	aPid := fmt.Sprintf("pid=%d", a.cmd.Process.Pid)
	if log := b.stderr.String(); !strings.Contains(log, aPid) {
		t.Errorf("the standby's log does not name the holder (%s):\n%s", aPid, log)
	}
	if h := ie.leaseHolders(t); len(h) != 1 || !strings.Contains(h[0], aPid) {
		t.Fatalf("lease holders %q, want exactly the first indexer (%s)", h, aPid)
	}

	n.mine(t, 3)
	waitFor(t, "the active indexer to follow", 30*time.Second, func() bool { return ie.checkpoint(t, "ltc") >= top+3 })
	if strings.Contains(b.stderr.String(), "active: this process indexes chain ltc") || leaderSample(t, mb) != `sluice_index_leader{chain="ltc"} 0` {
		t.Fatalf("the standby became active while the first indexer was alive:\n%s", b.stderr.String())
	}

	// two more blocks, and kill -9 the active indexer while it may be writing them
	n.mine(t, 2)
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.done
	killed := time.Now()
	waitFor(t, "the standby to take over", 30*time.Second, func() bool {
		return leaderSample(t, mb) == `sluice_index_leader{chain="ltc"} 1`
	})
	took := time.Since(killed)
	t.Logf("standby active %s after kill -9 of the leader", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("takeover took %s, want a few seconds", took.Round(time.Millisecond))
	}
	if !strings.Contains(b.stderr.String(), "active: this process indexes chain ltc") {
		t.Errorf("no takeover line in the standby's log:\n%s", b.stderr.String())
	}

	n.mine(t, 3)
	want := n.height(t)
	waitFor(t, "the new leader to catch up", 60*time.Second, func() bool {
		return ie.checkpoint(t, "ltc") >= want && ie.canonicalHashes(t, "ltc")[want] == n.hashAt(t, want)
	})
	ie.sameAsNode(t, n)

	// the first indexer, restarted, stands by behind the new leader
	c := ie.start(t, nil, "--chain", "ltc")
	waitFor(t, "the restarted indexer to stand by", 30*time.Second, func() bool {
		return strings.Contains(c.stderr.String(), standbyLine)
	})
	bPid := fmt.Sprintf("pid=%d", b.cmd.Process.Pid)
	if h := ie.leaseHolders(t); len(h) != 1 || !strings.Contains(h[0], bPid) {
		t.Fatalf("lease holders %q, want exactly the new leader (%s)", h, bPid)
	}
	n.mine(t, 1)
	waitFor(t, "one more block", 30*time.Second, func() bool { return ie.checkpoint(t, "ltc") >= want+1 })
	ie.sameAsNode(t, n)
}

// TestIndexerLeaseOff: with SLUICE_INDEXER_LEASE=false an indexer takes no
// lease and says it is active.
func TestIndexerLeaseOff(t *testing.T) {
	n := nodeFor(t, "ltc")
	ie := newIndexEnv(t)
	m := deadPort(t)
	p := ie.start(t, []string{"SLUICE_INDEXER_LEASE=false"}, "--chain", "ltc", "--metrics-listen", m)
	top := n.height(t)
	waitFor(t, "catch-up", 60*time.Second, func() bool { return ie.checkpoint(t, "ltc") >= top })
	if s := leaderSample(t, m); s != `sluice_index_leader{chain="ltc"} 1` {
		t.Fatalf("sluice_index_leader without a lease: %q", s)
	}
	if h := ie.leaseHolders(t); len(h) != 0 {
		t.Fatalf("lease holders %q with indexer.lease off", h)
	}
	if strings.Contains(p.stderr.String(), "lease taken") {
		t.Fatalf("took a lease with indexer.lease off:\n%s", p.stderr.String())
	}
}

// TestWorkersServeMetrics: the standalone workers serve their metrics with
// --metrics-listen, their counters present at 0 before the first event.
func TestWorkersServeMetrics(t *testing.T) {
	ie := newIndexEnv(t)
	seed := filepath.Join(t.TempDir(), "seed")
	if err := os.WriteFile(seed, []byte(strings.Repeat("5a", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"consume", "--chain", "ltc"}, []string{`sluice_deposits_created_total{currency="LTC"} 0`,
			`sluice_deposits_failed_total{currency="LTC"} 0`, `sluice_reconciler_deposits_found_total{chain="ltc"} 0`}},
		// sluice_webhook_deliveries_total has a series per merchant (TestOperatorListings)
		{[]string{"webhooks"}, []string{`sluice_webhook_delivery_duration_seconds_count{flavour="iqpay"} 0`}},
		{[]string{"sweep", "--chain", "ltc"}, []string{`sluice_sweep_jobs_total{chain="ltc",kind="settle",state="confirmed"} 0`,
			`sluice_sweep_jobs_total{chain="ltc",kind="withdraw",state="failed"} 0`}},
		{[]string{"index", "--chain", "ltc"}, []string{`sluice_index_sync_errors_total{chain="ltc"} 0`,
			`sluice_index_reorg_too_deep{chain="ltc"} 0`, `sluice_index_leader{chain="ltc"}`}},
	}
	for _, c := range cases {
		t.Run(c.args[0], func(t *testing.T) {
			addr := deadPort(t)
			p := ie.startSub(t, []string{"SLUICE_SEED_FILE=" + seed}, c.args[0], append(c.args[1:], "--metrics-listen", addr)...)
			var page string
			defer func() {
				if t.Failed() {
					t.Logf("metrics page:\n%s", page)
				}
			}()
			waitFor(t, "metrics of "+c.args[0], 30*time.Second, func() bool {
				page = scrape(t, addr)
				for _, w := range c.want {
					if !strings.Contains(page, w) {
						return false
					}
				}
				return strings.Contains(page, "go_goroutines")
			})
			if !strings.Contains(p.stderr.String(), "http://"+addr+"/metrics") {
				t.Errorf("the log does not say where the metrics are:\n%s", p.stderr.String())
			}
		})
	}
}

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/jsonrpc"
)

// metric scrapes addr and returns the value of the sample whose line starts with name (0 if absent).
func metric(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// TestIndexNodeGoesAwayAndComesBack runs a litecoind of its own, stops it
// under a running indexer, and starts it again.
func TestIndexNodeGoesAwayAndComesBack(t *testing.T) {
	testenv.Get(t, "SLUICE_STACK_DIR")
	dir := t.TempDir()
	base := privateStackBase(t)
	stackArgs := []string{"--dir", dir, "--port-base", strconv.Itoa(base), "--services", "litecoind"}
	if r := run(t, nil, append([]string{"stack", "up"}, stackArgs...)...); r.code != 0 {
		t.Fatalf("private litecoind: %s", r.stderr)
	}
	t.Cleanup(func() { run(t, nil, "stack", "down", "--dir", dir) })
	ltcRPC := envFrom(t, dir, "SLUICE_LTC_RPC")
	rpc, _ := jsonrpc.New(ltcRPC+"/wallet/sluice", jsonrpc.WithVersion("1.0"))
	n := &node{chain: "ltc", rpc: rpc}

	ie := newIndexEnv(t)
	metrics := deadPort(t)
	p := ie.start(t, []string{"SLUICE_LTC_RPC=" + ltcRPC}, "--chain", "ltc", "--metrics-listen", metrics)
	top := n.height(t)
	waitFor(t, "catch-up", 60*time.Second, func() bool { return ie.checkpoint(t, "ltc") >= top })

	start := time.Now()
	if r := run(t, nil, "stack", "down", "--dir", dir, "--services", "litecoind"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	t.Logf("node stopped in %s", time.Since(start).Round(time.Millisecond))
	waitFor(t, "the indexer to notice", 30*time.Second, func() bool {
		return metric(t, metrics, `sluice_index_up{chain="ltc"}`) == 0 && metric(t, metrics, `sluice_index_sync_errors_total{chain="ltc"}`) > 0
	})
	if log := p.stderr.String(); !strings.Contains(log, "sync failed; retrying") ||
		!(strings.Contains(log, "connection refused") || strings.Contains(log, "HTTP 503")) {
		t.Fatalf("no clear log line:\n%s", p.stderr.String())
	}
	t.Logf("indexer noticed after %s", time.Since(start).Round(time.Millisecond))
	if r := run(t, nil, append([]string{"stack", "up"}, stackArgs...)...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	t.Logf("node back after %s", time.Since(start).Round(time.Millisecond))
	n.mine(t, 3)
	waitFor(t, "recovery", 60*time.Second, func() bool { return ie.checkpoint(t, "ltc") >= top+3 })
	t.Logf("index recovered after %s", time.Since(start).Round(time.Millisecond))
	waitFor(t, "sluice_index_up back to 1", 10*time.Second, func() bool { return metric(t, metrics, `sluice_index_up{chain="ltc"}`) == 1 })
	ie.sameAsNode(t, n)
}

// envFrom reads one variable of `sluice stack env --dir dir`.
func envFrom(t *testing.T, dir, key string) string {
	r := run(t, nil, "stack", "env", "--dir", dir)
	for _, line := range strings.Split(r.stdout, "\n") {
		if v, ok := strings.CutPrefix(line, "export "+key+"="); ok {
			return strings.Trim(v, "'")
		}
	}
	t.Fatalf("%s not in stack env", key)
	return ""
}

// TestIndexGarbageBlock puts a proxy between the indexer and the node that
// mangles one getblock answer.
func TestIndexGarbageBlock(t *testing.T) {
	n := nodeFor(t, "ltc")
	target, _ := url.Parse(testenv.Get(t, "SLUICE_LTC_RPC"))
	var armed, mangled atomic.Bool
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req struct {
			Method string `json:"method"`
		}
		_ = json.Unmarshal(body, &req)
		out, _ := http.NewRequest(http.MethodPost, "http://"+target.Host+r.URL.Path, bytes.NewReader(body))
		out.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		reply, _ := io.ReadAll(resp.Body)
		if req.Method == "getblock" && armed.Load() && !mangled.Swap(true) {
			// keep the JSON valid, cut the block's hex in half: a block that cannot decode
			var env map[string]any
			_ = json.Unmarshal(reply, &env)
			if s, ok := env["result"].(string); ok {
				env["result"] = s[:len(s)/2&^1] // valid hex, half a block
			}
			reply, _ = json.Marshal(env)
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(reply)
	}))
	defer proxy.Close()
	pu, _ := url.Parse(proxy.URL)
	pu.User = target.User

	ie := newIndexEnv(t)
	metrics := deadPort(t)
	p := ie.start(t, []string{"SLUICE_LTC_RPC=" + pu.String()}, "--chain", "ltc", "--metrics-listen", metrics)
	top := n.height(t)
	waitFor(t, "catch-up", 60*time.Second, func() bool { return ie.checkpoint(t, "ltc") >= top })
	armed.Store(true)
	n.mine(t, 1)
	waitFor(t, "recovery past the bad block", 60*time.Second, func() bool { return ie.checkpoint(t, "ltc") >= top+1 })
	if !mangled.Load() {
		t.Fatal("the proxy never mangled a block")
	}
	if v := metric(t, metrics, `sluice_node_bad_blocks_total{chain="ltc"}`); v < 1 {
		t.Errorf("sluice_node_bad_blocks_total = %v", v)
	}
	if !strings.Contains(p.stderr.String(), "node sent garbage for block") {
		t.Errorf("no clear log line:\n%s", p.stderr.String())
	}
	ie.sameAsNode(t, n)
}

// TestIndexSilentZMQ gives the indexer a real ZMQ publisher that announces
// nothing true: blocks still arrive through the poll, the silence and the
// sequence gaps show in metrics and logs.
func TestIndexSilentZMQ(t *testing.T) {
	n := nodeFor(t, "ltc")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub := zmq4.NewPub(ctx)
	defer pub.Close()
	addr := deadPort(t)
	if err := pub.Listen("tcp://" + addr); err != nil {
		t.Fatal(err)
	}
	ie := newIndexEnv(t)
	metrics := deadPort(t)
	p := ie.start(t, []string{"SLUICE_LTC_ZMQ=tcp://" + addr}, "--chain", "ltc", "--metrics-listen", metrics)
	top := n.height(t)
	waitFor(t, "catch-up", 60*time.Second, func() bool { return ie.checkpoint(t, "ltc") >= top })

	// sequence numbers with holes: every pair the subscriber sees is a gap
	waitFor(t, "a gap counted", 30*time.Second, func() bool {
		seq := make([]byte, 4)
		binary.LittleEndian.PutUint32(seq, uint32(time.Now().UnixNano()/1e6))
		_ = pub.Send(zmq4.NewMsgFrom([]byte("hashblock"), make([]byte, 32), seq))
		time.Sleep(100 * time.Millisecond)
		return metric(t, metrics, `sluice_zmq_sequence_gaps_total{chain="ltc"}`) >= 1
	})
	if v := metric(t, metrics, `sluice_index_triggers_total{chain="ltc",kind="zmq"}`); v < 1 {
		t.Errorf("zmq wake-ups = %v", v)
	}

	// now silence, and a block only the poll can find
	time.Sleep(3500 * time.Millisecond)
	n.mine(t, 1)
	waitFor(t, "the block via the poll", 30*time.Second, func() bool { return ie.checkpoint(t, "ltc") >= top+1 })
	waitFor(t, "the silence noticed", 10*time.Second, func() bool {
		return metric(t, metrics, `sluice_index_trigger_missed_total{chain="ltc",kind="zmq"}`) >= 1
	})
	if !strings.Contains(p.stderr.String(), "zmq trigger is silent") || !strings.Contains(p.stderr.String(), "sequence gap") {
		t.Errorf("log lacks the silence or the gap:\n%s", p.stderr.String())
	}
}

// privateStackBase picks a port base for a private stack of a test: below
// the kernel's ephemeral ports (32768 and up, which outgoing connections
// take at any moment), away from the dev and test stacks (27xxx, 28xxx) and
// from the stack package's tests (10000-17999), with every port free now.
func privateStackBase(t *testing.T) int {
	t.Helper()
	for i := 0; i < 100; i++ {
		base := 18000 + 200*int(time.Now().UnixNano()/7%40)
		free := true
		for off := 80; off <= 151 && free; off++ {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+off))
			if err != nil {
				free = false
				continue
			}
			l.Close()
		}
		if free {
			return base
		}
	}
	t.Fatal("no free port range for a private stack")
	return 0
}

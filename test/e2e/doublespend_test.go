package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicepay/sluice/devnet"
	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/jsonrpc"
)

// TestBTCDoubleSpend: a real double spend on btcd. A second btcd of the
// test's own, synced to the stack's, is cut off; the stack's node mines a
// payment A to a deposit address, while the second node mines a conflicting
// payment B of the same coin on a longer branch. Reconnected, the stack's
// node reorgs to B's branch: the deposit returns to unconfirmed and fails
// as soon as B is as deep as the deposit needed to be (BTC: 2), not after
// the 100-block timeout; each event is in the outbox once.
func TestBTCDoubleSpend(t *testing.T) {
	ctx := context.Background()
	n := nodeFor(t, "btc")
	key := btcMiningKey(t)
	rpcURL := testenv.Get(t, "SLUICE_BTC_RPC")
	de, w, cons := newBTCDepositEnv(t, "double-spend")

	// the second node syncs with the stack's, then is cut off
	peer := newPeerBTCD(t)
	stackP2P := testenv.Get(t, "SLUICE_BTC_P2P")
	peer.node(t, "connect", stackP2P, "temp")
	fork := n.height(t)
	waitFor(t, "the second btcd in sync", 60*time.Second, func() bool { return peer.height(t) == fork })
	peer.node(t, "disconnect", stackP2P)
	waitFor(t, "the second btcd cut off", 30*time.Second, func() bool { return peer.peers(t) == 0 })

	// A pays the deposit address on the stack's node; B, signed now from the
	// same coin, pays the mining address instead
	a, err := devnet.NewBTCPayment(ctx, rpcURL, key, w.Address, 20_000_000, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := devnet.NewBTCPayment(ctx, rpcURL, key, testenv.Get(t, "SLUICE_BTC_MINING_ADDRESS"), 30_000_000, &a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := devnet.SendRawBTC(ctx, rpcURL, a.Raw); err != nil {
		t.Fatal(err)
	}
	n.mine(t, 1)
	waitFor(t, "the deposit", 30*time.Second, func() bool { d, ok := de.deposit(a.TxID); return ok && d.confs == 1 })

	// B on a longer branch of the isolated node
	if _, err := devnet.SendRawBTC(ctx, peer.url, b.Raw); err != nil {
		t.Fatalf("the second node refuses B: %v", err)
	}
	var hashes []string
	if err := peer.rpc.Call(ctx, "generate", &hashes, 3); err != nil {
		t.Fatal(err)
	}
	peer.node(t, "connect", stackP2P, "temp")
	waitFor(t, "the stack's btcd on B's branch", 60*time.Second, func() bool {
		var h string
		return n.rpc.Call(ctx, "getblockhash", &h, fork+3) == nil && h == hashes[2]
	})

	waitFor(t, "the deposit failed", 60*time.Second, func() bool { d, _ := de.deposit(a.TxID); return d.status == 2 })
	if got := strings.Join(de.events(t, a.TxID), " "); got != "created/0/1 unconfirmed/0/0 failed/2/0" {
		t.Fatalf("events %s", got)
	}
	if log := cons.stderr.String(); !strings.Contains(log, "double-spent or replaced: transaction "+b.TxID) {
		t.Fatalf("the worker's log does not name B (%s) as the double spend:\n%s", b.TxID, log)
	}
	// more blocks change nothing: one failed event, still failed
	n.mine(t, 2)
	top := n.height(t)
	waitFor(t, "the new blocks indexed", 30*time.Second, func() bool { return de.checkpoint(t, "btc") >= top })
	time.Sleep(time.Second)
	if got := strings.Join(de.events(t, a.TxID), " "); got != "created/0/1 unconfirmed/0/0 failed/2/0" {
		t.Fatalf("events after more blocks %s", got)
	}
}

// peerBTCD is a btcd of a test's own (regtest, own data dir and ports) that
// never listens and dials only the peers it is told to (btcd's regtest
// database does not survive a restart, so peers are switched over RPC).
type peerBTCD struct {
	dir, bin, url string
	rpcPort       int
	rpc           *jsonrpc.Client
	cmd           *exec.Cmd
}

func newPeerBTCD(t *testing.T) *peerBTCD {
	t.Helper()
	p := &peerBTCD{dir: t.TempDir(), bin: filepath.Join(testenv.RepoRoot(t), "var", "bin", "btcd"), rpcPort: privateStackBase(t) + 130}
	if _, err := os.Stat(p.bin); err != nil {
		t.Fatalf("btcd binary (sluice stack up installs it): %v", err)
	}
	pass := strconv.FormatInt(time.Now().UnixNano(), 36)
	conf := fmt.Sprintf("rpcuser=peer\nrpcpass=%s\n", pass)
	if err := os.WriteFile(filepath.Join(p.dir, "btcd.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	p.url = fmt.Sprintf("http://peer:%s@127.0.0.1:%d", pass, p.rpcPort)
	c, err := jsonrpc.New(p.url, jsonrpc.WithVersion("1.0"))
	if err != nil {
		t.Fatal(err)
	}
	p.rpc = c
	t.Cleanup(func() { p.stop(t) })
	p.start(t)
	return p
}

// start runs the node; its one configured peer is a dead address, which
// keeps it from dialling any address it learns.
func (p *peerBTCD) start(t *testing.T) {
	t.Helper()
	p.cmd = exec.Command(p.bin, "--configfile="+filepath.Join(p.dir, "btcd.conf"),
		"--datadir="+filepath.Join(p.dir, "data"), "--logdir="+filepath.Join(p.dir, "logs"),
		"--regtest", "--notls", "--nolisten", "--rpclisten=127.0.0.1:"+strconv.Itoa(p.rpcPort),
		"--connect="+deadAddr(t), "--miningaddr="+testenv.Get(t, "SLUICE_BTC_MINING_ADDRESS"), "--txindex")
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second btcd's RPC", 30*time.Second, func() bool {
		var h int64
		return p.rpc.Call(context.Background(), "getblockcount", &h) == nil
	})
}

func (p *peerBTCD) stop(t *testing.T) {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.cmd = nil
}

// node runs btcd's node command: connect ADDR temp, disconnect ADDR.
func (p *peerBTCD) node(t *testing.T, args ...string) {
	t.Helper()
	if err := p.rpc.Call(context.Background(), "node", nil, toAny(args)...); err != nil {
		t.Fatalf("node %v: %v", args, err)
	}
}

func (p *peerBTCD) peers(t *testing.T) int {
	t.Helper()
	var ps []struct {
		Addr string `json:"addr"`
	}
	if err := p.rpc.Call(context.Background(), "getpeerinfo", &ps); err != nil {
		t.Fatal(err)
	}
	return len(ps)
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func (p *peerBTCD) height(t *testing.T) int64 {
	t.Helper()
	var h int64
	if err := p.rpc.Call(context.Background(), "getblockcount", &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// deadAddr is a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(privateStackBase(t)+99)
}

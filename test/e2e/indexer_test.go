package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/sluicepay/sluice/indexer/store"
	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/jsonrpc"
	"github.com/sluicepay/sluice/stores"
)

// redisDB hands each test its own Redis database, so block streams of
// concurrent tests never mix.
var redisDB atomic.Int32

// indexEnv is one isolated index: fresh ClickHouse and Postgres databases,
// its own Redis database, migrated.
type indexEnv struct {
	env   []string
	pg    string
	ch    *stores.ClickHouse
	redis *redis.Client
}

func newIndexEnv(t *testing.T) *indexEnv {
	t.Helper()
	pg, chDSN := testenv.FreshPostgres(t), testenv.FreshClickHouse(t)
	ru := testenv.Get(t, "SLUICE_REDIS_URL")
	db := 1 + redisDB.Add(1)%10 // 1-10; 11-14 belong to the rates, payments, watch and sweep packages' tests
	ru = ru[:len(ru)-len("/0")] + "/" + strconv.Itoa(int(db))
	ie := &indexEnv{env: []string{"SLUICE_POSTGRES_DSN=" + pg, "SLUICE_CLICKHOUSE_DSN=" + chDSN, "SLUICE_REDIS_URL=" + ru}, pg: pg}
	if r := run(t, ie.env, "migrate"); r.code != 0 {
		t.Fatalf("migrate: %s%s", r.stdout, r.stderr)
	}
	ch, err := stores.OpenClickHouse(chDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	ie.ch = ch
	opts, err := redis.ParseURL(ru)
	if err != nil {
		t.Fatal(err)
	}
	ie.redis = redis.NewClient(opts)
	t.Cleanup(func() { ie.redis.Close() })
	ie.redis.FlushDB(context.Background())
	return ie
}

// indexerProc is a running `sluice index`.
type indexerProc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
}

// syncBuffer collects a process's output while it runs.
type syncBuffer = testenv.SyncBuffer

func (ie *indexEnv) start(t *testing.T, extra []string, args ...string) *indexerProc {
	t.Helper()
	return ie.startSub(t, extra, "index", args...)
}

// startSub runs `sluice SUB args...` in the background against this index.
func (ie *indexEnv) startSub(t *testing.T, extra []string, sub string, args ...string) *indexerProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{sub}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = mergeEnv(append(append([]string{}, ie.env...), extra...))
	p := &indexerProc{cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("indexer log:\n%s", p.stderr.String())
		}
	})
	return p
}

func (ie *indexEnv) checkpoint(t *testing.T, chain string) int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, ie.pg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var h int64 = -1
	err = conn.QueryRow(ctx, "SELECT height FROM chain_checkpoints WHERE chain = $1", chain).Scan(&h)
	if err != nil && err != pgx.ErrNoRows {
		t.Fatal(err)
	}
	return h
}

// canonicalHashes reads the index as readers see it: height -> hash.
func (ie *indexEnv) canonicalHashes(t *testing.T, chain string) map[int64]string {
	t.Helper()
	refs, err := store.Recent(context.Background(), ie.ch, chain, 0)
	if err != nil {
		t.Fatal(err)
	}
	m := map[int64]string{}
	for _, r := range refs {
		m[r.Height] = r.Hash
	}
	return m
}

type node struct {
	chain string
	rpc   *jsonrpc.Client
	env   string
}

func nodeFor(t *testing.T, chain string) *node {
	key := map[string]string{"btc": "SLUICE_BTC_RPC", "ltc": "SLUICE_LTC_RPC"}[chain]
	u := testenv.Get(t, key)
	if chain == "ltc" {
		u += "/wallet/sluice"
	}
	c, err := jsonrpc.New(u, jsonrpc.WithVersion("1.0"))
	if err != nil {
		t.Fatal(err)
	}
	return &node{chain: chain, rpc: c, env: key}
}

func (n *node) height(t *testing.T) int64 {
	var h int64
	if err := n.rpc.Call(context.Background(), "getblockcount", &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func (n *node) hashAt(t *testing.T, h int64) string {
	var s string
	if err := n.rpc.Call(context.Background(), "getblockhash", &s, h); err != nil {
		t.Fatal(err)
	}
	return s
}

// mine adds k blocks, each time to a fresh address so a re-mined height never
// repeats an invalidated block.
func (n *node) mine(t *testing.T, k int) {
	t.Helper()
	ctx := context.Background()
	var hashes []string
	if n.chain == "btc" {
		if err := n.rpc.Call(ctx, "generate", &hashes, k); err != nil {
			t.Fatal(err)
		}
		return
	}
	var addr string
	if err := n.rpc.Call(ctx, "getnewaddress", &addr); err != nil {
		t.Fatal(err)
	}
	if err := n.rpc.Call(ctx, "generatetoaddress", &hashes, k, addr); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sameAsNode asserts the index holds exactly the node's main chain.
func (ie *indexEnv) sameAsNode(t *testing.T, n *node) {
	t.Helper()
	top := n.height(t)
	got := ie.canonicalHashes(t, n.chain)
	if int64(len(got)) != top+1 {
		t.Fatalf("index has %d canonical blocks, node has %d", len(got), top+1)
	}
	for h := int64(0); h <= top; h++ {
		if want := n.hashAt(t, h); got[h] != want {
			t.Fatalf("height %d: index %s, node %s", h, got[h], want)
		}
	}
	// no row twice, as readers see them
	var rows, uniq uint64
	q := "SELECT count(), uniqExact(txid, n) FROM outputs WHERE " + store.CanonicalFilter
	if err := ie.ch.QueryRow(context.Background(), q, n.chain, n.chain, n.chain).Scan(&rows, &uniq); err != nil {
		t.Fatal(err)
	}
	if rows != uniq || rows == 0 {
		t.Fatalf("outputs: %d rows but %d distinct", rows, uniq)
	}
}

func TestIndexFollowsNodes(t *testing.T) {
	for _, chain := range []string{"btc", "ltc"} {
		t.Run(chain, func(t *testing.T) {
			n := nodeFor(t, chain)
			ie := newIndexEnv(t)
			p := ie.start(t, nil, "--chain", chain)
			top := n.height(t)
			waitFor(t, "catch-up", 60*time.Second, func() bool { return ie.checkpoint(t, chain) >= top })
			ie.sameAsNode(t, n)

			n.mine(t, 1)
			mined := time.Now()
			want := n.hashAt(t, top+1)
			waitFor(t, "the new block in ClickHouse", 30*time.Second, func() bool { return ie.canonicalHashes(t, chain)[top+1] == want })
			t.Logf("%s: block mined -> visible in ClickHouse in %s", chain, time.Since(mined).Round(time.Millisecond))
			if chain == "btc" && !strings.Contains(p.stderr.String(), "btcd websocket connected") {
				t.Error("btc should be woken by btcd's websocket notifications")
			}

			evs, err := ie.redis.XRange(context.Background(), "blocks:"+chain, "-", "+").Result()
			if err != nil {
				t.Fatal(err)
			}
			last := evs[len(evs)-1].Values
			if last["kind"] != "connected" || last["hash"] != want || last["height"] != strconv.FormatInt(top+1, 10) {
				t.Fatalf("last event %v", last)
			}
		})
	}
}

func TestIndexReorg(t *testing.T) {
	n := nodeFor(t, "ltc")
	ie := newIndexEnv(t)
	ie.start(t, nil, "--chain", "ltc")
	n.mine(t, 2)
	top := n.height(t)
	waitFor(t, "catch-up", 60*time.Second, func() bool { return ie.checkpoint(t, "ltc") >= top })
	old := []string{n.hashAt(t, top-1), n.hashAt(t, top)}

	// a two-block reorg: invalidate top-1, mine a longer branch
	if err := n.rpc.Call(context.Background(), "invalidateblock", nil, old[0]); err != nil {
		t.Fatal(err)
	}
	n.mine(t, 3)
	newTop := n.height(t)
	if newTop != top+1 {
		t.Fatalf("node at %d after the reorg, want %d", newTop, top+1)
	}
	waitFor(t, "the new branch in the index", 30*time.Second, func() bool {
		return ie.canonicalHashes(t, "ltc")[newTop] == n.hashAt(t, newTop)
	})
	ie.sameAsNode(t, n)

	// the orphaned blocks' rows are invisible to readers
	var orphanRows uint64
	q := "SELECT count() FROM outputs WHERE block_hash IN (?, ?) AND " + store.CanonicalFilter
	if err := ie.ch.QueryRow(context.Background(), q, old[0], old[1], "ltc", "ltc", "ltc").Scan(&orphanRows); err != nil {
		t.Fatal(err)
	}
	if orphanRows != 0 {
		t.Fatalf("readers still see %d outputs of orphaned blocks", orphanRows)
	}
	// and the payments layer was told, in order: disconnected top, top-1, then the new blocks
	evs, err := ie.redis.XRange(context.Background(), "blocks:ltc", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var seq []string
	for _, e := range evs {
		if e.Values["kind"] == "disconnected" {
			seq = append(seq, "d:"+e.Values["hash"].(string))
		} else if h, _ := strconv.ParseInt(e.Values["height"].(string), 10, 64); h >= top-1 {
			seq = append(seq, "c:"+e.Values["hash"].(string))
		}
	}
	want := []string{"c:" + old[0], "c:" + old[1], "d:" + old[1], "d:" + old[0],
		"c:" + n.hashAt(t, top-1), "c:" + n.hashAt(t, top), "c:" + n.hashAt(t, top+1)}
	if fmt.Sprint(seq) != fmt.Sprint(want) {
		t.Fatalf("events\n got %v\nwant %v", seq, want)
	}
}

func TestIndexKill9DuringCatchUp(t *testing.T) {
	n := nodeFor(t, "btc")
	if n.height(t) < 1200 {
		n.mine(t, 1200-int(n.height(t)))
	}
	top := n.height(t)
	ie := newIndexEnv(t)
	// tiny batches and few workers, so the kills land mid-catch-up
	cfg := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(cfg, []byte("indexer:\n  batch_rows: 40\n  workers: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	extra := []string{"SLUICE_CONFIG=" + cfg}
	var last int64 = -1
	for kill := 1; kill <= 3; kill++ {
		p := ie.start(t, extra, "--chain", "btc")
		target := last + 1 + int64(kill)*50
		waitFor(t, "progress", 60*time.Second, func() bool { return ie.checkpoint(t, "btc") >= target })
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-p.done
		last = ie.checkpoint(t, "btc")
		if last >= top {
			t.Fatalf("catch-up finished before kill %d; the test needs a longer chain", kill)
		}
		t.Logf("kill -9 #%d at checkpoint %d of %d", kill, last, top)
	}
	ie.start(t, extra, "--chain", "btc")
	waitFor(t, "catch-up after the kills", 120*time.Second, func() bool { return ie.checkpoint(t, "btc") >= top })
	ie.sameAsNode(t, n)
}

// TestImportBlocksDir writes the node's chain into blk*.dat files the way a
// node does (out of order, zero padding, a stale fork block, XOR-obfuscated),
// imports them, and lets the live follower take over.
func TestImportBlocksDir(t *testing.T) {
	n := nodeFor(t, "ltc")
	ctx := context.Background()
	top := n.height(t)
	var raws [][]byte
	for h := int64(0); h <= top; h++ {
		var s string
		if err := n.rpc.Call(ctx, "getblock", &s, n.hashAt(t, h), 0); err != nil {
			t.Fatal(err)
		}
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, b)
	}
	// a sibling of block 5 that the node never had: same parent, another nonce
	fork := append([]byte(nil), raws[5]...)
	fork[79] ^= 0xff
	// node order is not chain order: swap neighbours, put the fork in the middle
	order := append([][]byte{}, raws...)
	for i := 1; i+1 < len(order); i += 7 {
		order[i], order[i+1] = order[i+1], order[i]
	}
	order = append(order[:len(order)/2], append([][]byte{fork}, order[len(order)/2:]...)...)

	dir := t.TempDir()
	key := []byte{0x5a, 0x01, 0xc3, 0x77, 0x10, 0x9e, 0x42, 0xee}
	if err := os.WriteFile(filepath.Join(dir, "xor.dat"), key, 0o644); err != nil {
		t.Fatal(err)
	}
	magic := []byte{0xfa, 0xbf, 0xb5, 0xda} // Litecoin regtest
	half := len(order) / 2
	for i, part := range [][][]byte{order[:half], order[half:]} {
		var buf bytes.Buffer
		for _, b := range part {
			buf.Write(magic)
			_ = binary.Write(&buf, binary.LittleEndian, uint32(len(b)))
			buf.Write(b)
		}
		buf.Write(make([]byte, 4096)) // preallocated tail
		data := buf.Bytes()
		for j := range data {
			data[j] ^= key[j%len(key)]
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("blk%05d.dat", i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	ie := newIndexEnv(t)
	r := run(t, ie.env, "import", "--chain", "ltc", "--blocks-dir", dir)
	if r.code != 0 {
		t.Fatalf("import: %s", r.stderr)
	}
	if !strings.Contains(r.stderr, fmt.Sprintf("imported ltc to height %d", top)) || !strings.Contains(r.stderr, fmt.Sprintf("found %d blocks", len(order))) {
		t.Fatalf("import output:\n%s", r.stderr)
	}
	ie.sameAsNode(t, n)
	if r := run(t, ie.env, "import", "--chain", "ltc", "--blocks-dir", dir); r.code != 0 || !strings.Contains(r.stderr, "nothing to import") {
		t.Fatalf("second import: %d %s", r.code, r.stderr)
	}

	// the live follower continues from the import's checkpoint
	ie.start(t, nil, "--chain", "ltc")
	n.mine(t, 1)
	waitFor(t, "live follow after the import", 30*time.Second, func() bool { return ie.checkpoint(t, "ltc") >= top+1 })
	ie.sameAsNode(t, n)

	if r := run(t, nil, "import", "--chain", "ltc", "--blocks-dir", t.TempDir()); r.code != 1 || !strings.Contains(r.stderr, "no blk*.dat files") {
		t.Fatalf("empty dir: %d %s", r.code, r.stderr)
	}
}

// TestImportNodeBlocksDir imports the test stack's own litecoind blocks
// directory: files a real node wrote, with the branches earlier reorg tests
// left behind and MWEB blocks in them.
func TestImportNodeBlocksDir(t *testing.T) {
	n := nodeFor(t, "ltc")
	dir := filepath.Join(testenv.Get(t, "SLUICE_STACK_DIR"), "litecoind", "regtest", "blocks")
	if _, err := os.Stat(filepath.Join(dir, "blk00000.dat")); err != nil {
		t.Fatalf("the stack's litecoind has no blocks directory: %v", err)
	}
	ie := newIndexEnv(t)
	r := run(t, ie.env, "import", "--chain", "ltc", "--blocks-dir", dir)
	if r.code != 0 {
		t.Fatalf("import: %s", r.stderr)
	}
	t.Log(strings.TrimSpace(r.stderr))
	ie.sameAsNode(t, n)
}

func TestIndexRefusesWrongNetwork(t *testing.T) {
	ie := newIndexEnv(t)
	r := run(t, append(ie.env, "SLUICE_LTC_NETWORK=mainnet"), "index", "--chain", "ltc")
	if r.code != 1 || !strings.Contains(r.stderr, `is on network "regtest", but the config says mainnet`) {
		t.Fatalf("want a clear wrong-network error, got %d: %s", r.code, r.stderr)
	}
	noCrash(t, r)
}

// TestIndexReorgTooDeep: a reorg deeper than indexer.max_reorg stops the
// indexer with an error that says so, instead of rewriting history.
func TestIndexReorgTooDeep(t *testing.T) {
	n := nodeFor(t, "ltc")
	ie := newIndexEnv(t)
	cfg := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(cfg, []byte("indexer:\n  max_reorg: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := ie.start(t, []string{"SLUICE_CONFIG=" + cfg}, "--chain", "ltc")
	n.mine(t, 2)
	top := n.height(t)
	waitFor(t, "catch-up", 60*time.Second, func() bool { return ie.checkpoint(t, "ltc") >= top })
	if err := n.rpc.Call(context.Background(), "invalidateblock", nil, n.hashAt(t, top-1)); err != nil {
		t.Fatal(err)
	}
	n.mine(t, 3)
	select {
	case err := <-p.done:
		if err == nil || !strings.Contains(p.stderr.String(), "reorg deeper than the configured maximum") {
			t.Fatalf("exit %v, log:\n%s", err, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the indexer kept running through a reorg deeper than max_reorg")
	}
	if got := ie.checkpoint(t, "ltc"); got != top {
		t.Fatalf("checkpoint moved to %d; the index must stay as it was (%d)", got, top)
	}
}

// TestIndexUnboundedReorg: with indexer.unbounded_reorgs (the local stack's
// setting, for regtest chains that start anew), a reorg deeper than
// max_reorg is walked back through the index's own records, and the index
// ends equal to the node's chain.
func TestIndexUnboundedReorg(t *testing.T) {
	n := nodeFor(t, "ltc")
	ie := newIndexEnv(t)
	cfg := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(cfg, []byte("indexer:\n  max_reorg: 1\n  unbounded_reorgs: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := ie.start(t, []string{"SLUICE_CONFIG=" + cfg}, "--chain", "ltc")
	n.mine(t, 4)
	top := n.height(t)
	waitFor(t, "catch-up", 60*time.Second, func() bool { return ie.checkpoint(t, "ltc") >= top })
	if err := n.rpc.Call(context.Background(), "invalidateblock", nil, n.hashAt(t, top-3)); err != nil {
		t.Fatal(err)
	}
	n.mine(t, 5)
	newTop := n.height(t)
	waitFor(t, "the index on the new branch", 60*time.Second, func() bool {
		return ie.checkpoint(t, "ltc") == newTop && ie.canonicalHashes(t, "ltc")[newTop] == n.hashAt(t, newTop)
	})
	ie.sameAsNode(t, n)
	if !strings.Contains(p.stderr.String(), "msg=reorg chain=ltc depth=4") {
		t.Errorf("no 4-deep reorg in the log:\n%s", p.stderr.String())
	}
}

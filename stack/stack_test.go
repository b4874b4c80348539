package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/redis/go-redis/v9"

	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/contracts"
	"github.com/sluicepay/sluice/devnet"
	"github.com/sluicepay/sluice/internal/secrets"
	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/payments/keys"
)

func TestPortsDistinct(t *testing.T) {
	seen := map[int]string{}
	for _, base := range []int{DefaultPortBase, DefaultPortBase + 1000} {
		p := PortsFor(base)
		for name, port := range map[string]int{"api": p.API, "ch": p.ClickHouse, "chhttp": p.ClickHouseHTTP,
			"pg": p.Postgres, "redis": p.Redis, "btc": p.BTCRPC, "btcp2p": p.BTCP2P, "ltc": p.LTCRPC,
			"eth": p.ETHHTTP, "ethws": p.ETHWS, "side": p.SidechainHTTP, "sidews": p.SidechainWS, "prices": p.Prices} {
			key := fmt.Sprintf("%d/%s", base, name)
			if other, dup := seen[port]; dup {
				t.Fatalf("port %d used by %s and %s", port, other, key)
			}
			seen[port] = key
		}
	}
}

func TestShellQuoteRoundTrip(t *testing.T) {
	for _, v := range []string{"plain", "with space", "it's", `a"b$c\d`, "postgres://u:p@h:1/db?sslmode=disable&x=1"} {
		out, err := exec.Command("sh", "-c", "eval \"X=$0\"; printf %s \"$X\"", ShellQuote(v)).Output()
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != v {
			t.Errorf("quoted %q came back as %q", v, out)
		}
	}
}

func TestAliveNeedsMarker(t *testing.T) {
	if !alive(os.Getpid(), "stack.test") {
		t.Fatal("our own process should be alive with its own name as marker")
	}
	if alive(os.Getpid(), "/no/such/stack/dir") {
		t.Fatal("a live process without the marker must not count as ours")
	}
	if alive(0, "x") || alive(1<<30, "x") {
		t.Fatal("impossible pids must not be alive")
	}
}

func TestPortFreeNamesHolder(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	err = portFree(port)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("want the holder named, got %v", err)
	}
}

func TestSelectUnknownService(t *testing.T) {
	s := &Stack{}
	if _, err := s.select_([]string{"redis", "mysql"}); err == nil || !strings.Contains(err.Error(), `unknown service "mysql"`) {
		t.Fatalf("got %v", err)
	}
}

// freeBase finds a port base whose every port is free, away from the
// default and test stacks (27xxx, 28xxx), from the kernel's ephemeral range
// (32768 and up: outgoing connections take those ports at any moment) and
// from the e2e tests' private stacks (18000-25999).
func freeBase(t *testing.T) int {
	for i := 0; i < 100; i++ {
		base := 10000 + 200*rand.IntN(40)
		p := PortsFor(base)
		ok := true
		for _, port := range []int{p.API, p.ClickHouse, p.ClickHouseHTTP, p.Postgres, p.Redis, p.BTCRPC, p.BTCP2P, p.LTCRPC, p.ETHHTTP, p.ETHWS,
			p.SidechainHTTP, p.SidechainWS} {
			if portFree(port) != nil {
				ok = false
				break
			}
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

// newTestStack makes a stack of its own in a temp dir, reusing the repo's var/bin.
func newTestStack(t *testing.T) *Stack {
	testenv.Get(t, "SLUICE_STACK_DIR") // an integration test: runs under make test
	dir := t.TempDir()
	// postgres runs as its own user and must be able to enter the directory
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		_ = os.Chmod(d, 0o755)
	}
	s, err := Open(Options{Dir: dir, BinDir: filepath.Join(testenv.RepoRoot(t), "var", "bin"),
		PortBase: freeBase(t), Out: testWriter{t}, StartTimeout: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Down(context.Background(), nil) })
	return s
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(time.Now().Format("15:04:05.000"), strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (s *Stack) pidOf(t *testing.T, name string) int {
	t.Helper()
	for _, svc := range catalog {
		if svc.name == name {
			pid := readPid(s.pidFile(svc))
			if !alive(pid, s.svcDir(svc)) {
				t.Fatalf("%s is not running", name)
			}
			return pid
		}
	}
	t.Fatalf("no service %s", name)
	return 0
}

func (s *Stack) mustAnswer(t *testing.T, names ...string) {
	t.Helper()
	for _, st := range s.Status(context.Background()) {
		for _, n := range names {
			if st.Name == n && (!st.Answers || !st.Running) {
				t.Fatalf("%s: running=%v answers=%v err=%s", n, st.Running, st.Answers, st.Error)
			}
		}
	}
}

// TestLifecycle drives a whole stack of its own through what operators do
// to it: up twice, kill -9 of each service, stale and hung pid files, a
// port taken by someone else, down, and up again.
func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	s := newTestStack(t)
	all := Services()

	if err := s.Up(ctx, nil); err != nil {
		t.Fatalf("first up: %v", err)
	}
	s.mustAnswer(t, all...)
	pids := map[string]int{}
	for _, n := range all {
		pids[n] = s.pidOf(t, n)
	}

	t.Run("second up reuses every service", func(t *testing.T) {
		if err := s.Up(ctx, nil); err != nil {
			t.Fatal(err)
		}
		for _, n := range all {
			if got := s.pidOf(t, n); got != pids[n] {
				t.Errorf("%s restarted (pid %d -> %d)", n, pids[n], got)
			}
		}
	})

	t.Run("devnet contracts deployed once, reused, and named by env and config", func(t *testing.T) {
		st := s.State
		url := "http://" + s.loop(s.Ports.ETHHTTP)
		named := map[string]*string{contracts.TetherToken: &s.State.USDTContract, contracts.USDCToken: &s.State.USDCContract,
			contracts.Forwarder: &s.State.ForwarderContract}
		seen := map[string]bool{}
		for name, addr := range named {
			if ok, err := devnet.DeployedAt(ctx, url, st.ETHDevAccount, *addr, name); err != nil || !ok {
				t.Fatalf("%s at %q: deployed %v, %v", name, *addr, ok, err)
			}
			if seen[*addr] {
				t.Fatalf("%s shares its address %s with another contract", name, *addr)
			}
			seen[*addr] = true
		}
		// A recorded address that holds another contract (a geth chain
		// started afresh hands addresses out again) is not reused.
		s.State.USDCContract = st.ForwarderContract
		if err := s.Up(ctx, []string{"geth"}); err != nil {
			t.Fatal(err)
		}
		if s.State.USDCContract == st.ForwarderContract || s.State.USDTContract != st.USDTContract || s.State.ForwarderContract != st.ForwarderContract {
			t.Fatalf("after up with USDC recorded at the forwarder: USDT %s USDC %s forwarder %s (were %s %s %s)", s.State.USDTContract,
				s.State.USDCContract, s.State.ForwarderContract, st.USDTContract, st.USDCContract, st.ForwarderContract)
		}
		if ok, err := devnet.DeployedAt(ctx, url, st.ETHDevAccount, s.State.USDCContract, contracts.USDCToken); err != nil || !ok {
			t.Fatalf("USDC redeployed at %s: %v, %v", s.State.USDCContract, ok, err)
		}
		env := map[string]string{}
		for _, kv := range s.Env() {
			env[kv.Key] = kv.Value
		}
		if env["SLUICE_USDT_CONTRACT"] != s.State.USDTContract || env["SLUICE_USDC_CONTRACT"] != s.State.USDCContract {
			t.Errorf("stack env: USDT %q USDC %q, want %s %s", env["SLUICE_USDT_CONTRACT"], env["SLUICE_USDC_CONTRACT"],
				s.State.USDTContract, s.State.USDCContract)
		}
		checkConfigTokens(t, s)
	})

	t.Run("sidechain: its own chain id, sealing, funded, its USDT deployed once and reused", func(t *testing.T) {
		side := gethClient("http://" + s.loop(s.Ports.SidechainHTTP))
		for _, c := range []struct {
			name string
			want int64
			call func(context.Context, string, any, ...any) error
		}{{"geth", 1337, s.eth().Call}, {"geth2", SidechainID, side.Call}} {
			var id hexutil.Big
			if err := c.call(ctx, "eth_chainId", &id); err != nil || id.ToInt().Int64() != c.want {
				t.Fatalf("%s chain id %s, %v, want %d", c.name, id.ToInt(), err, c.want)
			}
		}
		ch := s.EVMDevChains()[0]
		if ch.DevAccount != gethDevAccount || len(ch.Tokens) != 1 || ch.Tokens[0].Contract == "" {
			t.Fatalf("sidechain state %+v", ch)
		}
		var bal hexutil.Big
		if err := side.Call(ctx, "eth_getBalance", &bal, ch.DevAccount, "latest"); err != nil || bal.ToInt().Sign() == 0 {
			t.Fatalf("sidechain dev account balance %s, %v", bal.ToInt(), err)
		}
		usdt := ch.Tokens[0].Contract
		if ok, err := devnet.DeployedAt(ctx, ch.RPC, ch.DevAccount, usdt, contracts.TetherToken); err != nil || !ok {
			t.Fatalf("sidechain USDT at %s: %v, %v", usdt, ok, err)
		}
		// it seals blocks by itself, like geth
		m, err := devnet.Nodes{EVM: []devnet.EVMChain{{Key: SidechainKey, ChainID: SidechainID, RPC: ch.RPC}}}.Mine(ctx, SidechainKey, 2)
		if err != nil || len(m.Hashes) != 2 {
			t.Fatalf("sidechain blocks: %+v, %v", m, err)
		}
		// re-up keeps the contract; a recorded address holding no USDT is replaced
		if err := s.Up(ctx, []string{SidechainService}); err != nil {
			t.Fatal(err)
		}
		if got := s.EVMDevChains()[0].Tokens[0].Contract; got != usdt {
			t.Fatalf("re-up moved the sidechain USDT from %s to %s", usdt, got)
		}
		s.State.EVM[SidechainKey].Contracts["USDT"] = "0x00000000000000000000000000000000000000aa"
		if err := s.Up(ctx, []string{SidechainService}); err != nil {
			t.Fatal(err)
		}
		got := s.EVMDevChains()[0].Tokens[0].Contract
		if ok, err := devnet.DeployedAt(ctx, ch.RPC, ch.DevAccount, got, contracts.TetherToken); err != nil || !ok || got == usdt {
			t.Fatalf("sidechain USDT redeployed at %s (was %s): %v, %v", got, usdt, ok, err)
		}
		env := map[string]string{}
		for _, kv := range s.Env() {
			env[kv.Key] = kv.Value
		}
		if env["SLUICE_SIDECHAIN_RPC"] != ch.RPC || env["SLUICE_SIDECHAIN_USDT_CONTRACT"] != got || env["SLUICE_SIDECHAIN_CHAIN_ID"] != "1338" {
			t.Errorf("stack env: %v", env)
		}
		checkConfigTokens(t, s)
	})

	t.Run("regtest wallets are funded", func(t *testing.T) {
		var n int64
		if err := s.btc().Call(ctx, "getblockcount", &n); err != nil || n < MinBlocks {
			t.Fatalf("btcd blocks %d, %v", n, err)
		}
		var bal float64
		if err := s.ltc(s.State.LTCWallet).Call(ctx, "getbalance", &bal); err != nil || bal <= 0 {
			t.Fatalf("litecoind balance %v, %v", bal, err)
		}
		var info struct {
			Softforks map[string]struct {
				Active bool `json:"active"`
			} `json:"softforks"`
		}
		if err := s.ltc("").Call(ctx, "getblockchaininfo", &info); err != nil || !info.Softforks["mweb"].Active {
			t.Fatalf("MWEB should be active on the stack's litecoind: %+v, %v", info, err)
		}
		var wei string
		if err := s.eth().Call(ctx, "eth_getBalance", &wei, s.State.ETHDevAccount, "latest"); err != nil || wei == "0x0" {
			t.Fatalf("geth dev account balance %s, %v", wei, err)
		}
	})

	t.Run("redis keeps writes across kill -9 (AOF)", func(t *testing.T) {
		rc := redis.NewClient(&redis.Options{Addr: s.loop(s.Ports.Redis), Password: s.State.RedisPass})
		defer rc.Close()
		if err := rc.Set(ctx, "lifecycle", "kept", 0).Err(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond) // appendfsync everysec
		_ = syscall.Kill(s.pidOf(t, "redis"), syscall.SIGKILL)
		if err := s.Up(ctx, []string{"redis"}); err != nil {
			t.Fatal(err)
		}
		if v, err := rc.Get(ctx, "lifecycle").Result(); err != nil || v != "kept" {
			t.Fatalf("after kill -9 and up: %q, %v", v, err)
		}
	})

	for _, n := range all {
		t.Run("kill -9 "+n+" then up", func(t *testing.T) {
			old := s.pidOf(t, n)
			if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 50 && alive(old, filepath.Join(s.Dir, n)); i++ {
				time.Sleep(100 * time.Millisecond)
			}
			if err := s.Up(ctx, nil); err != nil {
				t.Fatal(err)
			}
			if s.pidOf(t, n) == old {
				t.Fatal("not restarted")
			}
			s.mustAnswer(t, all...)
		})
	}

	t.Run("no secret in any log or command line", func(t *testing.T) {
		st := s.State
		secrets := []string{st.PostgresSuperPass, st.PostgresPass, st.RedisPass, st.ClickHousePass, st.BTCRPCPass, st.LTCRPCPass, st.BTCMiningKey}
		logs, _ := filepath.Glob(filepath.Join(s.Dir, "logs", "*"))
		for _, svc := range catalog {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", s.pidOf(t, svc.name)))
			for _, sec := range secrets {
				if strings.Contains(string(cmdline), sec) {
					t.Errorf("%s command line holds a secret", svc.name)
				}
			}
		}
		for _, f := range logs {
			b, _ := os.ReadFile(f)
			for _, sec := range secrets {
				if strings.Contains(string(b), sec) {
					t.Errorf("%s holds a secret", f)
				}
			}
		}
	})

	t.Run("stale pid file of an unrelated process", func(t *testing.T) {
		if err := s.Down(ctx, []string{"redis"}); err != nil {
			t.Fatal(err)
		}
		// our own pid is alive but is not redis: up must start redis, not trust the file
		if err := os.WriteFile(s.pidFile(redisSvc), []byte(fmt.Sprint(os.Getpid())), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := s.Up(ctx, []string{"redis"}); err != nil {
			t.Fatal(err)
		}
		if s.pidOf(t, "redis") == os.Getpid() {
			t.Fatal("trusted a stale pid file")
		}
		s.mustAnswer(t, "redis")
	})

	t.Run("half-started service that never answers is replaced", func(t *testing.T) {
		if err := s.Down(ctx, []string{"redis"}); err != nil {
			t.Fatal(err)
		}
		hung := exec.Command("sh", "-c", "sleep 600", s.svcDir(redisSvc)) // carries the marker, answers nothing
		if err := hung.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = hung.Wait() }()
		if err := os.WriteFile(s.pidFile(redisSvc), []byte(fmt.Sprint(hung.Process.Pid)), 0o644); err != nil {
			t.Fatal(err)
		}
		s.startTimeout = 2 * time.Second
		err := s.Up(ctx, []string{"redis"})
		s.startTimeout = 90 * time.Second
		if err != nil {
			t.Fatal(err)
		}
		if alive(hung.Process.Pid, s.svcDir(redisSvc)) {
			t.Fatal("hung process left running")
		}
		s.mustAnswer(t, "redis")
	})

	t.Run("port taken by another program", func(t *testing.T) {
		if err := s.Down(ctx, []string{"redis"}); err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", s.loop(s.Ports.Redis))
		if err != nil {
			t.Fatal(err)
		}
		err = s.Up(ctx, []string{"redis"})
		l.Close()
		want := fmt.Sprintf("port %d is already in use by pid %d", s.Ports.Redis, os.Getpid())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("want %q, got %v", want, err)
		}
	})

	t.Run("down then up again", func(t *testing.T) {
		if err := s.Down(ctx, nil); err != nil {
			t.Fatal(err)
		}
		for _, st := range s.Status(ctx) {
			if st.Running || st.Answers {
				t.Fatalf("%s still up after down", st.Name)
			}
		}
		if err := s.Up(ctx, nil); err != nil {
			t.Fatal(err)
		}
		s.mustAnswer(t, all...)
		var n int64
		if err := s.btc().Call(ctx, "getblockcount", &n); err != nil || n < MinBlocks {
			t.Fatalf("btcd chain not kept across down/up: %d, %v", n, err)
		}
	})
}

// TestSeedFile: the first up writes a random seed only its owner may read,
// later ones keep it, and the config and env point at it.
func TestSeedFile(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ensureSecrets(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(s.SeedFile())
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("seed file: %v %v", st, err)
	}
	first, _ := os.ReadFile(s.SeedFile())
	if _, err := keys.LoadSeed(s.SeedFile()); err != nil {
		t.Fatal(err)
	}
	if err := s.ensureSecrets(); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(s.SeedFile()); string(again) != string(first) {
		t.Fatal("the seed changed on a second up")
	}
	found := false
	for _, kv := range s.Env() {
		found = found || kv.Key == "SLUICE_SEED_FILE" && kv.Value == s.SeedFile()
	}
	if !found {
		t.Fatal("stack env lacks SLUICE_SEED_FILE")
	}
	if err := s.writeConfig(); err != nil {
		t.Fatal(err)
	}
	if y, _ := os.ReadFile(s.ConfigFile()); !strings.Contains(string(y), "seed_file: \""+s.SeedFile()+"\"") {
		t.Fatalf("config lacks the seed:\n%s", y)
	}
}

// TestSecretsKeyFile: the first up writes a secrets key only its owner may
// read, later ones keep it, and the config and env name it, so the stack's
// webhook secrets are encrypted at rest.
func TestSecretsKeyFile(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range s.Env() {
		if kv.Key == "SLUICE_SECRETS_KEY_FILE" {
			t.Fatal("stack env names a key file before one exists")
		}
	}
	if err := s.ensureSecrets(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(s.SecretsKeyFile())
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	first, _ := os.ReadFile(s.SecretsKeyFile())
	if _, err := secrets.LoadKeyFile(s.SecretsKeyFile()); err != nil {
		t.Fatal(err)
	}
	if err := s.ensureSecrets(); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(s.SecretsKeyFile()); string(again) != string(first) {
		t.Fatal("the key changed on a second up")
	}
	found := false
	for _, kv := range s.Env() {
		found = found || kv.Key == "SLUICE_SECRETS_KEY_FILE" && kv.Value == s.SecretsKeyFile()
	}
	if !found {
		t.Fatal("stack env lacks SLUICE_SECRETS_KEY_FILE")
	}
	if err := s.writeConfig(); err != nil {
		t.Fatal(err)
	}
	if y, _ := os.ReadFile(s.ConfigFile()); !strings.Contains(string(y), "secrets:\n  key_file: \""+s.SecretsKeyFile()+"\"") {
		t.Fatalf("config lacks secrets.key_file:\n%s", y)
	}
}

// checkConfigTokens loads the stack's generated config, without any
// environment override, and checks it lists both devnet tokens at the
// addresses of the stack's state.
func checkConfigTokens(t *testing.T, s *Stack) {
	t.Helper()
	cfg, err := config.Load(s.ConfigFile(), func(string) string { return "" })
	if err != nil {
		y, _ := os.ReadFile(s.ConfigFile())
		t.Fatalf("the generated config does not load: %v\n%s", err, y)
	}
	got := map[string]string{}
	for _, tk := range cfg.Chains.ETH.Tokens {
		if tk.Decimals != 6 {
			t.Errorf("token %s has %d decimals, want 6", tk.Symbol, tk.Decimals)
		}
		got[tk.Symbol] = tk.Address
	}
	if len(got) != 2 || got["USDT"] != s.State.USDTContract || got["USDC"] != s.State.USDCContract {
		t.Errorf("chains.eth.tokens %v, want USDT %s and USDC %s", got, s.State.USDTContract, s.State.USDCContract)
	}
	// chains.evm.sidechain: the second dev chain, its coin and its USDT
	ch := s.EVMDevChains()[0]
	e := cfg.Chains.EVM[SidechainKey]
	if e == nil || e.Network != "dev" || e.ChainID != SidechainID || e.RPC != ch.RPC || e.WS != ch.WS || !e.Traces ||
		e.Native == nil || e.Native.Symbol != "SIDE" || e.Native.Decimals != 18 {
		t.Fatalf("chains.evm.sidechain %+v", e)
	}
	if len(e.Tokens) != 1 || e.Tokens[0].Symbol != "USDT" || e.Tokens[0].Decimals != 6 || e.Tokens[0].Address != ch.Tokens[0].Contract {
		t.Errorf("chains.evm.sidechain.tokens %+v, want USDT at %s", e.Tokens, ch.Tokens[0].Contract)
	}
	reg, err := chain.New(cfg)
	if err != nil {
		t.Fatalf("the generated config's chains: %v", err)
	}
	for _, code := range []string{"SIDE_SIDECHAIN", "USDT_SIDECHAIN"} {
		if c, ok := reg.Currency(code); !ok || c.Chain != SidechainKey {
			t.Errorf("registry: %s %+v, %v", code, c, ok)
		}
	}
}

// TestConfigTokens: the generated config names both devnet tokens and the
// env prints their contracts, from the state alone (no services).
func TestConfigTokens(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ensureSecrets(); err != nil {
		t.Fatal(err)
	}
	s.State.ETHDevAccount = "0x00000000000000000000000000000000000000d0"
	s.State.USDTContract = "0x00000000000000000000000000000000000000a1"
	s.State.USDCContract = "0x00000000000000000000000000000000000000c1"
	s.State.EVM[SidechainKey] = &DevChainState{DevAccount: gethDevAccount,
		Contracts: map[string]string{"USDT": "0x00000000000000000000000000000000000000b1"}}
	n := 0
	for _, kv := range s.Env() {
		switch kv.Key {
		case "SLUICE_USDT_CONTRACT", "SLUICE_USDC_CONTRACT", "SLUICE_SIDECHAIN_USDT_CONTRACT":
			n++
			if want := map[string]string{"SLUICE_USDT_CONTRACT": s.State.USDTContract, "SLUICE_USDC_CONTRACT": s.State.USDCContract,
				"SLUICE_SIDECHAIN_USDT_CONTRACT": "0x00000000000000000000000000000000000000b1"}[kv.Key]; kv.Value != want {
				t.Errorf("%s=%s, want %s", kv.Key, kv.Value, want)
			}
		}
	}
	if n != 3 {
		t.Errorf("stack env prints %d of SLUICE_USDT_CONTRACT, SLUICE_USDC_CONTRACT, SLUICE_SIDECHAIN_USDT_CONTRACT", n)
	}
	if err := s.writeConfig(); err != nil {
		t.Fatal(err)
	}
	checkConfigTokens(t, s)
}

// TestDevGenesis: geth's dev genesis gets the chain id and a funded dev
// account, every other value passes through exactly (big numbers too), and
// a genesis that is not a dev one (not merged at genesis) is refused.
func TestDevGenesis(t *testing.T) {
	dump := []byte(`{"config":{"chainId":1337,"terminalTotalDifficulty":0,"londonBlock":0},"gasLimit":"0xaf79e0",` +
		`"alloc":{"0000000000000000000000000000000000000001":{"balance":"0x1"}},"big":123456789012345678901234567890}`)
	out, err := devGenesis(dump, 1338, "0x71562B71999873DB5B286DF957AF199EC94617F7")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Config struct {
			ChainID json.Number `json:"chainId"`
			TTD     json.Number `json:"terminalTotalDifficulty"`
		} `json:"config"`
		GasLimit string                       `json:"gasLimit"`
		Alloc    map[string]map[string]string `json:"alloc"`
		Big      json.Number                  `json:"big"`
	}
	d := json.NewDecoder(strings.NewReader(string(out)))
	d.UseNumber()
	if err := d.Decode(&g); err != nil {
		t.Fatal(err)
	}
	if g.Config.ChainID != "1338" || g.Config.TTD != "0" || g.GasLimit != "0xaf79e0" || g.Big != "123456789012345678901234567890" ||
		g.Alloc["0000000000000000000000000000000000000001"]["balance"] != "0x1" ||
		g.Alloc["71562b71999873db5b286df957af199ec94617f7"]["balance"] != devFunds {
		t.Fatalf("genesis %s", out)
	}
	if _, err := devGenesis([]byte(`{"config":{"chainId":1}}`), 1338, gethDevAccount); err == nil {
		t.Fatal("a genesis without terminalTotalDifficulty taken for a dev one")
	}
}

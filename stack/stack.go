package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sluicepay/sluice/internal/secrets"
)

// DefaultPortBase is where the stack's ports start; every port is base+offset
// (see Ports), so two stacks with different bases never collide.
const DefaultPortBase = 27000

// Ports are the loopback ports of one stack.
type Ports struct {
	API            int `json:"api"`
	ClickHouse     int `json:"clickhouse"`
	ClickHouseHTTP int `json:"clickhouse_http"`
	Postgres       int `json:"postgres"`
	Redis          int `json:"redis"`
	BTCRPC         int `json:"btc_rpc"`
	BTCP2P         int `json:"btc_p2p"`
	LTCRPC         int `json:"ltc_rpc"`
	ETHHTTP        int `json:"eth_http"`
	ETHWS          int `json:"eth_ws"`
	SidechainHTTP  int `json:"sidechain_http"` // geth2, the second EVM dev chain
	SidechainWS    int `json:"sidechain_ws"`
	// Prices is not a stack service: the local price server (`sluice devnet
	// prices`, which make run starts) that the stack's config reads.
	Prices int `json:"prices"`
}

// PortsFor lays out the ports of a stack whose base is base.
func PortsFor(base int) Ports {
	return Ports{
		API: base + 80, ClickHouse: base + 100, ClickHouseHTTP: base + 101, Postgres: base + 110,
		Redis: base + 120, BTCRPC: base + 130, BTCP2P: base + 131, LTCRPC: base + 140,
		ETHHTTP: base + 150, ETHWS: base + 151, SidechainHTTP: base + 160, SidechainWS: base + 161, Prices: base + 95,
	}
}

// State is what a stack remembers between runs: its ports and the secrets
// it generated. It lives in DIR/stack.json, readable by its owner only.
type State struct {
	PortBase          int    `json:"port_base"`
	PostgresSuperPass string `json:"postgres_super_password"`
	PostgresPass      string `json:"postgres_password"`
	RedisPass         string `json:"redis_password"`
	ClickHousePass    string `json:"clickhouse_password"`
	BTCRPCPass        string `json:"btc_rpc_password"`
	LTCRPCPass        string `json:"ltc_rpc_password"`
	BTCMiningKey      string `json:"btc_mining_key"` // hex secp256k1 key of the regtest coinbase address
	BTCMiningAddress  string `json:"btc_mining_address"`
	ETHDevAccount     string `json:"eth_dev_account,omitempty"`
	USDTContract      string `json:"usdt_contract,omitempty"`      // the devnet USDT-like token
	USDCContract      string `json:"usdc_contract,omitempty"`      // the devnet USDC-like token
	ForwarderContract string `json:"forwarder_contract,omitempty"` // moves ETH and tokens from inside calls
	LTCWallet         string `json:"ltc_wallet"`
	LTCFeeAddress     string `json:"ltc_fee_address,omitempty"` // the operator's service fees (sweeps.fee_addresses)
	// EVM are the chains.evm dev chains (EVMDevChains) by key.
	EVM map[string]*DevChainState `json:"evm,omitempty"`
}

// Options say where a stack lives and what it prints.
type Options struct {
	Dir      string    // data, logs, pid files; default var/stack
	BinDir   string    // go-installed binaries; default var/bin
	PortBase int       // 0 = keep the recorded base, or DefaultPortBase for a new stack
	Out      io.Writer // progress lines
	// StartTimeout bounds the wait for a service to answer; 0 = each service's own default.
	StartTimeout time.Duration
}

// Stack is one local dependency stack.
type Stack struct {
	Dir    string
	BinDir string
	Ports  Ports
	State  State
	out    io.Writer
	outMu  sync.Mutex

	startTimeout time.Duration
}

// Services lists every service name in start order.
func Services() []string {
	names := make([]string, len(catalog))
	for i, s := range catalog {
		names[i] = s.name
	}
	return names
}

// Open loads (or creates) the stack state in opts.Dir. It starts nothing.
func Open(opts Options) (*Stack, error) {
	if opts.Dir == "" {
		opts.Dir = filepath.Join("var", "stack")
	}
	if opts.BinDir == "" {
		opts.BinDir = filepath.Join("var", "bin")
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	bin, err := filepath.Abs(opts.BinDir)
	if err != nil {
		return nil, err
	}
	s := &Stack{Dir: dir, BinDir: bin, out: opts.Out, startTimeout: opts.StartTimeout}
	if err := s.loadState(); err != nil {
		return nil, err
	}
	if opts.PortBase != 0 {
		if opts.PortBase < 1024 || opts.PortBase > 65000 {
			return nil, fmt.Errorf("port base %d out of range (1024 to 65000)", opts.PortBase)
		}
		s.State.PortBase = opts.PortBase
	}
	if s.State.PortBase == 0 {
		s.State.PortBase = DefaultPortBase
	}
	s.Ports = PortsFor(s.State.PortBase)
	return s, nil
}

// Exists reports whether a stack has been brought up in dir before.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "stack.json"))
	return err == nil
}

func (s *Stack) stateFile() string { return filepath.Join(s.Dir, "stack.json") }

func (s *Stack) loadState() error {
	b, err := os.ReadFile(s.stateFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &s.State); err != nil {
		return fmt.Errorf("%s is damaged (%v); remove the stack directory to start afresh", s.stateFile(), err)
	}
	return nil
}

func (s *Stack) saveState() error {
	b, err := json.MarshalIndent(s.State, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(s.stateFile(), b, 0o600)
}

// ensureSecrets generates what a new stack needs once, and keeps it.
func (s *Stack) ensureSecrets() error {
	for _, p := range []*string{&s.State.PostgresSuperPass, &s.State.PostgresPass, &s.State.RedisPass,
		&s.State.ClickHousePass, &s.State.BTCRPCPass, &s.State.LTCRPCPass} {
		if *p == "" {
			*p = randomHex(16)
		}
	}
	if s.State.LTCWallet == "" {
		s.State.LTCWallet = "sluice"
	}
	for _, c := range s.EVMDevChains() {
		s.devChainState(c.Key) // made here: the services' setups run in parallel
	}
	if err := s.ensureSeed(); err != nil {
		return err
	}
	if err := s.ensureSecretsKey(); err != nil {
		return err
	}
	if s.State.BTCMiningKey == "" {
		key, addr, err := newRegtestKey()
		if err != nil {
			return err
		}
		s.State.BTCMiningKey, s.State.BTCMiningAddress = key, addr
	}
	return nil
}

// SeedFile is the stack's master seed (payments.seed_file), a random hex
// seed written once by Up, mode 0600.
func (s *Stack) SeedFile() string { return filepath.Join(s.Dir, "seed") }

// ensureSeed writes a new random seed on the first up and keeps it after:
// the stack's deposit addresses derive from it.
func (s *Stack) ensureSeed() error {
	if _, err := os.Stat(s.SeedFile()); !errors.Is(err, os.ErrNotExist) {
		return err // nil when it exists: sluice checks its mode and content
	}
	return writeFileAtomic(s.SeedFile(), []byte(randomHex(32)+"\n"), 0o600)
}

// SecretsKeyFile is the stack's secrets.key_file, written once by Up
// (mode 0600): the stack's webhook secrets are encrypted with it.
func (s *Stack) SecretsKeyFile() string { return filepath.Join(s.Dir, "secrets.key") }

// ensureSecretsKey writes the key on the first up (of a stack made before
// key files, too) and keeps it after: what it encrypted needs it.
func (s *Stack) ensureSecretsKey() error {
	if _, err := os.Stat(s.SecretsKeyFile()); !errors.Is(err, os.ErrNotExist) {
		return err // nil when it exists: sluice checks its mode and content
	}
	return secrets.Keygen(s.SecretsKeyFile())
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // the OS random source failing is not recoverable
	}
	return hex.EncodeToString(b)
}

func (s *Stack) printf(format string, args ...any) {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	fmt.Fprintf(s.out, format, args...)
}

// lock serialises up/down/status on one stack directory across processes.
func (s *Stack) lock() (func(), error) {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create stack directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(s.Dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fmt.Fprintf(s.out, "waiting for another sluice stack command on %s\n", s.Dir)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, err
		}
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

func (s *Stack) select_(names []string) ([]*service, error) {
	if len(names) == 0 {
		return catalog, nil
	}
	var out []*service
	for _, svc := range catalog {
		if slices.Contains(names, svc.name) {
			out = append(out, svc)
		}
	}
	for _, n := range names {
		if !slices.Contains(Services(), n) {
			return nil, fmt.Errorf("unknown service %q (one of: %s)", n, strings.Join(Services(), ", "))
		}
	}
	return out, nil
}

func (s *Stack) svcDir(svc *service) string  { return filepath.Join(s.Dir, svc.name) }
func (s *Stack) pidFile(svc *service) string { return filepath.Join(s.Dir, "run", svc.name+".pid") }
func (s *Stack) logFile(svc *service) string { return filepath.Join(s.Dir, "logs", svc.name+".log") }

// Up installs, starts and prepares the named services (all when names is
// empty), reusing those already running. It returns once every one answers.
func (s *Stack) Up(ctx context.Context, names []string) error {
	svcs, unlock, err := s.selectAndLock(names)
	if err != nil {
		return err
	}
	defer unlock()
	for _, d := range []string{"run", "logs"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := s.checkRunningPorts(svcs); err != nil {
		return err
	}
	if err := s.ensureSecrets(); err != nil {
		return err
	}
	if err := s.saveState(); err != nil {
		return err
	}

	var apt []aptReq
	var tools []goTool
	for _, svc := range svcs {
		apt = append(apt, svc.apt...)
		tools = append(tools, svc.tools...)
	}
	installLog := filepath.Join(s.Dir, "logs", "install.log")
	if err := installApt(ctx, apt, s.out, installLog); err != nil {
		return err
	}
	if err := installGo(ctx, tools, s.BinDir, s.out, installLog); err != nil {
		return err
	}

	upErr := parallel(svcs, func(svc *service) error { return s.up(ctx, svc) })
	if err := s.saveState(); err != nil { // setup may have learned things (geth's dev account)
		return err
	}
	if err := s.writeConfig(); err != nil {
		return err
	}
	return upErr
}

// selectAndLock resolves service names and takes the stack lock.
func (s *Stack) selectAndLock(names []string) ([]*service, func(), error) {
	svcs, err := s.select_(names)
	if err != nil {
		return nil, nil, err
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, nil, err
	}
	return svcs, unlock, nil
}

// parallel runs fn for every service at once and joins the errors, each
// prefixed with its service, so one failure never hides another.
func parallel(svcs []*service, fn func(*service) error) error {
	errs := make([]error, len(svcs))
	var wg sync.WaitGroup
	for i, svc := range svcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(svc); err != nil {
				errs[i] = fmt.Errorf("%s: %w", svc.name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// checkRunningPorts refuses to move a running stack to other ports.
func (s *Stack) checkRunningPorts(svcs []*service) error {
	var recorded State
	if b, err := os.ReadFile(s.stateFile()); err == nil && json.Unmarshal(b, &recorded) == nil &&
		recorded.PortBase != 0 && recorded.PortBase != s.State.PortBase {
		for _, svc := range catalog {
			if alive(readPid(s.pidFile(svc)), s.svcDir(svc)) {
				return fmt.Errorf("the stack in %s is running with port base %d; run `sluice stack down` before changing it to %d",
					s.Dir, recorded.PortBase, s.State.PortBase)
			}
		}
	}
	return nil
}

// up brings one service to the answering state.
func (s *Stack) up(ctx context.Context, svc *service) error {
	start := time.Now()
	marker := s.svcDir(svc)
	pid := readPid(s.pidFile(svc))
	if alive(pid, marker) {
		// Running already, perhaps still starting (a previous up was interrupted).
		if err := s.waitReady(ctx, svc, pid); err == nil {
			if err := svc.setup(ctx, s); err != nil {
				return fmt.Errorf("setup: %w", err)
			}
			s.printf("%-10s running   %s (pid %d, reused)\n", svc.name, svc.addr(s), pid)
			return nil
		}
		s.printf("%-10s pid %d does not answer; restarting it\n", svc.name, pid)
		if err := stopPid(pid, marker, svc.stopSignal, 10*time.Second); err != nil {
			return err
		}
	}
	reapSession(pid)
	_ = os.Remove(s.pidFile(svc))
	for _, p := range svc.ports(s) {
		if err := waitPortFree(ctx, p, 3*time.Second); err != nil {
			return fmt.Errorf("cannot start: %w; stop that program or pick other ports with --port-base", err)
		}
	}
	if err := os.MkdirAll(marker, 0o755); err != nil {
		return err
	}
	if err := svc.prepare(ctx, s); err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	cred, err := svc.credential()
	if err != nil {
		return err
	}
	proc, err := spawn(svc.argv(s), marker, s.logFile(svc), nil, cred)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.pidFile(svc), []byte(fmt.Sprintf("%d\n", proc.Pid)), 0o644); err != nil {
		return err
	}
	if err := s.waitReady(ctx, svc, proc.Pid); err != nil {
		return fmt.Errorf("%w\nlast lines of %s:\n%s", err, s.logFile(svc), tail(s.logFile(svc), 15))
	}
	if err := svc.setup(ctx, s); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	s.printf("%-10s started   %s (pid %d, %.1fs)\n", svc.name, svc.addr(s), proc.Pid, time.Since(start).Seconds())
	return nil
}

// waitReady polls the service until it answers, dies, or timeout passes.
func (s *Stack) waitReady(ctx context.Context, svc *service, pid int) error {
	timeout := svc.timeout
	if s.startTimeout > 0 {
		timeout = s.startTimeout
	}
	deadline := time.Now().Add(timeout)
	var last error
	for {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		last = svc.ready(cctx, s)
		cancel()
		if last == nil {
			return nil
		}
		if !alive(pid, s.svcDir(svc)) {
			// /proc/PID/cmdline reads empty for an instant while a wrapper
			// script execs the real binary (Debian's litecoind is one): look twice.
			time.Sleep(300 * time.Millisecond)
			if !alive(pid, s.svcDir(svc)) {
				return fmt.Errorf("exited while starting (%v)", last)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("did not answer within %s: %v", timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Down stops the named services (all when empty) that this stack started.
func (s *Stack) Down(ctx context.Context, names []string) error {
	svcs, unlock, err := s.selectAndLock(names)
	if err != nil {
		return err
	}
	defer unlock()
	return parallel(svcs, func(svc *service) error {
		pid := readPid(s.pidFile(svc))
		if !alive(pid, s.svcDir(svc)) {
			_ = os.Remove(s.pidFile(svc))
			s.printf("%-10s not running\n", svc.name)
			return nil
		}
		if err := stopPid(pid, s.svcDir(svc), svc.stopSignal, 60*time.Second); err != nil {
			return err
		}
		_ = os.Remove(s.pidFile(svc))
		s.printf("%-10s stopped   (pid %d)\n", svc.name, pid)
		return nil
	})
}

// ServiceStatus is one line of `sluice stack status`.
type ServiceStatus struct {
	Name    string `json:"name"`
	Addr    string `json:"addr"`
	Pid     int    `json:"pid,omitempty"`
	Running bool   `json:"running"`
	Answers bool   `json:"answers"`
	Error   string `json:"error,omitempty"`
}

// Status reports each service: its address, pid, and whether it answers.
func (s *Stack) Status(ctx context.Context) []ServiceStatus {
	out := make([]ServiceStatus, len(catalog))
	var wg sync.WaitGroup
	for i, svc := range catalog {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := ServiceStatus{Name: svc.name, Addr: svc.addr(s)}
			pid := readPid(s.pidFile(svc))
			if alive(pid, s.svcDir(svc)) {
				st.Pid, st.Running = pid, true
			}
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			if err := svc.ready(cctx, s); err != nil {
				st.Error = err.Error()
			} else {
				st.Answers = true
			}
			out[i] = st
		}()
	}
	wg.Wait()
	return out
}

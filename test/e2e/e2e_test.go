// Package e2e drives the sluice binary against the test stack, the way
// operators and CI use it.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicepay/sluice/internal/testenv"
)

var bin string

func TestMain(m *testing.M) {
	bin = os.Getenv("SLUICE_BIN")
	if bin == "" {
		dir, err := os.MkdirTemp("", "sluice-e2e")
		if err != nil {
			panic(err)
		}
		bin = filepath.Join(dir, "sluice")
		out, err := exec.Command("go", "build", "-o", bin, "../../cmd/sluice").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build sluice: %v\n%s", err, out)
			os.Exit(1)
		}
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

type result struct {
	stdout, stderr string
	code           int
}

// run executes sluice with the test environment plus env (KEY=VALUE; an
// empty value unsets), from a directory with no var/stack in it.
func run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = mergeEnv(env)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run sluice %v: %v", args, err)
	}
	return r
}

func mergeEnv(env []string) []string { return testenv.SluiceEnv(env...) }

// noCrash fails if output looks like a panic or stack trace.
func noCrash(t *testing.T, r result) {
	t.Helper()
	for _, bad := range []string{"panic:", "goroutine ", ".go:"} {
		if strings.Contains(r.stderr, bad) || strings.Contains(r.stdout, bad) {
			t.Fatalf("output looks like a crash (%q):\n%s%s", bad, r.stdout, r.stderr)
		}
	}
}

func TestHelpExplains(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"stack", "--help"}, {"serve", "--help"}, {"migrate", "--help"}, {"config", "--help"}} {
		r := run(t, nil, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
			t.Fatalf("%v: code %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	r := run(t, nil, "config", "--help")
	for _, v := range []string{"SLUICE_POSTGRES_DSN", "SLUICE_CLICKHOUSE_DSN", "SLUICE_REDIS_URL", "SLUICE_ETH_WS"} {
		if !strings.Contains(r.stdout, v) {
			t.Errorf("config --help does not list %s", v)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(`clickhouse: {dsn: "clickhouse://default:x@127.0.0.1:9000/sluice"}
postgres: {dsn: "postgres://u:p@127.0.0.1:5432/sluice"}
redis: {url: "redis://127.0.0.1:6379/0"}
chains: {btc: {network: regtest, rpc: "http://u:p@127.0.0.1:18443"}}
`), 0o600)
	// only the file speaks: unset every SLUICE_ override of the test stack
	var clean []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "SLUICE_") {
			clean = append(clean, k+"=")
		}
	}
	if r := run(t, clean, "config", "check", good); r.code != 0 || !strings.Contains(r.stdout, "ok") {
		t.Fatalf("good config refused: %d %s%s", r.code, r.stdout, r.stderr)
	}

	cases := map[string]struct{ body, want string }{
		"unknown key": {"clickhouse: {dsn: \"clickhouse://a:b@h:1/d\"}\npostgres: {dsn: \"postgres://u:p@h:1/d\"}\nredis: {url: \"redis://h:1\"}\nchains:\n  btc:\n    rcp: http://u:p@h:1\n",
			`:6: chains.btc.rcp: unknown key "rcp"`},
		"not yaml":   {"api: [\n", "broken.yaml:"},
		"bad url":    {"clickhouse: {dsn: \"clickhouse://a:b@h:1/d\"}\npostgres: {dsn: \"postgres://u:p@h:1/d\"}\nredis: {url: \"redis://h:1\"}\nchains:\n  eth:\n    ws: \"ftp://h:1\"\n", `chains.eth.ws: scheme "ftp" not supported`},
		"no secrets": {"clickhouse: {dsn: \"clickhouse://a:b@h:1/d\"}\npostgres: {dsn: \"postgres://u@h:1/d\"}\nredis: {url: \"redis://h:1\"}\nchains:\n  ltc: {rpc: \"http://h:1\"}\n", "missing credentials"},
		"empty":      {"", "clickhouse.dsn: missing"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(dir, "broken.yaml")
			os.WriteFile(f, []byte(tc.body), 0o600)
			r := run(t, clean, "config", "check", f)
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("want exit 1 with %q, got %d:\n%s", tc.want, r.code, r.stderr)
			}
			noCrash(t, r)
		})
	}
	r := run(t, clean, "config", "check", filepath.Join(dir, "missing.yaml"))
	if r.code != 1 || !strings.Contains(r.stderr, "no such file") {
		t.Fatalf("missing file: %d %s", r.code, r.stderr)
	}
}

func TestStackStatusAndEnv(t *testing.T) {
	dir := testenv.Get(t, "SLUICE_STACK_DIR")
	r := run(t, nil, "stack", "status", "--dir", dir)
	if r.code != 0 {
		t.Fatalf("status of the test stack: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, svc := range []string{"clickhouse", "postgres", "redis", "btcd", "litecoind", "geth"} {
		if !strings.Contains(r.stdout, svc) {
			t.Errorf("status lacks %s", svc)
		}
	}
	r = run(t, nil, "stack", "env", "--dir", dir)
	out, err := exec.Command("sh", "-c", r.stdout+"\nprintf %s \"$SLUICE_POSTGRES_DSN\"").Output()
	if err != nil || string(out) != os.Getenv("SLUICE_POSTGRES_DSN") {
		t.Fatalf("eval of stack env gave %q (%v)", out, err)
	}
	r = run(t, nil, "stack", "status", "--dir", t.TempDir())
	if r.code != 3 || !strings.Contains(r.stderr, "no stack in") {
		t.Fatalf("status of an empty dir: %d %s", r.code, r.stderr)
	}
}

func TestMigrateTwiceAndConcurrently(t *testing.T) {
	pg, ch := testenv.FreshPostgres(t), testenv.FreshClickHouse(t)
	env := []string{"SLUICE_POSTGRES_DSN=" + pg, "SLUICE_CLICKHOUSE_DSN=" + ch}
	r := run(t, env, "migrate")
	if r.code != 0 || !strings.Contains(r.stdout, "postgres:   applied") || !strings.Contains(r.stdout, "clickhouse: applied") {
		t.Fatalf("first migrate: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, env, "migrate")
	if r.code != 0 || strings.Contains(r.stdout, "applied") || strings.Count(r.stdout, "up to date") != 2 {
		t.Fatalf("second migrate should apply nothing: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	checkSchema(t, pg, ch)

	// two processes at once on empty databases
	pg2, ch2 := testenv.FreshPostgres(t), testenv.FreshClickHouse(t)
	env2 := []string{"SLUICE_POSTGRES_DSN=" + pg2, "SLUICE_CLICKHOUSE_DSN=" + ch2}
	results := make(chan result, 2)
	for i := 0; i < 2; i++ {
		go func() { results <- run(t, env2, "migrate") }()
	}
	applied := 0
	for i := 0; i < 2; i++ {
		r := <-results
		if r.code != 0 {
			t.Fatalf("concurrent migrate failed: %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		applied += strings.Count(r.stdout, "applied")
	}
	if applied != countFiles(t, "postgres")+countFiles(t, "clickhouse") {
		t.Fatalf("each migration must be applied exactly once across both processes, got %d applications", applied)
	}
	checkSchema(t, pg2, ch2)
}

func countFiles(t *testing.T, store string) int {
	m, err := filepath.Glob(filepath.Join(testenv.RepoRoot(t), "schema", store, "*.sql"))
	if err != nil || len(m) == 0 {
		t.Fatalf("no %s migrations: %v", store, err)
	}
	return len(m)
}

func TestMigrateUnreachable(t *testing.T) {
	pg, ch := testenv.FreshPostgres(t), testenv.FreshClickHouse(t)
	dead := deadPort(t)
	r := run(t, []string{"SLUICE_POSTGRES_DSN=" + pg, "SLUICE_CLICKHOUSE_DSN=clickhouse://default:secretpw@" + dead + "/sluice"}, "migrate")
	if r.code != 1 || !strings.Contains(r.stderr, "clickhouse at "+dead) || !strings.Contains(r.stderr, "connection refused") {
		t.Fatalf("want a clear clickhouse error, got %d:\n%s", r.code, r.stderr)
	}
	noCrash(t, r)
	if strings.Contains(r.stderr, "secretpw") {
		t.Fatal("error leaks the password")
	}
	r = run(t, []string{"SLUICE_POSTGRES_DSN=postgres://u:secretpw@" + dead + "/x", "SLUICE_CLICKHOUSE_DSN=" + ch}, "migrate")
	if r.code != 1 || !strings.Contains(r.stderr, "postgres") || !strings.Contains(r.stderr, "connection refused") {
		t.Fatalf("want a clear postgres error, got %d:\n%s", r.code, r.stderr)
	}
	noCrash(t, r)
	if strings.Contains(r.stderr, "secretpw") {
		t.Fatal("error leaks the password")
	}
}

// deadPort returns a loopback address where nothing listens.
func deadPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// server is a running `sluice serve`.
type server struct {
	cmd    *exec.Cmd
	url    string
	stderr *syncBuffer
	done   chan error
}

func startServe(t *testing.T, env []string) *server {
	t.Helper()
	return startServeArgs(t, env, "--index=false")
}

// startServeArgs starts `sluice serve ARGS...` on a free port.
func startServeArgs(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	addr := deadPort(t)
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = mergeEnv(append(env, "SLUICE_API_LISTEN="+addr))
	s := &server{cmd: cmd, url: "http://" + addr, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	for i := 0; i < 100; i++ {
		if resp, err := http.Get(s.url + "/healthz"); err == nil {
			resp.Body.Close()
			return s
		}
		select {
		case err := <-s.done:
			t.Fatalf("serve exited early: %v\n%s", err, s.stderr)
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not answer /healthz\n%s", s.stderr)
	return nil
}

type readyz struct {
	Status       string `json:"status"`
	Dependencies map[string]struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	} `json:"dependencies"`
}

func (s *server) readyz(t *testing.T) (int, readyz) {
	t.Helper()
	resp, err := http.Get(s.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r readyz
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, r
}

func TestServeReadyMetricsAndShutdown(t *testing.T) {
	testenv.Get(t, "SLUICE_POSTGRES_DSN")
	s := startServe(t, nil)
	code, r := s.readyz(t)
	if code != 200 || r.Status != "ok" {
		t.Fatalf("readyz %d %+v", code, r)
	}
	for _, dep := range []string{"clickhouse", "postgres", "redis", "btc", "ltc", "eth"} {
		if d, ok := r.Dependencies[dep]; !ok || !d.OK {
			t.Errorf("dependency %s: %+v", dep, d)
		}
	}
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{`sluice_dependency_up{dependency="clickhouse"} 1`, `sluice_dependency_up{dependency="eth"} 1`,
		"go_goroutines", "process_cpu_seconds_total", `sluice_http_request_duration_seconds_count{code="200",method="GET",route="/readyz"}`} {
		if !bytes.Contains(body, []byte(m)) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	if resp, err := http.Get(s.url + "/nope"); err != nil || resp.StatusCode != 404 {
		t.Errorf("unknown path: %v %v", resp, err)
	}

	// SIGTERM: graceful exit, status 0
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, s.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	if !strings.Contains(s.stderr.String(), "stopped") {
		t.Errorf("no shutdown log line:\n%s", s.stderr)
	}
}

func TestServeReportsDeadDependency(t *testing.T) {
	testenv.Get(t, "SLUICE_POSTGRES_DSN")
	dead := deadPort(t)
	s := startServe(t, []string{"SLUICE_CLICKHOUSE_DSN=clickhouse://default:x@" + dead + "/sluice", "SLUICE_BTC_NETWORK=mainnet"})
	code, r := s.readyz(t)
	if code != 503 || r.Status != "unavailable" {
		t.Fatalf("want 503, got %d %+v", code, r)
	}
	if d := r.Dependencies["clickhouse"]; d.OK || !strings.Contains(d.Error, dead) {
		t.Errorf("clickhouse: %+v", d)
	}
	if d := r.Dependencies["btc"]; d.OK || !strings.Contains(d.Error, `on network "regtest", but the config says mainnet`) {
		t.Errorf("btc on the wrong network: %+v", d)
	}
	for _, dep := range []string{"postgres", "redis", "ltc", "eth"} {
		if !r.Dependencies[dep].OK {
			t.Errorf("%s should still be up: %+v", dep, r.Dependencies[dep])
		}
	}
}

func TestServePortTaken(t *testing.T) {
	testenv.Get(t, "SLUICE_POSTGRES_DSN")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r := run(t, []string{"SLUICE_API_LISTEN=" + l.Addr().String()}, "serve")
	if r.code != 1 || !strings.Contains(r.stderr, "already in use by another program") {
		t.Fatalf("want a clear error, got %d:\n%s", r.code, r.stderr)
	}
	noCrash(t, r)
}

func TestServeBrokenConfig(t *testing.T) {
	f := filepath.Join(t.TempDir(), "sluice.yaml")
	os.WriteFile(f, []byte("api:\n  listen: 127.0.0.1:1\n  colour: blue\n"), 0o600)
	r := run(t, nil, "--config", f, "serve")
	if r.code != 1 || !strings.Contains(r.stderr, `sluice.yaml:3: api.colour: unknown key "colour"`) {
		t.Fatalf("got %d:\n%s", r.code, r.stderr)
	}
	noCrash(t, r)
}

package stack

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/sluicepay/sluice/contracts"
	"github.com/sluicepay/sluice/devnet"
	"github.com/sluicepay/sluice/jsonrpc"
	"github.com/sluicepay/sluice/payments/keys"
	ethsweep "github.com/sluicepay/sluice/payments/sweep/ethereum"
)

// service describes one program of the stack as data: what it needs
// installed, how it starts, how to tell it answers, and what to set up once
// it does. Every step is idempotent.
type service struct {
	name       string
	apt        []aptReq
	tools      []goTool
	timeout    time.Duration // to answer after start
	stopSignal syscall.Signal
	runAs      string // system user to run as when we are root ("" = ourselves)
	ports      func(*Stack) []int
	addr       func(*Stack) string
	prepare    func(context.Context, *Stack) error
	argv       func(*Stack) []string
	ready      func(context.Context, *Stack) error
	setup      func(context.Context, *Stack) error
}

// MinBlocks is how many regtest blocks the stack mines on btcd: past segwit
// activation (BIP9, 144-block periods: active from height 432; witness
// transactions are refused before), with matured coinbase outputs to spend.
const MinBlocks = 500

// MinLTCBlocks goes past Litecoin's MWEB activation on regtest (BIP9 bit 4,
// 144-block periods: active from height 432), so local blocks carry a HogEx
// and an extension block as mainnet's do.
const MinLTCBlocks = MinBlocks

var catalog = []*service{clickhouseSvc, postgresSvc, redisSvc, btcdSvc, litecoindSvc, gethSvc, geth2Svc}

func (svc *service) credential() (*syscall.Credential, error) { return userCredential(svc.runAs) }

// userCredential is who to run as: the system user name when we are root, else ourselves (nil).
func userCredential(name string) (*syscall.Credential, error) {
	if name == "" || os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("system user %q is missing (its Debian package creates it): %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func noSetup(context.Context, *Stack) error { return nil }

// ---- ClickHouse ----

var clickhouseSvc = &service{
	name:       "clickhouse",
	apt:        []aptReq{aptClickHouse},
	timeout:    60 * time.Second,
	stopSignal: syscall.SIGTERM,
	ports:      func(s *Stack) []int { return []int{s.Ports.ClickHouse, s.Ports.ClickHouseHTTP} },
	addr: func(s *Stack) string {
		return fmt.Sprintf("%s (http %d)", s.loop(s.Ports.ClickHouse), s.Ports.ClickHouseHTTP)
	},
	prepare: func(_ context.Context, s *Stack) error {
		d := filepath.Join(s.Dir, "clickhouse")
		for _, sub := range []string{"data", "data/tmp", "data/user_files", "data/format_schemas"} {
			if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
				return err
			}
		}
		conf := fmt.Sprintf(`<?xml version="1.0"?>
<!-- written by sluice stack up; rewritten on every start -->
<yandex>
  <logger><level>warning</level><log>%[1]s/server.log</log><errorlog>%[1]s/server.err.log</errorlog><size>100M</size><count>2</count></logger>
  <tcp_port>%[2]d</tcp_port>
  <http_port>%[3]d</http_port>
  <listen_host>127.0.0.1</listen_host>
  <max_connections>1024</max_connections>
  <keep_alive_timeout>10</keep_alive_timeout>
  <max_concurrent_queries>100</max_concurrent_queries>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <mark_cache_size>536870912</mark_cache_size>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/data/tmp/</tmp_path>
  <user_files_path>%[1]s/data/user_files/</user_files_path>
  <format_schema_path>%[1]s/data/format_schemas/</format_schema_path>
  <users_config>%[1]s/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
</yandex>
`, d, s.Ports.ClickHouse, s.Ports.ClickHouseHTTP)
		users := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>8000000000</max_memory_usage><load_balancing>random</load_balancing></default></profiles>
  <users>
    <default>
      <password_sha256_hex>%s</password_sha256_hex>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`, sha256Hex(s.State.ClickHousePass))
		if err := writeFileAtomic(filepath.Join(d, "config.xml"), []byte(conf), 0o600); err != nil {
			return err
		}
		return writeFileAtomic(filepath.Join(d, "users.xml"), []byte(users), 0o600)
	},
	argv: func(s *Stack) []string {
		return []string{aptClickHouse.path, "--config-file=" + filepath.Join(s.Dir, "clickhouse", "config.xml")}
	},
	ready: func(ctx context.Context, s *Stack) error {
		_, err := clickhouseHTTP(ctx, s, "SELECT 1")
		return err
	},
	setup: func(ctx context.Context, s *Stack) error {
		_, err := clickhouseHTTP(ctx, s, "CREATE DATABASE IF NOT EXISTS sluice")
		return err
	},
}

func clickhouseHTTP(ctx context.Context, s *Stack, query string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		fmt.Sprintf("http://127.0.0.1:%d/", s.Ports.ClickHouseHTTP), strings.NewReader(query))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth("default", s.State.ClickHousePass)
	resp, err := oneShot(30 * time.Second).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil || b.Len() > 1<<20 {
			break
		}
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("clickhouse HTTP %d: %.300s", resp.StatusCode, b.String())
	}
	return b.String(), nil
}

// ---- PostgreSQL ----

var postgresSvc = &service{
	name:       "postgres",
	apt:        []aptReq{aptPostgres},
	timeout:    60 * time.Second,
	stopSignal: syscall.SIGINT, // "fast" shutdown: SIGTERM would wait for clients to leave
	runAs:      "postgres",     // postgres refuses to run as root
	ports:      func(s *Stack) []int { return []int{s.Ports.Postgres} },
	addr:       func(s *Stack) string { return s.loop(s.Ports.Postgres) },
	prepare: func(ctx context.Context, s *Stack) error {
		d := filepath.Join(s.Dir, "postgres")
		data := filepath.Join(d, "data")
		if err := os.MkdirAll(filepath.Join(d, "run"), 0o755); err != nil {
			return err
		}
		cred, err := userCredential("postgres")
		if err != nil {
			return err
		}
		chown := func(p string) error {
			if cred == nil {
				return nil
			}
			return os.Chown(p, int(cred.Uid), int(cred.Gid))
		}
		if err := chown(d); err != nil {
			return err
		}
		if err := chown(filepath.Join(d, "run")); err != nil {
			return err
		}
		if cred != nil {
			if err := checkTraversable(d, cred); err != nil {
				return err
			}
		}
		if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err == nil {
			return nil
		}
		// initdb into a scratch directory and rename: a kill mid-way never leaves a half cluster.
		tmp := data + ".init"
		_ = os.RemoveAll(tmp)
		pw := filepath.Join(d, "pwfile")
		if err := os.WriteFile(pw, []byte(s.State.PostgresSuperPass+"\n"), 0o600); err != nil {
			return err
		}
		defer os.Remove(pw)
		if err := chown(pw); err != nil {
			return err
		}
		s.printf("%-10s initdb %s\n", "postgres", data)
		argv := []string{"/usr/lib/postgresql/15/bin/initdb", "-D", tmp, "-U", "postgres", "--pwfile=" + pw,
			"--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"}
		logFile := filepath.Join(s.Dir, "logs", "postgres.log")
		if err := runAs(ctx, argv, d, logFile, cred); err != nil {
			return fmt.Errorf("initdb: %w (see %s)", err, logFile)
		}
		return os.Rename(tmp, data)
	},
	argv: func(s *Stack) []string {
		d := filepath.Join(s.Dir, "postgres")
		return []string{aptPostgres.path, "-D", filepath.Join(d, "data"), "-p", strconv.Itoa(s.Ports.Postgres),
			"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + filepath.Join(d, "run"),
			"-c", "max_connections=200", "-c", "fsync=on"}
	},
	ready: func(ctx context.Context, s *Stack) error {
		conn, err := pgx.Connect(ctx, s.postgresDSN("postgres", s.State.PostgresSuperPass, "postgres"))
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	},
	setup: func(ctx context.Context, s *Stack) error {
		conn, err := pgx.Connect(ctx, s.postgresDSN("postgres", s.State.PostgresSuperPass, "postgres"))
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		// Passwords are generated hex, so they are safe inside a literal.
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = 'sluice'").Scan(&n); err != nil {
			return err
		}
		verb := "CREATE"
		if n > 0 {
			verb = "ALTER"
		}
		if _, err := conn.Exec(ctx, fmt.Sprintf("%s ROLE sluice LOGIN CREATEDB PASSWORD '%s'", verb, s.State.PostgresPass)); err != nil {
			return err
		}
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = 'sluice'").Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			if _, err := conn.Exec(ctx, "CREATE DATABASE sluice OWNER sluice"); err != nil {
				return err
			}
		}
		return nil
	},
}

// checkTraversable explains the one set-up postgres cannot survive: a stack
// directory below a folder its system user may not enter (such as /root).
func checkTraversable(dir string, cred *syscall.Credential) error {
	for d := dir; d != "/"; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		mode := fi.Mode().Perm()
		ok := mode&0o001 != 0 || (st.Uid == cred.Uid && mode&0o100 != 0) || (st.Gid == cred.Gid && mode&0o010 != 0)
		if !ok {
			return fmt.Errorf("postgres runs as its own system user, which cannot enter %s (mode %o); "+
				"put the stack elsewhere with --dir, or allow it in: chmod o+x %s", d, mode, d)
		}
	}
	return nil
}

func runAs(ctx context.Context, argv []string, dir, logFile string, cred *syscall.Credential) error {
	lf, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer lf.Close()
	cmd := execCommand(ctx, argv, dir)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	return cmd.Run()
}

// ---- Redis ----

var redisSvc = &service{
	name:       "redis",
	apt:        []aptReq{aptRedis},
	timeout:    30 * time.Second,
	stopSignal: syscall.SIGTERM,
	ports:      func(s *Stack) []int { return []int{s.Ports.Redis} },
	addr:       func(s *Stack) string { return s.loop(s.Ports.Redis) },
	prepare: func(_ context.Context, s *Stack) error {
		d := filepath.Join(s.Dir, "redis")
		conf := fmt.Sprintf(`# written by sluice stack up; rewritten on every start
bind 127.0.0.1
port %d
protected-mode yes
requirepass %s
dir %s
daemonize no
logfile ""
set-proc-title no
appendonly yes
appendfsync everysec
save 60 1000
`, s.Ports.Redis, s.State.RedisPass, d)
		return writeFileAtomic(filepath.Join(d, "redis.conf"), []byte(conf), 0o600)
	},
	argv: func(s *Stack) []string {
		return []string{aptRedis.path, filepath.Join(s.Dir, "redis", "redis.conf")}
	},
	ready: func(ctx context.Context, s *Stack) error {
		c := redis.NewClient(&redis.Options{Addr: s.loop(s.Ports.Redis), Password: s.State.RedisPass,
			MaxRetries: -1, DialTimeout: 2 * time.Second})
		defer c.Close()
		return c.Ping(ctx).Err()
	},
	setup: noSetup,
}

// ---- btcd (Bitcoin regtest) ----

var btcdSvc = &service{
	name:       "btcd",
	tools:      []goTool{toolBtcd, toolBtcctl},
	timeout:    60 * time.Second,
	stopSignal: syscall.SIGTERM,
	ports:      func(s *Stack) []int { return []int{s.Ports.BTCRPC, s.Ports.BTCP2P} },
	addr:       func(s *Stack) string { return s.loop(s.Ports.BTCRPC) },
	prepare: func(_ context.Context, s *Stack) error {
		// Credentials live in the config file (0600), never on the command line, where ps and logs would show them.
		conf := fmt.Sprintf("; written by sluice stack up; rewritten on every start\nrpcuser=sluice\nrpcpass=%s\n", s.State.BTCRPCPass)
		return writeFileAtomic(filepath.Join(s.Dir, "btcd", "btcd.conf"), []byte(conf), 0o600)
	},
	argv: func(s *Stack) []string {
		d := filepath.Join(s.Dir, "btcd")
		return []string{filepath.Join(s.BinDir, "btcd"), "--configfile=" + filepath.Join(d, "btcd.conf"),
			"--datadir=" + filepath.Join(d, "data"), "--logdir=" + filepath.Join(d, "logs"),
			"--regtest", "--notls", "--rpclisten=" + s.loop(s.Ports.BTCRPC), "--listen=" + s.loop(s.Ports.BTCP2P),
			"--miningaddr=" + s.State.BTCMiningAddress,
			"--txindex", "--addrindex", "--rpcmaxclients=100", "--rpcmaxwebsockets=50", "--debuglevel=info"}
	},
	ready: func(ctx context.Context, s *Stack) error {
		var n int64
		return s.btc().Call(ctx, "getblockcount", &n)
	},
	setup: func(ctx context.Context, s *Stack) error {
		c := s.btc()
		var n int64
		if err := c.Call(ctx, "getblockcount", &n); err != nil {
			return err
		}
		for n < MinBlocks {
			k := min(MinBlocks-n, 50)
			var hashes []string
			if err := c.Call(ctx, "generate", &hashes, k); err != nil {
				return fmt.Errorf("mine regtest blocks: %w", err)
			}
			n += int64(len(hashes))
		}
		return nil
	},
}

func (s *Stack) btc() *jsonrpc.Client {
	c, _ := jsonrpc.New(fmt.Sprintf("http://sluice:%s@%s", s.State.BTCRPCPass, s.loop(s.Ports.BTCRPC)),
		jsonrpc.WithVersion("1.0"), jsonrpc.WithHTTPClient(oneShot(60*time.Second)))
	return c
}

// newRegtestKey makes the key of the address btcd mines to; later steps
// (devnet payments) spend its coinbase outputs with it.
func newRegtestKey() (keyHex, addr string, err error) {
	key, err := btcec.NewPrivateKey()
	if err != nil {
		return "", "", err
	}
	a, err := btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(key.PubKey().SerializeCompressed()),
		&chaincfg.RegressionNetParams)
	if err != nil {
		return "", "", err
	}
	return hex.EncodeToString(key.Serialize()), a.EncodeAddress(), nil
}

// ---- litecoind (Litecoin regtest) ----

var litecoindSvc = &service{
	name:       "litecoind",
	apt:        []aptReq{aptLitecoind},
	timeout:    90 * time.Second,
	stopSignal: syscall.SIGTERM,
	ports:      func(s *Stack) []int { return []int{s.Ports.LTCRPC} },
	addr:       func(s *Stack) string { return s.loop(s.Ports.LTCRPC) },
	prepare: func(_ context.Context, s *Stack) error {
		conf := fmt.Sprintf("# written by sluice stack up; rewritten on every start\nrpcuser=sluice\nrpcpassword=%s\n", s.State.LTCRPCPass)
		return writeFileAtomic(filepath.Join(s.Dir, "litecoind", "litecoin.conf"), []byte(conf), 0o600)
	},
	argv: func(s *Stack) []string {
		d := filepath.Join(s.Dir, "litecoind")
		return []string{aptLitecoind.path, "-regtest", "-datadir=" + d, "-conf=" + filepath.Join(d, "litecoin.conf"),
			"-server", "-listen=0", "-rpcbind=127.0.0.1", "-rpcallowip=127.0.0.1",
			"-rpcport=" + strconv.Itoa(s.Ports.LTCRPC),
			"-txindex", "-fallbackfee=0.0001", "-rpcthreads=8", "-rpcworkqueue=128", "-printtoconsole=0",
			// a client mid-request (an indexer polling) otherwise holds shutdown for 30 s
			"-rpcservertimeout=5"}
	},
	ready: func(ctx context.Context, s *Stack) error {
		var n int64
		return s.ltc("").Call(ctx, "getblockcount", &n)
	},
	setup: func(ctx context.Context, s *Stack) error {
		c := s.ltc("")
		var loaded []string
		if err := c.Call(ctx, "listwallets", &loaded); err != nil {
			return err
		}
		if !slices.Contains(loaded, s.State.LTCWallet) {
			if err := c.Call(ctx, "loadwallet", nil, s.State.LTCWallet, true); err != nil {
				// not on disk yet: create it, loaded at every start from now on
				if err := c.Call(ctx, "createwallet", nil, s.State.LTCWallet, false, false, "", false, false, true); err != nil {
					return fmt.Errorf("create wallet %q: %w", s.State.LTCWallet, err)
				}
			}
		}
		w := s.ltc(s.State.LTCWallet)
		if s.State.LTCFeeAddress == "" {
			if err := w.Call(ctx, "getnewaddress", &s.State.LTCFeeAddress, "fees", "bech32"); err != nil {
				return fmt.Errorf("fee address: %w", err)
			}
		}
		var n int64
		if err := c.Call(ctx, "getblockcount", &n); err != nil {
			return err
		}
		if n >= MinLTCBlocks {
			return nil
		}
		var addr string
		if err := w.Call(ctx, "getnewaddress", &addr); err != nil {
			return err
		}
		mine := func(to int64) error {
			var hashes []string
			if err := w.Call(ctx, "generatetoaddress", &hashes, to-n, addr); err != nil {
				return fmt.Errorf("mine regtest blocks: %w", err)
			}
			n = to
			return nil
		}
		if n < mwebActivation-1 {
			if err := mine(mwebActivation - 1); err != nil {
				return err
			}
		}
		if n == mwebActivation-1 {
			// The first MWEB block's HogEx takes its inputs from peg-ins; with
			// none it has no inputs and the block is invalid. Peg in first.
			var mwebAddr, txid string
			if err := w.Call(ctx, "getnewaddress", &mwebAddr, "", "mweb"); err != nil {
				return fmt.Errorf("MWEB address: %w", err)
			}
			if err := w.Call(ctx, "sendtoaddress", &txid, mwebAddr, 1); err != nil {
				return fmt.Errorf("peg-in before MWEB activation: %w", err)
			}
		}
		return mine(MinLTCBlocks)
	},
}

// mwebActivation is the first regtest height with MWEB (BIP9 bit 4 locks in
// at the end of the second 144-block period and is active one period later).
const mwebActivation = 432

// ltc returns a client for litecoind, bound to a wallet when one is named.
func (s *Stack) ltc(wallet string) *jsonrpc.Client {
	u := fmt.Sprintf("http://sluice:%s@%s", s.State.LTCRPCPass, s.loop(s.Ports.LTCRPC))
	if wallet != "" {
		u += "/wallet/" + wallet
	}
	c, _ := jsonrpc.New(u, jsonrpc.WithVersion("1.0"), jsonrpc.WithHTTPClient(oneShot(120*time.Second)))
	return c
}

// ---- geth (Ethereum dev chain) ----

var gethSvc = &service{
	name:       "geth",
	tools:      []goTool{toolGeth},
	timeout:    60 * time.Second,
	stopSignal: syscall.SIGTERM,
	ports:      func(s *Stack) []int { return []int{s.Ports.ETHHTTP, s.Ports.ETHWS} },
	addr: func(s *Stack) string {
		return fmt.Sprintf("%s (ws %d)", s.loop(s.Ports.ETHHTTP), s.Ports.ETHWS)
	},
	prepare: func(context.Context, *Stack) error { return nil },
	argv: func(s *Stack) []string {
		return gethArgv(s, filepath.Join(s.Dir, "geth"), s.Ports.ETHHTTP, s.Ports.ETHWS)
	},
	ready: func(ctx context.Context, s *Stack) error {
		var n string
		return s.eth().Call(ctx, "eth_blockNumber", &n)
	},
	setup: func(ctx context.Context, s *Stack) error {
		var accts []string
		if err := s.eth().Call(ctx, "eth_accounts", &accts); err != nil {
			return err
		}
		if len(accts) == 0 {
			return fmt.Errorf("geth --dev has no developer account")
		}
		s.State.ETHDevAccount = accts[0]
		// The project's devnet contracts, deployed once per chain: a geth
		// datadir started afresh gets them again. An address is reused only
		// when that very contract is there: a fresh chain hands the recorded
		// addresses, nonce by nonce, to whatever is deployed first.
		url := "http://" + s.loop(s.Ports.ETHHTTP)
		for _, c := range []struct {
			addr *string
			name string
		}{{&s.State.USDTContract, contracts.TetherToken}, {&s.State.USDCContract, contracts.USDCToken},
			{&s.State.ForwarderContract, contracts.Forwarder}} {
			if *c.addr != "" {
				ok, err := devnet.DeployedAt(ctx, url, s.State.ETHDevAccount, *c.addr, c.name)
				if err != nil {
					return err
				}
				if ok {
					continue
				}
			}
			r, err := devnet.Deploy(ctx, url, s.State.ETHDevAccount, c.name)
			if err != nil {
				return fmt.Errorf("deploy devnet contract: %w", err)
			}
			*c.addr = r.ContractAddress
		}
		return s.fundGasTank(ctx)
	},
}

// gasTankFloor is what the stack keeps in the sweepers' gas tank (the
// account the stack's seed reserves for it), from geth's dev account.
var gasTankFloor = new(big.Int).Mul(big.NewInt(10), big.NewInt(1e18))

// fundGasTank tops up the gas tank that pays USDT sweeps' gas.
func (s *Stack) fundGasTank(ctx context.Context) error {
	if err := s.ensureSeed(); err != nil {
		return err
	}
	seed, err := keys.LoadSeed(s.SeedFile())
	if err != nil {
		return err
	}
	tank, err := ethsweep.GasTankAddress(seed, "dev")
	if err != nil {
		return err
	}
	c := s.eth()
	var bal hexutil.Big
	if err := c.Call(ctx, "eth_getBalance", &bal, tank, "latest"); err != nil {
		return err
	}
	if bal.ToInt().Cmp(gasTankFloor) >= 0 {
		return nil
	}
	var h string
	value := new(big.Int).Mul(gasTankFloor, big.NewInt(10))
	if err := c.Call(ctx, "eth_sendTransaction", &h, map[string]any{"from": s.State.ETHDevAccount, "to": tank,
		"value": (*hexutil.Big)(value)}); err != nil {
		return fmt.Errorf("fund the gas tank: %w", err)
	}
	_, err = devnet.WaitReceipt(ctx, "http://"+s.loop(s.Ports.ETHHTTP), h)
	return err
}

func (s *Stack) eth() *jsonrpc.Client { return gethClient("http://" + s.loop(s.Ports.ETHHTTP)) }

func gethClient(url string) *jsonrpc.Client {
	c, _ := jsonrpc.New(url, jsonrpc.WithHTTPClient(oneShot(30*time.Second)))
	return c
}

// gethArgv runs the cached geth binary as a --dev node on datadir, sealing a
// block a second, HTTP and WS on loopback ports.
func gethArgv(s *Stack, datadir string, httpPort, wsPort int) []string {
	// --dev turns p2p off entirely; RPC listens on loopback only.
	return []string{filepath.Join(s.BinDir, "geth"), "--dev", "--dev.period", "1",
		"--datadir", datadir,
		"--http", "--http.addr", "127.0.0.1", "--http.port", strconv.Itoa(httpPort),
		"--http.api", "eth,net,web3,debug,txpool",
		"--ws", "--ws.addr", "127.0.0.1", "--ws.port", strconv.Itoa(wsPort),
		"--ws.api", "eth,net,web3,debug,txpool",
		// archive state: tracing any block (internal transfers) needs its parent's state
		"--gcmode", "archive", "--state.scheme", "hash",
		"--ipcdisable", "--nodiscover", "--maxpeers", "0", "--verbosity", "2"}
}

// oneShot is an HTTP client that keeps no idle connections: the stack talks
// to each node rarely, and an idle keep-alive makes litecoind and ClickHouse
// wait many seconds at shutdown.
func oneShot(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
}

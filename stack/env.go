package stack

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// KV is one variable of `sluice stack env`.
type KV struct{ Key, Value string }

// ConfigFile is where Up writes a configuration ready for `sluice serve`.
func (s *Stack) ConfigFile() string { return filepath.Join(s.Dir, "sluice.yaml") }

func (s *Stack) loop(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

// Env lists the variables that point sluice (and people) at this stack.
func (s *Stack) Env() []KV {
	p, st := s.Ports, s.State
	env := []KV{
		{"SLUICE_STACK_DIR", s.Dir},
		{"SLUICE_CONFIG", s.ConfigFile()},
		{"SLUICE_API", "http://" + s.loop(p.API)},
		{"SLUICE_API_LISTEN", s.loop(p.API)},
		{"SLUICE_CLICKHOUSE_DSN", s.clickhouseDSN()},
		{"SLUICE_CLICKHOUSE_HTTP", "http://" + s.loop(p.ClickHouseHTTP)},
		{"SLUICE_POSTGRES_DSN", s.postgresDSN("sluice", st.PostgresPass, "sluice")},
		{"SLUICE_REDIS_URL", fmt.Sprintf("redis://:%s@%s/0", st.RedisPass, s.loop(p.Redis))},
		{"SLUICE_SEED_FILE", s.SeedFile()},
		{"SLUICE_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "loopback"}, // the demo receivers run on this machine
		{"SLUICE_BTC_NETWORK", "regtest"},
		{"SLUICE_BTC_RPC", fmt.Sprintf("http://sluice:%s@%s", st.BTCRPCPass, s.loop(p.BTCRPC))},
		{"SLUICE_BTC_BTCD_WEBSOCKET", "true"},
		{"SLUICE_BTC_MINING_ADDRESS", st.BTCMiningAddress},
		{"SLUICE_BTC_P2P", s.loop(p.BTCP2P)}, // a second node in tests connects here
		{"SLUICE_LTC_NETWORK", "regtest"},
		{"SLUICE_LTC_RPC", fmt.Sprintf("http://sluice:%s@%s", st.LTCRPCPass, s.loop(p.LTCRPC))},
		{"SLUICE_ETH_NETWORK", "dev"},
		{"SLUICE_ETH_RPC", "http://" + s.loop(p.ETHHTTP)},
		{"SLUICE_ETH_WS", "ws://" + s.loop(p.ETHWS)},
		{"SLUICE_ETH_TRACES", "true"},
		{"SLUICE_ETH_DEV_ACCOUNT", st.ETHDevAccount},
		{"SLUICE_USDT_CONTRACT", st.USDTContract},
		{"SLUICE_USDC_CONTRACT", st.USDCContract},
		{"SLUICE_ETH_FORWARDER", st.ForwarderContract},
	}
	// the chains.evm dev chains: SLUICE_SIDECHAIN_RPC, _WS, _CHAIN_ID, _DEV_ACCOUNT, _USDT_CONTRACT
	for _, c := range s.EVMDevChains() {
		p := c.EnvPrefix()
		env = append(env, KV{p + "RPC", c.RPC}, KV{p + "WS", c.WS}, KV{p + "CHAIN_ID", strconv.FormatInt(c.ChainID, 10)},
			KV{p + "DEV_ACCOUNT", c.DevAccount})
		for _, tk := range c.Tokens {
			env = append(env, KV{p + tk.Symbol + "_CONTRACT", tk.Contract})
		}
	}
	// a stack made before key files has none until its next up: until then
	// its secrets stay in the clear rather than every command failing
	if _, err := os.Stat(s.SecretsKeyFile()); err == nil {
		env = append(env, KV{"SLUICE_SECRETS_KEY_FILE", s.SecretsKeyFile()})
	}
	return env
}

func (s *Stack) clickhouseDSN() string {
	return fmt.Sprintf("clickhouse://default:%s@%s/sluice", s.State.ClickHousePass, s.loop(s.Ports.ClickHouse))
}

func (s *Stack) postgresDSN(user, pass, db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, pass), Host: s.loop(s.Ports.Postgres), Path: "/" + db,
		RawQuery: "sslmode=disable"}
	return u.String()
}

// ShellQuote quotes v for a POSIX shell, so `eval "$(sluice stack env)"` is safe.
func ShellQuote(v string) string {
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// writeConfig writes the YAML that `sluice serve --config` reads for this stack.
func (s *Stack) writeConfig() error {
	env := map[string]string{}
	for _, kv := range s.Env() {
		env[kv.Key] = kv.Value
	}
	y := fmt.Sprintf(`# Written by "sluice stack up" for the local stack in %s; rewritten on every up.
api:
  listen: %q
clickhouse:
  dsn: %q
postgres:
  dsn: %q
redis:
  url: %q
chains:
  btc:
    network: regtest
    rpc: %q
    btcd_websocket: true
  ltc:
    network: regtest
    rpc: %q
  eth:
    network: dev
    rpc: %q
    ws: %q
    traces: true
    tokens:
      - {symbol: USDT, address: %q, decimals: 6}
      - {symbol: USDC, address: %q, decimals: 6}
%spayments:
  seed_file: %q
secrets:
  key_file: %q   # encrypts merchants' webhook secrets in Postgres; kept apart from dumps in production
webhooks:
  allow_private_targets: [loopback]   # the local stack's demo receivers run on this machine
sweeps:
  enabled: true                  # confirmed deposits go to settlement addresses or the hot wallet
  fee_addresses: {BTC: %q, LTC: %q, ETH: %q, USDT: %q}   # the stack's own node wallets
indexer:
  unbounded_reorgs: true   # btcd's regtest chain starts anew on every start: follow it, however deep
log:
  level: info
  format: text
`, s.Dir, env["SLUICE_API_LISTEN"], env["SLUICE_CLICKHOUSE_DSN"], env["SLUICE_POSTGRES_DSN"], env["SLUICE_REDIS_URL"],
		env["SLUICE_BTC_RPC"], env["SLUICE_LTC_RPC"], env["SLUICE_ETH_RPC"], env["SLUICE_ETH_WS"], env["SLUICE_USDT_CONTRACT"], env["SLUICE_USDC_CONTRACT"],
		s.evmConfig(), env["SLUICE_SEED_FILE"], env["SLUICE_SECRETS_KEY_FILE"], s.State.BTCMiningAddress, s.State.LTCFeeAddress, s.State.ETHDevAccount, s.State.ETHDevAccount)
	// No internet here: fiat prices come from the local price server, fixed ones.
	y += fmt.Sprintf(`rates:
  sources:   # "sluice devnet prices --listen %[1]s" (make run starts it)
    - {name: coingecko, url: "http://%[1]s"}
`, s.loop(s.Ports.Prices))
	return writeFileAtomic(s.ConfigFile(), []byte(y), 0o600)
}

// evmConfig is the chains.evm section of the stack's dev chains (under
// chains:), each token once its contract is deployed.
func (s *Stack) evmConfig() string {
	var b strings.Builder
	b.WriteString("  evm:   # more EVM chains; currencies SYMBOL_KEY (SIDE_SIDECHAIN, USDT_SIDECHAIN)\n")
	for _, c := range s.EVMDevChains() {
		fmt.Fprintf(&b, `    %s:   # the stack's %s, a second geth --dev
      network: dev
      chain_id: %d
      native: {symbol: %s, decimals: %d, rate_id: none}   # no price source knows it
      rpc: %q
      ws: %q
      poll_interval: 1s
      traces: true
`, c.Key, c.Service, c.ChainID, c.Native, c.NativeDecimals, c.RPC, c.WS)
		var toks []string
		for _, tk := range c.Tokens {
			if tk.Contract != "" {
				toks = append(toks, fmt.Sprintf("        - {symbol: %s, address: %q, decimals: %d}\n", tk.Symbol, tk.Contract, tk.Decimals))
			}
		}
		if len(toks) > 0 {
			b.WriteString("      tokens:\n" + strings.Join(toks, ""))
		}
	}
	return b.String()
}

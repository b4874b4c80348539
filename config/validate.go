package config

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"
)

// Networks each chain accepts, as written in the config.
var (
	BTCNetworks = []string{"mainnet", "testnet", "regtest", "signet"}
	LTCNetworks = []string{"mainnet", "testnet4", "regtest"}
	ETHNetworks = []string{"mainnet", "sepolia", "holesky", "dev"}
)

var ethAddressRe = regexp.MustCompile(`^0x[0-9a-fA-F]{40}$`)

// currencyCodeRe is a currency code the ledger takes (schema 00012's checks).
var currencyCodeRe = regexp.MustCompile(`^[A-Z][A-Z0-9_]{1,31}$`)

// IsCurrencyCode tells a currency code the ledger takes (upper case, a
// letter then letters, digits or _), which is also safe inside SQL text.
func IsCurrencyCode(s string) bool { return currencyCodeRe.MatchString(s) }

// rateIDRe is a ticker fiat rates can be asked for.
var rateIDRe = regexp.MustCompile(`^[A-Z0-9][A-Z0-9._-]{0,31}$`)

// evmKeyRe is the form of a chains.evm key (the ledger's chain CHECK).
var evmKeyRe = regexp.MustCompile(`^[a-z][a-z0-9_]{1,31}$`)

// validate checks every field and returns all problems; none mentions a secret.
func (c *Config) validate() []Problem {
	var ps []Problem
	add := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}

	if err := checkHostPort(c.API.Listen); err != nil {
		add("api.listen", "%v", err)
	}
	if c.API.ShutdownTimeout < 0 {
		add("api.shutdown_timeout", "must not be negative")
	}
	if c.API.RateLimit < 0 {
		add("api.rate_limit", "must be requests per second (0 or more)")
	}
	if !regexp.MustCompile(`^0(\.[0-9]{1,4})?$`).MatchString(c.API.ReceiveFeePercent) {
		add("api.receive_fee_percent", "%q must be a fraction from 0 to 0.9999 with at most 4 decimals, e.g. 0.01 for 1%%", c.API.ReceiveFeePercent)
	}
	if c.API.ReceiveMerchant < 0 {
		add("api.receive_merchant", "must be a merchant id (0: keyless receive calls are refused)")
	}
	for _, l := range []struct {
		key string
		v   int
	}{{"api.unauthenticated_limit", c.API.UnauthenticatedLimit}, {"api.failed_auth_limit", c.API.FailedAuthLimit}} {
		if l.v < -1 {
			add(l.key, "must be requests per api.ip_limit_window, or -1 for no limit")
		}
	}
	if w := c.API.IPLimitWindow; w < time.Second || w%time.Second != 0 {
		add("api.ip_limit_window", "%s must be whole seconds, at least 1s", w)
	}
	if c.API.FailedAuthBlock < time.Second {
		add("api.failed_auth_block", "%s must be at least 1s", c.API.FailedAuthBlock)
	}
	for _, t := range []struct {
		key string
		v   time.Duration
	}{{"api.read_header_timeout", c.API.ReadHeaderTimeout}, {"api.read_timeout", c.API.ReadTimeout},
		{"api.write_timeout", c.API.WriteTimeout}, {"api.idle_timeout", c.API.IdleTimeout}} {
		if t.v < 0 {
			add(t.key, "must be a positive duration such as 30s")
		}
	}
	if c.API.ReadHeaderTimeout > c.API.ReadTimeout {
		add("api.read_header_timeout", "%s is longer than api.read_timeout (%s), which bounds the whole request", c.API.ReadHeaderTimeout, c.API.ReadTimeout)
	}
	if c.API.MaxHeaderBytes < 4096 {
		add("api.max_header_bytes", "%d must be at least 4096", c.API.MaxHeaderBytes)
	}
	for _, p := range c.API.TrustedProxies {
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				add("api.trusted_proxies", "%q is neither an IP nor a CIDR", p)
			}
		}
	}

	switch {
	case c.ClickHouse.DSN == "":
		add("clickhouse.dsn", "missing: set it to clickhouse://USER:PASSWORD@HOST:9000/DATABASE (or SLUICE_CLICKHOUSE_DSN)")
	default:
		if !strings.HasPrefix(c.ClickHouse.DSN, "clickhouse://") && !strings.HasPrefix(c.ClickHouse.DSN, "tcp://") {
			add("clickhouse.dsn", "must start with clickhouse:// (the native protocol; ClickHouse 18.16 does not work over HTTP)")
		} else if _, err := clickhouse.ParseDSN(c.ClickHouse.DSN); err != nil {
			add("clickhouse.dsn", "not a valid DSN: %s", redact(err.Error(), c.ClickHouse.DSN))
		}
	}

	switch {
	case c.Postgres.DSN == "":
		add("postgres.dsn", "missing: set it to postgres://USER:PASSWORD@HOST:5432/DATABASE?sslmode=disable (or SLUICE_POSTGRES_DSN)")
	default:
		pc, err := pgconn.ParseConfig(c.Postgres.DSN)
		if err != nil {
			add("postgres.dsn", "not a valid DSN: %s", redact(err.Error(), c.Postgres.DSN))
		} else if pc.Password == "" && !strings.HasPrefix(pc.Host, "/") {
			add("postgres.dsn", "missing password: TCP connections to the ledger must authenticate (postgres://USER:PASSWORD@...)")
		}
	}

	switch {
	case c.Redis.URL == "":
		add("redis.url", "missing: set it to redis://:PASSWORD@HOST:6379/0 (or SLUICE_REDIS_URL)")
	default:
		if _, err := redis.ParseURL(c.Redis.URL); err != nil {
			add("redis.url", "not a valid URL: %s", redact(err.Error(), c.Redis.URL))
		}
	}

	checkBitcoin := func(key string, b *Bitcoin, nets []string) {
		if !b.IsEnabled() {
			return
		}
		if !slices.Contains(nets, b.Network) {
			add(key+".network", "unknown network %q (one of: %s)", b.Network, strings.Join(nets, ", "))
		}
		if b.ZMQ != "" {
			if _, err := checkURL(b.ZMQ, "tcp", "ipc"); err != nil {
				add(key+".zmq", "%v", err)
			}
		}
		if b.RPC == "" {
			add(key+".rpc", "missing: the node's JSON-RPC URL, http://USER:PASSWORD@HOST:PORT")
			return
		}
		u, err := checkURL(b.RPC, "http", "https")
		if err != nil {
			add(key+".rpc", "%v", err)
			return
		}
		if u.User == nil || u.User.Username() == "" {
			add(key+".rpc", "missing credentials: Bitcoin-family nodes require RPC auth, http://USER:PASSWORD@%s", u.Host)
		} else if p, _ := u.User.Password(); p == "" {
			add(key+".rpc", "missing password for RPC user %q", u.User.Username())
		}
	}
	checkBitcoin("chains.btc", c.Chains.BTC, BTCNetworks)
	checkBitcoin("chains.ltc", c.Chains.LTC, LTCNetworks)

	if e := c.Chains.ETH; e.IsEnabled() {
		if !slices.Contains(ETHNetworks, e.Network) {
			add("chains.eth.network", "unknown network %q (one of: %s)", e.Network, strings.Join(ETHNetworks, ", "))
		}
		if e.Native != nil {
			add("chains.eth.native", "chains.eth's coin is ETH; native is for chains.evm")
		}
		checkEVM("chains.eth", "ETH", e, add)
	}
	for _, key := range slices.Sorted(maps.Keys(c.Chains.EVM)) {
		e := c.Chains.EVM[key]
		prefix := "chains.evm." + key
		if !evmKeyRe.MatchString(key) || key == "btc" || key == "ltc" || key == "eth" {
			add(prefix, "%q: a chain key is a lower-case letter, then letters, digits or _ (not btc, ltc or eth)", key)
			continue
		}
		if !e.IsEnabled() {
			continue
		}
		if e.Network != "mainnet" && e.Network != "dev" {
			add(prefix+".network", "%q: mainnet (real money: reorgs are bounded) or dev", e.Network)
		}
		if e.ChainID <= 0 {
			add(prefix+".chain_id", "required: the chain id its node reports (eth_chainId), e.g. 137 for Polygon")
		}
		native := ""
		if e.Native == nil || !currencyCodeRe.MatchString(e.Native.Symbol) {
			add(prefix+".native.symbol", "required: the chain's coin as an upper-case ticker, e.g. POL")
		} else {
			native = e.Native.Symbol
			if e.Native.Decimals < 0 || e.Native.Decimals > 36 {
				add(prefix+".native.decimals", "%d is not from 0 to 36", e.Native.Decimals)
			}
			if r := e.Native.RateID; r != "" && r != "none" && !rateIDRe.MatchString(r) {
				add(prefix+".native.rate_id", "%q: a ticker such as POL, or none", r)
			}
		}
		if e.Confirmations < 0 || e.Confirmations > 1000 {
			add(prefix+".confirmations", "%d is not from 1 to 1000 (absent or 0: 12)", e.Confirmations)
		}
		checkEVM(prefix, native, e, add)
	}

	if c.Indexer.Workers < 1 || c.Indexer.Workers > 256 {
		add("indexer.workers", "must be from 1 to 256")
	}
	if c.Indexer.BatchRows < 1 {
		add("indexer.batch_rows", "must be positive")
	}
	if c.Indexer.MaxReorg < 1 {
		add("indexer.max_reorg", "must be positive")
	}
	if c.Indexer.PollInterval < 10*time.Millisecond {
		add("indexer.poll_interval", "must be at least 10ms")
	}
	if c.Sweeps.Interval < time.Second {
		add("sweeps.interval", "must be at least 1s")
	}
	if c.Sweeps.Confirmations < 1 || c.Sweeps.Confirmations > 100 {
		add("sweeps.confirmations", "must be from 1 to 100")
	}
	if c.Sweeps.FeeRateFloor < 1 || c.Sweeps.FeeRateCeiling < c.Sweeps.FeeRateFloor {
		add("sweeps.fee_rate_floor", "the floor must be at least 1 sat/vB and not above the ceiling (%d)", c.Sweeps.FeeRateCeiling)
	}
	if c.Sweeps.MaxFeePerGasGwei < 1 {
		add("sweeps.max_fee_per_gas_gwei", "must be positive")
	}
	if c.Receive.ExpireAfter < time.Second {
		add("receive.expire_after", "%s: a duration of at least 1s, such as 720h", c.Receive.ExpireAfter)
	}
	if c.Receive.ExpiredScan < time.Second {
		add("receive.expired_scan", "%s: a duration of at least 1s, such as 1m", c.Receive.ExpiredScan)
	}
	if c.Receive.BlockDeadAfter < time.Second {
		add("receive.block_dead_after", "%s: a duration of at least 1s, such as 72h", c.Receive.BlockDeadAfter)
	}
	if c.Receive.Confirmations < 1 || c.Receive.Confirmations > 100 {
		add("receive.confirmations", "%d: from 1 to 100 (litepay forwards at 1)", c.Receive.Confirmations)
	}
	if !regexp.MustCompile(`^[0-9]+(\.[0-9]{1,18})?$`).MatchString(c.Sweeps.GasTankLow) {
		add("sweeps.gas_tank_low", "%q must be an ETH amount such as 0.05", c.Sweeps.GasTankLow)
	}
	if c.Indexer.UnboundedReorgs {
		nets := []struct{ name, network string }{{"btc", network(c.Chains.BTC)}, {"ltc", network(c.Chains.LTC)},
			{"eth", ethNetwork(c.Chains.ETH)}}
		for _, key := range slices.Sorted(maps.Keys(c.Chains.EVM)) {
			nets = append(nets, struct{ name, network string }{"evm." + key, ethNetwork(c.Chains.EVM[key])})
		}
		for _, n := range nets {
			if n.network != "" && n.network != "regtest" && n.network != "dev" {
				add("indexer.unbounded_reorgs", "only for regtest and dev chains; chains.%s is on %s, where a reorg deeper than max_reorg needs a person", n.name, n.network)
			}
		}
	}
	// The seed files are read by payments.CheckSeed, which the commands that
	// make keys run (and "sluice config check"), not here: processes that
	// need no keys (indexers, consumers) do not need the files either.
	if c.Payments.SeedPassphraseFile != "" && c.Payments.SeedFile == "" {
		add("payments.seed_passphrase_file", "set without payments.seed_file (SLUICE_SEED_FILE): a passphrase needs the mnemonic it belongs to")
	}
	for i, t := range c.Webhooks.AllowPrivateTargets {
		t = strings.TrimSpace(t)
		if slices.Contains(WebhookTargetKeywords, strings.ToLower(t)) {
			continue
		}
		if _, err := netip.ParsePrefix(t); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(t); err == nil {
			continue
		}
		// the list's own key, so the file line or the variable is found
		add("webhooks.allow_private_targets", "entry %d, %q, is neither a keyword (%s) nor a CIDR like 10.1.0.0/16",
			i+1, t, strings.Join(WebhookTargetKeywords, ", "))
	}
	if c.Webhooks.Workers < 1 || c.Webhooks.Workers > 256 {
		add("webhooks.workers", "must be a number from 1 to 256")
	}
	if c.Webhooks.Timeout < time.Second || c.Webhooks.Timeout > 5*time.Minute {
		add("webhooks.timeout", "must be a duration from 1s to 5m, like 10s")
	}
	if c.Webhooks.MaxAge < time.Minute || c.Webhooks.MaxAge > 30*24*time.Hour {
		add("webhooks.max_age", "must be a duration from 1m to 720h (30 days), like 72h")
	}
	seenSource := map[RateSource]bool{}
	for i, src := range c.Rates.Sources {
		key := fmt.Sprintf("rates.sources[%d]", i)
		if !slices.Contains(RateSourceNames, src.Name) {
			add(key+".name", "unknown source %q (one of: %s)", src.Name, strings.Join(RateSourceNames, ", "))
			continue
		}
		if _, err := checkURL(src.URL, "http", "https"); err != nil {
			add(key+".url", "%v", err)
		}
		if seenSource[src] {
			add(key, "%s at %s is listed twice", src.Name, src.URL)
		}
		seenSource[src] = true
	}
	if c.Rates.MaxAge < 10*time.Second || c.Rates.MaxAge > 24*time.Hour {
		add("rates.max_age", "must be a duration from 10s to 24h, like 10m: prices older than this are never used")
	}
	if c.Rates.Refresh < time.Second || c.Rates.Refresh > time.Hour {
		add("rates.refresh", "must be a duration from 1s to 1h, like 1m")
	} else if c.Rates.MaxAge >= 10*time.Second && c.Rates.Refresh >= c.Rates.MaxAge {
		add("rates.refresh", "%s is not shorter than rates.max_age %s: prices would go stale between refreshes", c.Rates.Refresh, c.Rates.MaxAge)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		add("log.level", "unknown level %q (one of: debug, info, warn, error)", c.Log.Level)
	}
	if !slices.Contains([]string{"text", "json"}, c.Log.Format) {
		add("log.format", "unknown format %q (one of: text, json)", c.Log.Format)
	}
	return ps
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not HOST:PORT", s)
	}
	if host == "" {
		return fmt.Errorf("%q has no host: write 127.0.0.1:%s to listen on loopback, or 0.0.0.0:%s to listen everywhere", s, port, port)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return nil
}

func checkURL(s string, schemes ...string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("not a valid URL: %s", redact(err.Error(), s))
	}
	if !slices.Contains(schemes, u.Scheme) {
		return nil, fmt.Errorf("scheme %q not supported (use %s)", u.Scheme, strings.Join(schemes, " or "))
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("URL has no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("port %q is not a number from 1 to 65535", p)
		}
	}
	return u, nil
}

// redact removes the password of raw from msg, should a parser quote it.
func redact(msg, raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
		return strings.ReplaceAll(msg, raw, u.Redacted())
	}
	// an unparsable URL may still hold a secret after "user:"; drop the whole value
	if strings.Contains(msg, raw) {
		msg = strings.ReplaceAll(msg, raw, "<value hidden>")
	}
	return msg
}

// Redact returns s (a URL or DSN) with its password replaced, for logs.
func Redact(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "<unparsable URL hidden>"
}

func network(b *Bitcoin) string {
	if !b.IsEnabled() {
		return ""
	}
	return b.Network
}

func ethNetwork(e *Ethereum) string {
	if !e.IsEnabled() {
		return ""
	}
	return e.Network
}

// checkEVM checks what chains.eth and every chains.evm section share: the
// node URLs, the poll, the tokens (native is the chain's coin's symbol).
func checkEVM(prefix, native string, e *Ethereum, add func(key, format string, args ...any)) {
	if e.GasTankLow != "" && !regexp.MustCompile(`^[0-9]+(\.[0-9]{1,36})?$`).MatchString(e.GasTankLow) {
		add(prefix+".gas_tank_low", "%q must be an amount of the chain's coin such as 0.05", e.GasTankLow)
	}
	if e.RPC == "" && e.WS == "" {
		add(prefix, "needs rpc (http://HOST:8545) and ws (ws://HOST:8546)")
	}
	if e.RPC != "" {
		if _, err := checkURL(e.RPC, "http", "https"); err != nil {
			add(prefix+".rpc", "%v", err)
		}
	}
	if e.WS != "" {
		if _, err := checkURL(e.WS, "ws", "wss"); err != nil {
			add(prefix+".ws", "%v", err)
		}
	}
	if e.PollInterval < 10*time.Millisecond {
		add(prefix+".poll_interval", "must be at least 10ms")
	}
	seen, contracts := map[string]bool{}, map[string]string{}
	for i, tk := range e.Tokens {
		key := fmt.Sprintf("%s.tokens[%d]", prefix, i)
		if !ethAddressRe.MatchString(tk.Address) {
			add(key+".address", "%q is not a 0x-prefixed 20-byte hex address", tk.Address)
		} else if strings.Trim(tk.Address[2:], "0") == "" {
			add(key+".address", "%q is the zero address, not a token contract", tk.Address)
		}
		if !currencyCodeRe.MatchString(tk.Symbol) {
			add(key+".symbol", "%q: use the upper-case ticker, e.g. USDT (a letter, then 1 to 31 letters, digits or _)", tk.Symbol)
		} else if tk.Symbol == native {
			add(key+".symbol", "%s is the chain's own coin, not a token", native)
		}
		if tk.Decimals < 0 || tk.Decimals > 36 {
			add(key+".decimals", "%d is not from 0 to 36", tk.Decimals)
		}
		if seen[tk.Symbol] {
			add(key+".symbol", "%s is listed twice", tk.Symbol)
		}
		seen[tk.Symbol] = true
		if a := strings.ToLower(tk.Address); ethAddressRe.MatchString(a) {
			if other, dup := contracts[a]; dup {
				add(key+".address", "%s is also %s's contract: one token per contract", tk.Address, other)
			}
			contracts[a] = tk.Symbol
		}
		// key_branch is checked whole by the chain registry (chain.Check):
		// which branches a token may take depends on the built-in tokens
		if tk.Confirmations < 0 || tk.Confirmations > 1000 {
			add(key+".confirmations", "%d is not from 1 to 1000 (absent or 0: the default)", tk.Confirmations)
		}
		if tk.RateID != "" && tk.RateID != "none" && !rateIDRe.MatchString(tk.RateID) {
			add(key+".rate_id", "%q: a ticker such as USDC (upper case, 1 to 32 letters, digits, . _ or -), or none", tk.RateID)
		}
	}
}

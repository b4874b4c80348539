package config

import (
	"strings"
	"time"
)

// Config is the whole configuration of a sluice process. Every field has a
// yaml key; the keys are the documented names (see README).
type Config struct {
	API        API        `yaml:"api"`
	ClickHouse ClickHouse `yaml:"clickhouse"`
	Postgres   Postgres   `yaml:"postgres"`
	Redis      Redis      `yaml:"redis"`
	Chains     Chains     `yaml:"chains"`
	Indexer    Indexer    `yaml:"indexer"`
	Payments   Payments   `yaml:"payments"`
	Webhooks   Webhooks   `yaml:"webhooks"`
	Rates      Rates      `yaml:"rates"`
	Sweeps     Sweeps     `yaml:"sweeps"`
	Receive    Receive    `yaml:"receive"`
	Log        Log        `yaml:"log"`
	Secrets    Secrets    `yaml:"secrets"`

	// src says where each key came from, to locate problems found after
	// Load (see Errorf).
	src source
}

// Receive configures litepay's receive addresses (GET /api/receive).
type Receive struct {
	// Confirmations a receive address's payment needs before it is
	// forwarded (default 1, as litepay's spec: "only requires one
	// confirmation"), whatever the merchant's iqpay confirmations.
	Confirmations int `yaml:"confirmations"`
	// BlockDeadAfter: a callback domain whose callbacks fail (no *ok*,
	// connection errors) this long without one *ok* is blocked for new
	// receive addresses (default 72h; "sluice receive domains" lists and
	// unblocks them).
	BlockDeadAfter time.Duration `yaml:"block_dead_after"`
	// ExpireAfter: a receive address with no payment this long expires
	// (default 720h, litepay's 30 days): it leaves the watch set, and
	// ExpiredScan (default 1m) is how often the reconciler looks for late
	// payments to expired addresses, which are forwarded as any other.
	ExpireAfter time.Duration `yaml:"expire_after"`
	ExpiredScan time.Duration `yaml:"expired_scan"`
}

// Sweeps configures moving confirmed deposits out (payments/sweep): to the
// merchants' settlement addresses, the operator's hot wallet, or litepay
// destinations, with the operator's service fee.
type Sweeps struct {
	// Enabled runs the sweepers in serve (and "sluice sweep"); they need
	// payments.seed_file.
	Enabled bool `yaml:"enabled"`
	// Interval between rounds (default 5s); Confirmations a sweep needs to
	// count as done (default 1).
	Interval      time.Duration `yaml:"interval"`
	Confirmations int           `yaml:"confirmations"`
	// FeeAddresses per currency (BTC, LTC, ETH, USDT): where service fees go.
	FeeAddresses map[string]string `yaml:"fee_addresses"`
	// FeeRateFloor and FeeRateCeiling bound the Bitcoin-family network fee
	// rate in sat/vB (defaults 1 and 500); the node's estimate is used between.
	FeeRateFloor   int64 `yaml:"fee_rate_floor"`
	FeeRateCeiling int64 `yaml:"fee_rate_ceiling"`
	// MaxFeePerGasGwei caps Ethereum's maxFeePerGas (default 500 gwei).
	MaxFeePerGasGwei int64 `yaml:"max_fee_per_gas_gwei"`
	// BumpAfter: a Bitcoin-family sweep or withdrawal still unconfirmed this
	// long after it was sent is replaced (RBF) by one paying a higher fee,
	// within fee_rate_ceiling (default 1h; a negative value never bumps).
	BumpAfter time.Duration `yaml:"bump_after"`
	// GasTankLow is the gas tank balance (ETH, exact decimal) under which
	// sluice_gas_tank_low is 1 (default "0.05").
	GasTankLow string `yaml:"gas_tank_low"`
	// WithdrawalMinimum per currency (exact decimal): smaller withdrawals
	// are refused. Defaults: BTC and LTC 0.00001, ETH 0.0001, a token 1.
	WithdrawalMinimum map[string]string `yaml:"withdrawal_minimum"`
	// SolvencyInterval: how often the sweepers compare the hot wallet on
	// chain with what the ledger owes (default 1m; a shortfall pauses the
	// currency's withdrawals).
	SolvencyInterval time.Duration `yaml:"solvency_interval"`
}

// Payments configures the payment layer's keys.
type Payments struct {
	// SeedFile holds the master seed custodial deposit addresses are derived
	// from: a BIP39 English mnemonic or 32 to 128 hex digits, in a file only
	// its owner may read (mode 0600). Without it merchants can have
	// watch-only BTC/LTC wallets (their own xpub) but no custodial ones.
	SeedFile string `yaml:"seed_file"`
	// SeedPassphraseFile optionally holds the BIP39 passphrase of a mnemonic
	// (one trailing newline is ignored), also mode 0600.
	SeedPassphraseFile string `yaml:"seed_passphrase_file"`
}

// Webhooks configures delivery to merchants (payments/webhook).
type Webhooks struct {
	// AllowPrivateTargets lists the non-public addresses webhooks may go to
	// anyway: keywords (WebhookTargetKeywords) or CIDRs. Default none:
	// callbacks to loopback, private, link-local, CGNAT and ULA addresses
	// are refused, when registered and when connecting.
	AllowPrivateTargets []string `yaml:"allow_private_targets"`
	// Workers is how many requests are in flight at once (default 4).
	Workers int `yaml:"workers"`
	// Timeout bounds each request (default 10s).
	Timeout time.Duration `yaml:"timeout"`
	// MaxAge is how long an iqpay webhook is retried before it is marked
	// failed (default 72h).
	MaxAge time.Duration `yaml:"max_age"`
}

// Rates configures the fiat prices (payments/rates): webhook conversion
// and the litepay 1 USD minimum.
type Rates struct {
	// Sources are the price APIs in fallback order: each pair is taken from
	// the first that prices it. Default: coingecko, kraken, coinbase at
	// their public URLs. An empty list (sources: []) turns fiat rates off:
	// conversions are 0 and forwarding waits.
	Sources []RateSource `yaml:"sources"`
	// MaxAge is the staleness limit: an older price is never used (default 10m).
	MaxAge time.Duration `yaml:"max_age"`
	// Refresh is how often prices are fetched in the background (default 1m).
	Refresh time.Duration `yaml:"refresh"`
}

// RateSource is one price API.
type RateSource struct {
	// Name is coingecko, kraken or coinbase (RateSourceNames).
	Name string `yaml:"name"`
	// URL is the API's base URL, e.g. https://api.coingecko.com (the
	// default for the name when empty); a path prefix and query parameters
	// (an API key) are kept.
	URL string `yaml:"url"`
}

// RateSourceNames are the price APIs sluice reads, with their public base URLs.
var RateSourceNames = []string{"coingecko", "kraken", "coinbase"}

// DefaultRateSources are the sources when the config names none.
func DefaultRateSources() []RateSource {
	return []RateSource{{"coingecko", "https://api.coingecko.com"}, {"kraken", "https://api.kraken.com"},
		{"coinbase", "https://api.coinbase.com"}}
}

// WebhookTargetKeywords name whole non-public ranges in
// webhooks.allow_private_targets: loopback (127.0.0.0/8, ::1), private
// (RFC 1918 and IPv6 ULA fc00::/7), link-local (169.254.0.0/16, fe80::/10)
// and cgnat (100.64.0.0/10).
var WebhookTargetKeywords = []string{"loopback", "private", "link-local", "cgnat"}

// Indexer tunes the chain followers.
type Indexer struct {
	// Workers is how many blocks are fetched in parallel during catch-up.
	Workers int `yaml:"workers"`
	// BatchRows is the ClickHouse batch size during catch-up (rows, all tables).
	BatchRows int `yaml:"batch_rows"`
	// MaxReorg is the deepest reorg walked back; a deeper one stops the indexer.
	MaxReorg int64 `yaml:"max_reorg"`
	// PollInterval is the watchdog poll of each node's best block.
	PollInterval time.Duration `yaml:"poll_interval"`
	// UnboundedReorgs follows a reorg of any depth instead of stopping at
	// max_reorg: only for regtest and dev chains, which start anew (btcd
	// deletes its regtest database on every start). The local stack sets it.
	UnboundedReorgs bool `yaml:"unbounded_reorgs"`
	// Lease lets one process at a time index a chain (a Postgres advisory
	// lock per chain): the others stand by and take over within seconds
	// when it dies. Default on; see LeaseEnabled.
	Lease *bool `yaml:"lease"`
	// LeasePoll is how often a standby tries to take a chain's lease.
	LeasePoll time.Duration `yaml:"lease_poll"`
}

// LeaseEnabled reports whether indexers take a lease per chain (the default).
func (i Indexer) LeaseEnabled() bool { return i.Lease == nil || *i.Lease }

// API is the HTTP server.
type API struct {
	// Listen is host:port. Loopback by default; anything else is a deliberate choice.
	Listen string `yaml:"listen"`
	// ShutdownTimeout bounds graceful shutdown on SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// RateLimit is the requests per second an API key may make unless the
	// key sets its own (default 50); 0 in a file means the default.
	RateLimit int `yaml:"rate_limit"`
	// TrustedProxies may set X-Forwarded-For (IPs or CIDRs); none by default,
	// so keys bound to networks are checked against the connection's address.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ReceiveFeePercent is the litepay forwarding fee as an exact decimal
	// fraction (default "0.01", 1%, as litepay charges).
	ReceiveFeePercent string `yaml:"receive_fee_percent"`
	// ReceiveMerchant serves litepay's keyless GET /api/receive as this
	// merchant id (drop-in use); 0 (default) requires an API key there too.
	ReceiveMerchant int64 `yaml:"receive_merchant"`

	// Limits per source IP (the connection's address, or X-Forwarded-For
	// from a trusted proxy; an IPv6 client counts as its /64), counted in
	// Redis across API processes. 0 in a file means the default, -1 no limit.
	// UnauthenticatedLimit: keyless /api/receive calls per IPLimitWindow
	// (default 60; each makes a wallet).
	UnauthenticatedLimit int `yaml:"unauthenticated_limit"`
	// FailedAuthLimit: failed authentications (401, 403) per IPLimitWindow
	// (default 30); past it the IP's API keys are refused (429) for
	// FailedAuthBlock (default 5m).
	FailedAuthLimit int           `yaml:"failed_auth_limit"`
	FailedAuthBlock time.Duration `yaml:"failed_auth_block"`
	// IPLimitWindow is the counting window, whole seconds (default 1m).
	IPLimitWindow time.Duration `yaml:"ip_limit_window"`

	// HTTP server limits, so half-sent or unread requests cannot pile up:
	// ReadHeaderTimeout for the request line and headers (default 10s),
	// ReadTimeout for the whole request with its body (default 30s),
	// WriteTimeout for handling and answering it (default 60s), IdleTimeout
	// for a kept-alive connection between requests (default 2m), and
	// MaxHeaderBytes for the request line and headers (default 65536).
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	MaxHeaderBytes    int           `yaml:"max_header_bytes"`
}

// ClickHouse is the chain index.
type ClickHouse struct {
	// DSN, e.g. clickhouse://user:pass@127.0.0.1:9000/sluice (native protocol).
	DSN string `yaml:"dsn"`
}

// Postgres is the ledger.
type Postgres struct {
	// DSN, e.g. postgres://user:pass@127.0.0.1:5432/sluice?sslmode=disable
	DSN string `yaml:"dsn"`
}

// Redis holds the watch set, block streams and caches.
type Redis struct {
	// URL, e.g. redis://:pass@127.0.0.1:6379/0
	URL string `yaml:"url"`
}

// Chains holds one section per supported chain; a chain without a section
// (or with enabled: false) is not followed.
type Chains struct {
	BTC *Bitcoin  `yaml:"btc"`
	LTC *Bitcoin  `yaml:"ltc"`
	ETH *Ethereum `yaml:"eth"`
	// EVM are more EVM chains (Polygon, BSC, Arbitrum, a devnet) by key:
	// the key names the chain in the ledger and the index, and its
	// currencies are SYMBOL_KEY (USDT_POLYGON); chain_id and native are
	// required.
	EVM map[string]*Ethereum `yaml:"evm"`
}

// BitcoinChain is the section of a Bitcoin-family chain key (btc, ltc),
// nil when absent.
func (c Chains) BitcoinChain(key string) *Bitcoin {
	switch key {
	case "btc":
		return c.BTC
	case "ltc":
		return c.LTC
	}
	return nil
}

// EVMChain is the section of an EVM chain key (eth), nil when absent.
func (c Chains) EVMChain(key string) *Ethereum {
	if key == "eth" {
		return c.ETH
	}
	return c.EVM[key]
}

// Bitcoin configures a Bitcoin-family node (bitcoind, litecoind or btcd).
type Bitcoin struct {
	Enabled *bool `yaml:"enabled"`
	// Network is mainnet, testnet, regtest or signet (BTC); mainnet, testnet4 or regtest (LTC).
	Network string `yaml:"network"`
	// RPC is the JSON-RPC URL with credentials: http://user:pass@host:port
	RPC string `yaml:"rpc"`
	// ZMQ is the node's -zmqpubhashblock endpoint (bitcoind, litecoind built with ZMQ),
	// e.g. tcp://127.0.0.1:28332. Optional: the poll always runs as a watchdog.
	ZMQ string `yaml:"zmq"`
	// BtcdWebsocket subscribes to btcd's websocket notifyblocks at the RPC address.
	BtcdWebsocket bool `yaml:"btcd_websocket"`
}

// Ethereum configures a geth node.
type Ethereum struct {
	Enabled *bool `yaml:"enabled"`
	// Network is mainnet, sepolia, holesky or dev.
	Network string `yaml:"network"`
	// RPC is the HTTP JSON-RPC URL.
	RPC string `yaml:"rpc"`
	// WS is the WebSocket JSON-RPC URL: newHeads subscription and every call.
	WS string `yaml:"ws"`
	// PollInterval is the reconcile poll of the head (default 2 s): a
	// subscription has no replay and dies with its connection.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Traces indexes ETH moved inside contract calls with
	// debug_traceBlockByHash (callTracer); the node must allow debug_*.
	Traces bool `yaml:"traces"`
	// Tokens are the ERC-20 tokens sluice accepts payments in.
	Tokens []Token `yaml:"tokens"`
	// ChainID is what the node must report (eth_chainId): for chains.eth
	// the network's (optional), for chains.evm required.
	ChainID int64 `yaml:"chain_id"`
	// Native is the chain's own coin (chains.evm; chains.eth's is ETH).
	Native *Native `yaml:"native"`
	// Confirmations a deposit of the chain's coin and tokens needs unless a
	// token or merchant says otherwise (chains.evm; default 12).
	Confirmations int `yaml:"confirmations"`
	// GasTankLow is the gas tank balance, in the chain's coin, under which
	// the tank counts as low (default sweeps.gas_tank_low).
	GasTankLow string `yaml:"gas_tank_low"`
}

// Native is an EVM chain's own coin, which pays its gas.
type Native struct {
	Symbol   string `yaml:"symbol"`
	Decimals int    `yaml:"decimals"`
	// RateID is the ticker fiat rates are asked for (default the symbol; none: unpriced).
	RateID string `yaml:"rate_id"`
}

// TokenSymbols maps each configured token's lower-case contract address to
// its symbol, the form the Ethereum decoder gives addresses in.
func (e *Ethereum) TokenSymbols() map[string]string {
	m := map[string]string{}
	if e == nil {
		return m
	}
	for _, tk := range e.Tokens {
		m[strings.ToLower(tk.Address)] = tk.Symbol
	}
	return m
}

// Token is an ERC-20 contract sluice takes payments in. USDT and USDC are
// built in (chain/defaults.go): their key branch, confirmations and rate id
// are known. Any other token needs its key branch.
type Token struct {
	// Symbol is the currency code merchants and the API use (upper case).
	Symbol string `yaml:"symbol"`
	// Address is the token's contract; Decimals its decimals() (0 to 36).
	// Both are fixed once the ledger has used the token (the ledger's
	// currencies table refuses a change).
	Address  string `yaml:"address"`
	Decimals int    `yaml:"decimals"`
	// KeyBranch is the BIP44 change level of the token's deposit keys
	// (m/44'/60'/account'/KeyBranch/index): required for a token that is not
	// built in, 3 or more (0 is ETH's, 1 USDT's, 2 USDC's, even where they
	// are not configured), below 2^31, one per token. A built-in token has
	// its own and may only repeat it. Fixed forever: another branch would
	// move every deposit address.
	KeyBranch *int64 `yaml:"key_branch"`
	// Confirmations a deposit needs unless its merchant says otherwise
	// (absent or 0: the built-in's, else 12).
	Confirmations int `yaml:"confirmations"`
	// RateID is the ticker fiat rates are asked for (default: the built-in's,
	// else the symbol); "none" leaves the token unpriced.
	RateID string `yaml:"rate_id"`
}

// Secrets configures how merchant secrets are stored in the ledger.
type Secrets struct {
	// KeyFile holds the 32-byte key (64 hex digits, "sluice secrets keygen"
	// writes one) that encrypts webhook secrets at rest (AES-256-GCM), mode
	// 0600; keep it apart from database backups. Empty: secrets are stored
	// in the clear (sluice warns).
	KeyFile string `yaml:"key_file"`
}

// Log configures log/slog output.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// IsEnabled reports whether a chain section is present and not disabled.
func (b *Bitcoin) IsEnabled() bool { return b != nil && (b.Enabled == nil || *b.Enabled) }

// IsEnabled reports whether the Ethereum section is present and not disabled.
func (e *Ethereum) IsEnabled() bool { return e != nil && (e.Enabled == nil || *e.Enabled) }

// Default ports of the local stack; production configs set their own.
const (
	DefaultAPIListen = "127.0.0.1:27080"
)

// Defaults returns a configuration with every optional field filled.
func Defaults() Config {
	return Config{
		API: API{Listen: DefaultAPIListen, ShutdownTimeout: 15 * time.Second, RateLimit: 50, ReceiveFeePercent: "0.01",
			UnauthenticatedLimit: 60, FailedAuthLimit: 30, FailedAuthBlock: 5 * time.Minute, IPLimitWindow: time.Minute,
			ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: time.Minute,
			IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10},
		Indexer:  Indexer{Workers: 8, BatchRows: 50_000, MaxReorg: 100, PollInterval: time.Second, LeasePoll: time.Second},
		Webhooks: Webhooks{Workers: 4, Timeout: 10 * time.Second, MaxAge: 72 * time.Hour},
		Sweeps:   Sweeps{Interval: 5 * time.Second, Confirmations: 1, BumpAfter: time.Hour, FeeRateFloor: 1, FeeRateCeiling: 500, MaxFeePerGasGwei: 500, GasTankLow: "0.05"},
		Rates:    Rates{Sources: DefaultRateSources(), MaxAge: 10 * time.Minute, Refresh: time.Minute},
		Log:      Log{Level: "info", Format: "text"},
	}
}

// applyDefaults fills fields a file left empty.
func (c *Config) applyDefaults() {
	d := Defaults()
	if c.API.Listen == "" {
		c.API.Listen = d.API.Listen
	}
	if c.API.ShutdownTimeout == 0 {
		c.API.ShutdownTimeout = d.API.ShutdownTimeout
	}
	if c.API.RateLimit == 0 {
		c.API.RateLimit = d.API.RateLimit
	}
	if c.API.ReceiveFeePercent == "" {
		c.API.ReceiveFeePercent = d.API.ReceiveFeePercent
	}
	for _, f := range []struct{ v, def *int }{
		{&c.API.UnauthenticatedLimit, &d.API.UnauthenticatedLimit}, {&c.API.FailedAuthLimit, &d.API.FailedAuthLimit},
		{&c.API.MaxHeaderBytes, &d.API.MaxHeaderBytes},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	for _, f := range []struct{ v, def *time.Duration }{
		{&c.API.FailedAuthBlock, &d.API.FailedAuthBlock}, {&c.API.IPLimitWindow, &d.API.IPLimitWindow},
		{&c.API.ReadHeaderTimeout, &d.API.ReadHeaderTimeout}, {&c.API.ReadTimeout, &d.API.ReadTimeout},
		{&c.API.WriteTimeout, &d.API.WriteTimeout}, {&c.API.IdleTimeout, &d.API.IdleTimeout},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	if c.Indexer.Workers == 0 {
		c.Indexer.Workers = d.Indexer.Workers
	}
	if c.Indexer.BatchRows == 0 {
		c.Indexer.BatchRows = d.Indexer.BatchRows
	}
	if c.Indexer.MaxReorg == 0 {
		c.Indexer.MaxReorg = d.Indexer.MaxReorg
	}
	if c.Indexer.PollInterval == 0 {
		c.Indexer.PollInterval = d.Indexer.PollInterval
	}
	if c.Indexer.LeasePoll == 0 {
		c.Indexer.LeasePoll = d.Indexer.LeasePoll
	}
	sd := d.Sweeps
	if c.Sweeps.Interval == 0 {
		c.Sweeps.Interval = sd.Interval
	}
	if c.Sweeps.Confirmations == 0 {
		c.Sweeps.Confirmations = sd.Confirmations
	}
	if c.Sweeps.BumpAfter == 0 {
		c.Sweeps.BumpAfter = sd.BumpAfter
	}
	if c.Sweeps.FeeRateFloor == 0 {
		c.Sweeps.FeeRateFloor = sd.FeeRateFloor
	}
	if c.Sweeps.FeeRateCeiling == 0 {
		c.Sweeps.FeeRateCeiling = sd.FeeRateCeiling
	}
	if c.Sweeps.MaxFeePerGasGwei == 0 {
		c.Sweeps.MaxFeePerGasGwei = sd.MaxFeePerGasGwei
	}
	if c.Receive.Confirmations == 0 {
		c.Receive.Confirmations = 1
	}
	if c.Receive.ExpireAfter == 0 {
		c.Receive.ExpireAfter = 720 * time.Hour
	}
	if c.Receive.ExpiredScan == 0 {
		c.Receive.ExpiredScan = time.Minute
	}
	if c.Receive.BlockDeadAfter == 0 {
		c.Receive.BlockDeadAfter = 72 * time.Hour
	}
	if c.Sweeps.SolvencyInterval == 0 {
		c.Sweeps.SolvencyInterval = time.Minute
	}
	if c.Sweeps.GasTankLow == "" {
		c.Sweeps.GasTankLow = sd.GasTankLow
	}
	if c.Webhooks.Workers == 0 {
		c.Webhooks.Workers = d.Webhooks.Workers
	}
	if c.Webhooks.Timeout == 0 {
		c.Webhooks.Timeout = d.Webhooks.Timeout
	}
	if c.Webhooks.MaxAge == 0 {
		c.Webhooks.MaxAge = d.Webhooks.MaxAge
	}
	if c.Rates.Sources == nil { // sources: [] (empty, not nil) turns rates off
		c.Rates.Sources = d.Rates.Sources
	}
	for i := range c.Rates.Sources {
		if src := &c.Rates.Sources[i]; src.URL == "" {
			for _, def := range d.Rates.Sources {
				if def.Name == src.Name {
					src.URL = def.URL
				}
			}
		}
	}
	if c.Rates.MaxAge == 0 {
		c.Rates.MaxAge = d.Rates.MaxAge
	}
	if c.Rates.Refresh == 0 {
		c.Rates.Refresh = d.Rates.Refresh
	}
	if c.Log.Level == "" {
		c.Log.Level = d.Log.Level
	}
	if c.Log.Format == "" {
		c.Log.Format = d.Log.Format
	}
	for _, b := range []struct {
		c   *Bitcoin
		def string
	}{{c.Chains.BTC, "mainnet"}, {c.Chains.LTC, "mainnet"}} {
		if b.c != nil && b.c.Network == "" {
			b.c.Network = b.def
		}
	}
	for _, e := range c.Chains.EVM {
		if e == nil {
			continue
		}
		if e.Network == "" {
			e.Network = "mainnet"
		}
		if e.PollInterval == 0 {
			e.PollInterval = 2 * time.Second
		}
	}
	if e := c.Chains.ETH; e != nil {
		if e.Network == "" {
			e.Network = "mainnet"
		}
		if e.PollInterval == 0 {
			e.PollInterval = 2 * time.Second
		}
		if len(e.Tokens) == 0 && e.Network == "mainnet" {
			e.Tokens = []Token{{Symbol: "USDT", Address: "0xdac17f958d2ee523a2206206994597c13d831ec7", Decimals: 6}}
		}
	}
}

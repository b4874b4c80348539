package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	File string // empty for values from the environment
	Line int    // 0 when unknown
	Key  string // dotted path, e.g. chains.btc.rpc
	Msg  string
	err  error // the cause given to Errorf, for errors.Is and errors.As
}

func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error lists every problem found, so one run shows all there is to fix.
type Error struct{ Problems []Problem }

// Unwrap gives the causes of the problems reported through Errorf.
func (e *Error) Unwrap() []error {
	var errs []error
	for _, p := range e.Problems {
		if p.err != nil {
			errs = append(errs, p.err)
		}
	}
	return errs
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	if len(lines) == 1 {
		return "invalid configuration: " + lines[0]
	}
	return fmt.Sprintf("invalid configuration (%d problems):\n  %s", len(lines), strings.Join(lines, "\n  "))
}

// EnvVars lists the environment overrides, in the order --help shows them.
var EnvVars = []struct {
	Name, Key string
	set       func(*Config, string)
}{
	{"SLUICE_API_LISTEN", "api.listen", func(c *Config, v string) { c.API.Listen = v }},
	{"SLUICE_API_RECEIVE_MERCHANT", "api.receive_merchant", func(c *Config, v string) {
		var err error
		if c.API.ReceiveMerchant, err = strconv.ParseInt(v, 10, 64); err != nil {
			c.API.ReceiveMerchant = -1 // validation names the variable
		}
	}},
	{"SLUICE_CLICKHOUSE_DSN", "clickhouse.dsn", func(c *Config, v string) { c.ClickHouse.DSN = v }},
	{"SLUICE_POSTGRES_DSN", "postgres.dsn", func(c *Config, v string) { c.Postgres.DSN = v }},
	{"SLUICE_REDIS_URL", "redis.url", func(c *Config, v string) { c.Redis.URL = v }},
	{"SLUICE_BTC_RPC", "chains.btc.rpc", func(c *Config, v string) { btc(c).RPC = v }},
	{"SLUICE_BTC_NETWORK", "chains.btc.network", func(c *Config, v string) { btc(c).Network = v }},
	{"SLUICE_BTC_ZMQ", "chains.btc.zmq", func(c *Config, v string) { btc(c).ZMQ = v }},
	{"SLUICE_BTC_BTCD_WEBSOCKET", "chains.btc.btcd_websocket", func(c *Config, v string) { btc(c).BtcdWebsocket = v == "true" || v == "1" }},
	{"SLUICE_LTC_RPC", "chains.ltc.rpc", func(c *Config, v string) { ltc(c).RPC = v }},
	{"SLUICE_LTC_NETWORK", "chains.ltc.network", func(c *Config, v string) { ltc(c).Network = v }},
	{"SLUICE_LTC_ZMQ", "chains.ltc.zmq", func(c *Config, v string) { ltc(c).ZMQ = v }},
	{"SLUICE_ETH_RPC", "chains.eth.rpc", func(c *Config, v string) { eth(c).RPC = v }},
	{"SLUICE_ETH_WS", "chains.eth.ws", func(c *Config, v string) { eth(c).WS = v }},
	{"SLUICE_ETH_NETWORK", "chains.eth.network", func(c *Config, v string) { eth(c).Network = v }},
	{"SLUICE_ETH_TRACES", "chains.eth.traces", func(c *Config, v string) { eth(c).Traces = v == "true" || v == "1" }},
	{"SLUICE_USDT_CONTRACT", "chains.eth.tokens", func(c *Config, v string) { setToken(eth(c), "USDT", v, 6) }},
	{"SLUICE_USDC_CONTRACT", "chains.eth.tokens", func(c *Config, v string) { setToken(eth(c), "USDC", v, 6) }},
	{"SLUICE_SEED_FILE", "payments.seed_file", func(c *Config, v string) { c.Payments.SeedFile = v }},
	{"SLUICE_SEED_PASSPHRASE_FILE", "payments.seed_passphrase_file", func(c *Config, v string) { c.Payments.SeedPassphraseFile = v }},
	{"SLUICE_SECRETS_KEY_FILE", "secrets.key_file", func(c *Config, v string) { c.Secrets.KeyFile = v }},
	{"SLUICE_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "webhooks.allow_private_targets", func(c *Config, v string) {
		c.Webhooks.AllowPrivateTargets = strings.Split(v, ",") // e.g. loopback,10.1.0.0/16
	}},
	{"SLUICE_WEBHOOKS_WORKERS", "webhooks.workers", func(c *Config, v string) {
		var err error
		if c.Webhooks.Workers, err = strconv.Atoi(v); err != nil {
			c.Webhooks.Workers = -1 // validation names the variable
		}
	}},
	{"SLUICE_WEBHOOKS_TIMEOUT", "webhooks.timeout", func(c *Config, v string) { c.Webhooks.Timeout = envDuration(v) }},
	{"SLUICE_WEBHOOKS_MAX_AGE", "webhooks.max_age", func(c *Config, v string) { c.Webhooks.MaxAge = envDuration(v) }},
	{"SLUICE_RATES_SOURCES", "rates.sources", func(c *Config, v string) {
		c.Rates.Sources = parseRateSources(v) // e.g. coingecko=http://127.0.0.1:27095,kraken
	}},
	{"SLUICE_RATES_MAX_AGE", "rates.max_age", func(c *Config, v string) { c.Rates.MaxAge = envDuration(v) }},
	{"SLUICE_RATES_REFRESH", "rates.refresh", func(c *Config, v string) { c.Rates.Refresh = envDuration(v) }},
	{"SLUICE_INDEXER_LEASE", "indexer.lease", func(c *Config, v string) {
		on := !(v == "false" || v == "0" || v == "off" || v == "no")
		c.Indexer.Lease = &on
	}},
	{"SLUICE_INDEXER_UNBOUNDED_REORGS", "indexer.unbounded_reorgs", func(c *Config, v string) { c.Indexer.UnboundedReorgs = v == "true" || v == "1" }},
	{"SLUICE_SWEEPS_BUMP_AFTER", "sweeps.bump_after", func(c *Config, v string) { c.Sweeps.BumpAfter = envDuration(v) }},
	{"SLUICE_SWEEPS_ENABLED", "sweeps.enabled", func(c *Config, v string) { c.Sweeps.Enabled = v == "true" || v == "1" }},
	{"SLUICE_SWEEPS_FEE_RATE_CEILING", "sweeps.fee_rate_ceiling", func(c *Config, v string) { c.Sweeps.FeeRateCeiling = envInt(v) }},
	{"SLUICE_SWEEPS_MAX_FEE_PER_GAS_GWEI", "sweeps.max_fee_per_gas_gwei", func(c *Config, v string) { c.Sweeps.MaxFeePerGasGwei = envInt(v) }},
	{"SLUICE_RECEIVE_EXPIRE_AFTER", "receive.expire_after", func(c *Config, v string) { c.Receive.ExpireAfter = envDuration(v) }},
	{"SLUICE_RECEIVE_EXPIRED_SCAN", "receive.expired_scan", func(c *Config, v string) { c.Receive.ExpiredScan = envDuration(v) }},
	{"SLUICE_RECEIVE_BLOCK_DEAD_AFTER", "receive.block_dead_after", func(c *Config, v string) { c.Receive.BlockDeadAfter = envDuration(v) }},
	{"SLUICE_SWEEPS_SOLVENCY_INTERVAL", "sweeps.solvency_interval", func(c *Config, v string) { c.Sweeps.SolvencyInterval = envDuration(v) }},
	{"SLUICE_FEE_ADDRESS_BTC", "sweeps.fee_addresses.BTC", func(c *Config, v string) { feeAddress(c, "BTC", v) }},
	{"SLUICE_FEE_ADDRESS_LTC", "sweeps.fee_addresses.LTC", func(c *Config, v string) { feeAddress(c, "LTC", v) }},
	{"SLUICE_FEE_ADDRESS_ETH", "sweeps.fee_addresses.ETH", func(c *Config, v string) { feeAddress(c, "ETH", v) }},
	{"SLUICE_FEE_ADDRESS_USDT", "sweeps.fee_addresses.USDT", func(c *Config, v string) { feeAddress(c, "USDT", v) }},
	{"SLUICE_LOG_LEVEL", "log.level", func(c *Config, v string) { c.Log.Level = v }},
	{"SLUICE_LOG_FORMAT", "log.format", func(c *Config, v string) { c.Log.Format = v }},
}

// envInt is v as an integer; -1 (which validation refuses, naming the
// variable) when it is not one.
func envInt(v string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// A Check validates what this package cannot by itself (an address of a
// chain's network, a seed file): it returns problems with Key and Msg (or
// NewProblem's cause), which Load locates as its own. A check must expect
// a configuration with problems already reported and not repeat them.
type Check func(*Config) []Problem

// NewProblem is a problem with the value of key caused by err, for a Check;
// errors.Is and errors.As see err through the *Error Load returns. The
// message must not quote a secret.
func NewProblem(key string, err error) Problem {
	return Problem{Key: key, Msg: err.Error(), err: err}
}

// Load reads the YAML file at path (none when path is empty), applies the
// environment overrides read through getenv, fills defaults, validates and
// runs checks. Every problem is reported at once, with file and line where
// it has one: the file's (unknown keys, values of the wrong type) first,
// then those of the values.
func Load(path string, getenv func(string) string, checks ...Check) (*Config, error) {
	cfg := Config{}
	var lines map[string]int
	var keyProbs []Problem
	var badKeys []string
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		var fatal bool
		lines, keyProbs, badKeys, fatal = parse(path, data, &cfg)
		if fatal {
			return nil, &Error{Problems: keyProbs}
		}
	}
	cfg.src = source{path: path, lines: lines, env: applyEnv(&cfg, getenv)}
	cfg.applyDefaults()
	probs := cfg.validate()
	for _, check := range checks {
		probs = append(probs, check(&cfg)...)
	}
	// a value of the wrong type was left out (default or zero): its type
	// problem is the one to fix, not what validation makes of the rest
	probs = slices.DeleteFunc(probs, func(p Problem) bool {
		return slices.ContainsFunc(badKeys, func(k string) bool { return under(p.Key, k) })
	})
	for i := range probs {
		cfg.src.locate(&probs[i])
	}
	if probs = append(keyProbs, probs...); len(probs) > 0 {
		return nil, &Error{Problems: probs}
	}
	return &cfg, nil
}

// under says whether key is parent or inside it (a.b under a, a[0].b under a).
func under(key, parent string) bool {
	return key == parent || strings.HasPrefix(key, parent+".") || strings.HasPrefix(key, parent+"[")
}

// source is where a loaded configuration came from.
type source struct {
	path  string            // the file, "" when none
	lines map[string]int    // key -> line in the file
	env   map[string]string // key -> the variable that set it
}

// locate puts the file and line of p's key into p, or names the variable
// the value came from.
func (s source) locate(p *Problem) {
	// the variable that set the key, or a list or section holding it
	// (SLUICE_RATES_SOURCES sets rates.sources[1].url)
	for k := p.Key; k != ""; {
		if env, ok := s.env[k]; ok {
			p.Key = env + " (" + p.Key + ")"
			return
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	if s.path != "" {
		p.File = s.path
		p.Line = lineOf(s.lines, p.Key)
	}
}

// Errorf reports a problem with the value of key found after Load, by a
// package that checks what this one cannot (a seed file that does not
// parse, say), located as Load locates its own: at the file and line of the
// key, or naming the SLUICE_* variable that set it. Format is fmt.Errorf's,
// so %w keeps the cause for errors.Is. The message must not quote a secret.
func (c *Config) Errorf(key, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	p := Problem{Key: key, Msg: err.Error(), err: err}
	c.src.locate(&p)
	return &Error{Problems: []Problem{p}}
}

// lineOf finds the line of key, or of its nearest parent present in the file.
func lineOf(lines map[string]int, key string) int {
	for k := key; k != ""; {
		if l, ok := lines[k]; ok {
			return l
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

var yamlLineRe = regexp.MustCompile(`^line (\d+): (.*)$`)

// parse decodes data into cfg, checking keys and value types against the
// struct first so an unknown key is named with its path and the keys that
// would be accepted, and a value of the wrong type with its key and what it
// should be. fatal means the file could not be read as a configuration at
// all; bad lists the keys whose values were of the wrong type.
func parse(path string, data []byte, cfg *Config) (lines map[string]int, probs []Problem, bad []string, fatal bool) {
	lines = map[string]int{}
	if len(bytes.TrimSpace(data)) == 0 {
		return lines, nil, nil, false // an empty file is a valid, empty configuration
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, []Problem{yamlProblem(path, err)}, nil, true
	}
	w := walker{path: path, lines: lines}
	if len(root.Content) == 1 {
		doc := root.Content[0]
		if doc.Kind != yaml.MappingNode && !isNull(doc) {
			return lines, []Problem{{File: path, Line: doc.Line,
				Msg: "the file must be a map of sections (api:, postgres:, chains:, ...), not " + describe(doc)}}, nil, true
		}
		w.walkStruct(doc, reflect.TypeOf(*cfg), "")
	}
	// The rest is still decoded and checked, so one run lists every problem;
	// yaml.v3 sets what it can and leaves the values of the wrong type out.
	if err := root.Decode(cfg); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return lines, append(w.probs, yamlProblem(path, err)), w.bad, true
		}
		// anything the walk did not foresee, in yaml.v3's words
		for _, msg := range te.Errors {
			p := Problem{File: path, Msg: msg}
			if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
				p.Line, _ = strconv.Atoi(m[1])
				p.Msg = m[2]
			}
			if !slices.ContainsFunc(w.probs, func(q Problem) bool { return q.Line == p.Line && p.Line > 0 }) {
				w.probs = append(w.probs, p)
			}
		}
	}
	sort.SliceStable(w.probs, func(i, j int) bool { return w.probs[i].Line < w.probs[j].Line })
	return lines, w.probs, w.bad, false
}

func yamlProblem(path string, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	p := Problem{File: path, Msg: msg}
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Msg = m[2]
	}
	return p
}

// walker records the line of every key and reports keys the struct lacks
// and values of the wrong type.
type walker struct {
	path  string
	lines map[string]int // key -> line
	probs []Problem
	bad   []string // keys whose values are of the wrong type
}

var durationType = reflect.TypeOf(time.Duration(0))

func (w *walker) walkStruct(n *yaml.Node, t reflect.Type, prefix string) {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag != "" && tag != "-" {
			fields[tag] = t.Field(i).Type
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		if prefix != "" {
			key = prefix + "." + k.Value
		}
		w.lines[key] = k.Line
		ft, ok := fields[k.Value]
		if !ok {
			known := make([]string, 0, len(fields))
			for f := range fields {
				known = append(known, f)
			}
			sort.Strings(known)
			w.probs = append(w.probs, Problem{File: w.path, Line: k.Line, Key: key,
				Msg: fmt.Sprintf("unknown key %q (known keys here: %s)", k.Value, strings.Join(known, ", "))})
			continue
		}
		w.walkValue(v, ft, key)
	}
}

// walkValue checks that n can be decoded into a t: a section is a map of
// its keys, a list a sequence, and a scalar whatever yaml.v3 makes of it.
func (w *walker) walkValue(n *yaml.Node, t reflect.Type, key string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if isNull(n) {
		return // the zero value, as yaml.v3 decodes it
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			w.wrongType(n, t, key)
			return
		}
		w.walkStruct(n, t, key)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.wrongType(n, t, key)
			return
		}
		// list items are located as key[i] (chains.eth.tokens[0].address)
		for i, item := range n.Content {
			k := fmt.Sprintf("%s[%d]", key, i)
			w.lines[k] = item.Line
			w.walkValue(item, t.Elem(), k)
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.wrongType(n, t, key)
			return
		}
		// entries are located as key.NAME (sweeps.fee_addresses.BTC)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := key + "." + n.Content[i].Value
			w.lines[k] = n.Content[i].Line
			w.walkValue(n.Content[i+1], t.Elem(), k)
		}
	default:
		if n.Kind != yaml.ScalarNode || n.Decode(reflect.New(t).Interface()) != nil {
			w.wrongType(n, t, key)
		}
	}
}

func (w *walker) wrongType(n *yaml.Node, t reflect.Type, key string) {
	w.bad = append(w.bad, key)
	w.probs = append(w.probs, Problem{File: w.path, Line: n.Line, Key: key,
		Msg: fmt.Sprintf("%s is not %s", describe(n), want(t, n))})
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a value for a message: a scalar quoted (at most 40
// characters: no key of a secret is a number, a flag or a duration), a list
// or a map by its kind.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	}
	if len(n.Value) > 40 {
		return strconv.Quote(n.Value[:40]) + "…"
	}
	return strconv.Quote(n.Value)
}

// want says what a key of type t holds, for a message about n.
func want(t reflect.Type, n *yaml.Node) string {
	if t == durationType {
		return "a duration such as 30s, 5m or 1h"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
			return "an integer this key can hold (out of range)"
		}
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list ([a, b] or one \"- item\" a line)"
	case reflect.Map:
		return "a map of NAME: VALUE"
	case reflect.Struct:
		return "a section of keys (key: value lines, indented)"
	}
	return "a " + t.String()
}

// applyEnv sets the overrides present in the environment and returns which
// config keys came from which variable, for error messages.
func applyEnv(cfg *Config, getenv func(string) string) map[string]string {
	from := map[string]string{}
	if getenv == nil {
		return from
	}
	for _, ev := range EnvVars {
		v := getenv(ev.Name)
		if v == "" {
			continue
		}
		from[ev.Key] = ev.Name
		ev.set(cfg, v)
	}
	return from
}

func btc(c *Config) *Bitcoin {
	if c.Chains.BTC == nil {
		c.Chains.BTC = &Bitcoin{}
	}
	return c.Chains.BTC
}

func ltc(c *Config) *Bitcoin {
	if c.Chains.LTC == nil {
		c.Chains.LTC = &Bitcoin{}
	}
	return c.Chains.LTC
}

func eth(c *Config) *Ethereum {
	if c.Chains.ETH == nil {
		c.Chains.ETH = &Ethereum{}
	}
	return c.Chains.ETH
}

// envDuration reads a duration from the environment; one that does not
// parse becomes -1, which validation reports naming the variable.
func envDuration(v string) time.Duration {
	d, err := time.ParseDuration(v)
	if err != nil {
		return -1
	}
	return d
}

// setToken adds or replaces a token by symbol.
func setToken(e *Ethereum, symbol, address string, decimals int) {
	for i := range e.Tokens {
		if e.Tokens[i].Symbol == symbol {
			e.Tokens[i].Address = address
			return
		}
	}
	e.Tokens = append(e.Tokens, Token{Symbol: symbol, Address: address, Decimals: decimals})
}

// parseRateSources reads SLUICE_RATES_SOURCES: comma-separated NAME or
// NAME=URL, in fallback order; "none" is no source (rates off).
func parseRateSources(v string) []RateSource {
	out := []RateSource{}
	if strings.TrimSpace(v) == "none" {
		return out
	}
	for _, item := range strings.Split(v, ",") {
		name, u, _ := strings.Cut(strings.TrimSpace(item), "=")
		out = append(out, RateSource{Name: strings.TrimSpace(name), URL: strings.TrimSpace(u)})
	}
	return out
}

func feeAddress(c *Config, currency, v string) {
	if c.Sweeps.FeeAddresses == nil {
		c.Sweeps.FeeAddresses = map[string]string{}
	}
	c.Sweeps.FeeAddresses[currency] = v
}

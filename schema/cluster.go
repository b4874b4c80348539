package schema

import (
	"fmt"
	"io"
	"regexp"
	"strings"
)

// The ClickHouse cluster variant of the chain index, generated from the same
// migration files `sluice migrate` applies to a single server, so the two
// cannot drift apart. Every CREATE TABLE t becomes
//
//   - t_local ON CLUSTER: the same columns, PARTITION BY, ORDER BY and
//     settings, on the Replicated form of the engine (ReplacingMergeTree(v) →
//     ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/t_local',
//     '{replica}', v)): each shard's replicas hold the same data;
//   - t ON CLUSTER AS t_local, ENGINE = Distributed(cluster, db, t_local,
//     sharding key): the table sluice and analysts read and write, which
//     spreads inserts over the shards and queries over all of them.
//
// ALTER TABLE ... ADD/DROP/MODIFY/RENAME/COMMENT COLUMN is applied to both
// tables (the Distributed table must show a column for it to be read); other
// ALTERs (mutations, partitions, settings) to the local tables only. DROP
// TABLE drops both. Anything else is refused with an error that says so,
// rather than printed wrong.

// ClusterStatement is one statement of the cluster schema.
type ClusterStatement struct {
	SQL string // without the trailing semicolon
	// Note says where the statement comes from and, for a Distributed table,
	// why its sharding key is what it is. Printed as a comment.
	Note string
}

// Sharding is how a Distributed table spreads its rows over the shards.
type Sharding struct {
	Key    string // a ClickHouse expression over columns of the table's ORDER BY
	Reason string
}

// ShardingFor gives the sharding key chosen for a chain-index table, and
// false for a table without one chosen (ClusterDDL then shards by a hash of
// the whole ORDER BY).
//
// Every key is a hash of columns of the table's ORDER BY, which is also its
// ReplacingMergeTree deduplication key: rows that are duplicates of each
// other (a block written twice after a crash) always land on the same shard,
// where FINAL and background merges can collapse them. Within that rule the
// key keeps together what is looked up or joined together, and avoids
// columns with a few very hot values (a token contract: USDT would fill one
// shard).
func ShardingFor(table string) (Sharding, bool) {
	switch table {
	case "blocks", "block_status":
		return Sharding{"cityHash64(chain, hash)", "a block's row and its canonical flags on one shard, so the canonical filter joins locally"}, true
	case "eth_blocks":
		return Sharding{"cityHash64(chain, hash)", "by block, like blocks"}, true
	case "transactions", "outputs":
		return Sharding{"cityHash64(chain, txid)", "a transaction and its outputs on one shard: a lookup by txid reads one shard"}, true
	case "inputs":
		return Sharding{"cityHash64(chain, prev_txid)", "an input on the shard of the output it spends (outputs shard by txid): spent lookups read one shard"}, true
	case "address_outputs", "address_spends", "eth_address_transfers":
		return Sharding{"cityHash64(chain, address)", "an address's whole history (outputs and spends) on one shard: an address lookup or balance reads one shard"}, true
	case "spend_progress":
		return Sharding{"cityHash64(chain)", "a few rows per chain, each chain's on one shard"}, true
	case "eth_transactions":
		return Sharding{"cityHash64(chain, hash)", "by transaction hash: a lookup by hash reads one shard"}, true
	case "internal_transfers":
		return Sharding{"cityHash64(chain, to_address)", "by recipient, the column it is ordered and looked up by"}, true
	case "token_transfers", "transfer_logs_unparsed":
		return Sharding{"cityHash64(chain, block_hash)", "by block: ordering by token would put all of one popular token on one shard"}, true
	}
	return Sharding{}, false
}

// ClusterDDL rewrites the embedded ClickHouse migrations for a cluster named
// cluster (as in the servers' remote_servers), in database. The statements
// start with CREATE DATABASE, are all ON CLUSTER, and are all safe to run
// again. The servers need ZooKeeper (or ClickHouse Keeper) and the macros
// {shard} and {replica}.
func ClusterDDL(cluster, database string) ([]ClusterStatement, error) {
	if !validClusterName(cluster) {
		return nil, fmt.Errorf("cluster name %q: use letters, digits, _, - and dots", cluster)
	}
	if !validIdent(database) {
		return nil, fmt.Errorf("database name %q: use letters, digits and _", database)
	}
	ms, err := ClickHouseMigrations()
	if err != nil {
		return nil, err
	}
	r := rewriter{cluster: cluster, db: database, tables: map[string]bool{}}
	out := []ClusterStatement{{SQL: fmt.Sprintf("CREATE DATABASE IF NOT EXISTS %s ON CLUSTER %s", database, r.onCluster())}}
	for _, m := range ms {
		for i, stmt := range m.Statements {
			got, err := r.rewrite(stmt)
			if err != nil {
				return nil, fmt.Errorf("clickhouse migration %s, statement %d: %w", m.Name, i+1, err)
			}
			for j := range got {
				if got[j].Note == "" {
					got[j].Note = m.Name
				} else {
					got[j].Note = m.Name + ": " + got[j].Note
				}
			}
			out = append(out, got...)
		}
	}
	return out, nil
}

// WriteClusterDDL prints ClusterDDL as a script for
// `clickhouse-client --multiquery`, with a header saying what the servers
// need and a comment on each statement.
func WriteClusterDDL(w io.Writer, cluster, database string) error {
	stmts, err := ClusterDDL(cluster, database)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, `-- sluice chain index for the ClickHouse cluster %s, database %s.
-- Generated by "sluice schema cluster" from the migrations in schema/clickhouse/.
-- Needs on every server: remote_servers with this cluster (internal_replication
-- true), ZooKeeper or ClickHouse Keeper, and the macros {shard} and {replica}.
-- Run it once, on any one server:
--   clickhouse-client --multiquery < cluster.sql
-- then "sluice migrate" with clickhouse.dsn naming database %s: its CREATE
-- TABLE IF NOT EXISTS statements find the tables and it records the versions.
-- Every statement here is safe to run again.
`, cluster, database, database)
	for _, s := range stmts {
		b.WriteString("\n")
		if s.Note != "" {
			fmt.Fprintf(&b, "-- %s\n", s.Note)
		}
		b.WriteString(s.SQL)
		b.WriteString(";\n")
	}
	_, err = io.WriteString(w, b.String())
	return err
}

func validClusterName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// rewriter turns single-server statements into cluster statements,
// remembering which tables exist.
type rewriter struct {
	cluster, db string
	tables      map[string]bool
}

func (r *rewriter) onCluster() string {
	if validIdent(r.cluster) {
		return r.cluster
	}
	return "`" + r.cluster + "`"
}

var (
	createTableRe = regexp.MustCompile(`(?is)^CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*`)
	alterTableRe  = regexp.MustCompile(`(?is)^ALTER\s+TABLE\s+(IF\s+EXISTS\s+)?([A-Za-z_][A-Za-z0-9_]*)\s+`)
	dropTableRe   = regexp.MustCompile(`(?is)^DROP\s+TABLE\s+(IF\s+EXISTS\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*`)
	engineRe      = regexp.MustCompile(`(?is)^\s*ENGINE\s*=\s*([A-Za-z_][A-Za-z0-9_]*)\s*`)
	orderByRe     = regexp.MustCompile(`(?is)\bORDER\s+BY\b`)
	// clauses that may follow ORDER BY in a MergeTree definition
	clauseRe      = regexp.MustCompile(`(?is)\b(PARTITION\s+BY|ORDER\s+BY|PRIMARY\s+KEY|SAMPLE\s+BY|TTL|SETTINGS|COMMENT)\b`)
	asRe          = regexp.MustCompile(`(?is)\bAS\b`)
	columnAlterRe = regexp.MustCompile(`(?is)^(ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\b`)
	dropColumnRe  = regexp.MustCompile(`(?is)^DROP\s+COLUMN\b`)
	hashArgsRe    = regexp.MustCompile(`^cityHash64\((.*)\)$`)
	onClusterRe   = regexp.MustCompile(`(?is)\bON\s+CLUSTER\b`)
)

func (r *rewriter) rewrite(stmt string) ([]ClusterStatement, error) {
	stmt = strings.TrimSpace(stmt)
	if onClusterRe.MatchString(mask(stmt)) {
		return nil, fmt.Errorf("already has ON CLUSTER: migrations are written for a single server")
	}
	switch {
	case createTableRe.MatchString(stmt):
		return r.createTable(stmt)
	case alterTableRe.MatchString(stmt):
		return r.alterTable(stmt)
	case dropTableRe.MatchString(stmt):
		return r.dropTable(stmt)
	}
	return nil, fmt.Errorf("%q: only CREATE TABLE, ALTER TABLE and DROP TABLE (with unqualified table names) can be rewritten for a cluster; extend schema/cluster.go", abbrev(stmt))
}

func (r *rewriter) createTable(stmt string) ([]ClusterStatement, error) {
	m := createTableRe.FindStringSubmatchIndex(stmt)
	ifNotExists := ""
	if m[2] >= 0 {
		ifNotExists = "IF NOT EXISTS "
	}
	name := stmt[m[4]:m[5]]
	masked := mask(stmt)
	open := m[1]
	if open >= len(stmt) || masked[open] != '(' {
		return nil, fmt.Errorf("CREATE TABLE %s: only the form with a column list is supported (not AS another table, nor a qualified name)", name)
	}
	closing := matchParen(masked, open)
	if closing < 0 {
		return nil, fmt.Errorf("CREATE TABLE %s: unbalanced parentheses", name)
	}
	columns := stmt[open : closing+1]
	rest, mrest := stmt[closing+1:], masked[closing+1:]
	em := engineRe.FindStringSubmatchIndex(mrest)
	if em == nil {
		return nil, fmt.Errorf("CREATE TABLE %s: ENGINE = must follow the columns", name)
	}
	engine := rest[em[2]:em[3]]
	after := em[1]
	args := ""
	if after < len(mrest) && mrest[after] == '(' {
		c := matchParen(mrest, after)
		if c < 0 {
			return nil, fmt.Errorf("CREATE TABLE %s: unbalanced parentheses in ENGINE", name)
		}
		args = strings.TrimSpace(rest[after+1 : c])
		after = c + 1
	}
	clauses, mclauses := trimPair(rest[after:], mrest[after:])
	if !strings.HasSuffix(engine, "MergeTree") || strings.HasPrefix(engine, "Replicated") {
		return nil, fmt.Errorf("CREATE TABLE %s: engine %s: only the MergeTree family (not yet Replicated) can be made Replicated", name, engine)
	}
	if topLevel(mclauses, asRe) >= 0 {
		return nil, fmt.Errorf("CREATE TABLE %s: AS SELECT is not supported", name)
	}
	order, err := orderBy(clauses, mclauses)
	if err != nil {
		return nil, fmt.Errorf("CREATE TABLE %s: %w", name, err)
	}
	sh, err := sharding(name, order)
	if err != nil {
		return nil, err
	}

	local := name + "_local"
	repl := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s', '{replica}'", r.db, local)
	if args != "" {
		repl += ", " + args
	}
	r.tables[name] = true
	return []ClusterStatement{
		{SQL: fmt.Sprintf("CREATE TABLE %s%s.%s ON CLUSTER %s %s\nENGINE = Replicated%s(%s)\n%s",
			ifNotExists, r.db, local, r.onCluster(), columns, engine, repl, clauses),
			Note: "the shards' replicated table behind " + name},
		{SQL: fmt.Sprintf("CREATE TABLE %s%s.%s ON CLUSTER %s AS %s.%s\nENGINE = Distributed('%s', '%s', '%s', %s)",
			ifNotExists, r.db, name, r.onCluster(), r.db, local, r.cluster, r.db, local, sh.Key),
			Note: fmt.Sprintf("%s over the shards, sharded by %s: %s", name, sh.Key, sh.Reason)},
	}, nil
}

// orderBy returns the expressions of the ORDER BY clause: the columns of a
// tuple, or the one expression.
func orderBy(clauses, mclauses string) ([]string, error) {
	i := topLevel(mclauses, orderByRe)
	if i < 0 {
		return nil, fmt.Errorf("no ORDER BY: only the MergeTree syntax with ORDER BY is supported")
	}
	start := i + len(orderByRe.FindString(mclauses[i:]))
	end := len(mclauses)
	for _, loc := range clauseRe.FindAllStringIndex(mclauses[start:], -1) {
		if depthAt(mclauses, start+loc[0]) == 0 {
			end = start + loc[0]
			break
		}
	}
	expr, mexpr := trimPair(clauses[start:end], mclauses[start:end])
	if strings.HasPrefix(mexpr, "(") && matchParen(mexpr, 0) == len(mexpr)-1 {
		return splitTopLevel(expr[1:len(expr)-1], mexpr[1:len(mexpr)-1]), nil
	}
	if strings.EqualFold(strings.ReplaceAll(mexpr, " ", ""), "tuple()") {
		return nil, nil
	}
	return []string{expr}, nil
}

// sharding is the table's chosen key, checked to hash only ORDER BY
// columns, or else a hash of the whole ORDER BY.
func sharding(table string, order []string) (Sharding, error) {
	sh, ok := ShardingFor(table)
	if !ok {
		if len(order) == 0 {
			return Sharding{"rand()", "no sorting key, so no duplicates to keep together: spread evenly"}, nil
		}
		return Sharding{"cityHash64(" + strings.Join(order, ", ") + ")",
			"no key chosen for this table in schema/cluster.go, so the whole ORDER BY: duplicates stay together"}, nil
	}
	in := map[string]bool{}
	for _, o := range order {
		in[o] = true
	}
	m := hashArgsRe.FindStringSubmatch(sh.Key)
	if m == nil {
		return Sharding{}, fmt.Errorf("table %s: sharding key %s must be cityHash64 of ORDER BY columns", table, sh.Key)
	}
	for _, col := range strings.Split(m[1], ",") {
		if col = strings.TrimSpace(col); !in[col] {
			return Sharding{}, fmt.Errorf("table %s: sharding key %s uses %s, which is not in its ORDER BY (%s), so duplicates could land on different shards: fix ShardingFor in schema/cluster.go",
				table, sh.Key, col, strings.Join(order, ", "))
		}
	}
	return sh, nil
}

func (r *rewriter) alterTable(stmt string) ([]ClusterStatement, error) {
	m := alterTableRe.FindStringSubmatchIndex(stmt)
	ifExists := ""
	if m[2] >= 0 {
		ifExists = "IF EXISTS "
	}
	name := stmt[m[4]:m[5]]
	if !r.tables[name] {
		return nil, fmt.Errorf("ALTER TABLE %s: no earlier migration creates it", name)
	}
	ops, mops := trimPair(stmt[m[1]:], mask(stmt)[m[1]:])
	actions := splitTopLevel(ops, mops)
	columnOps, drops := 0, 0
	for _, a := range actions {
		if columnAlterRe.MatchString(a) {
			columnOps++
		}
		if dropColumnRe.MatchString(a) {
			drops++
		}
	}
	alter := func(table string) ClusterStatement {
		return ClusterStatement{SQL: fmt.Sprintf("ALTER TABLE %s%s.%s ON CLUSTER %s %s", ifExists, r.db, table, r.onCluster(), ops)}
	}
	local, dist := alter(name+"_local"), alter(name)
	switch {
	case columnOps == 0:
		local.Note = "on the shards' tables only"
		return []ClusterStatement{local}, nil
	case columnOps < len(actions):
		return nil, fmt.Errorf("ALTER TABLE %s mixes column changes with other actions: on a cluster the first go to both tables and the others only to %s_local; split it", name, name)
	case drops > 0:
		// the Distributed table stops showing the column before it goes
		dist.Note = "first on the Distributed table, then on the shards' tables"
		return []ClusterStatement{dist, local}, nil
	default:
		local.Note = "first on the shards' tables, then on the Distributed table"
		return []ClusterStatement{local, dist}, nil
	}
}

func (r *rewriter) dropTable(stmt string) ([]ClusterStatement, error) {
	m := dropTableRe.FindStringSubmatchIndex(stmt)
	ifExists := ""
	if m[2] >= 0 {
		ifExists = "IF EXISTS "
	}
	name := stmt[m[4]:m[5]]
	rest := strings.TrimSpace(stmt[m[1]:])
	if strings.HasPrefix(rest, ".") {
		return nil, fmt.Errorf("DROP TABLE %s: qualified names are not supported", name)
	}
	if rest != "" {
		rest = " " + rest
	}
	delete(r.tables, name)
	drop := func(table string) string {
		return fmt.Sprintf("DROP TABLE %s%s.%s ON CLUSTER %s%s", ifExists, r.db, table, r.onCluster(), rest)
	}
	return []ClusterStatement{{SQL: drop(name)}, {SQL: drop(name + "_local")}}, nil
}

// mask returns s with the insides of string literals, quoted identifiers and
// comments blanked out (same length, so positions carry over), so keywords
// and parentheses can be found in it without being fooled by them.
func mask(s string) string {
	b := []byte(s)
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for j < len(b) && b[j] != c {
				if b[j] == '\\' && j+1 < len(b) {
					b[j] = '_'
					j++
				}
				b[j] = '_'
				j++
			}
			b[i] = '_'
			if j < len(b) {
				b[j] = '_'
			}
			i = j
		case c == '-' && i+1 < len(b) && b[i+1] == '-':
			for i < len(b) && b[i] != '\n' {
				b[i] = ' '
				i++
			}
		case c == '/' && i+1 < len(b) && b[i+1] == '*':
			for i < len(b) && !(b[i] == '*' && i+1 < len(b) && b[i+1] == '/') {
				if b[i] != '\n' {
					b[i] = ' '
				}
				i++
			}
			if i < len(b) {
				b[i] = ' '
				if i+1 < len(b) {
					b[i+1] = ' '
					i++
				}
			}
		}
	}
	return string(b)
}

// trimPair trims s and its masked form m by the spaces of m (a comment is
// spaces in m), so positions in the two still match.
func trimPair(s, m string) (string, string) {
	t := strings.TrimSpace(m)
	if t == "" {
		return "", ""
	}
	start := strings.Index(m, t)
	return s[start : start+len(t)], t
}

// matchParen is the index of the ')' closing the '(' at open in a masked
// string, or -1.
func matchParen(masked string, open int) int {
	depth := 0
	for i := open; i < len(masked); i++ {
		switch masked[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// depthAt is the parenthesis depth at index i of a masked string.
func depthAt(masked string, i int) int {
	d := 0
	for _, c := range masked[:i] {
		switch c {
		case '(':
			d++
		case ')':
			d--
		}
	}
	return d
}

// topLevel is the index of the first match of re outside parentheses, or -1.
func topLevel(masked string, re *regexp.Regexp) int {
	for _, loc := range re.FindAllStringIndex(masked, -1) {
		if depthAt(masked, loc[0]) == 0 {
			return loc[0]
		}
	}
	return -1
}

// splitTopLevel splits s at the commas outside parentheses (found in its
// masked form) and trims each part.
func splitTopLevel(s, masked string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(masked); i++ {
		switch masked[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if last := strings.TrimSpace(s[start:]); last != "" {
		parts = append(parts, last)
	}
	return parts
}

func abbrev(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

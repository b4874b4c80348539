package schema

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/stores"
)

// sourceTable is a CREATE TABLE of the migrations, read with plain regular
// expressions (independently of cluster.go's parser).
type sourceTable struct {
	name, engine, args, partition, order string
}

var (
	srcNameRe      = regexp.MustCompile(`(?s)^CREATE TABLE IF NOT EXISTS (\w+) \(`)
	srcEngineRe    = regexp.MustCompile(`(?m)^\) ENGINE = (\w+)(?:\((.*)\))?$`)
	srcPartitionRe = regexp.MustCompile(`(?m)^PARTITION BY (.*)$`)
	srcOrderRe     = regexp.MustCompile(`(?m)^ORDER BY (.*)$`)
)

func sourceTables(t *testing.T) []sourceTable {
	t.Helper()
	ms, err := ClickHouseMigrations()
	if err != nil {
		t.Fatal(err)
	}
	var out []sourceTable
	for _, m := range ms {
		for _, s := range m.Statements {
			n := srcNameRe.FindStringSubmatch(s)
			if n == nil {
				continue
			}
			st := sourceTable{name: n[1]}
			e := srcEngineRe.FindStringSubmatch(s)
			if e == nil {
				t.Fatalf("%s: %s: engine line not found by the test's pattern", m.Name, st.name)
			}
			st.engine, st.args = e[1], e[2]
			if p := srcPartitionRe.FindStringSubmatch(s); p != nil {
				st.partition = p[1]
			}
			if o := srcOrderRe.FindStringSubmatch(s); o != nil {
				st.order = o[1]
			}
			out = append(out, st)
		}
	}
	if len(out) < 10 {
		t.Fatalf("found only %d tables in the migrations", len(out))
	}
	return out
}

// TestClusterDDLStructure checks that every table of the migrations has a
// replicated local table keeping its engine parameters, PARTITION BY and
// ORDER BY, and a Distributed table over it, and that every statement runs
// ON CLUSTER.
func TestClusterDDLStructure(t *testing.T) {
	const cluster, db = "prod", "chain"
	stmts, err := ClusterDDL(cluster, db)
	if err != nil {
		t.Fatal(err)
	}
	if want := "CREATE DATABASE IF NOT EXISTS chain ON CLUSTER prod"; stmts[0].SQL != want {
		t.Errorf("first statement = %q, want %q", stmts[0].SQL, want)
	}
	onCluster := regexp.MustCompile(`^(CREATE|ALTER|DROP) (DATABASE|TABLE) (IF (NOT )?EXISTS )?chain(\.\w+)? ON CLUSTER prod\b`)
	byName := map[string]string{}
	for _, s := range stmts {
		if !onCluster.MatchString(s.SQL) {
			t.Errorf("not ON CLUSTER prod with a qualified name: %.100s", s.SQL)
		}
		if strings.HasPrefix(s.SQL, "CREATE TABLE") {
			name := strings.Fields(s.SQL)[5]
			if byName[name] != "" {
				t.Errorf("%s is created twice", name)
			}
			byName[name] = s.SQL
		}
	}
	for _, src := range sourceTables(t) {
		local := byName["chain."+src.name+"_local"]
		dist := byName["chain."+src.name]
		if local == "" || dist == "" {
			t.Errorf("%s: want chain.%s_local and chain.%s, have local=%t distributed=%t", src.name, src.name, src.name, local != "", dist != "")
			continue
		}
		replArgs := fmt.Sprintf("'/clickhouse/tables/{shard}/chain/%s_local', '{replica}'", src.name)
		if src.args != "" {
			replArgs += ", " + src.args
		}
		wantEngine := fmt.Sprintf("\nENGINE = Replicated%s(%s)\n", src.engine, replArgs)
		if !strings.Contains(local, wantEngine) {
			t.Errorf("%s_local: want %q in\n%s", src.name, wantEngine, local)
		}
		if src.partition != "" && !strings.Contains(local, "\nPARTITION BY "+src.partition+"\n") {
			t.Errorf("%s_local lost PARTITION BY %s:\n%s", src.name, src.partition, local)
		}
		if src.order == "" || !strings.HasSuffix(local, "\nORDER BY "+src.order) {
			t.Errorf("%s_local lost ORDER BY %s:\n%s", src.name, src.order, local)
		}
		sh, ok := ShardingFor(src.name)
		if !ok {
			t.Logf("%s has no sharding key chosen in ShardingFor: sharded by its whole ORDER BY", src.name)
			sh.Key = "cityHash64(" + strings.Trim(src.order, "()") + ")"
		}
		wantDist := fmt.Sprintf("CREATE TABLE IF NOT EXISTS chain.%s ON CLUSTER prod AS chain.%s_local\nENGINE = Distributed('prod', 'chain', '%s_local', %s)",
			src.name, src.name, src.name, sh.Key)
		if dist != wantDist {
			t.Errorf("%s:\n got %s\nwant %s", src.name, dist, wantDist)
		}
		// the key hashes columns of the ORDER BY, so duplicates share a shard
		order := strings.Split(strings.Trim(src.order, "()"), ", ")
		for _, col := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(sh.Key, "cityHash64("), ")"), ", ") {
			if !slices.Contains(order, col) {
				t.Errorf("%s: sharding key %s uses %s, not in ORDER BY %s", src.name, sh.Key, col, src.order)
			}
		}
	}
}

// TestWriteClusterDDL checks the printed script: every statement of
// ClusterDDL, each ending with ; at the end of a line (what
// clickhouse-client --multiquery and SplitStatements read), with its note.
func TestWriteClusterDDL(t *testing.T) {
	var b bytes.Buffer
	if err := WriteClusterDDL(&b, "prod", "chain"); err != nil {
		t.Fatal(err)
	}
	stmts, err := ClusterDDL("prod", "chain")
	if err != nil {
		t.Fatal(err)
	}
	got := SplitStatements(b.String())
	if len(got) != len(stmts) {
		t.Fatalf("printed %d statements, want %d", len(got), len(stmts))
	}
	for i := range got {
		if got[i] != stmts[i].SQL {
			t.Errorf("statement %d printed as\n%s\nwant\n%s", i+1, got[i], stmts[i].SQL)
		}
	}
	if !strings.Contains(b.String(), "-- 00002_bitcoin.sql: inputs over the shards, sharded by cityHash64(chain, prev_txid): ") {
		t.Errorf("the sharding notes are missing:\n%s", b.String())
	}
	for _, bad := range [][2]string{{"", "chain"}, {"prod", ""}, {"prod;DROP", "chain"}, {"prod", "chain-1"}, {"prod", "1chain"}} {
		if err := WriteClusterDDL(&b, bad[0], bad[1]); err == nil {
			t.Errorf("cluster %q, database %q: accepted", bad[0], bad[1])
		}
	}
}

// TestClusterRewrite covers statements the migrations do not have yet.
func TestClusterRewrite(t *testing.T) {
	cases := []struct {
		name string
		in   []string
		want []string // of the last input statement
		err  string
	}{
		{
			name: "engine parameters, settings and comments kept",
			in:   []string{"CREATE TABLE IF NOT EXISTS t (\n  a String, -- (odd) comment, with ORDER BY\n  s Int8 DEFAULT 1\n) ENGINE = CollapsingMergeTree(s)\nPARTITION BY a\nORDER BY (a, `s`) -- why\nSETTINGS index_granularity = 8192"},
			want: []string{
				"CREATE TABLE IF NOT EXISTS db.t_local ON CLUSTER c (\n  a String, -- (odd) comment, with ORDER BY\n  s Int8 DEFAULT 1\n)\nENGINE = ReplicatedCollapsingMergeTree('/clickhouse/tables/{shard}/db/t_local', '{replica}', s)\nPARTITION BY a\nORDER BY (a, `s`) -- why\nSETTINGS index_granularity = 8192",
				"CREATE TABLE IF NOT EXISTS db.t ON CLUSTER c AS db.t_local\nENGINE = Distributed('c', 'db', 't_local', cityHash64(a, `s`))",
			},
		},
		{
			name: "plain MergeTree with a single ORDER BY expression",
			in:   []string{"CREATE TABLE t (a UInt8) ENGINE = MergeTree ORDER BY a"},
			want: []string{
				"CREATE TABLE db.t_local ON CLUSTER c (a UInt8)\nENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/db/t_local', '{replica}')\nORDER BY a",
				"CREATE TABLE db.t ON CLUSTER c AS db.t_local\nENGINE = Distributed('c', 'db', 't_local', cityHash64(a))",
			},
		},
		{
			name: "ORDER BY tuple() spreads at random",
			in:   []string{"CREATE TABLE t (a UInt8) ENGINE = MergeTree ORDER BY tuple()"},
			want: []string{
				"CREATE TABLE db.t_local ON CLUSTER c (a UInt8)\nENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/db/t_local', '{replica}')\nORDER BY tuple()",
				"CREATE TABLE db.t ON CLUSTER c AS db.t_local\nENGINE = Distributed('c', 'db', 't_local', rand())",
			},
		},
		{
			name: "column added: local table first",
			in:   []string{"CREATE TABLE t (a UInt8) ENGINE = MergeTree ORDER BY a", "ALTER TABLE t ADD COLUMN IF NOT EXISTS b String DEFAULT '', MODIFY COLUMN a UInt16"},
			want: []string{
				"ALTER TABLE db.t_local ON CLUSTER c ADD COLUMN IF NOT EXISTS b String DEFAULT '', MODIFY COLUMN a UInt16",
				"ALTER TABLE db.t ON CLUSTER c ADD COLUMN IF NOT EXISTS b String DEFAULT '', MODIFY COLUMN a UInt16",
			},
		},
		{
			name: "column dropped: Distributed table first",
			in:   []string{"CREATE TABLE t (a UInt8, b UInt8) ENGINE = MergeTree ORDER BY a", "ALTER TABLE t DROP COLUMN IF EXISTS b"},
			want: []string{
				"ALTER TABLE db.t ON CLUSTER c DROP COLUMN IF EXISTS b",
				"ALTER TABLE db.t_local ON CLUSTER c DROP COLUMN IF EXISTS b",
			},
		},
		{
			name: "mutation: local table only",
			in:   []string{"CREATE TABLE t (a UInt8) ENGINE = MergeTree ORDER BY a", "ALTER TABLE t DELETE WHERE a = 1"},
			want: []string{"ALTER TABLE db.t_local ON CLUSTER c DELETE WHERE a = 1"},
		},
		{
			name: "drop both",
			in:   []string{"CREATE TABLE t (a UInt8) ENGINE = MergeTree ORDER BY a", "DROP TABLE IF EXISTS t"},
			want: []string{"DROP TABLE IF EXISTS db.t ON CLUSTER c", "DROP TABLE IF EXISTS db.t_local ON CLUSTER c"},
		},
		{
			name: "cluster name needing quotes",
			in:   []string{"CREATE TABLE t (a UInt8) ENGINE = MergeTree ORDER BY a"},
			want: nil, // checked below
		},
		{name: "mixed alter", in: []string{"CREATE TABLE t (a UInt8) ENGINE = MergeTree ORDER BY a", "ALTER TABLE t ADD COLUMN b UInt8, DELETE WHERE a = 1"}, err: "split it"},
		{name: "alter of an unknown table", in: []string{"ALTER TABLE nope ADD COLUMN b UInt8"}, err: "no earlier migration creates it"},
		{name: "not MergeTree", in: []string{"CREATE TABLE t (a UInt8) ENGINE = Memory"}, err: "only the MergeTree family"},
		{name: "already replicated", in: []string{"CREATE TABLE t (a UInt8) ENGINE = ReplicatedMergeTree('/p', 'r') ORDER BY a"}, err: "only the MergeTree family"},
		{name: "old MergeTree syntax", in: []string{"CREATE TABLE t (d Date, a UInt8) ENGINE = MergeTree(d, (a), 8192)"}, err: "no ORDER BY"},
		{name: "view", in: []string{"CREATE VIEW v AS SELECT 1"}, err: "only CREATE TABLE, ALTER TABLE and DROP TABLE"},
		{name: "insert", in: []string{"INSERT INTO t (a) VALUES (1)"}, err: "only CREATE TABLE"},
		{name: "qualified", in: []string{"CREATE TABLE other.t (a UInt8) ENGINE = MergeTree ORDER BY a"}, err: "column list"},
		{name: "as select", in: []string{"CREATE TABLE t ENGINE = MergeTree ORDER BY a AS SELECT 1 AS a"}, err: "column list"},
		{name: "on cluster already", in: []string{"CREATE TABLE t ON CLUSTER x (a UInt8) ENGINE = MergeTree ORDER BY a"}, err: "already has ON CLUSTER"},
		{name: "sharding key off the ORDER BY", in: []string{"CREATE TABLE outputs (chain String, n UInt32) ENGINE = ReplacingMergeTree ORDER BY (chain, n)"}, err: "not in its ORDER BY"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cluster := "c"
			if strings.HasPrefix(c.name, "cluster name") {
				cluster = "my-cluster.1"
			}
			r := rewriter{cluster: cluster, db: "db", tables: map[string]bool{}}
			var got []ClusterStatement
			var err error
			for _, s := range c.in {
				if got, err = r.rewrite(s); err != nil {
					break
				}
			}
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error = %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cluster != "c" {
				if !strings.Contains(got[0].SQL, "ON CLUSTER `my-cluster.1` (") || !strings.Contains(got[1].SQL, "Distributed('my-cluster.1', 'db', 't_local', cityHash64(a))") {
					t.Errorf("cluster name not quoted as needed:\n%s\n%s", got[0].SQL, got[1].SQL)
				}
				return
			}
			var sqls []string
			for _, s := range got {
				sqls = append(sqls, s.SQL)
			}
			if !slices.Equal(sqls, c.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(sqls, "\n--\n"), strings.Join(c.want, "\n--\n"))
			}
		})
	}
}

// singleNode turns a cluster statement into one a single server without
// ZooKeeper runs: no ON CLUSTER, and the plain engine for a Replicated one
// (its two replication arguments dropped, its own parameters kept).
func singleNode(sql string) string {
	sql = regexp.MustCompile(` ON CLUSTER (\w+|`+"`[^`]+`"+`)`).ReplaceAllString(sql, "")
	sql = regexp.MustCompile(`Replicated(\w*MergeTree)\('[^']*', '\{replica\}', `).ReplaceAllString(sql, "$1(")
	return regexp.MustCompile(`Replicated(\w*MergeTree)\('[^']*', '\{replica\}'\)`).ReplaceAllString(sql, "$1")
}

func TestSingleNode(t *testing.T) {
	for in, want := range map[string]string{
		"CREATE TABLE x.t_local ON CLUSTER c (a UInt8)\nENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/x/t_local', '{replica}', v)\nORDER BY a": "CREATE TABLE x.t_local (a UInt8)\nENGINE = ReplacingMergeTree(v)\nORDER BY a",
		"CREATE TABLE x.t_local ON CLUSTER c (a UInt8)\nENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/x/t_local', '{replica}')\nORDER BY a":             "CREATE TABLE x.t_local (a UInt8)\nENGINE = MergeTree\nORDER BY a",
	} {
		if got := singleNode(in); got != want {
			t.Errorf("singleNode:\n got %s\nwant %s", got, want)
		}
	}
}

// TestClusterDDLParsesOnClickHouse sends every cluster statement, exactly as
// printed, to the test stack's ClickHouse 18.16. It has no ZooKeeper and no
// cluster, so a statement fails, but only after the server parsed it: a
// syntax error (code 62) means the DDL is wrong.
func TestClusterDDLParsesOnClickHouse(t *testing.T) {
	base := testenv.Get(t, "SLUICE_CLICKHOUSE_DSN")
	ch, err := stores.OpenClickHouse(base)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	db := testenv.Name("cluster")
	t.Cleanup(func() { _ = ch.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db) })
	stmts, err := ClusterDDL("sluice_test_cluster", db)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	refused := map[int32]int{} // error code → statements
	for _, s := range stmts {
		err := ch.Exec(ctx, s.SQL)
		var ex *clickhouse.Exception
		switch {
		case err == nil:
		case errors.As(err, &ex) && ex.Code == 62:
			t.Errorf("ClickHouse cannot parse it: %v\n%s", err, s.SQL)
		case errors.As(err, &ex):
			refused[ex.Code]++
		default:
			t.Fatalf("%v\n%s", err, s.SQL)
		}
	}
	t.Logf("%d statements parsed; refused after parsing, as expected without a cluster (error code: statements): %v", len(stmts), refused)
	// the check must be able to fail
	var ex *clickhouse.Exception
	if err := ch.Exec(ctx, "CREATE TABLE "+db+".x ON CLUSTER c (a UInt8) ENGINE = Distributed('c', '"+db+"', 'y', cityHash64(a)"); !errors.As(err, &ex) || ex.Code != 62 {
		t.Fatalf("a statement missing its last ) did not give a syntax error (code 62): %v", err)
	}
}

// TestClusterDDLSingleNode runs the local tables of the cluster schema, made
// single-server by singleNode, on the test stack's ClickHouse 18.16: the
// columns, engines with their parameters, PARTITION BY and ORDER BY are real.
func TestClusterDDLSingleNode(t *testing.T) {
	dsn := testenv.FreshClickHouse(t)
	opts, err := stores.ClickHouseOptions(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := opts.Auth.Database
	ch, err := stores.OpenClickHouse(testenv.Get(t, "SLUICE_CLICKHOUSE_DSN"))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	stmts, err := ClusterDDL("sluice_test_cluster", db)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := 0
	for _, s := range stmts {
		if strings.Contains(s.SQL, "ENGINE = Distributed(") {
			continue // needs the cluster; TestClusterDDLDistributed runs these
		}
		if err := ch.Exec(ctx, singleNode(s.SQL)); err != nil {
			t.Fatalf("%v\n%s", err, singleNode(s.SQL))
		}
		n++
	}
	var engines []string
	rows, err := ch.Query(ctx, "SELECT name, engine FROM system.tables WHERE database = ? ORDER BY name", db)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, engine string
		if err := rows.Scan(&name, &engine); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(name, "_local") || !strings.HasSuffix(engine, "MergeTree") {
			t.Errorf("unexpected table %s (%s)", name, engine)
		}
		engines = append(engines, name)
	}
	if len(engines) != n-1 { // less the CREATE DATABASE
		t.Errorf("%d local tables exist, %d statements ran", len(engines), n)
	}
}

// TestClusterDDLDistributed starts a private ClickHouse 18.16 whose
// remote_servers has a cluster of two shards (both itself), runs the whole
// cluster schema made single-server by singleNode (the Distributed tables as
// printed), writes a row through every Distributed table, which evaluates
// its sharding key, and reads it back through both shards.
func TestClusterDDLDistributed(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a ClickHouse server")
	}
	bin := "/usr/sbin/clickhouse-server"
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing; `sluice stack up` installs it (Debian package clickhouse-server)", bin)
		}
		t.Skipf("%s is missing; `sluice stack up` installs it (Debian package clickhouse-server)", bin)
	}
	dir := t.TempDir()
	port := freePort(t)
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(`<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
`), 0o600); err != nil {
		t.Fatal(err)
	}
	shard := fmt.Sprintf("<shard><replica><host>127.0.0.1</host><port>%d</port></replica></shard>", port)
	config := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>%[1]s/server.log</log><errorlog>%[1]s/server.err.log</errorlog></logger>
  <tcp_port>%[2]d</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/data/tmp/</tmp_path>
  <users_config>%[1]s/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
  <remote_servers><two_shards>%[3]s%[3]s</two_shards></remote_servers>
</yandex>
`, dir, port, shard)
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config-file="+filepath.Join(dir, "config.xml"))
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	dsn := fmt.Sprintf("clickhouse://default:@127.0.0.1:%d/default", port)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var ch *stores.ClickHouse
	for deadline := time.Now().Add(60 * time.Second); ; {
		var err error
		if ch, err = stores.OpenClickHouse(dsn); err == nil {
			if err = ch.Ping(ctx); err == nil {
				break
			}
			ch.Close()
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "server.err.log"))
			t.Fatalf("the private ClickHouse did not answer on port %d: %v\n%s\n%s", port, err, out.String(), log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	defer ch.Close()

	const db = "sluice_cluster"
	stmts, err := ClusterDDL("two_shards", db)
	if err != nil {
		t.Fatal(err)
	}
	var dist []string
	for _, s := range stmts {
		if err := ch.Exec(ctx, singleNode(s.SQL)); err != nil {
			t.Fatalf("%v\n%s", err, singleNode(s.SQL))
		}
		if strings.Contains(s.SQL, "ENGINE = Distributed(") {
			dist = append(dist, strings.Fields(s.SQL)[5])
		}
	}
	if len(dist) < 10 {
		t.Fatalf("only %d Distributed tables", len(dist))
	}
	for _, table := range dist {
		// one row of defaults through the Distributed table, synchronously,
		// so the sharding key is evaluated on real column types
		sync := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
		if err := ch.Exec(sync, "INSERT INTO "+table+" (chain) SELECT 'btc'"); err != nil {
			t.Errorf("insert through %s: %v", table, err)
			continue
		}
		var local, through uint64
		if err := ch.QueryRow(ctx, "SELECT count() FROM "+table+"_local").Scan(&local); err != nil {
			t.Fatal(err)
		}
		if err := ch.QueryRow(ctx, "SELECT count() FROM "+table).Scan(&through); err != nil {
			t.Fatal(err)
		}
		// both shards are this server: each row is stored once and read twice
		if local != 1 || through != 2 {
			t.Errorf("%s: %d rows stored, %d read through the Distributed table; want 1 and 2", table, local, through)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

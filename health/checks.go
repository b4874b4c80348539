package health

import (
	"context"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/sluicepay/sluice/indexer/bitcoin"
	"github.com/sluicepay/sluice/jsonrpc"
	"github.com/sluicepay/sluice/stores"
)

// ClickHouse checks the chain index.
func ClickHouse(ch *stores.ClickHouse) Check {
	return Check{Name: "clickhouse", Run: ch.Ping}
}

// Postgres checks the ledger.
func Postgres(pool *pgxpool.Pool) Check {
	return Check{Name: "postgres", Run: func(ctx context.Context) error {
		if err := pool.Ping(ctx); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		return nil
	}}
}

// Redis checks the fast-path store.
func Redis(c *redis.Client) Check {
	return Check{Name: "redis", Run: func(ctx context.Context) error {
		if err := c.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis at %s: %w", c.Options().Addr, err)
		}
		return nil
	}}
}

// BitcoinNode checks a bitcoind/litecoind/btcd node and that it is on network.
func BitcoinNode(name string, n *bitcoin.Node, network string) Check {
	return Check{Name: name, Run: func(ctx context.Context) error { return n.CheckNetwork(ctx, network) }}
}

// ethChainIDs are the chain ids of the networks the config accepts.
var ethChainIDs = map[string]int64{"mainnet": 1, "sepolia": 11155111, "holesky": 17000, "dev": 1337}

// EthereumNode checks geth over HTTP JSON-RPC and that it is on network.
func EthereumNode(c *jsonrpc.Client, network string) Check {
	return Check{Name: "eth", Run: func(ctx context.Context) error {
		var hexID string
		if err := c.Call(ctx, "eth_chainId", &hexID); err != nil {
			return err
		}
		id, ok := new(big.Int).SetString(strings.TrimPrefix(hexID, "0x"), 16)
		if !ok {
			return fmt.Errorf("node at %s answered eth_chainId with %q", c.URL(), hexID)
		}
		if want := ethChainIDs[network]; id.Cmp(big.NewInt(want)) != 0 {
			return fmt.Errorf("node at %s has chain id %s, but the config says %s (chain id %d)", c.URL(), id, network, want)
		}
		return nil
	}}
}

// TCP checks that something accepts connections at rawURL's host:port
// (for a WebSocket endpoint configured without an HTTP one).
func TCP(name, rawURL string) Check {
	return Check{Name: name, Run: func(ctx context.Context) error {
		u, err := url.Parse(rawURL)
		if err != nil {
			return fmt.Errorf("invalid URL")
		}
		d := net.Dialer{Timeout: 3 * time.Second}
		conn, err := d.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return err
		}
		return conn.Close()
	}}
}

package health

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/sluicepay/sluice/indexer/bitcoin"
	"github.com/sluicepay/sluice/indexer/ethereum"
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

// EthereumNode checks the node of EVM chain key at url (http or ws) and
// that it is on network (or chainID, when configured). It dials on first
// use and again after a failure, so a node that is down when sluice starts
// is picked up once it answers.
func EthereumNode(key, url, network string, chainID int64) Check {
	var mu sync.Mutex
	var node *ethereum.Node
	return Check{Name: key, Run: func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if node == nil {
			n, err := ethereum.Dial(ctx, key, url, nil)
			if err != nil {
				return err
			}
			node = n
		}
		err := ethereum.CheckChain(ctx, node, network, chainID)
		if err != nil {
			node.Close()
			node = nil
		}
		return err
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

package stores

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// ClickHouse is a native-protocol connection pool and where it points.
type ClickHouse struct {
	driver.Conn
	Addr     string
	Database string
}

// OpenClickHouse parses dsn and returns a pool; it connects on first use.
func OpenClickHouse(dsn string) (*ClickHouse, error) {
	opts, err := ClickHouseOptions(dsn)
	if err != nil {
		return nil, err
	}
	return OpenClickHouseOptions(opts)
}

// OpenClickHouseOptions is OpenClickHouse for options already parsed.
func OpenClickHouseOptions(opts *clickhouse.Options) (*ClickHouse, error) {
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse at %s: %w", strings.Join(opts.Addr, ","), err)
	}
	return &ClickHouse{Conn: conn, Addr: strings.Join(opts.Addr, ","), Database: opts.Auth.Database}, nil
}

// ClickHouseOptions parses dsn with sluice's defaults (timeouts) applied.
func ClickHouseOptions(dsn string) (*clickhouse.Options, error) {
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("clickhouse DSN is invalid: %w", err)
	}
	if opts.DialTimeout == 0 || opts.DialTimeout == 30*time.Second {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.Auth.Database == "" {
		opts.Auth.Database = "default"
	}
	return opts, nil
}

// Ping checks the connection, naming the server in the error.
func (c *ClickHouse) Ping(ctx context.Context) error {
	if err := c.Conn.Ping(ctx); err != nil {
		return fmt.Errorf("clickhouse at %s: %w", c.Addr, err)
	}
	return nil
}

// OpenPostgres returns a pool for dsn; it connects on first use.
func OpenPostgres(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres DSN is invalid: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres at %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	return pool, nil
}

// OpenRedis returns a client for url; it connects on first use.
func OpenRedis(url string) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis URL is invalid: %w", err)
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 5 * time.Second
	}
	return redis.NewClient(opts), nil
}

// Set is the three stores a sluice process works with.
type Set struct {
	CH    *ClickHouse
	PG    *pgxpool.Pool
	Redis *redis.Client
}

// Open opens all three (lazily: nothing is dialled yet).
func Open(ctx context.Context, clickhouseDSN, postgresDSN, redisURL string) (*Set, error) {
	ch, err := OpenClickHouse(clickhouseDSN)
	if err != nil {
		return nil, err
	}
	pg, err := OpenPostgres(ctx, postgresDSN)
	if err != nil {
		ch.Close()
		return nil, err
	}
	rd, err := OpenRedis(redisURL)
	if err != nil {
		ch.Close()
		pg.Close()
		return nil, err
	}
	return &Set{CH: ch, PG: pg, Redis: rd}, nil
}

// Close closes all three.
func (s *Set) Close() {
	s.CH.Close()
	s.PG.Close()
	s.Redis.Close()
}

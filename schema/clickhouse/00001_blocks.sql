-- The chain index starts with blocks, shared by every chain. Statements here
-- must be safe to run twice (IF NOT EXISTS) and must work on ClickHouse 18.16:
-- no LowCardinality, DateTime64, UInt256, TTL or data-skipping indexes.

-- One row per (chain, block hash), written when the block is indexed; rows of
-- orphaned blocks stay and are hidden by block_status.
CREATE TABLE IF NOT EXISTS blocks (
    chain      String,
    height     UInt64,
    hash       String,
    prev_hash  String,
    time       DateTime,
    tx_count   UInt32,
    size       UInt32,
    indexed_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree
PARTITION BY chain
ORDER BY (chain, height, hash);

-- Canonical flag per block. A reorg writes a new row with a higher version;
-- readers take the latest row per (chain, hash) with FINAL or argMax(canonical, version).
CREATE TABLE IF NOT EXISTS block_status (
    chain     String,
    hash      String,
    height    UInt64,
    canonical UInt8,
    version   UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (chain, hash);

-- Bitcoin-family chain index (BTC, LTC). Rows carry (chain, block hash) so a
-- reorg hides them through block_status; readers never use rows above the
-- chain's indexed tip (the highest row in blocks). Partitions are per chain
-- and 50,000-block range, so crash clean-up at the tip touches one partition.

-- One row per transaction; ordered by txid for lookups by id.
CREATE TABLE IF NOT EXISTS transactions (
    chain         String,
    block_height  UInt64,
    block_hash    String,
    block_time    DateTime,
    tx_index      UInt32,
    txid          String,
    size          UInt32,
    vsize         UInt32,
    version       Int32,
    locktime      UInt32,
    is_coinbase   UInt8,
    input_count   UInt32,
    output_count  UInt32,
    output_value  UInt64
) ENGINE = ReplacingMergeTree
PARTITION BY (chain, intDiv(block_height, 50000))
ORDER BY (chain, txid, block_hash);

-- Every output; ordered by (txid, n) so inputs resolve their prevouts fast.
-- value is in base units (satoshi, litoshi); address is '' when the script has none.
CREATE TABLE IF NOT EXISTS outputs (
    chain         String,
    block_height  UInt64,
    block_hash    String,
    block_time    DateTime,
    txid          String,
    tx_index      UInt32,
    n             UInt32,
    value         UInt64,
    script_type   String,
    address       String,
    script_hex    String
) ENGINE = ReplacingMergeTree
PARTITION BY (chain, intDiv(block_height, 50000))
ORDER BY (chain, txid, n, block_hash);

-- Every input with the output it spends; ordered by the prevout for spent lookups.
CREATE TABLE IF NOT EXISTS inputs (
    chain         String,
    block_height  UInt64,
    block_hash    String,
    block_time    DateTime,
    txid          String,
    tx_index      UInt32,
    n             UInt32,
    prev_txid     String,
    prev_vout     UInt32,
    sequence      UInt32,
    is_coinbase   UInt8
) ENGINE = ReplacingMergeTree
PARTITION BY (chain, intDiv(block_height, 50000))
ORDER BY (chain, prev_txid, prev_vout, block_hash);

-- Outputs with an address, ordered by address: address history reads one range.
CREATE TABLE IF NOT EXISTS address_outputs (
    chain         String,
    address       String,
    block_height  UInt64,
    block_hash    String,
    block_time    DateTime,
    txid          String,
    n             UInt32,
    value         UInt64
) ENGINE = ReplacingMergeTree
PARTITION BY (chain, intDiv(block_height, 50000))
ORDER BY (chain, address, block_height, txid, n, block_hash);

-- Bitcoin-family spends by the address of the output they spend, ordered by
-- address, so that an address's history and balance read one range here and
-- one in address_outputs. Rows carry the spending block's hash: a reorg hides
-- them like any other. Filled by the explorer's spend resolver, which
-- follows the index; spend_progress is how far it got per chain (the latest
-- version wins).
CREATE TABLE IF NOT EXISTS address_spends (
    chain         String,
    address       String,
    block_height  UInt64,
    block_hash    String,
    block_time    DateTime,
    txid          String,
    n             UInt32,
    prev_txid     String,
    prev_vout     UInt32,
    value         UInt64
) ENGINE = ReplacingMergeTree
PARTITION BY (chain, intDiv(block_height, 50000))
ORDER BY (chain, address, block_height, txid, n, block_hash);

CREATE TABLE IF NOT EXISTS spend_progress (
    chain    String,
    height   Int64,
    hash     String,
    version  UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY chain;

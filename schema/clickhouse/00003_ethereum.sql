-- Ethereum chain index. Canonical flags live in blocks/block_status like
-- every chain's; these tables hold the detail. Amounts (wei, token units) can
-- exceed 64 bits and ClickHouse 18.16 has no UInt256, so each amount is kept
-- losslessly as a decimal String (`value`), plus `value_dec` Decimal(38, 0)
-- for arithmetic, exact whenever the amount is below 10^38 (every real token
-- supply is); `value_overflow` = 1 marks the rare larger one, whose
-- value_dec is 0.

CREATE TABLE IF NOT EXISTS eth_blocks (
    chain         String,
    height        UInt64,
    hash          String,
    parent_hash   String,
    time          DateTime,
    miner         String,
    gas_limit     UInt64,
    gas_used      UInt64,
    base_fee      String,
    size          UInt64,
    tx_count      UInt32
) ENGINE = ReplacingMergeTree
PARTITION BY (chain, intDiv(height, 1000000))
ORDER BY (chain, height, hash);

CREATE TABLE IF NOT EXISTS eth_transactions (
    chain               String,
    block_height        UInt64,
    block_hash          String,
    block_time          DateTime,
    tx_index            UInt32,
    hash                String,
    type                UInt8,
    from_address        String,
    to_address          String,
    value               String,
    value_dec           Decimal(38, 0),
    value_overflow      UInt8,
    nonce               UInt64,
    gas                 UInt64,
    gas_price           String,
    gas_used            UInt64,
    effective_gas_price String,
    status              UInt8,
    contract_address    String,
    method_id           String
) ENGINE = ReplacingMergeTree
PARTITION BY (chain, intDiv(block_height, 1000000))
ORDER BY (chain, hash, block_hash);

CREATE TABLE IF NOT EXISTS token_transfers (
    chain           String,
    block_height    UInt64,
    block_hash      String,
    block_time      DateTime,
    tx_hash         String,
    tx_index        UInt32,
    log_index       UInt32,
    token           String,
    from_address    String,
    to_address      String,
    value           String,
    value_dec       Decimal(38, 0),
    value_overflow  UInt8
) ENGINE = ReplacingMergeTree
PARTITION BY (chain, intDiv(block_height, 1000000))
ORDER BY (chain, token, block_height, log_index, block_hash);

-- ETH moved inside contract calls (from call traces).
CREATE TABLE IF NOT EXISTS internal_transfers (
    chain           String,
    block_height    UInt64,
    block_hash      String,
    block_time      DateTime,
    tx_hash         String,
    tx_index        UInt32,
    trace_address   String,
    call_type       String,
    from_address    String,
    to_address      String,
    value           String,
    value_dec       Decimal(38, 0),
    value_overflow  UInt8
) ENGINE = ReplacingMergeTree
PARTITION BY (chain, intDiv(block_height, 1000000))
ORDER BY (chain, to_address, block_height, tx_index, trace_address, block_hash);

-- Logs with the Transfer topic but not the ERC-20 shape (ERC-721, odd tokens):
-- kept as they came, never silently dropped.
CREATE TABLE IF NOT EXISTS transfer_logs_unparsed (
    chain           String,
    block_height    UInt64,
    block_hash      String,
    block_time      DateTime,
    tx_hash         String,
    tx_index        UInt32,
    log_index       UInt32,
    address         String,
    topics          Array(String),
    data            String
) ENGINE = ReplacingMergeTree
PARTITION BY (chain, intDiv(block_height, 1000000))
ORDER BY (chain, block_height, log_index, block_hash);

-- Address-ordered view of ETH and token credits/debits for address history.
CREATE TABLE IF NOT EXISTS eth_address_transfers (
    chain           String,
    address         String,
    block_height    UInt64,
    block_hash      String,
    block_time      DateTime,
    tx_hash         String,
    position        String,
    token           String,
    counterparty    String,
    direction       Int8,
    value           String,
    value_dec       Decimal(38, 0)
) ENGINE = ReplacingMergeTree
PARTITION BY (chain, intDiv(block_height, 1000000))
ORDER BY (chain, address, block_height, tx_hash, position, direction, block_hash);

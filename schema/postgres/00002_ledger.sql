-- +goose Up
-- The ledger: the source of truth for money. Amounts are integers in base
-- units (satoshi, litoshi, wei, token units) in numeric(78,0), which holds
-- any uint256.

CREATE TABLE merchants (
    id               bigserial PRIMARY KEY,
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- the HD account index of the merchant's deposit keys (m/84'/coin'/account'/...)
    key_account      integer NOT NULL UNIQUE CHECK (key_account >= 0),
    -- '' (none), USD or EUR: fiat conversion in webhooks
    convert_currency text NOT NULL DEFAULT '' CHECK (convert_currency IN ('', 'USD', 'EUR')),
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- Required confirmations per merchant and currency, overriding the defaults.
CREATE TABLE merchant_confirmations (
    merchant_id   bigint NOT NULL REFERENCES merchants(id),
    currency      text NOT NULL CHECK (currency IN ('BTC', 'LTC', 'ETH', 'USDT')),
    confirmations integer NOT NULL CHECK (confirmations BETWEEN 1 AND 1000),
    PRIMARY KEY (merchant_id, currency)
);

-- Watch-only BTC/LTC: a merchant's account-level extended public key.
CREATE TABLE merchant_xpubs (
    merchant_id bigint NOT NULL REFERENCES merchants(id),
    currency    text NOT NULL CHECK (currency IN ('BTC', 'LTC')),
    xpub        text NOT NULL,
    PRIMARY KEY (merchant_id, currency)
);

-- The next derivation index per merchant and currency. Its row lock
-- serialises wallet creation for one (merchant, currency) across processes.
CREATE TABLE wallet_counters (
    merchant_id bigint NOT NULL REFERENCES merchants(id),
    currency    text NOT NULL,
    next_index  integer NOT NULL DEFAULT 0 CHECK (next_index >= 0),
    PRIMARY KEY (merchant_id, currency)
);

-- One deposit address per (merchant, currency, extId), forever.
CREATE TABLE wallets (
    id               bigserial PRIMARY KEY,
    merchant_id      bigint NOT NULL REFERENCES merchants(id),
    currency         text NOT NULL CHECK (currency IN ('BTC', 'LTC', 'ETH', 'USDT')),
    ext_id           text NOT NULL CHECK (length(ext_id) BETWEEN 1 AND 128),
    chain            text NOT NULL CHECK (chain IN ('btc', 'ltc', 'eth')),
    address          text NOT NULL,
    derivation_index integer NOT NULL CHECK (derivation_index >= 0),
    watch_only       boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (merchant_id, currency, ext_id)
);
-- Chains match deposits by address; Ethereum addresses arrive lower-case,
-- wallets keep their EIP-55 form.
CREATE UNIQUE INDEX wallets_chain_address ON wallets (chain, lower(address));

-- A credit to a wallet found on chain. Natural key: (chain, txid, position),
-- position being "vout:N" (Bitcoin family), "log:N" (token transfer),
-- "tx" (ETH value) or "trace:0.1" (ETH moved inside a contract call).
CREATE TABLE deposits (
    id             bigserial PRIMARY KEY,
    wallet_id      bigint NOT NULL REFERENCES wallets(id),
    chain          text NOT NULL,
    currency       text NOT NULL,
    txid           text NOT NULL,
    position       text NOT NULL,
    amount         numeric(78, 0) NOT NULL CHECK (amount > 0),
    from_address   text NOT NULL DEFAULT '',
    block_hash     text,
    block_height   bigint,
    confirmations  integer NOT NULL DEFAULT 0 CHECK (confirmations >= 0),
    -- 0 seen (unconfirmed), 1 confirmed, 2 failed (the transaction is gone for good)
    status         smallint NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2)),
    -- the chain height when a reorg took the deposit's block away; cleared when
    -- its transaction is mined again
    orphaned_at    bigint,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (chain, txid, position)
);
CREATE INDEX deposits_wallet ON deposits (wallet_id, id);
CREATE INDEX deposits_open ON deposits (chain, status) WHERE status = 0;

-- The outbox: every state change of a deposit writes its event in the same
-- transaction; the webhook workers deliver them. Natural key: (deposit,
-- kind, confirmations), so replays never duplicate an event.
CREATE TABLE deposit_events (
    id            bigserial PRIMARY KEY,
    deposit_id    bigint NOT NULL REFERENCES deposits(id),
    kind          text NOT NULL CHECK (kind IN ('created', 'confirmations', 'confirmed', 'unconfirmed', 'failed')),
    status        smallint NOT NULL,
    confirmations integer NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (deposit_id, kind, confirmations)
);

-- +goose Down
DROP TABLE deposit_events;
DROP TABLE deposits;
DROP TABLE wallets;
DROP TABLE wallet_counters;
DROP TABLE merchant_xpubs;
DROP TABLE merchant_confirmations;
DROP TABLE merchants;

-- +goose Up
-- Money out: settlement settings and service fees per merchant and currency,
-- sweep jobs, withdrawals, and the fiat rate each deposit was valued at.

-- The operator's own keys (gas tank 2147483645, hot wallet 2147483646) come
-- from the same seed as the merchants' accounts: never hand those out.
ALTER TABLE merchants ADD CONSTRAINT merchants_key_account_not_operator CHECK (key_account < 2147483645);

-- Where a merchant's confirmed deposits go, when, and the operator's fee.
-- Without a row (or with address ''), deposits are swept to the operator's
-- hot wallet and become the merchant's balance, which withdrawals draw on.
CREATE TABLE merchant_settlements (
    merchant_id  bigint NOT NULL REFERENCES merchants(id),
    currency     text NOT NULL CHECK (currency IN ('BTC', 'LTC', 'ETH', 'USDT')),
    address      text NOT NULL DEFAULT '',
    -- deposits wait this long after the first is ready, to go in one sweep
    batch_window interval NOT NULL DEFAULT '0' CHECK (batch_window >= '0'),
    -- deposits wait until the ready ones add up to this (base units)
    min_amount   numeric(78, 0) NOT NULL DEFAULT 0 CHECK (min_amount >= 0),
    -- the service fee: percent of the amount (exact fraction, 0.01 = 1%),
    -- plus a fixed part, at least fee_min (all base units but the percent)
    fee_percent  numeric(6, 4) NOT NULL DEFAULT 0 CHECK (fee_percent >= 0 AND fee_percent < 1),
    fee_fixed    numeric(78, 0) NOT NULL DEFAULT 0 CHECK (fee_fixed >= 0),
    fee_min      numeric(78, 0) NOT NULL DEFAULT 0 CHECK (fee_min >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, currency)
);

-- A sweep: one on-chain transaction moving confirmed deposits out of their
-- deposit addresses (or a gas top-up of a USDT deposit address). The signed
-- transaction is stored before it is broadcast, so a crash at any point
-- re-broadcasts the same bytes and never signs a second, different spend.
CREATE TABLE sweeps (
    id            bigserial PRIMARY KEY,
    chain         text NOT NULL CHECK (chain IN ('btc', 'ltc', 'eth')),
    currency      text NOT NULL CHECK (currency IN ('BTC', 'LTC', 'ETH', 'USDT')),
    merchant_id   bigint REFERENCES merchants(id),            -- NULL for gas top-ups
    kind          text NOT NULL CHECK (kind IN ('settle', 'hot', 'forward', 'gas', 'withdraw', 'fee')),
    state         text NOT NULL DEFAULT 'planned'
                  CHECK (state IN ('planned', 'signed', 'broadcast', 'confirmed', 'failed', 'replaced')),
    destination   text NOT NULL,
    amount        numeric(78, 0) NOT NULL CHECK (amount >= 0),        -- to the destination
    fee_service   numeric(78, 0) NOT NULL DEFAULT 0 CHECK (fee_service >= 0),
    fee_address   text NOT NULL DEFAULT '',
    fee_network   numeric(78, 0) NOT NULL DEFAULT 0 CHECK (fee_network >= 0),
    from_address  text NOT NULL DEFAULT '',                           -- Ethereum: the sender
    nonce         bigint CHECK (nonce >= 0),                          -- Ethereum
    raw_tx        text NOT NULL DEFAULT '',                           -- hex, set with state signed
    txid          text NOT NULL DEFAULT '',
    replaces      bigint REFERENCES sweeps(id),                       -- an RBF bump of that sweep
    -- a USDT sweep waits for its gas top-up to confirm
    after_sweep   bigint REFERENCES sweeps(id),
    block_height  bigint,
    error         text NOT NULL DEFAULT '',
    attempts      integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    broadcast_at  timestamptz,
    confirmed_at  timestamptz
);
CREATE INDEX sweeps_open ON sweeps (chain, state) WHERE state IN ('planned', 'signed', 'broadcast');
-- one transaction per sender nonce among the live sweeps (Ethereum)
CREATE UNIQUE INDEX sweeps_nonce ON sweeps (chain, from_address, nonce)
    WHERE nonce IS NOT NULL AND state NOT IN ('failed', 'replaced');

-- The deposits a sweep spends. A deposit is in at most one live sweep; an
-- RBF bump moves them to the replacement.
ALTER TABLE deposits
    ADD COLUMN sweep_id bigint REFERENCES sweeps(id),
    -- a litepay payment under the 1 USD minimum: kept, not forwarded
    ADD COLUMN donation boolean NOT NULL DEFAULT false,
    -- the fiat rate the deposit was valued at (webhooks' conversion, the
    -- litepay minimum): price of one coin in fiat, its source and time
    ADD COLUMN fiat        text NOT NULL DEFAULT '',
    ADD COLUMN fiat_rate   numeric(38, 18),
    ADD COLUMN rate_source text NOT NULL DEFAULT '',
    ADD COLUMN rate_at     timestamptz;
CREATE INDEX deposits_unswept ON deposits (chain, status) WHERE status = 1 AND sweep_id IS NULL AND NOT donation;

-- Withdrawals from a merchant's balance in the operator's hot wallet.
-- (merchant, currency, extId) makes a retried request return the first.
CREATE TABLE withdrawals (
    id            bigserial PRIMARY KEY,
    merchant_id   bigint NOT NULL REFERENCES merchants(id),
    currency      text NOT NULL CHECK (currency IN ('BTC', 'LTC', 'ETH', 'USDT')),
    ext_id        text NOT NULL CHECK (length(ext_id) BETWEEN 1 AND 128),
    address       text NOT NULL,
    amount        numeric(78, 0) NOT NULL CHECK (amount > 0),
    -- 0 sent (in the chain), 1 confirmed, 2 failed (iqpay's withdrawal statuses)
    status        smallint NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2)),
    sweep_id      bigint REFERENCES sweeps(id),                       -- the transaction that pays it
    gas           numeric(78, 0) NOT NULL DEFAULT 0 CHECK (gas >= 0), -- the network fee it bore
    created_at    timestamptz NOT NULL DEFAULT now(),
    confirmed_at  timestamptz,
    UNIQUE (merchant_id, currency, ext_id)
);

-- Withdrawal state changes for the withdrawal webhook (an outbox like deposit_events).
CREATE TABLE withdrawal_events (
    id            bigserial PRIMARY KEY,
    withdrawal_id bigint NOT NULL REFERENCES withdrawals(id),
    status        smallint NOT NULL,
    dispatched    boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (withdrawal_id, status)
);

-- +goose Down
ALTER TABLE merchants DROP CONSTRAINT merchants_key_account_not_operator;
DROP TABLE withdrawal_events;
DROP TABLE withdrawals;
DROP INDEX deposits_unswept;
ALTER TABLE deposits DROP COLUMN sweep_id, DROP COLUMN donation, DROP COLUMN fiat, DROP COLUMN fiat_rate,
    DROP COLUMN rate_source, DROP COLUMN rate_at;
DROP TABLE sweeps;
DROP TABLE merchant_settlements;

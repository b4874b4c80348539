-- +goose Up
-- The merchant-facing half: API keys, webhook endpoints and their secret,
-- litepay-style receive addresses, and webhook deliveries from the outbox.

-- The secret webhook signatures are made with (HMAC-SHA256); shown once at
-- creation, never returned again. Not the API key: a leaked webhook log
-- must not open the API.
ALTER TABLE merchants ADD COLUMN webhook_secret text NOT NULL DEFAULT '';

-- iqpay flavour: where each kind of deposit event goes, and with which
-- method. created = "create invoice" (status 0), confirmations = "update
-- confirmations" (status 0; a reorg's unconfirmed goes here too),
-- confirmed = "confirm deposit" (status 1), failed = status 2.
CREATE TABLE merchant_webhooks (
    merchant_id bigint NOT NULL REFERENCES merchants(id),
    kind        text NOT NULL CHECK (kind IN ('created', 'confirmations', 'confirmed', 'failed')),
    method      text NOT NULL CHECK (method IN ('GET', 'POST', 'PUT', 'DELETE')),
    url         text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    PRIMARY KEY (merchant_id, kind)
);

-- API keys: only a SHA-256 of the key is kept (keys are 256-bit random, so
-- a plain hash is enough); prefix finds the row and is safe to show.
CREATE TABLE api_keys (
    id            bigserial PRIMARY KEY,
    merchant_id   bigint NOT NULL REFERENCES merchants(id),
    prefix        text NOT NULL UNIQUE,
    hash          bytea NOT NULL,
    name          text NOT NULL DEFAULT '',
    -- what the key may do: wallet (create/read wallets), receive (litepay
    -- receive addresses), read (deposits, deliveries), webhooks (redeliver),
    -- withdraw (withdrawals)
    scopes        text[] NOT NULL,
    -- the networks the key may be used from; empty means any
    allowed_cidrs cidr[] NOT NULL DEFAULT '{}',
    -- requests per second, per key (0: the server default)
    rate_limit    integer NOT NULL DEFAULT 0 CHECK (rate_limit >= 0),
    expires_at    timestamptz,
    revoked_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz
);
CREATE INDEX api_keys_merchant ON api_keys (merchant_id);

-- litepay flavour: a receive address (a wallet) that forwards to the
-- merchant's destination, with the callback fired per payment.
CREATE TABLE receive_addresses (
    wallet_id    bigint PRIMARY KEY REFERENCES wallets(id),
    destination  text NOT NULL,
    callback_url text NOT NULL DEFAULT '' CHECK (length(callback_url) <= 255),
    callback_req boolean NOT NULL,
    -- the forwarding fee as an exact decimal fraction, e.g. 0.01 = 1%
    fee_percent  numeric(6, 4) NOT NULL CHECK (fee_percent >= 0 AND fee_percent < 1),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Events the webhook fan-out has turned into deliveries.
ALTER TABLE deposit_events ADD COLUMN dispatched boolean NOT NULL DEFAULT false;
CREATE INDEX deposit_events_undispatched ON deposit_events (id) WHERE NOT dispatched;

-- One delivery per event and target. iqpay: retried with capped exponential
-- backoff until HTTP 200, for up to three days, in event order per deposit.
-- litepay: one delivery per deposit, resent at every new block until the
-- body is *ok*, up to 100 confirmations.
CREATE TABLE webhook_deliveries (
    id           bigserial PRIMARY KEY,
    event_id     bigint NOT NULL REFERENCES deposit_events(id),
    deposit_id   bigint NOT NULL REFERENCES deposits(id),
    merchant_id  bigint NOT NULL REFERENCES merchants(id),
    flavour      text NOT NULL CHECK (flavour IN ('iqpay', 'litepay')),
    method       text NOT NULL,
    url          text NOT NULL,
    state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    next_at      timestamptz NOT NULL DEFAULT now(),
    last_status  integer,
    last_error   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    UNIQUE (event_id, flavour)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_deposit ON webhook_deliveries (deposit_id, id);
CREATE INDEX webhook_deliveries_merchant ON webhook_deliveries (merchant_id, id);

-- The delivery log: every attempt with its outcome.
CREATE TABLE webhook_attempts (
    id          bigserial PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES webhook_deliveries(id),
    at          timestamptz NOT NULL DEFAULT now(),
    status_code integer,
    error       text NOT NULL DEFAULT '',
    duration_ms integer NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP INDEX deposit_events_undispatched;
ALTER TABLE deposit_events DROP COLUMN dispatched;
DROP TABLE receive_addresses;
DROP TABLE api_keys;
DROP TABLE merchant_webhooks;
ALTER TABLE merchants DROP COLUMN webhook_secret;

-- +goose Up
-- litepay: "callback domains which appear dead or never return the *ok*
-- response may be blocked". A domain whose callbacks have failed (no *ok*,
-- connection errors) without a single *ok* since failing_since, for
-- receive.block_dead_after, is blocked: /api/receive refuses it. An *ok*
-- from it (a callback still pending) or an operator (sluice receive domains
-- unblock) lifts the block.
CREATE TABLE callback_domains (
    domain          text PRIMARY KEY CHECK (domain = lower(domain) AND domain <> ''),
    failing_since   timestamptz,                 -- the first failure since the last *ok*; NULL while healthy
    failures        bigint NOT NULL DEFAULT 0,   -- failed callbacks since the last *ok*
    last_ok_at      timestamptz,
    last_error      text NOT NULL DEFAULT '',
    blocked_at      timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE callback_domains;

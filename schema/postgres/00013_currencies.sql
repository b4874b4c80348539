-- +goose Up
-- What each currency the ledger has used is: its chain, token contract
-- ('' for a chain's own coin), decimals and the key branch its deposit
-- addresses derive on. The configuration decides these (the chain
-- registry); once wallets exist they must never change, or deposits are
-- matched to the wrong token, amounts scaled wrongly and addresses moved.
-- Every process that writes wallets or deposits records the currencies it
-- is configured with at start and refuses to run when one differs from
-- its row (payments.PinCurrencies). One currency per key branch of a
-- chain and per token contract, for good: a retired currency's branch or
-- contract is not given to another.
CREATE TABLE currencies (
    code       text PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9_]{1,31}$'),
    chain      text NOT NULL CHECK (chain ~ '^[a-z][a-z0-9_]{1,31}$'),
    contract   text NOT NULL CHECK (length(contract) <= 128),
    decimals   integer NOT NULL CHECK (decimals BETWEEN 0 AND 77),
    key_branch bigint NOT NULL CHECK (key_branch BETWEEN 0 AND 2147483647),
    first_seen timestamptz NOT NULL DEFAULT now(),
    UNIQUE (chain, key_branch)
);
CREATE UNIQUE INDEX currencies_chain_contract ON currencies (chain, contract) WHERE contract <> '';

-- Whether a currency no longer configured still has wallets, asked at
-- every start.
CREATE INDEX wallets_currency ON wallets (currency);

-- +goose Down
DROP INDEX wallets_currency;
DROP TABLE currencies;

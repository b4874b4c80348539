-- +goose Up
-- Currencies and chains come from the configuration (the chain registry),
-- not from a list in the schema: a code is upper-case (USDC, USDT_POLYGON),
-- a chain key lower-case (eth, polygon), as the registry writes them. The
-- constraints keep their names, so the Down below restores the old lists.
-- Watch-only account keys stay Bitcoin-family only (merchant_xpubs).
-- The balance function and trigger (00007) name no currency: a withdrawal
-- stores the coin its fee is paid in (fee_currency), which is the chain's
-- own coin for a token.

ALTER TABLE merchant_confirmations
    DROP CONSTRAINT merchant_confirmations_currency_check,
    ADD CONSTRAINT merchant_confirmations_currency_check CHECK (currency ~ '^[A-Z][A-Z0-9_]{1,31}$');

ALTER TABLE wallets
    DROP CONSTRAINT wallets_currency_check,
    ADD CONSTRAINT wallets_currency_check CHECK (currency ~ '^[A-Z][A-Z0-9_]{1,31}$'),
    DROP CONSTRAINT wallets_chain_check,
    ADD CONSTRAINT wallets_chain_check CHECK (chain ~ '^[a-z][a-z0-9_]{1,31}$');

ALTER TABLE merchant_settlements
    DROP CONSTRAINT merchant_settlements_currency_check,
    ADD CONSTRAINT merchant_settlements_currency_check CHECK (currency ~ '^[A-Z][A-Z0-9_]{1,31}$');

ALTER TABLE sweeps
    DROP CONSTRAINT sweeps_currency_check,
    ADD CONSTRAINT sweeps_currency_check CHECK (currency ~ '^[A-Z][A-Z0-9_]{1,31}$'),
    DROP CONSTRAINT sweeps_chain_check,
    ADD CONSTRAINT sweeps_chain_check CHECK (chain ~ '^[a-z][a-z0-9_]{1,31}$');

ALTER TABLE withdrawals
    DROP CONSTRAINT withdrawals_currency_check,
    ADD CONSTRAINT withdrawals_currency_check CHECK (currency ~ '^[A-Z][A-Z0-9_]{1,31}$');

-- +goose Down
-- Refused (and nothing changed) while any row holds a currency or chain
-- outside the old lists: remove those first, or stay on this version.
ALTER TABLE withdrawals
    DROP CONSTRAINT withdrawals_currency_check,
    ADD CONSTRAINT withdrawals_currency_check CHECK (currency IN ('BTC', 'LTC', 'ETH', 'USDT'));

ALTER TABLE sweeps
    DROP CONSTRAINT sweeps_chain_check,
    ADD CONSTRAINT sweeps_chain_check CHECK (chain IN ('btc', 'ltc', 'eth')),
    DROP CONSTRAINT sweeps_currency_check,
    ADD CONSTRAINT sweeps_currency_check CHECK (currency IN ('BTC', 'LTC', 'ETH', 'USDT'));

ALTER TABLE merchant_settlements
    DROP CONSTRAINT merchant_settlements_currency_check,
    ADD CONSTRAINT merchant_settlements_currency_check CHECK (currency IN ('BTC', 'LTC', 'ETH', 'USDT'));

ALTER TABLE wallets
    DROP CONSTRAINT wallets_chain_check,
    ADD CONSTRAINT wallets_chain_check CHECK (chain IN ('btc', 'ltc', 'eth')),
    DROP CONSTRAINT wallets_currency_check,
    ADD CONSTRAINT wallets_currency_check CHECK (currency IN ('BTC', 'LTC', 'ETH', 'USDT'));

ALTER TABLE merchant_confirmations
    DROP CONSTRAINT merchant_confirmations_currency_check,
    ADD CONSTRAINT merchant_confirmations_currency_check CHECK (currency IN ('BTC', 'LTC', 'ETH', 'USDT'));

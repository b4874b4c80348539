-- +goose Up
-- Money safety: a withdrawal reserves its amount and the most its network
-- fee may be, in the coin that pays the fee (a token's gas is the chain's
-- native coin, charged to the same merchant); the database refuses a
-- withdrawal that would leave either balance negative; a currency can be
-- paused (solvency shortfall, a reorg that took back a swept deposit).

ALTER TABLE withdrawals
    -- the coin the network fee is paid in: the currency itself, or ETH for a token
    ADD COLUMN fee_currency text NOT NULL DEFAULT '',
    -- the most the network fee may be, held from the balance until the
    -- withdrawal confirms (then gas, what it paid, counts) or fails
    ADD COLUMN fee_reserved numeric(78, 0) NOT NULL DEFAULT 0 CHECK (fee_reserved >= 0);
UPDATE withdrawals SET fee_currency = CASE WHEN currency IN ('BTC', 'LTC', 'ETH') THEN currency ELSE 'ETH' END,
    fee_reserved = gas;
ALTER TABLE withdrawals ADD CONSTRAINT withdrawals_fee_currency CHECK (fee_currency <> '');

-- What a merchant may withdraw of cur: what its confirmed hot sweeps brought
-- to the hot wallet, less its withdrawals of cur (sent or confirmed), less
-- the network fees of every withdrawal paying its fee in cur (reserved
-- while open, paid once confirmed). The one definition: the API, the
-- trigger below, `ledger show` and the solvency check all use it.
CREATE FUNCTION merchant_balance(m bigint, cur text) RETURNS numeric LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT sum(amount) FROM sweeps
                     WHERE merchant_id = m AND currency = cur AND kind = 'hot' AND state = 'confirmed'), 0)
         - coalesce((SELECT sum(amount) FROM withdrawals
                     WHERE merchant_id = m AND currency = cur AND status IN (0, 1)), 0)
         - coalesce((SELECT sum(CASE WHEN status = 0 THEN greatest(gas, fee_reserved) ELSE gas END) FROM withdrawals
                     WHERE merchant_id = m AND fee_currency = cur AND status IN (0, 1)), 0)
$$;

-- Withdrawals of a currency (or paying their fee in it) are refused while it
-- is paused; an operator resumes it (sluice withdrawals resume).
CREATE TABLE withdrawal_pauses (
    currency  text PRIMARY KEY,
    reason    text NOT NULL,
    paused_at timestamptz NOT NULL DEFAULT now()
);

-- The sweepers' current quote of a withdrawal's fee reserve per currency
-- (twice the fee a transaction signed now would pay, within the ceiling): a
-- withdrawal reserves the lesser of it, when fresh, and the ceiling's.
CREATE TABLE withdrawal_fee_quotes (
    currency    text PRIMARY KEY,
    fee_reserve numeric(78, 0) NOT NULL CHECK (fee_reserve >= 0),
    quoted_at   timestamptz NOT NULL DEFAULT now()
);

-- The last word on overdrafts, whatever code inserts the row: one merchant's
-- withdrawals are serialised (the same advisory lock the API takes), then
-- both balances the withdrawal draws on must stay at or above zero.
-- +goose StatementBegin
CREATE FUNCTION withdrawals_covered() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bal numeric;
    cur text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('withdraw'), hashtext(NEW.merchant_id::text));
    FOREACH cur IN ARRAY ARRAY[NEW.currency, NEW.fee_currency] LOOP
        IF EXISTS (SELECT 1 FROM withdrawal_pauses WHERE currency = cur) THEN
            RAISE EXCEPTION 'withdrawals of % are paused', cur
                USING ERRCODE = 'check_violation', CONSTRAINT = 'withdrawal_paused';
        END IF;
        bal := merchant_balance(NEW.merchant_id, cur);
        IF bal < 0 THEN
            RAISE EXCEPTION 'withdrawal % would leave merchant % with % base units of %', NEW.id, NEW.merchant_id, bal, cur
                USING ERRCODE = 'check_violation', CONSTRAINT = 'withdrawal_covered';
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER withdrawals_covered AFTER INSERT ON withdrawals FOR EACH ROW EXECUTE FUNCTION withdrawals_covered();

-- +goose Down
DROP TRIGGER withdrawals_covered ON withdrawals;
DROP FUNCTION withdrawals_covered();
DROP TABLE withdrawal_fee_quotes;
DROP TABLE withdrawal_pauses;
DROP FUNCTION merchant_balance(bigint, text);
ALTER TABLE withdrawals DROP CONSTRAINT withdrawals_fee_currency, DROP COLUMN fee_reserved, DROP COLUMN fee_currency;

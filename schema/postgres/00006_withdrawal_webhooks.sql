-- +goose Up
-- The withdrawal webhook (iqpay): withdrawal events go through the same
-- delivery table, retries and log as deposit events.

-- A merchant points kind 'withdrawal' at its endpoint.
ALTER TABLE merchant_webhooks DROP CONSTRAINT merchant_webhooks_kind_check;
ALTER TABLE merchant_webhooks ADD CONSTRAINT merchant_webhooks_kind_check
    CHECK (kind IN ('created', 'confirmations', 'confirmed', 'failed', 'withdrawal'));

-- Event ids are one sequence for deposits and withdrawals, so a receiver that
-- de-duplicates on X-Sluice-Event-Id never confuses the two.
SELECT setval('deposit_events_id_seq',
    greatest((SELECT coalesce(max(id), 0) FROM deposit_events), (SELECT coalesce(max(id), 0) FROM withdrawal_events), 1));
UPDATE withdrawal_events SET id = nextval('deposit_events_id_seq');
ALTER TABLE withdrawal_events ALTER COLUMN id SET DEFAULT nextval('deposit_events_id_seq');
DROP SEQUENCE withdrawal_events_id_seq;
CREATE INDEX withdrawal_events_undispatched ON withdrawal_events (id) WHERE NOT dispatched;

-- A delivery is of a deposit event (flavours iqpay, litepay) or of a
-- withdrawal event (flavour withdrawal), never both.
ALTER TABLE webhook_deliveries
    ALTER COLUMN event_id DROP NOT NULL,
    ALTER COLUMN deposit_id DROP NOT NULL,
    ADD COLUMN withdrawal_event_id bigint UNIQUE REFERENCES withdrawal_events(id),
    ADD COLUMN withdrawal_id bigint REFERENCES withdrawals(id),
    DROP CONSTRAINT webhook_deliveries_flavour_check,
    ADD CONSTRAINT webhook_deliveries_flavour_check CHECK (flavour IN ('iqpay', 'litepay', 'withdrawal')),
    ADD CONSTRAINT webhook_deliveries_subject CHECK (CASE WHEN flavour = 'withdrawal'
        THEN withdrawal_event_id IS NOT NULL AND withdrawal_id IS NOT NULL AND event_id IS NULL AND deposit_id IS NULL
        ELSE event_id IS NOT NULL AND deposit_id IS NOT NULL AND withdrawal_event_id IS NULL AND withdrawal_id IS NULL END);
CREATE INDEX webhook_deliveries_withdrawal ON webhook_deliveries (withdrawal_id, id) WHERE withdrawal_id IS NOT NULL;

-- +goose Down
DROP INDEX webhook_deliveries_withdrawal;
DELETE FROM webhook_attempts a USING webhook_deliveries d WHERE a.delivery_id = d.id AND d.flavour = 'withdrawal';
DELETE FROM webhook_deliveries WHERE flavour = 'withdrawal';
ALTER TABLE webhook_deliveries
    DROP CONSTRAINT webhook_deliveries_subject,
    DROP CONSTRAINT webhook_deliveries_flavour_check,
    ADD CONSTRAINT webhook_deliveries_flavour_check CHECK (flavour IN ('iqpay', 'litepay')),
    DROP COLUMN withdrawal_id,
    DROP COLUMN withdrawal_event_id,
    ALTER COLUMN event_id SET NOT NULL,
    ALTER COLUMN deposit_id SET NOT NULL;
DROP INDEX withdrawal_events_undispatched;
CREATE SEQUENCE withdrawal_events_id_seq OWNED BY withdrawal_events.id;
SELECT setval('withdrawal_events_id_seq', (SELECT coalesce(max(id), 0) + 1 FROM withdrawal_events), false);
ALTER TABLE withdrawal_events ALTER COLUMN id SET DEFAULT nextval('withdrawal_events_id_seq');
DELETE FROM merchant_webhooks WHERE kind = 'withdrawal';
ALTER TABLE merchant_webhooks DROP CONSTRAINT merchant_webhooks_kind_check;
ALTER TABLE merchant_webhooks ADD CONSTRAINT merchant_webhooks_kind_check
    CHECK (kind IN ('created', 'confirmations', 'confirmed', 'failed'));

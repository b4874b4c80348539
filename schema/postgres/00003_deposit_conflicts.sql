-- +goose Up
-- What a double spend or replacement of a deposit's transaction collides
-- with, so the payments workers can fail it as soon as the conflicting
-- transaction is buried as deep as the deposit needed to be (instead of
-- waiting out the timeout): the outpoints it spends (Bitcoin family), or its
-- sender and nonce (Ethereum).
ALTER TABLE deposits
    ADD COLUMN spends text[] NOT NULL DEFAULT '{}',
    ADD COLUMN sender text NOT NULL DEFAULT '',
    ADD COLUMN nonce  bigint CHECK (nonce >= 0),
    -- how many times a reorg took the deposit's block away; each time starts
    -- a new generation of events
    ADD COLUMN reorgs integer NOT NULL DEFAULT 0 CHECK (reorgs >= 0);

-- An event is unique per (deposit, kind, confirmations, generation): a replay
-- writes nothing, while a deposit reorged twice announces each return to
-- unconfirmed, and its confirmations again after each.
ALTER TABLE deposit_events ADD COLUMN generation integer NOT NULL DEFAULT 0;
ALTER TABLE deposit_events DROP CONSTRAINT deposit_events_deposit_id_kind_confirmations_key;
ALTER TABLE deposit_events ADD CONSTRAINT deposit_events_once UNIQUE (deposit_id, kind, confirmations, generation);

-- +goose Down
ALTER TABLE deposit_events DROP CONSTRAINT deposit_events_once;
DELETE FROM deposit_events e USING deposit_events o
    WHERE e.deposit_id = o.deposit_id AND e.kind = o.kind AND e.confirmations = o.confirmations AND e.id > o.id;
ALTER TABLE deposit_events ADD CONSTRAINT deposit_events_deposit_id_kind_confirmations_key UNIQUE (deposit_id, kind, confirmations);
ALTER TABLE deposit_events DROP COLUMN generation;
ALTER TABLE deposits DROP COLUMN spends, DROP COLUMN sender, DROP COLUMN nonce, DROP COLUMN reorgs;

-- +goose Up
-- litepay: "normal addresses expire after 30 days of idle". An expired
-- receive address leaves the hot watch set; the reconciler still scans it,
-- so a late payment is found and forwarded: nothing is lost.
ALTER TABLE receive_addresses ADD COLUMN expired_at timestamptz;
CREATE INDEX receive_addresses_expired ON receive_addresses (wallet_id) WHERE expired_at IS NOT NULL;

-- +goose Down
DROP INDEX receive_addresses_expired;
ALTER TABLE receive_addresses DROP COLUMN expired_at;

-- +goose Up
-- Rotating a merchant's webhook secret: the secret it replaced stays valid
-- until previous_webhook_secret_expires_at, and every delivery until then
-- carries a signature with each, so the merchant can switch its receiver
-- over without a request failing. webhook_secret and
-- previous_webhook_secret hold either the secret itself (no
-- secrets.key_file configured) or "v1:" and its AES-256-GCM encryption
-- bound to the merchant's id (internal/secrets).
ALTER TABLE merchants ADD COLUMN previous_webhook_secret text NOT NULL DEFAULT '';
ALTER TABLE merchants ADD COLUMN previous_webhook_secret_expires_at timestamptz;
ALTER TABLE merchants ADD COLUMN webhook_secret_rotated_at timestamptz;

-- +goose Down
-- An older sluice signs with webhook_secret as it is stored: run "sluice
-- secrets rekey --to-plaintext" before going down, or it signs with the
-- ciphertext.
ALTER TABLE merchants DROP COLUMN webhook_secret_rotated_at;
ALTER TABLE merchants DROP COLUMN previous_webhook_secret_expires_at;
ALTER TABLE merchants DROP COLUMN previous_webhook_secret;

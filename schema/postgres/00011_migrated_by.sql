-- +goose Up
-- Which sluice release migrated the ledger, one row each time a release
-- first migrates it: an older binary that refuses this schema names the
-- release to run instead, and an operator sees the upgrade history.
CREATE TABLE sluice_migrated_by (
    id             bigserial PRIMARY KEY,
    binary_version text NOT NULL,
    schema_version bigint NOT NULL,
    migrated_at    timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE sluice_migrated_by;

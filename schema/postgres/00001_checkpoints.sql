-- +goose Up
-- The last block each chain's indexer has fully written: where it resumes after a restart.
CREATE TABLE chain_checkpoints (
    chain      text PRIMARY KEY,
    height     bigint NOT NULL CHECK (height >= 0),
    hash       text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE chain_checkpoints;

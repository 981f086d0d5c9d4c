-- +goose Up
-- Shared state for several instances: sessions and other expiring values
-- (kv), and atomic counters for login throttling and rate limits.
-- Expiry times are unix seconds (0: never), identical on both databases.
CREATE TABLE kv (
    key        TEXT   PRIMARY KEY,
    value      BYTEA  NOT NULL,
    expires_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX idx_kv_expires_at ON kv (expires_at);

CREATE TABLE counters (
    key        TEXT   PRIMARY KEY,
    count      BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX idx_counters_expires_at ON counters (expires_at);

-- +goose Down
DROP TABLE counters;
DROP TABLE kv;

-- +goose Up
-- API keys: shown once at creation, stored only as a SHA-256 hash of the
-- whole key (the key carries 256 random bits, so a fast hash is enough);
-- prefix is the public part used to find the row.
CREATE TABLE api_keys (
    id           INTEGER      PRIMARY KEY AUTOINCREMENT,
    user_id      BIGINT       NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         VARCHAR(100) NOT NULL CHECK (length(name) >= 1),
    prefix       VARCHAR(32)  NOT NULL,
    key_hash     VARCHAR(64)  NOT NULL,
    scope        VARCHAR(16)  NOT NULL CHECK (scope IN ('read-only', 'read-write')),
    last_used_at DATETIME,
    revoked_at   DATETIME,
    version      BIGINT       NOT NULL DEFAULT 1,
    created_at   DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at   DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX idx_api_keys_prefix ON api_keys (prefix);
CREATE INDEX idx_api_keys_user ON api_keys (user_id);

-- +goose Down
DROP TABLE api_keys;

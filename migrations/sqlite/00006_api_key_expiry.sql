-- +goose Up
-- An API key may expire (NULL: never). An expired key is refused like a
-- revoked one.
ALTER TABLE api_keys ADD COLUMN expires_at DATETIME;

-- +goose Down
ALTER TABLE api_keys DROP COLUMN expires_at;

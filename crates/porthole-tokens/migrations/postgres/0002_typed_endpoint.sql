-- Typed endpoint and soft revocation (see migrations/sqlite/0002_typed_endpoint.sql).
ALTER TABLE console_auth_tokens
    ADD COLUMN endpoint_kind TEXT NOT NULL DEFAULT 'tcp',
    ADD COLUMN node TEXT,
    ADD COLUMN revoked_at BIGINT,
    ALTER COLUMN host DROP NOT NULL,
    ALTER COLUMN port DROP NOT NULL;
UPDATE console_auth_tokens
SET endpoint_kind = 'graphics-fd', node = substr(host, length('graphics-fd://') + 1), host = NULL, port = NULL
WHERE host LIKE 'graphics-fd://%';

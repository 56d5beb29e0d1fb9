-- Typed endpoint and soft revocation.
-- endpoint_kind: 'tcp' (host, port), 'graphics-fd' or 'console-stream' (node; host and port NULL).
-- Rows that smuggled a libvirt node into host as 'graphics-fd://NODE' (port 0) become typed.
-- revoked_at: epoch seconds of the revocation; revoked rows stay until the purge of expired rows.
-- SQLite cannot drop NOT NULL from host and port in place: the table is rebuilt.
CREATE TABLE console_auth_tokens_0002 (
    token_hash TEXT PRIMARY KEY NOT NULL,
    instance_uuid TEXT NOT NULL,
    console_type TEXT NOT NULL,
    endpoint_kind TEXT NOT NULL DEFAULT 'tcp',
    host TEXT,
    port INTEGER,
    node TEXT,
    internal_access_path TEXT,
    access_url_base TEXT NOT NULL,
    expires INTEGER NOT NULL,
    revoked_at INTEGER
);
INSERT INTO console_auth_tokens_0002
    (token_hash, instance_uuid, console_type, endpoint_kind, host, port, node, internal_access_path, access_url_base, expires)
SELECT token_hash, instance_uuid, console_type,
    CASE WHEN host LIKE 'graphics-fd://%' THEN 'graphics-fd' ELSE 'tcp' END,
    CASE WHEN host LIKE 'graphics-fd://%' THEN NULL ELSE host END,
    CASE WHEN host LIKE 'graphics-fd://%' THEN NULL ELSE port END,
    CASE WHEN host LIKE 'graphics-fd://%' THEN substr(host, length('graphics-fd://') + 1) ELSE NULL END,
    internal_access_path, access_url_base, expires
FROM console_auth_tokens;
DROP TABLE console_auth_tokens;
ALTER TABLE console_auth_tokens_0002 RENAME TO console_auth_tokens;
CREATE INDEX console_auth_tokens_instance ON console_auth_tokens (instance_uuid);
CREATE INDEX console_auth_tokens_expires ON console_auth_tokens (expires);

-- The token table as SQLite's first release has it, in PostgreSQL's types.
CREATE TABLE IF NOT EXISTS console_auth_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    instance_uuid UUID NOT NULL,
    console_type TEXT NOT NULL,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    internal_access_path TEXT,
    access_url_base TEXT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS console_auth_tokens_instance ON console_auth_tokens (instance_uuid);
CREATE INDEX IF NOT EXISTS console_auth_tokens_expires ON console_auth_tokens (expires);

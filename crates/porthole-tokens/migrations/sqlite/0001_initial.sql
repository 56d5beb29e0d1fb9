-- The table as the first release created it (without migrations): IF NOT EXISTS, so that an
-- existing porthole.db, which has it already, upgrades in place.
CREATE TABLE IF NOT EXISTS console_auth_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    instance_uuid TEXT NOT NULL,
    console_type TEXT NOT NULL,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    internal_access_path TEXT,
    access_url_base TEXT NOT NULL,
    expires INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS console_auth_tokens_instance ON console_auth_tokens (instance_uuid);
CREATE INDEX IF NOT EXISTS console_auth_tokens_expires ON console_auth_tokens (expires);

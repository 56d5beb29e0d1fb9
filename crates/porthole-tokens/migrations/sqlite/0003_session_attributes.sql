-- What a session may do and who asked for it: view_only (the proxy drops the browser's input),
-- minted_by (the API key's name, or "cli"; for the session history).
ALTER TABLE console_auth_tokens ADD COLUMN view_only INTEGER NOT NULL DEFAULT 0;
ALTER TABLE console_auth_tokens ADD COLUMN minted_by TEXT;

-- Sessions, cluster-wide: one row per console session from its admission to its end, kept after
-- it as history (purged after [consoleauth] history_retention_days). Times are epoch seconds.
-- proxy_id names the porthole process that holds the session; heartbeat is its last sign of life
-- (a process that dies has its rows ended as "proxy-gone" by the others).
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY NOT NULL,
    proxy_id TEXT NOT NULL,
    instance_uuid UUID NOT NULL,
    instance_name TEXT NOT NULL,
    node TEXT,
    client TEXT NOT NULL,
    console_type TEXT NOT NULL,
    view_only BOOLEAN NOT NULL DEFAULT false,
    minted_by TEXT,
    started BIGINT NOT NULL,
    heartbeat BIGINT NOT NULL,
    ended BIGINT,
    bytes_to_server BIGINT NOT NULL DEFAULT 0,
    bytes_to_browser BIGINT NOT NULL DEFAULT 0,
    end_reason TEXT
);
-- Live rows, per process: heartbeats, the reaping of dead processes, the live list.
CREATE INDEX IF NOT EXISTS sessions_live ON sessions (proxy_id, heartbeat) WHERE ended IS NULL;
CREATE INDEX IF NOT EXISTS sessions_started ON sessions (started);
CREATE INDEX IF NOT EXISTS sessions_instance ON sessions (instance_uuid);
CREATE INDEX IF NOT EXISTS sessions_ended ON sessions (ended);

-- What one process tells the others: an instance's consoles revoked, a session or an instance's
-- sessions to end. Each insert is announced with NOTIFY porthole_events; a process that lost its
-- LISTEN connection reads what it missed from here. Purged after an hour.
CREATE TABLE IF NOT EXISTS cluster_events (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    origin TEXT NOT NULL,
    kind TEXT NOT NULL,
    instance_uuid UUID,
    session_id TEXT
);
CREATE INDEX IF NOT EXISTS cluster_events_at ON cluster_events (at);

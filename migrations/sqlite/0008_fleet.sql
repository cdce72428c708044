-- Many processes on one database is PostgreSQL's (migrations/postgres/0008_fleet.sql): on
-- SQLite one process keeps its fair queue in memory (bot/jobs/queue.py). The same tables exist
-- here, unused, so both backends keep the same version numbers and `migrate-to-postgres`
-- copies a database of version N into one of version N.
CREATE TABLE queue (
    job_id    INTEGER PRIMARY KEY,
    owner     TEXT    NOT NULL,
    user_id   INTEGER NOT NULL,
    guild_id  INTEGER,
    cost      INTEGER NOT NULL CHECK (cost >= 1),
    round     INTEGER NOT NULL,
    state     TEXT    NOT NULL DEFAULT 'waiting'
              CHECK (state IN ('waiting', 'admitted', 'cancelled')),
    joined_at TEXT    NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE queue_state (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    latest_round INTEGER NOT NULL DEFAULT 0,
    paused_until TEXT,
    call_limit   INTEGER
);

CREATE TABLE processes (
    owner        TEXT PRIMARY KEY,
    started_at   TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    heartbeat_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    taken_by     TEXT
);

-- Many processes on one database (issue 19): the fair queue toward WisGate, the processes'
-- leases, and what the pacer shares. None of it is money: the ledger's promises stay in jobs.
--
-- queue: one row per job waiting for (or holding) a slot toward WisGate. `owner` is the
-- process that runs the job (jobs.owner); any process may admit it (state 'admitted') when the
-- caps allow, and wakes the owner with NOTIFY. `round` is the start-time fair round: a member's
-- next job gets max(the oldest open round, their last round + 1). 'cancelled' is a Cancel
-- pressed in another process, for the owner to end the job.
CREATE TABLE queue (
    job_id   bigint  PRIMARY KEY,
    owner    text    NOT NULL,
    user_id  bigint  NOT NULL,
    guild_id bigint,                       -- NULL: direct messages, no server cap
    cost     integer NOT NULL CHECK (cost >= 1),
    round    bigint  NOT NULL,
    state    text    NOT NULL DEFAULT 'waiting'
             CHECK (state IN ('waiting', 'admitted', 'cancelled')),
    joined_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX queue_waiting ON queue (round, job_id) WHERE state = 'waiting';
CREATE INDEX queue_by_owner ON queue (owner);

-- The one row the queue and the pacer share: the latest round started (where a newcomer goes
-- when nothing is open), and the pacer's pause and calls allowed in flight. Written by the
-- first process that needs it (an upsert), not seeded here: a migrated database stays empty,
-- as `migrate-to-postgres` requires of its target.
CREATE TABLE queue_state (
    id            integer PRIMARY KEY CHECK (id = 1),
    latest_round  bigint  NOT NULL DEFAULT 0,
    paused_until  timestamptz,
    call_limit    integer
);

-- A lease per live process, renewed by its heartbeat on a connection of its own. A process
-- whose heartbeat is older than the lease is dead: a survivor takes its row (taken_by) and
-- ends its open jobs. A process that finds its row taken stops itself.
CREATE TABLE processes (
    owner        text PRIMARY KEY,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    taken_by     text
);

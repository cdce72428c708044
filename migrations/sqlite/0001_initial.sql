-- The first schema: jobs, quota policies, usage per member per day, guild spend per month,
-- and the moderators' audit log.
--
-- Conventions:
-- * guild_id 0 means direct messages / user-installed contexts (Discord snowflakes are never
--   0). A real value instead of NULL keeps UNIQUE keys and primary keys honest (NULLs are
--   distinct from each other in SQLite keys).
-- * Money is INTEGER micro-dollars (1 USD = 1,000,000): sums stay exact, so "charged equals
--   the sum over delivered jobs" and "never above the budget" are checked with equality and
--   not within a float tolerance. Token prices in USD per million tokens are micro-dollars
--   per token, which is why this unit fits.
-- * Times are ISO-8601 UTC text (2025-01-31T23:59:59.123+00:00); periods are text keys:
--   day 'YYYY-MM-DD' for images, month 'YYYY-MM' for the guild budget.

CREATE TABLE jobs (
    id                  INTEGER PRIMARY KEY,
    user_id             INTEGER NOT NULL,
    guild_id            INTEGER NOT NULL,          -- 0 = direct messages
    channel_id          INTEGER,                   -- where it was asked: restart notices
    kind                TEXT    NOT NULL CHECK (kind IN ('generate', 'edit')),
    model               TEXT    NOT NULL,
    size                TEXT,
    quality             TEXT,
    params              TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(params)),
    status              TEXT    NOT NULL DEFAULT 'queued' CHECK (status IN (
                            'queued', 'running', 'succeeded', 'failed',
                            'cancelled', 'expired', 'interrupted')),
    owner               TEXT    NOT NULL,          -- the Ledger instance (process) that holds it
    day                 TEXT    NOT NULL,          -- the period its images are counted in
    month               TEXT    NOT NULL,          -- the period its cost is counted in
    images_asked        INTEGER NOT NULL CHECK (images_asked >= 1),
    images_held         INTEGER NOT NULL CHECK (images_held >= 0),
    images_delivered    INTEGER NOT NULL DEFAULT 0 CHECK (images_delivered >= 0),
    unit_price_micros   INTEGER NOT NULL CHECK (unit_price_micros >= 0),
    cost_held_micros    INTEGER NOT NULL CHECK (cost_held_micros >= 0),
    cost_charged_micros INTEGER NOT NULL DEFAULT 0 CHECK (cost_charged_micros >= 0),
    -- What the usage said it cost; above cost_charged_micros only when the hold was too small.
    cost_actual_micros  INTEGER NOT NULL DEFAULT 0 CHECK (cost_actual_micros >= 0),
    input_text_tokens   INTEGER,
    input_image_tokens  INTEGER,
    output_tokens       INTEGER,
    error               TEXT,
    result_channel_id   INTEGER,                   -- the message holding the images:
    result_message_id   INTEGER,                   -- jump links and result buttons
    created_at          TEXT    NOT NULL,
    started_at          TEXT,
    ended_at            TEXT,
    CHECK (images_delivered <= images_asked),
    CHECK (cost_charged_micros <= cost_actual_micros)
);
CREATE INDEX jobs_by_member ON jobs (guild_id, user_id, id);
CREATE INDEX jobs_open ON jobs (status) WHERE status IN ('queued', 'running');

-- Per-guild settings; a missing row means "all defaults".
CREATE TABLE guild_settings (
    guild_id              INTEGER PRIMARY KEY CHECK (guild_id <> 0),
    default_daily_images  INTEGER CHECK (default_daily_images >= 0),   -- NULL: global default
    monthly_budget_micros INTEGER CHECK (monthly_budget_micros > 0),   -- NULL: no budget
    moderator_role_id     INTEGER,
    log_channel_id        INTEGER,
    updated_at            TEXT
);

CREATE TABLE role_limits (
    guild_id      INTEGER NOT NULL CHECK (guild_id <> 0),
    role_id       INTEGER NOT NULL,
    daily_images  INTEGER NOT NULL CHECK (daily_images >= 0),
    updated_at    TEXT    NOT NULL,
    PRIMARY KEY (guild_id, role_id)
) WITHOUT ROWID;

-- A member's override and block in one guild; a missing row means "no override, not blocked".
CREATE TABLE member_policies (
    guild_id      INTEGER NOT NULL CHECK (guild_id <> 0),
    user_id       INTEGER NOT NULL,
    daily_images  INTEGER CHECK (daily_images >= 0),                    -- NULL: no override
    blocked       INTEGER NOT NULL DEFAULT 0 CHECK (blocked IN (0, 1)),
    block_reason  TEXT,
    blocked_by    INTEGER,
    blocked_at    TEXT,
    updated_at    TEXT    NOT NULL,
    PRIMARY KEY (guild_id, user_id)
) WITHOUT ROWID;

-- One member's images and cost in one guild on one UTC day.
-- used today = images_charged - images_forgiven (a moderator's reset forgives what was
-- charged so far without rewriting history, so images_charged stays the sum over jobs).
CREATE TABLE member_usage (
    guild_id             INTEGER NOT NULL,
    user_id              INTEGER NOT NULL,
    day                  TEXT    NOT NULL,
    images_charged       INTEGER NOT NULL DEFAULT 0 CHECK (images_charged >= 0),
    images_held          INTEGER NOT NULL DEFAULT 0 CHECK (images_held >= 0),
    images_granted       INTEGER NOT NULL DEFAULT 0 CHECK (images_granted >= 0),
    images_forgiven      INTEGER NOT NULL DEFAULT 0 CHECK (images_forgiven >= 0),
    cost_charged_micros  INTEGER NOT NULL DEFAULT 0 CHECK (cost_charged_micros >= 0),
    cost_held_micros     INTEGER NOT NULL DEFAULT 0 CHECK (cost_held_micros >= 0),
    PRIMARY KEY (guild_id, user_id, day),
    CHECK (images_forgiven <= images_charged)
) WITHOUT ROWID;
CREATE INDEX member_usage_by_day ON member_usage (guild_id, day);

-- One guild's (or, with guild_id 0, all DMs') spend in one UTC month.
CREATE TABLE guild_spend (
    guild_id              INTEGER NOT NULL,
    month                 TEXT    NOT NULL,
    charged_micros        INTEGER NOT NULL DEFAULT 0 CHECK (charged_micros >= 0),
    held_micros           INTEGER NOT NULL DEFAULT 0 CHECK (held_micros >= 0),
    -- Usage cost above the holds, not counted against the budget (see bot/ledger/facade.py).
    overrun_micros        INTEGER NOT NULL DEFAULT 0 CHECK (overrun_micros >= 0),
    -- The budget the 80% alert was sent for this month; NULL: not sent.
    alert_budget_micros   INTEGER,
    alert_sent_at         TEXT,
    PRIMARY KEY (guild_id, month)
) WITHOUT ROWID;

-- Every moderator change: who, what, to whom, when, old and new value (JSON).
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY,
    guild_id     INTEGER NOT NULL,
    actor_id     INTEGER NOT NULL,
    action       TEXT    NOT NULL,
    target_kind  TEXT    NOT NULL CHECK (target_kind IN ('member', 'role', 'guild')),
    target_id    INTEGER NOT NULL,
    old_value    TEXT    CHECK (old_value IS NULL OR json_valid(old_value)),
    new_value    TEXT    CHECK (new_value IS NULL OR json_valid(new_value)),
    reason       TEXT,
    created_at   TEXT    NOT NULL
);
CREATE INDEX audit_by_guild ON audit_log (guild_id, id);
CREATE INDEX audit_by_target ON audit_log (guild_id, target_kind, target_id, id);

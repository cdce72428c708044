-- Members are charged for what was generated, not for what reached Discord, and the operator's
-- caps bound the bill across every server and direct message.
--
-- Until this version a job was settled after delivery and refunded when no image reached
-- Discord: a member who made every delivery route fail got images the operator paid for.
-- Now a job is settled as soon as WisGate returns images (kept in the results store first),
-- and delivery is tracked apart from the charge:
-- * images_charged (was images_delivered): images generated and charged;
-- * delivery: NULL (no images), 'pending' (charged, not yet sent: being delivered, or cut off
--   by a stop: the next start delivers it), 'delivered' (every image reached Discord),
--   'waiting' (every route failed: kept in the store for the member's "deliver again");
-- * images_sent: images Discord accepted, over every delivery.
ALTER TABLE jobs RENAME COLUMN images_delivered TO images_charged;
ALTER TABLE jobs ADD COLUMN delivery TEXT
    CHECK (delivery IS NULL OR delivery IN ('pending', 'delivered', 'waiting'));
ALTER TABLE jobs ADD COLUMN images_sent INTEGER NOT NULL DEFAULT 0 CHECK (images_sent >= 0);
ALTER TABLE jobs ADD COLUMN delivered_at TEXT;
UPDATE jobs SET delivery = 'delivered', images_sent = images_charged, delivered_at = ended_at
    WHERE status = 'succeeded';
CREATE INDEX jobs_undelivered ON jobs (id) WHERE delivery IN ('pending', 'waiting');
-- A result message's job, for the Edit images menu on it (the record, not its file names).
CREATE INDEX jobs_by_result_message ON jobs (result_message_id)
    WHERE result_message_id IS NOT NULL;

-- The operator's spend over every scope: one row per UTC day ('YYYY-MM-DD') and one per UTC
-- month ('YYYY-MM'), held and charged like guild_spend.
CREATE TABLE operator_spend (
    period          TEXT    PRIMARY KEY,
    charged_micros  INTEGER NOT NULL DEFAULT 0 CHECK (charged_micros >= 0),
    held_micros     INTEGER NOT NULL DEFAULT 0 CHECK (held_micros >= 0)
) WITHOUT ROWID;
INSERT INTO operator_spend (period, charged_micros, held_micros)
    SELECT day, SUM(cost_charged_micros), SUM(cost_held_micros) FROM member_usage GROUP BY day;
INSERT INTO operator_spend (period, charged_micros, held_micros)
    SELECT month, SUM(charged_micros), SUM(held_micros) FROM guild_spend GROUP BY month;

-- One Discord account's spend on one UTC day over every server and direct message.
CREATE TABLE account_spend (
    user_id         INTEGER NOT NULL,
    day             TEXT    NOT NULL,
    charged_micros  INTEGER NOT NULL DEFAULT 0 CHECK (charged_micros >= 0),
    held_micros     INTEGER NOT NULL DEFAULT 0 CHECK (held_micros >= 0),
    PRIMARY KEY (user_id, day)
) WITHOUT ROWID;
INSERT INTO account_spend (user_id, day, charged_micros, held_micros)
    SELECT user_id, day, SUM(cost_charged_micros), SUM(cost_held_micros) FROM member_usage
    GROUP BY user_id, day;

-- A cap reached is told once per period and place: the log line and the server's log channel
-- (guild_id 0: direct messages and user installs, which have no log channel).
CREATE TABLE cap_alerts (
    cap       TEXT    NOT NULL,
    period    TEXT    NOT NULL,
    guild_id  INTEGER NOT NULL,
    sent_at   TEXT    NOT NULL,
    PRIMARY KEY (cap, period, guild_id)
) WITHOUT ROWID;

-- Members are charged for what was generated; the operator's caps bound the bill
-- (migrations/sqlite/0004_charge_generated.sql says why).
ALTER TABLE jobs RENAME COLUMN images_delivered TO images_charged;
ALTER TABLE jobs ADD COLUMN delivery text
    CHECK (delivery IS NULL OR delivery IN ('pending', 'delivered', 'waiting'));
ALTER TABLE jobs ADD COLUMN images_sent integer NOT NULL DEFAULT 0 CHECK (images_sent >= 0);
ALTER TABLE jobs ADD COLUMN delivered_at text;
UPDATE jobs SET delivery = 'delivered', images_sent = images_charged, delivered_at = ended_at
    WHERE status = 'succeeded';
CREATE INDEX jobs_undelivered ON jobs (id) WHERE delivery IN ('pending', 'waiting');
CREATE INDEX jobs_by_result_message ON jobs (result_message_id)
    WHERE result_message_id IS NOT NULL;

CREATE TABLE operator_spend (
    period          text   PRIMARY KEY,
    charged_micros  bigint NOT NULL DEFAULT 0 CHECK (charged_micros >= 0),
    held_micros     bigint NOT NULL DEFAULT 0 CHECK (held_micros >= 0)
);
INSERT INTO operator_spend (period, charged_micros, held_micros)
    SELECT day, SUM(cost_charged_micros), SUM(cost_held_micros) FROM member_usage GROUP BY day;
INSERT INTO operator_spend (period, charged_micros, held_micros)
    SELECT month, SUM(charged_micros), SUM(held_micros) FROM guild_spend GROUP BY month;

CREATE TABLE account_spend (
    user_id         bigint NOT NULL,
    day             text   NOT NULL,
    charged_micros  bigint NOT NULL DEFAULT 0 CHECK (charged_micros >= 0),
    held_micros     bigint NOT NULL DEFAULT 0 CHECK (held_micros >= 0),
    PRIMARY KEY (user_id, day)
);
INSERT INTO account_spend (user_id, day, charged_micros, held_micros)
    SELECT user_id, day, SUM(cost_charged_micros), SUM(cost_held_micros) FROM member_usage
    GROUP BY user_id, day;

CREATE TABLE cap_alerts (
    cap       text   NOT NULL,
    period    text   NOT NULL,
    guild_id  bigint NOT NULL,
    sent_at   text   NOT NULL,
    PRIMARY KEY (cap, period, guild_id)
);

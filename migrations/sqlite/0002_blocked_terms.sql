-- Moderation: each guild's blocked terms, and the reports of members whose requests the
-- image service's safety system rejected repeatedly.

-- A term as stored is already normalised (bot/core/terms.py: NFKC, casefolded, accents dropped,
-- spaces collapsed) and may start or end with `*` (a wildcard, as in Discord's AutoMod).
CREATE TABLE blocked_terms (
    guild_id   INTEGER NOT NULL CHECK (guild_id <> 0),
    term       TEXT    NOT NULL CHECK (length(term) BETWEEN 1 AND 100),
    added_by   INTEGER NOT NULL,
    added_at   TEXT    NOT NULL,
    PRIMARY KEY (guild_id, term)
) WITHOUT ROWID;

-- One row per report sent to a guild's log channel: a member reaches the threshold of
-- rejections within an hour. The latest reported_at starts the count again, so a member is
-- reported at most once an hour and each report covers new rejections.
CREATE TABLE moderation_reports (
    id           INTEGER PRIMARY KEY,
    guild_id     INTEGER NOT NULL CHECK (guild_id <> 0),
    user_id      INTEGER NOT NULL,
    rejections   INTEGER NOT NULL CHECK (rejections >= 1),
    reported_at  TEXT    NOT NULL
);
CREATE INDEX moderation_reports_by_member ON moderation_reports (guild_id, user_id, reported_at);

-- A member's recently ended jobs (the rejection count reads the last hour of them).
CREATE INDEX jobs_ended_by_member ON jobs (guild_id, user_id, ended_at)
    WHERE ended_at IS NOT NULL;

-- The kind of failure of a refunded job is a column of its own, written by the runner from the
-- error's class (ContentRejected, RateLimited, QueueExpired, Interrupted, Unexpected...), so
-- nothing reads it out of the free-text `error` any more (moderation reports count
-- ContentRejected; `python -m bot stats` groups by it).
ALTER TABLE jobs ADD COLUMN failure TEXT;
-- Earlier rows: the runner wrote "ErrorClass: text"; recovery and shutdown their own words.
UPDATE jobs SET failure = CASE
        WHEN error LIKE 'the bot restarted%' OR error = 'interrupted by shutdown'
            THEN 'Interrupted'
        WHEN error LIKE 'unexpected error%' THEN 'Unexpected'
        WHEN instr(error, ':') > 1 THEN substr(error, 1, instr(error, ':') - 1)
        ELSE upper(substr(status, 1, 1)) || substr(status, 2)
    END
    WHERE status IN ('failed', 'cancelled', 'expired', 'interrupted');
CREATE INDEX jobs_rejected_by_member ON jobs (guild_id, user_id, ended_at)
    WHERE failure = 'ContentRejected';

-- The kind of failure of a refunded job (migrations/sqlite/0005_failure_kinds.sql).
ALTER TABLE jobs ADD COLUMN failure text;
UPDATE jobs SET failure = CASE
        WHEN error LIKE 'the bot restarted%' OR error = 'interrupted by shutdown'
            THEN 'Interrupted'
        WHEN error LIKE 'unexpected error%' THEN 'Unexpected'
        WHEN strpos(error, ':') > 1 THEN substr(error, 1, strpos(error, ':') - 1)
        ELSE upper(substr(status, 1, 1)) || substr(status, 2)
    END
    WHERE status IN ('failed', 'cancelled', 'expired', 'interrupted');
CREATE INDEX jobs_rejected_by_member ON jobs (guild_id, user_id, ended_at)
    WHERE failure = 'ContentRejected';

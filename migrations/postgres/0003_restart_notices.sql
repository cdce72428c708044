-- Restart notices survive another stop (migrations/sqlite/0003_restart_notices.sql).
ALTER TABLE jobs ADD COLUMN notice_owed integer NOT NULL DEFAULT 0 CHECK (notice_owed IN (0, 1));
CREATE INDEX jobs_notice_owed ON jobs (id) WHERE notice_owed = 1;

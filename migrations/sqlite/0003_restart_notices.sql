-- Restart notices survive another stop: recovery marks each job it refunds as owing its
-- member a notice, and the notice sender clears the mark once it has tried to tell them. A
-- process killed in between leaves the mark, so the next start tells them (at least once).
ALTER TABLE jobs ADD COLUMN notice_owed INTEGER NOT NULL DEFAULT 0 CHECK (notice_owed IN (0, 1));
CREATE INDEX jobs_notice_owed ON jobs (id) WHERE notice_owed = 1;

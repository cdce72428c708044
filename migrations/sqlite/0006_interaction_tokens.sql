-- How to answer a job's interaction after a restart: while the job is open, its interaction's
-- webhook (Discord's application id and the interaction token) and when Discord created it.
-- A stop leaves the member's "thinking..." message loading forever, since the process holding
-- the interaction is gone; the next start refunds the job and, while the token lives (15
-- minutes from the interaction's creation), tells the member on that message itself.
--
-- The token lets anyone answer as the bot for those 15 minutes, so a row lives no longer than
-- needed: settling the job deletes it, and so does a refund, in the same transaction; a refund
-- that leaves the member owed a notice keeps it until they were told (notices_sent), since it
-- is what tells them. Rows past the token's life are deleted at start-up and every few minutes.
CREATE TABLE interaction_tokens (
    job_id          INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    application_id  INTEGER NOT NULL,
    token           TEXT    NOT NULL,
    created_at      TEXT    NOT NULL              -- when Discord created the interaction
);
CREATE INDEX interaction_tokens_by_age ON interaction_tokens (created_at);

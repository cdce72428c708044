-- How to answer a job's interaction after a restart, while the job is open
-- (migrations/sqlite/0006_interaction_tokens.sql says how long a row lives).
CREATE TABLE interaction_tokens (
    job_id          bigint PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    application_id  bigint NOT NULL,
    token           text   NOT NULL,
    created_at      text   NOT NULL
);
CREATE INDEX interaction_tokens_by_age ON interaction_tokens (created_at);

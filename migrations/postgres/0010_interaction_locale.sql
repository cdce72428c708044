-- The language of the member who asked, kept with the job's interaction token: read
-- migrations/sqlite/0010_interaction_locale.sql.
ALTER TABLE interaction_tokens ADD COLUMN locale text
    CHECK (locale IS NULL OR length(locale) BETWEEN 2 AND 16);

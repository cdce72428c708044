-- The language of the member who asked, kept with the job's interaction token (0006): after a
-- restart the bot answers an interrupted request on that token, and the answer should read as
-- the member's replies did before it (their client's locale, as Discord sent it, like `de` or
-- `pt-BR`). NULL for rows kept before this version: those answers speak the server's language.
-- It lives and dies with the token's row. The CHECK bounds what a forged locale could store.
ALTER TABLE interaction_tokens ADD COLUMN locale TEXT
    CHECK (locale IS NULL OR length(locale) BETWEEN 2 AND 16);

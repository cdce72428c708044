-- Each member's defaults (/settings): one row per default a member set, for every server and
-- DM alike (defaults follow the member, not the place). `name` is one of the settings a
-- request can take from them; `value` the member's choice as short text (a model name, a
-- size, `4`, `1`/`0` for private), checked against the catalogue when it is saved and again
-- when a request uses it (a default that no longer fits is skipped, never changed here). So a
-- member holds at most seven short rows: the CHECKs bound what a forged choice could store.
-- Clearing a default deletes its row.
CREATE TABLE member_settings (
    user_id    INTEGER NOT NULL,
    name       TEXT    NOT NULL CHECK (name IN (
                   'model', 'size', 'quality', 'n', 'output_format', 'style', 'private')),
    value      TEXT    NOT NULL CHECK (length(value) BETWEEN 1 AND 64),
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (user_id, name)
);

-- Each member's defaults (/settings): read migrations/sqlite/0009_member_settings.sql.
CREATE TABLE member_settings (
    user_id    bigint NOT NULL,
    name       text   NOT NULL CHECK (name IN (
                   'model', 'size', 'quality', 'n', 'output_format', 'style', 'private')),
    value      text   NOT NULL CHECK (length(value) BETWEEN 1 AND 64),
    updated_at text   NOT NULL,
    PRIMARY KEY (user_id, name)
);

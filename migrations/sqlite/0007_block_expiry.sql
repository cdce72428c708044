-- Blocks may end on their own: a moderator blocks a member for an hour, a day, a week, or for
-- good. blocked_until is when a block ends (ISO-8601 UTC text, like every time here); NULL
-- while blocked means until a moderator unblocks them. A block is in force while
-- blocked = 1 AND (blocked_until IS NULL OR blocked_until > now): every check (the read-only
-- check before the defer, the reservation, a member's status) reads it that way, so nothing
-- has to run at the moment a block ends. An ended block's row stays as it was (the audit log
-- keeps its history); the next block or unblock overwrites it.
ALTER TABLE member_policies ADD COLUMN blocked_until TEXT;

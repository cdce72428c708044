-- Blocks may end on their own (migrations/sqlite/0007_block_expiry.sql).
ALTER TABLE member_policies ADD COLUMN blocked_until text;

"""The SQL of moderators' changes: bodies that LedgerAdmin runs inside one transaction.

Each change function is named after the LedgerAdmin method that runs it (set_block serves
block and unblock). It takes the open transaction (a Tx, on either store) and the
transaction's time, makes one change and returns (old, new); admin.audited writes the audit
row for it in the same transaction. LedgerAdmin binds the other arguments with
functools.partial. member_change and guild_change are the shared one-column upserts; each
reads the row it replaces locked where writers are not serialised, so the audit's old value
is the one replaced.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.ledger import quotas as ledger_sql
from bot.ledger.locks import for_update, lock_member_day
from bot.ledger.models import day_key, iso, usd
from bot.ledger.store import Tx

# A block in a Change or an audit row (see block_value).
BlockValue = str | dict[str, str] | None


async def member_change(
    tx: Tx,
    *,
    guild_id: int,
    user_id: int,
    column: str,
    value: Any,
    now: datetime,
) -> Any:
    """Set one member_policies column (creating the row), returning its old value."""
    sql = f"SELECT {column} FROM member_policies WHERE guild_id = ? AND user_id = ?"
    row = await tx.one(for_update(tx, sql), guild_id, user_id)
    await tx.run(
        f"INSERT INTO member_policies (guild_id, user_id, {column}, updated_at) "
        f"VALUES (?, ?, ?, ?) ON CONFLICT (guild_id, user_id) DO UPDATE SET "
        f"{column} = excluded.{column}, updated_at = excluded.updated_at",
        guild_id, user_id, value, iso(now),
    )  # fmt: skip
    return row[0] if row else None


async def guild_change(tx: Tx, *, guild_id: int, column: str, value: Any, now: datetime) -> Any:
    """Set one guild_settings column (creating the row), returning its old value."""
    sql = f"SELECT {column} FROM guild_settings WHERE guild_id = ?"
    row = await tx.one(for_update(tx, sql), guild_id)
    await tx.run(
        f"INSERT INTO guild_settings (guild_id, {column}, updated_at) VALUES (?, ?, ?) "
        f"ON CONFLICT (guild_id) DO UPDATE SET {column} = excluded.{column}, "
        "updated_at = excluded.updated_at",
        guild_id, value, iso(now),
    )  # fmt: skip
    return row[0] if row else None


async def set_member_limit(
    tx: Tx, now: datetime, *, guild_id: int, user_id: int, value: int | None
) -> tuple[int | None, int | None]:
    """Override a member's daily limit (None clears it); (old, new)."""
    old = await member_change(
        tx, guild_id=guild_id, user_id=user_id, column="daily_images", value=value, now=now
    )
    return old, value


async def set_role_limit(
    tx: Tx, now: datetime, *, guild_id: int, role_id: int, value: int | None
) -> tuple[int | None, int | None]:
    """Set a role's daily limit (None deletes it); (old, new)."""
    key = (guild_id, role_id)
    sql = "SELECT daily_images FROM role_limits WHERE guild_id = ? AND role_id = ?"
    row = await tx.one(for_update(tx, sql), *key)
    if value is None:
        await tx.run("DELETE FROM role_limits WHERE guild_id = ? AND role_id = ?", *key)
    else:
        await tx.run(
            "INSERT INTO role_limits (guild_id, role_id, daily_images, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (guild_id, role_id) DO UPDATE SET "
            "daily_images = excluded.daily_images, updated_at = excluded.updated_at",
            *key, value, iso(now),
        )  # fmt: skip
    return (row[0] if row else None), value


async def set_guild_default(
    tx: Tx, now: datetime, *, guild_id: int, value: int | None
) -> tuple[int | None, int | None]:
    """Set the guild's default daily limit (None: the global default); (old, new)."""
    old = await guild_change(
        tx, guild_id=guild_id, column="default_daily_images", value=value, now=now
    )
    return old, value


async def grant(
    tx: Tx, now: datetime, *, guild_id: int, user_id: int, images: int
) -> tuple[int, int]:
    """Add to a member's images granted today; (old, new) granted totals."""
    day = day_key(now)
    await lock_member_day(tx, guild_id, user_id, day)
    old = (await ledger_sql.read_usage(tx, guild_id, user_id, day)).granted
    await tx.run(
        "INSERT INTO member_usage (guild_id, user_id, day, images_granted) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (guild_id, user_id, day) DO UPDATE SET "
        "images_granted = member_usage.images_granted + excluded.images_granted",
        guild_id, user_id, day, images,
    )  # fmt: skip
    return old, old + images


async def reset_usage(tx: Tx, now: datetime, *, guild_id: int, user_id: int) -> tuple[int, int]:
    """Forgive what a member used today; (old, new) images used."""
    day = day_key(now)
    await lock_member_day(tx, guild_id, user_id, day)
    old = (await ledger_sql.read_usage(tx, guild_id, user_id, day)).used
    # Forgiving, not erasing: images_charged stays the sum over the day's jobs.
    await tx.run(
        "UPDATE member_usage SET images_forgiven = images_charged "
        "WHERE guild_id = ? AND user_id = ? AND day = ?",
        guild_id, user_id, day,
    )  # fmt: skip
    return old, 0


def block_value(reason: str | None, until: str | None) -> BlockValue:
    """A block as Changes and audit rows carry it: None (not blocked), the reason (until
    unblocked), or {"reason", "until"} for a block that ends by itself (until: ISO UTC)."""
    if reason is None:
        return None
    return reason if until is None else {"reason": reason, "until": until}


async def set_block(
    tx: Tx,
    now: datetime,
    *,
    guild_id: int,
    user_id: int,
    reason: str | None,
    duration: timedelta | None,
    actor_id: int,
) -> tuple[BlockValue, BlockValue]:
    """Block a member with this reason (for `duration`, None: until unblocked), or unblock
    them (reason None); (old, new) block values. A block that already ended reads as none."""
    sql = (
        f"SELECT {ledger_sql.BLOCK_IN_FORCE}, block_reason, blocked_until FROM member_policies "
        "WHERE guild_id = ? AND user_id = ?"
    )
    row = await tx.one(for_update(tx, sql), iso(now), guild_id, user_id)
    blocked = reason is not None
    until = iso(now + duration) if blocked and duration is not None else None
    await tx.run(
        "INSERT INTO member_policies (guild_id, user_id, blocked, block_reason, blocked_by, "
        "blocked_at, blocked_until, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (guild_id, user_id) DO UPDATE SET blocked = excluded.blocked, "
        "block_reason = excluded.block_reason, blocked_by = excluded.blocked_by, "
        "blocked_at = excluded.blocked_at, blocked_until = excluded.blocked_until, "
        "updated_at = excluded.updated_at",
        guild_id, user_id, int(blocked), reason, actor_id if blocked else None,
        iso(now) if blocked else None, until, iso(now),
    )  # fmt: skip
    old = block_value(row[1], row[2]) if row and row[0] else None
    return old, block_value(reason, until)


async def set_budget(
    tx: Tx, now: datetime, *, guild_id: int, micros: int | None
) -> tuple[float | None, float | None]:
    """Set the guild's monthly budget in micro-dollars (None removes it); (old, new) in USD."""
    old = await guild_change(
        tx, guild_id=guild_id, column="monthly_budget_micros", value=micros, now=now
    )
    return (None if old is None else usd(old)), (None if micros is None else usd(micros))

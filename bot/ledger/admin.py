"""Moderator operations on the ledger: each change and its audit row are one transaction.

Every change returns a Change with the old and the new value, so the Discord layer can
state both, and writes an audit row (actor, action, target, old, new, time) in the same
transaction. Values are images per day, USD, ids, or a block reason (None = not blocked).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from bot.core.errors import InvalidRequest
from bot.core.prices import to_micros
from bot.ledger import quotas as ledger_sql
from bot.ledger.models import day_key, iso, usd
from bot.ledger.reports import LedgerReports, TargetKind, guild_only, write_audit

V = TypeVar("V")
MAX_DAILY_IMAGES = 100_000
MAX_BUDGET_USD = Decimal(1_000_000)


class _Keep:
    """Marks a setting left as it is."""


KEEP = _Keep()


@dataclass(frozen=True, slots=True)
class Change(Generic[V]):
    """One moderator change: what, to whom, the value before and after, its audit row."""

    action: str
    target_kind: TargetKind
    target_id: int
    old: V
    new: V
    audit_id: int


def _images(value: int | None) -> int | None:
    if value is not None and not 0 <= value <= MAX_DAILY_IMAGES:
        raise InvalidRequest(f"A daily limit must be between 0 and {MAX_DAILY_IMAGES} images.")
    return value


def _member_change(
    db: sqlite3.Connection,
    *,
    guild_id: int,
    user_id: int,
    column: str,
    value: Any,
    now: datetime,
) -> Any:
    """Set one member_policies column (creating the row), returning its old value."""
    row = db.execute(
        f"SELECT {column} FROM member_policies WHERE guild_id = ? AND user_id = ?",
        (guild_id, user_id),
    ).fetchone()
    db.execute(
        f"INSERT INTO member_policies (guild_id, user_id, {column}, updated_at) "
        f"VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET {column} = excluded.{column}, "
        "updated_at = excluded.updated_at",
        (guild_id, user_id, value, iso(now)),
    )
    return row[0] if row else None


def _guild_change(
    db: sqlite3.Connection, *, guild_id: int, column: str, value: Any, now: datetime
) -> Any:
    """Set one guild_settings column (creating the row), returning its old value."""
    row = db.execute(
        f"SELECT {column} FROM guild_settings WHERE guild_id = ?", (guild_id,)
    ).fetchone()
    db.execute(
        f"INSERT INTO guild_settings (guild_id, {column}, updated_at) VALUES (?, ?, ?) "
        f"ON CONFLICT DO UPDATE SET {column} = excluded.{column}, "
        "updated_at = excluded.updated_at",
        (guild_id, value, iso(now)),
    )
    return row[0] if row else None


class LedgerAdmin(LedgerReports):
    """What moderators can do to one guild's quotas; every change is audited."""

    def _limit(self, images: int | None) -> int | None:
        """A daily limit a moderator may set: within the bot's range and the owner's ceiling."""
        value = _images(images)
        ceiling = self.ledger.caps.max_daily_images
        if value is not None and ceiling is not None and value > ceiling:
            raise InvalidRequest(
                f"The bot's owner caps daily limits at {ceiling} images: choose {ceiling} or fewer."
            )
        return value

    async def _change(
        self,
        actor_id: int,
        guild_id: int,
        action: str,
        target: tuple[TargetKind, int],
        apply: Callable[[sqlite3.Connection, datetime], tuple[Any, Any]],
        *,
        reason: str | None = None,
    ) -> Change[Any]:
        """Run apply(db, now) -> (old, new) and its audit row as one transaction."""
        guild_only(guild_id)
        now = self.ledger.now()

        def body(db: sqlite3.Connection) -> Change[Any]:
            old, new = apply(db, now)
            audit_id = write_audit(
                db, guild_id=guild_id, actor_id=actor_id, action=action, target=target,
                old=old, new=new, now=now, reason=reason,
            )  # fmt: skip
            return Change(action, target[0], target[1], old, new, audit_id)

        return await self.ledger.transaction(body)

    async def set_member_limit(
        self, actor_id: int, guild_id: int, user_id: int, images: int | None
    ) -> Change[int | None]:
        """Override a member's daily limit; None clears the override."""
        value = self._limit(images)

        def apply(db: sqlite3.Connection, now: datetime) -> tuple[int | None, int | None]:
            old = _member_change(
                db, guild_id=guild_id, user_id=user_id, column="daily_images", value=value,
                now=now,
            )  # fmt: skip
            return old, value

        return await self._change(actor_id, guild_id, "member_limit", ("member", user_id), apply)

    async def set_role_limit(
        self, actor_id: int, guild_id: int, role_id: int, images: int | None
    ) -> Change[int | None]:
        """Set a role's daily limit (members get their best role's); None clears it."""
        value = self._limit(images)

        def apply(db: sqlite3.Connection, now: datetime) -> tuple[int | None, int | None]:
            key = (guild_id, role_id)
            row = db.execute(
                "SELECT daily_images FROM role_limits WHERE guild_id = ? AND role_id = ?", key
            ).fetchone()
            if value is None:
                db.execute("DELETE FROM role_limits WHERE guild_id = ? AND role_id = ?", key)
            else:
                db.execute(
                    "INSERT INTO role_limits (guild_id, role_id, daily_images, updated_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                    "daily_images = excluded.daily_images, updated_at = excluded.updated_at",
                    (*key, value, iso(now)),
                )
            return (row[0] if row else None), value

        return await self._change(actor_id, guild_id, "role_limit", ("role", role_id), apply)

    async def set_guild_default(
        self, actor_id: int, guild_id: int, images: int | None
    ) -> Change[int | None]:
        """Set the guild's default daily limit; None falls back to the global default."""
        value = self._limit(images)

        def apply(db: sqlite3.Connection, now: datetime) -> tuple[int | None, int | None]:
            old = _guild_change(
                db, guild_id=guild_id, column="default_daily_images", value=value, now=now
            )
            return old, value

        return await self._change(actor_id, guild_id, "guild_default", ("guild", guild_id), apply)

    async def grant(self, actor_id: int, guild_id: int, user_id: int, images: int) -> Change[int]:
        """Give a member extra images for today only; old/new are today's granted total."""
        if not 1 <= images <= MAX_DAILY_IMAGES:
            raise InvalidRequest(f"A grant must be between 1 and {MAX_DAILY_IMAGES} images.")

        def apply(db: sqlite3.Connection, now: datetime) -> tuple[int, int]:
            day = day_key(now)
            old = ledger_sql.read_usage(db, guild_id, user_id, day).granted
            db.execute(
                "INSERT INTO member_usage (guild_id, user_id, day, images_granted) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                "images_granted = images_granted + excluded.images_granted",
                (guild_id, user_id, day, images),
            )
            return old, old + images

        return await self._change(actor_id, guild_id, "grant", ("member", user_id), apply)

    async def reset_usage(self, actor_id: int, guild_id: int, user_id: int) -> Change[int]:
        """Forgive what a member used today (jobs still running count when they finish)."""

        def apply(db: sqlite3.Connection, now: datetime) -> tuple[int, int]:
            day = day_key(now)
            old = ledger_sql.read_usage(db, guild_id, user_id, day).used
            # Forgiving, not erasing: images_charged stays the sum over the day's jobs.
            db.execute(
                "UPDATE member_usage SET images_forgiven = images_charged "
                "WHERE guild_id = ? AND user_id = ? AND day = ?",
                (guild_id, user_id, day),
            )
            return old, 0

        return await self._change(actor_id, guild_id, "reset_usage", ("member", user_id), apply)

    async def block(
        self, actor_id: int, guild_id: int, user_id: int, reason: str
    ) -> Change[str | None]:
        """Stop a member from making images here; old/new are the block reason (None: open)."""
        text = reason.strip() or "no reason given"

        def apply(db: sqlite3.Connection, now: datetime) -> tuple[str | None, str | None]:
            return self._set_block(db, guild_id, user_id, text, actor_id, now), text

        return await self._change(
            actor_id, guild_id, "block", ("member", user_id), apply, reason=text
        )

    async def unblock(self, actor_id: int, guild_id: int, user_id: int) -> Change[str | None]:
        """Let a blocked member make images again."""

        def apply(db: sqlite3.Connection, now: datetime) -> tuple[str | None, str | None]:
            return self._set_block(db, guild_id, user_id, None, actor_id, now), None

        return await self._change(actor_id, guild_id, "unblock", ("member", user_id), apply)

    @staticmethod
    def _set_block(
        db: sqlite3.Connection,
        guild_id: int,
        user_id: int,
        reason: str | None,
        actor_id: int,
        now: datetime,
    ) -> str | None:
        row = db.execute(
            "SELECT blocked, block_reason FROM member_policies WHERE guild_id = ? AND user_id = ?",
            (guild_id, user_id),
        ).fetchone()
        blocked = reason is not None
        db.execute(
            "INSERT INTO member_policies (guild_id, user_id, blocked, block_reason, blocked_by, "
            "blocked_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
            "blocked = excluded.blocked, block_reason = excluded.block_reason, "
            "blocked_by = excluded.blocked_by, blocked_at = excluded.blocked_at, "
            "updated_at = excluded.updated_at",
            (guild_id, user_id, int(blocked), reason, actor_id if blocked else None,
             iso(now) if blocked else None, iso(now)),
        )  # fmt: skip
        return row[1] if row and row[0] else None

    async def set_budget(
        self, actor_id: int, guild_id: int, usd_per_month: Decimal | float | None
    ) -> Change[float | None]:
        """Set the guild's monthly budget in USD; 0 or None removes it."""
        amount = Decimal(str(usd_per_month or 0))
        if not amount.is_finite() or not 0 <= amount <= MAX_BUDGET_USD:
            raise InvalidRequest(f"A budget must be between $0 and ${MAX_BUDGET_USD:,} a month.")
        micros = to_micros(amount) or None

        def apply(db: sqlite3.Connection, now: datetime) -> tuple[float | None, float | None]:
            old = _guild_change(
                db, guild_id=guild_id, column="monthly_budget_micros", value=micros, now=now
            )
            return (None if old is None else usd(old)), (None if micros is None else usd(micros))

        return await self._change(actor_id, guild_id, "budget", ("guild", guild_id), apply)

    async def set_guild_settings(
        self,
        actor_id: int,
        guild_id: int,
        *,
        moderator_role_id: int | _Keep | None = KEEP,
        log_channel_id: int | _Keep | None = KEEP,
    ) -> list[Change[int | None]]:
        """Set the moderator role and/or the log channel (None clears) in one transaction."""
        guild_only(guild_id)
        now = self.ledger.now()
        wanted = {"moderator_role_id": moderator_role_id, "log_channel_id": log_channel_id}

        def body(db: sqlite3.Connection) -> list[Change[int | None]]:
            changes: list[Change[int | None]] = []
            for column, value in wanted.items():
                if isinstance(value, _Keep):
                    continue
                old = _guild_change(db, guild_id=guild_id, column=column, value=value, now=now)
                action = column.removesuffix("_id")
                audit_id = write_audit(
                    db, guild_id=guild_id, actor_id=actor_id, action=action,
                    target=("guild", guild_id), old=old, new=value, now=now,
                )  # fmt: skip
                changes.append(Change(action, "guild", guild_id, old, value, audit_id))
            return changes

        return await self.ledger.transaction(body)

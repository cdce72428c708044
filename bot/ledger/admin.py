"""Moderator operations on the ledger: each change and its audit row are one transaction.

Every change returns a Change with the old and the new value, so the Discord layer can
state both, and writes an audit row (actor, action, target, old, new, time) in the same
transaction. Values are images per day, USD, ids, or a block (None = not blocked; the reason;
or the reason and when it ends, see admin_sql.block_value).
The SQL of each change is in bot/ledger/admin_sql.py; audited() adds its audit row.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, Generic, TypeVar

from bot.core.errors import BadValue
from bot.core.prices import to_micros
from bot.ledger import admin_sql
from bot.ledger.admin_sql import BlockValue
from bot.ledger.reports import LedgerReports, TargetKind, guild_only, write_audit
from bot.ledger.store import Tx

V = TypeVar("V")
MAX_DAILY_IMAGES = 100_000
MAX_BUDGET_USD = Decimal(1_000_000)
MIN_BLOCK, MAX_BLOCK = timedelta(minutes=1), timedelta(days=366)
# One change's body: apply(tx, now) -> (old, new), an admin_sql function bound by partial.
Apply = Callable[[Tx, datetime], Awaitable[tuple[Any, Any]]]


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
        raise BadValue("daily_limit", least=0, most=MAX_DAILY_IMAGES)
    return value


async def audited(
    tx: Tx,
    *,
    apply: Apply,
    guild_id: int,
    actor_id: int,
    action: str,
    target: tuple[TargetKind, int],
    reason: str | None,
    now: datetime,
) -> Change[Any]:
    """Run apply(tx, now) -> (old, new) and write its audit row, in the caller's transaction."""
    old, new = await apply(tx, now)
    audit_id = await write_audit(
        tx, guild_id=guild_id, actor_id=actor_id, action=action, target=target,
        old=old, new=new, now=now, reason=reason,
    )  # fmt: skip
    return Change(action, target[0], target[1], old, new, audit_id)


async def change_settings(
    tx: Tx,
    *,
    guild_id: int,
    actor_id: int,
    wanted: Mapping[str, int | _Keep | None],
    now: datetime,
) -> list[Change[int | None]]:
    """Set each guild_settings column not left as KEEP, one audit row per column."""
    changes: list[Change[int | None]] = []
    for column, value in wanted.items():
        if isinstance(value, _Keep):
            continue
        old = await admin_sql.guild_change(
            tx, guild_id=guild_id, column=column, value=value, now=now
        )
        action = column.removesuffix("_id")
        audit_id = await write_audit(
            tx, guild_id=guild_id, actor_id=actor_id, action=action,
            target=("guild", guild_id), old=old, new=value, now=now,
        )  # fmt: skip
        changes.append(Change(action, "guild", guild_id, old, value, audit_id))
    return changes


class LedgerAdmin(LedgerReports):
    """What moderators can do to one guild's quotas; every change is audited."""

    def _limit(self, images: int | None) -> int | None:
        """A daily limit a moderator may set: within the bot's range and the owner's ceiling."""
        value = _images(images)
        ceiling = self.ledger.caps.max_daily_images
        if value is not None and ceiling is not None and value > ceiling:
            raise BadValue("owner_ceiling", most=ceiling)
        return value

    async def _change(
        self,
        actor_id: int,
        guild_id: int,
        action: str,
        target: tuple[TargetKind, int],
        apply: Apply,
        *,
        reason: str | None = None,
    ) -> Change[Any]:
        """Run apply(tx, now) -> (old, new) and its audit row as one transaction."""
        guild_only(guild_id)
        body = partial(
            audited,
            apply=apply,
            guild_id=guild_id,
            actor_id=actor_id,
            action=action,
            target=target,
            reason=reason,
            now=self.ledger.now(),
        )
        return await self.ledger.transaction(body)

    async def set_member_limit(
        self, actor_id: int, guild_id: int, user_id: int, images: int | None
    ) -> Change[int | None]:
        """Override a member's daily limit; None clears the override."""
        apply = partial(
            admin_sql.set_member_limit,
            guild_id=guild_id,
            user_id=user_id,
            value=self._limit(images),
        )
        return await self._change(actor_id, guild_id, "member_limit", ("member", user_id), apply)

    async def set_role_limit(
        self, actor_id: int, guild_id: int, role_id: int, images: int | None
    ) -> Change[int | None]:
        """Set a role's daily limit (members get their best role's); None clears it."""
        apply = partial(
            admin_sql.set_role_limit,
            guild_id=guild_id,
            role_id=role_id,
            value=self._limit(images),
        )
        return await self._change(actor_id, guild_id, "role_limit", ("role", role_id), apply)

    async def set_guild_default(
        self, actor_id: int, guild_id: int, images: int | None
    ) -> Change[int | None]:
        """Set the guild's default daily limit; None falls back to the global default."""
        apply = partial(admin_sql.set_guild_default, guild_id=guild_id, value=self._limit(images))
        return await self._change(actor_id, guild_id, "guild_default", ("guild", guild_id), apply)

    async def grant(self, actor_id: int, guild_id: int, user_id: int, images: int) -> Change[int]:
        """Give a member extra images for today only; old/new are today's granted total."""
        if not 1 <= images <= MAX_DAILY_IMAGES:
            raise BadValue("grant", least=1, most=MAX_DAILY_IMAGES)
        apply = partial(admin_sql.grant, guild_id=guild_id, user_id=user_id, images=images)
        return await self._change(actor_id, guild_id, "grant", ("member", user_id), apply)

    async def reset_usage(self, actor_id: int, guild_id: int, user_id: int) -> Change[int]:
        """Forgive what a member used today (jobs still running count when they finish)."""
        apply = partial(admin_sql.reset_usage, guild_id=guild_id, user_id=user_id)
        return await self._change(actor_id, guild_id, "reset_usage", ("member", user_id), apply)

    async def block(
        self,
        actor_id: int,
        guild_id: int,
        user_id: int,
        reason: str,
        duration: timedelta | None = None,
    ) -> Change[BlockValue]:
        """Stop a member from making images here, for `duration` (None: until unblocked);
        old/new are block values (admin_sql.block_value; None: not blocked)."""
        text = reason.strip() or "no reason given"
        if duration is not None and not MIN_BLOCK <= duration <= MAX_BLOCK:
            raise BadValue("block_days", most=MAX_BLOCK.days)
        apply = partial(
            admin_sql.set_block,
            guild_id=guild_id,
            user_id=user_id,
            reason=text,
            duration=duration,
            actor_id=actor_id,
        )
        return await self._change(
            actor_id, guild_id, "block", ("member", user_id), apply, reason=text
        )

    async def unblock(self, actor_id: int, guild_id: int, user_id: int) -> Change[BlockValue]:
        """Let a blocked member make images again (old None: they were not blocked)."""
        apply = partial(
            admin_sql.set_block,
            guild_id=guild_id,
            user_id=user_id,
            reason=None,
            duration=None,
            actor_id=actor_id,
        )
        return await self._change(actor_id, guild_id, "unblock", ("member", user_id), apply)

    async def set_budget(
        self, actor_id: int, guild_id: int, usd_per_month: Decimal | float | None
    ) -> Change[float | None]:
        """Set the guild's monthly budget in USD; 0 or None removes it."""
        amount = Decimal(str(usd_per_month or 0))
        if not amount.is_finite() or not 0 <= amount <= MAX_BUDGET_USD:
            raise BadValue("budget_usd", least=0, most=int(MAX_BUDGET_USD))
        micros = to_micros(amount) or None
        apply = partial(admin_sql.set_budget, guild_id=guild_id, micros=micros)
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
        body = partial(
            change_settings,
            guild_id=guild_id,
            actor_id=actor_id,
            wanted={"moderator_role_id": moderator_role_id, "log_channel_id": log_channel_id},
            now=self.ledger.now(),
        )
        return await self.ledger.transaction(body)

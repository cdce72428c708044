"""Moderators' read-only views of the ledger, and the audit log (written and read).

The SQL of the leaderboards, the month report, the list of limits and blocks and the job
lookup is in bot/ledger/report_sql.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Literal

import orjson

from bot.core.errors import BadValue
from bot.ledger import quotas as ledger_sql
from bot.ledger import report_sql
from bot.ledger.facade import Ledger
from bot.ledger.models import JobRecord, MemberStatus, Requester, day_key, iso, month_key, usd
from bot.ledger.report_sql import JobDetail, Leaderboard, MonthReport, Period, PolicyPage
from bot.ledger.store import Tx

TargetKind = Literal["member", "role", "guild"]


@dataclass(frozen=True, slots=True)
class GuildConfig:
    """A guild's settings; None means the default (global limit, no budget, unset)."""

    guild_id: int
    default_daily_images: int | None
    monthly_budget_usd: float | None
    moderator_role_id: int | None
    log_channel_id: int | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit row; old and new are the JSON values written at the time."""

    id: int
    actor_id: int
    action: str
    target_kind: TargetKind
    target_id: int
    old: Any
    new: Any
    reason: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuditPage:
    """A page of the audit log, newest first; pass next_before_id for the next page."""

    entries: list[AuditEntry]
    next_before_id: int | None


async def write_audit(
    tx: Tx,
    *,
    guild_id: int,
    actor_id: int,
    action: str,
    target: tuple[TargetKind, int],
    old: Any,
    new: Any,
    now: datetime,
    reason: str | None = None,
) -> int:
    """Write one audit row inside the caller's transaction; return its id."""
    audit_id: int = await tx.value(
        "INSERT INTO audit_log (guild_id, actor_id, action, target_kind, target_id, "
        "old_value, new_value, reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "RETURNING id",
        guild_id, actor_id, action, target[0], target[1], orjson.dumps(old).decode(),
        orjson.dumps(new).decode(), reason, iso(now),
    )  # fmt: skip
    return audit_id


def guild_only(guild_id: int) -> int:
    """The guild id, or a member-facing refusal for direct messages."""
    if guild_id <= 0:
        raise BadValue("server_only")
    return guild_id


async def read_guild_config(tx: Tx, guild_id: int) -> GuildConfig:
    """A guild's settings row, or all defaults when it has none."""
    row = await tx.one(
        "SELECT default_daily_images, monthly_budget_micros, moderator_role_id, "
        "log_channel_id FROM guild_settings WHERE guild_id = ?",
        guild_id,
    )
    default, budget, role, channel = row if row else (None, None, None, None)
    return GuildConfig(guild_id, default, None if budget is None else usd(budget),
                       role, channel)  # fmt: skip


async def read_month_spend(tx: Tx, guild_id: int, month: str) -> tuple[float, float | None]:
    """The guild's charges in this month and its budget (None: none), in USD."""
    charged, _held = await ledger_sql.guild_month_spend(tx, guild_id, month)
    budget = await tx.value(
        "SELECT monthly_budget_micros FROM guild_settings WHERE guild_id = ?", guild_id
    )
    return usd(charged), None if budget is None else usd(budget)


async def read_audit_page(
    tx: Tx,
    *,
    guild_id: int,
    target_user_id: int | None,
    limit: int,
    before_id: int | None,
) -> AuditPage:
    """Up to `limit` audit rows before before_id, newest first, optionally about one member."""
    where = "guild_id = ? AND id < ?"
    args: list[Any] = [guild_id, before_id or 2**63 - 1]
    if target_user_id is not None:
        where += " AND target_kind = 'member' AND target_id = ?"
        args.append(target_user_id)
    # One row more than asked says whether there is a next page.
    rows = await tx.all(
        "SELECT id, actor_id, action, target_kind, target_id, old_value, new_value, "
        f"reason, created_at FROM audit_log WHERE {where} ORDER BY id DESC LIMIT ?",
        *args, limit + 1,
    )  # fmt: skip
    entries = [
        AuditEntry(row[0], row[1], row[2], row[3], row[4], _json(row[5]), _json(row[6]),
                   row[7], datetime.fromisoformat(row[8]))
        for row in rows[:limit]
    ]  # fmt: skip
    more = len(rows) > limit
    return AuditPage(entries, entries[-1].id if more and entries else None)


class LedgerReports:
    """What moderators can read about one guild: settings, members, leaders, the month, limits
    and blocks, jobs, the audit log."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def guild_config(self, guild_id: int) -> GuildConfig:
        """A guild's settings (the moderator role for permission checks, the log channel)."""
        body = partial(read_guild_config, guild_id=guild_id)
        return await self.ledger.transaction(body, write=False)

    async def member_status(
        self, guild_id: int, user_id: int, role_ids: tuple[int, ...] = ()
    ) -> MemberStatus:
        """A member's status as the member sees it."""
        return await self.ledger.status(Requester(user_id, guild_only(guild_id), role_ids))

    async def history(self, guild_id: int, user_id: int, limit: int = 10) -> list[JobRecord]:
        """A member's latest jobs in this guild."""
        return await self.ledger.history(guild_only(guild_id), user_id, limit)

    async def leaderboard(
        self, guild_id: int, period: Period = "day", limit: int = 10
    ) -> Leaderboard:
        """The guild's biggest users this UTC day or month (charged, before any reset), images
        then cost, and the totals over every member."""
        scope, now = guild_only(guild_id), self.ledger.now()
        if period == "day":
            first = last = day_key(now)
        else:
            first, last = report_sql.month_days(month_key(now))
        body = partial(
            report_sql.read_leaderboard, scope=scope, first_day=first, last_day=last, limit=limit
        )
        return await self.ledger.transaction(body, write=False)

    async def month_report(self, guild_id: int, limit: int = 5) -> MonthReport:
        """This UTC month in the guild: charges per day, total, budget and top members."""
        body = partial(
            report_sql.read_month_report,
            scope=guild_only(guild_id),
            month=month_key(self.ledger.now()),
            limit=limit,
        )
        return await self.ledger.transaction(body, write=False)

    async def policies(self, guild_id: int, *, limit: int, offset: int = 0) -> PolicyPage:
        """A page of the guild's member overrides, role limits and blocks in force."""
        body = partial(
            report_sql.read_policies,
            scope=guild_only(guild_id),
            now=self.ledger.now(),
            limit=limit,
            offset=offset,
        )
        return await self.ledger.transaction(body, write=False)

    async def job(self, guild_id: int, job_id: int) -> JobDetail | None:
        """A job asked in this guild, or None (another guild's, a direct message's, or none)."""
        body = partial(report_sql.read_guild_job, scope=guild_only(guild_id), job_id=job_id)
        return await self.ledger.transaction(body, write=False)

    async def month_spend(self, guild_id: int) -> tuple[float, float | None]:
        """The guild's charges this month and its budget, in USD."""
        guild_only(guild_id)
        body = partial(read_month_spend, guild_id=guild_id, month=month_key(self.ledger.now()))
        return await self.ledger.transaction(body, write=False)

    async def audit_log(
        self,
        guild_id: int,
        *,
        target_user_id: int | None = None,
        limit: int = 10,
        before_id: int | None = None,
    ) -> AuditPage:
        """A page of the guild's audit log, newest first, optionally about one member."""
        body = partial(
            read_audit_page,
            guild_id=guild_only(guild_id),
            target_user_id=target_user_id,
            limit=limit,
            before_id=before_id,
        )
        return await self.ledger.transaction(body, write=False)


def _json(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)

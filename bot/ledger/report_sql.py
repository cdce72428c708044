"""The SQL of moderators' reads: leaderboards, the month's spend by day, the list of limits
and blocks, and one job; bodies that LedgerReports runs in one read transaction.

Every function takes the guild's scope (never 0: LedgerReports refuses direct messages first)
and reads that guild's rows only: one server's data never shows in another.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from bot.ledger import jobs as ledger_jobs
from bot.ledger import quotas as ledger_sql
from bot.ledger.models import JobRecord, iso, usd
from bot.ledger.store import Tx

Period = Literal["day", "month"]
PolicyKind = Literal["member_limit", "role_limit", "block"]


@dataclass(frozen=True, slots=True)
class TopMember:
    """A member's images and cost in a period, for the leaderboard."""

    user_id: int
    images: int
    cost_micros: int

    @property
    def cost_usd(self) -> float:
        """The period's charges in USD."""
        return usd(self.cost_micros)


@dataclass(frozen=True, slots=True)
class Leaderboard:
    """The top members of a period and the totals over every member (the top included)."""

    members: list[TopMember]
    total_members: int
    total_images: int
    total_micros: int


@dataclass(frozen=True, slots=True)
class MonthReport:
    """A guild's month: charges per UTC day (index 0 is the 1st), budget, top members."""

    month: str
    daily_micros: tuple[int, ...]
    charged_micros: int
    budget_micros: int | None
    board: Leaderboard


@dataclass(frozen=True, slots=True)
class PolicyEntry:
    """One member override, role limit or block in force."""

    kind: PolicyKind
    target_id: int  # a member, or a role for role_limit
    images: int | None = None  # the daily limit (member_limit, role_limit)
    reason: str | None = None  # a block's
    since: datetime | None = None  # when the block began
    until: datetime | None = None  # when the block ends; None: until unblocked
    by: int | None = None  # who blocked


@dataclass(frozen=True, slots=True)
class PolicyPage:
    """A page of the guild's overrides, role limits and blocks, and how many of each."""

    entries: list[PolicyEntry]
    has_more: bool
    counts: dict[PolicyKind, int]


@dataclass(frozen=True, slots=True)
class JobDetail:
    """One job as moderators see it: the record and its kind of failure (jobs.failure)."""

    record: JobRecord
    failure: str | None


def month_days(month: str) -> tuple[str, str]:
    """The first and last day keys of a 'YYYY-MM' month."""
    year, number = (int(part) for part in month.split("-"))
    last = calendar.monthrange(year, number)[1]
    return date(year, number, 1).isoformat(), date(year, number, last).isoformat()


async def read_leaderboard(
    tx: Tx, *, scope: int, first_day: str, last_day: str, limit: int
) -> Leaderboard:
    """Members with charges between two days (inclusive): most images first, then most cost;
    and the totals over all of them. Charged counts are kept before any moderator reset."""
    per_member = (
        "SELECT user_id, SUM(images_charged) AS images, SUM(cost_charged_micros) AS micros "
        "FROM member_usage WHERE guild_id = ? AND day BETWEEN ? AND ? GROUP BY user_id "
        "HAVING SUM(images_charged) > 0 OR SUM(cost_charged_micros) > 0"
    )
    span = (scope, first_day, last_day)
    rows = await tx.all(
        f"{per_member} ORDER BY images DESC, micros DESC, user_id LIMIT ?", *span, limit
    )
    totals = await tx.one(
        "SELECT COUNT(*), COALESCE(SUM(images), 0), COALESCE(SUM(micros), 0) "
        f"FROM ({per_member}) AS m",
        *span,
    )
    assert totals is not None
    count, images, micros = totals
    return Leaderboard([TopMember(*row) for row in rows], count, images, micros)


async def read_month_report(tx: Tx, *, scope: int, month: str, limit: int) -> MonthReport:
    """The month's charges per day, its total and budget, and its top members, in one read."""
    first, last = month_days(month)
    rows = await tx.all(
        "SELECT day, SUM(cost_charged_micros) FROM member_usage "
        "WHERE guild_id = ? AND day BETWEEN ? AND ? GROUP BY day",
        scope, first, last,
    )  # fmt: skip
    by_day = {row[0]: row[1] for row in rows}
    days = int(last[-2:])
    daily = tuple(int(by_day.get(f"{month}-{day:02d}", 0)) for day in range(1, days + 1))
    charged, _held = await ledger_sql.guild_month_spend(tx, scope, month)
    budget = await tx.value(
        "SELECT monthly_budget_micros FROM guild_settings WHERE guild_id = ?", scope
    )
    board = await read_leaderboard(tx, scope=scope, first_day=first, last_day=last, limit=limit)
    return MonthReport(month, daily, charged, budget, board)


# Member overrides, role limits, then blocks in force (bound: the scope, the time). The first
# branch names each column's type: PostgreSQL types a UNION's NULLs from left to right.
_NONE = "CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS BIGINT)"
_POLICIES = (
    f"SELECT 'member_limit' AS kind, user_id AS target, daily_images, {_NONE} "
    "FROM member_policies WHERE guild_id = ?1 AND daily_images IS NOT NULL "
    f"UNION ALL SELECT 'role_limit', role_id, daily_images, {_NONE} "
    "FROM role_limits WHERE guild_id = ?1 "
    "UNION ALL SELECT 'block', user_id, NULL, block_reason, blocked_at, blocked_until, "
    "blocked_by FROM member_policies WHERE guild_id = ?1 AND "
    + ledger_sql.BLOCK_IN_FORCE.replace("?", "?2")
)
_ORDER = "CASE kind WHEN 'member_limit' THEN 0 WHEN 'role_limit' THEN 1 ELSE 2 END, target"


async def read_policies(
    tx: Tx, *, scope: int, now: datetime, limit: int, offset: int
) -> PolicyPage:
    """A page of the guild's member overrides, role limits and blocks in force, in that order."""
    args = (scope, iso(now))
    rows = await tx.all(
        f"SELECT * FROM ({_POLICIES}) AS p ORDER BY {_ORDER} LIMIT ?3 OFFSET ?4",
        *args, limit + 1, offset,
    )  # fmt: skip
    counted = await tx.all(f"SELECT kind, COUNT(*) FROM ({_POLICIES}) AS p GROUP BY kind", *args)
    counts = {row[0]: row[1] for row in counted}
    entries = [
        PolicyEntry(kind, target, images, reason, _when(since), _when(until), by)
        for kind, target, images, reason, since, until, by in rows[:limit]
    ]
    every: tuple[PolicyKind, ...] = ("member_limit", "role_limit", "block")
    return PolicyPage(entries, len(rows) > limit, {kind: counts.get(kind, 0) for kind in every})


async def read_guild_job(tx: Tx, *, scope: int, job_id: int) -> JobDetail | None:
    """The job if it was asked in this guild; None for another guild's, a DM's, or no job."""
    row = await tx.one("SELECT failure FROM jobs WHERE id = ? AND guild_id = ?", job_id, scope)
    if row is None:
        return None
    record = await ledger_jobs.load_job(tx, job_id)
    return None if record is None else JobDetail(record, row[0])


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)

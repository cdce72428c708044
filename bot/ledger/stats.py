"""Read-only operator figures for `python -m bot stats`: today's jobs, failures, spend."""

from __future__ import annotations

from dataclasses import dataclass

from bot.ledger.models import guild_of
from bot.ledger.store import Tx


@dataclass(frozen=True, slots=True)
class Stats:
    """What happened on one UTC day, and the month's spend per guild."""

    day: str
    month: str
    jobs_by_status: dict[str, int]
    images_charged: int  # generated and paid for
    images_sent: int  # of those, reached Discord
    jobs_waiting: int  # charged jobs whose images wait in the results store
    failures_by_kind: dict[str, int]
    spend_by_guild: dict[int | None, int]  # micro-dollars this month; None = DMs


async def collect(tx: Tx, *, day: str, month: str) -> Stats:
    """One consistent read of the day's jobs and the month's charges."""
    rows = await tx.all("SELECT status, COUNT(*) FROM jobs WHERE day = ? GROUP BY status", day)
    by_status = {row[0]: int(row[1]) for row in rows}
    totals = await tx.one(
        "SELECT COALESCE(SUM(images_charged), 0), COALESCE(SUM(images_sent), 0), "
        "COUNT(*) FILTER (WHERE delivery IN ('pending', 'waiting')) FROM jobs WHERE day = ?",
        day,
    )
    assert totals is not None
    charged, sent, waiting = totals
    rows = await tx.all(
        "SELECT COALESCE(failure, status) AS failure_kind, COUNT(*) FROM jobs WHERE day = ?"
        " AND status NOT IN ('succeeded', 'queued', 'running') GROUP BY failure_kind"
        " ORDER BY COUNT(*) DESC, failure_kind",
        day,
    )
    failures = {row[0]: int(row[1]) for row in rows}
    rows = await tx.all(
        "SELECT guild_id, SUM(cost_charged_micros) FROM jobs WHERE month = ?"
        " GROUP BY guild_id ORDER BY SUM(cost_charged_micros) DESC, guild_id",
        month,
    )
    spend = {guild_of(scope): int(micros) for scope, micros in rows}
    return Stats(day, month, by_status, int(charged), int(sent), int(waiting), failures, spend)

"""`python -m bot stats`: today's jobs, failures by kind and this month's spend by guild."""

from __future__ import annotations

import sys
from functools import partial

from bot.config import Settings
from bot.core.prices import default_prices
from bot.discord.wording import format_usd
from bot.ledger.database import DatabaseError
from bot.ledger.facade import Ledger, utc_now
from bot.ledger.models import day_key, month_key
from bot.ledger.opener import open_store
from bot.ledger.stats import Stats, collect


def render(stats: Stats) -> list[str]:
    """The report as lines of text."""
    jobs = sum(stats.jobs_by_status.values())
    statuses = ", ".join(f"{n} {status}" for status, n in sorted(stats.jobs_by_status.items()))
    lines = [
        f"jobs on {stats.day} (UTC): {jobs}" + (f" ({statuses})" if statuses else ""),
        f"images charged: {stats.images_charged} ({stats.images_sent} delivered, "
        f"{stats.jobs_waiting} job(s) waiting for delivery)",
        "failures by kind:" + ("" if stats.failures_by_kind else " none"),
    ]
    lines += [f"  {kind}: {n}" for kind, n in stats.failures_by_kind.items()]
    lines.append(f"spend in {stats.month} by guild:" + ("" if stats.spend_by_guild else " none"))
    lines += [
        f"  {'direct messages' if guild is None else guild}: {format_usd(micros)}"
        for guild, micros in stats.spend_by_guild.items()
    ]
    return lines


async def run_stats(settings: Settings) -> int:
    """Print the report; return the exit code."""
    try:
        async with open_store(settings.database_path, settings.postgres_url) as store:
            ledger = Ledger(store, default_daily_images=0, prices=default_prices())
            now = utc_now()
            body = partial(collect, day=day_key(now), month=month_key(now))
            stats = await ledger.transaction(body, write=False)
    except (DatabaseError, OSError) as error:
        where = "DATABASE_URL" if settings.database_url else settings.database_path
        print(f"database: FAILED at {where}: {error}", file=sys.stderr)
        return 1
    for line in render(stats):
        print(line)
    return 0

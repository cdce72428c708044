"""One of several OS processes reserving at once on one PostgreSQL ledger (the overspend test).

Run: python -m tests.unit.ledger.reserver URL TASKS ATTEMPTS. It opens the ledger as the bot
does, prints `ready`, waits for a line on stdin (so every process starts together), then runs
TASKS concurrent tasks of ATTEMPTS reservations each: even attempts for the limited member
(each success settled at once, so settles interleave with the reserves), odd ones for a new
member of the budgeted guild (held). It prints what was granted as one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from bot.core.prices import default_prices
from bot.ledger.facade import JobSpec, Ledger, Requester
from bot.ledger.models import LedgerRefusal
from bot.ledger.postgres_db import open_postgres

LIMITED_GUILD, MEMBER = 500, 1  # the member's limit is the test's
BUDGET_GUILD = 600  # the guild's monthly budget is the test's


def spec(user: int, guild: int) -> JobSpec:
    """One dall-e-3 standard square image: $0.04 exactly, held and charged."""
    who = Requester(user_id=user, guild_id=guild)
    return JobSpec(who, "generate", "dall-e-3", 1, "1024x1024", "standard")


async def _task(ledger: Ledger, number: int, attempts: int, granted: dict[str, int]) -> None:
    for attempt in range(attempts):
        limited = attempt % 2 == 0
        user = MEMBER if limited else os.getpid() * 10_000 + number * 100 + attempt
        try:
            job = await ledger.reserve(spec(user, LIMITED_GUILD if limited else BUDGET_GUILD))
        except LedgerRefusal:
            continue
        granted["member" if limited else "guild"] += 1
        if limited:
            await ledger.settle(job.job_id, 1, None)


async def main(url: str, tasks: int, attempts: int) -> None:
    """Open, say ready, wait for go, reserve, report."""
    async with open_postgres(url) as store:
        ledger = Ledger(store, default_daily_images=1_000, prices=default_prices())
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        granted = {"member": 0, "guild": 0}
        await asyncio.gather(*(_task(ledger, n, attempts, granted) for n in range(tasks)))
    print(json.dumps(granted), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))

"""Several OS processes reserving at once on one PostgreSQL ledger never pass a member's limit
nor a guild's budget: exactly the limit and exactly the budget are granted, no more.

This is what READ COMMITTED got wrong when SQLite's reserve was copied as it was (260 held
against a budget of 250, 105 against a limit of 100, with 4 processes): each process's own
check passed on a count another had not committed yet.
"""

from __future__ import annotations

import asyncio
import json
import sys
from decimal import Decimal
from pathlib import Path

from bot.core.prices import default_prices
from bot.ledger.admin import LedgerAdmin
from bot.ledger.facade import Ledger
from bot.ledger.holds import estimate
from bot.ledger.opener import open_store
from tests.places import rows
from tests.postgres import PostgresServer
from tests.unit.ledger.reserver import BUDGET_GUILD, LIMITED_GUILD, MEMBER, spec

PROCESSES, TASKS, ATTEMPTS = 4, 25, 6  # 300 attempts at each ceiling
LIMIT, BUDGET_JOBS = 100, 250
REPO = str(Path(__file__).resolve().parents[3])


async def _start(url: str) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.unit.ledger.reserver", url, str(TASKS), str(ATTEMPTS),
        cwd=REPO, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
    assert line == b"ready\n", line
    return process


async def _finish(process: asyncio.subprocess.Process) -> dict[str, int]:
    out, _ = await asyncio.wait_for(process.communicate(b"go\n"), timeout=120)
    assert process.returncode == 0
    granted: dict[str, int] = json.loads(out)
    return granted


async def test_processes_reserving_at_once_stop_exactly_at_the_limit_and_the_budget(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    url = await postgres_server.new_database()
    cost = estimate(default_prices(), spec(MEMBER, BUDGET_GUILD)).total_micros
    async with open_store(tmp_path / "unused.sqlite3", url) as store:
        admin = LedgerAdmin(Ledger(store, default_daily_images=0, prices=default_prices()))
        await admin.set_member_limit(9, LIMITED_GUILD, MEMBER, LIMIT)
        await admin.set_budget(9, BUDGET_GUILD, Decimal(BUDGET_JOBS * cost) / 1_000_000)

        processes = [await _start(url) for _ in range(PROCESSES)]
        granted = await asyncio.gather(*(_finish(process) for process in processes))

        assert sum(g["member"] for g in granted) == LIMIT
        assert sum(g["guild"] for g in granted) == BUDGET_JOBS
        assert all(g["member"] and g["guild"] for g in granted), granted  # all took part
        assert await rows(
            store,
            "SELECT images_charged, images_held FROM member_usage WHERE guild_id = ?",
            LIMITED_GUILD,
        ) == [(LIMIT, 0)]
        assert await rows(
            store,
            "SELECT charged_micros, held_micros FROM guild_spend WHERE guild_id = ?",
            BUDGET_GUILD,
        ) == [(0, BUDGET_JOBS * cost)]

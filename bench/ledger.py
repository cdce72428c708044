"""Ledger throughput: reserve+settle pairs per second with 100 concurrent tasks, on SQLite and,
with --postgres, on PostgreSQL in the same run.

Run: .venv/bin/python bench/ledger.py [--pairs 20000] [--tasks 100] [--connections 1]
     [--postgres [URL]]

Each task loops reserve -> settle (one image, usage given) for a member of a guild with a
role limit and a monthly budget, so every reserve does the full check (block, member
override, roles, guild default, today's usage, the month's spend). With --connections N
the tasks are spread over N stores (and N Ledgers), as N bot processes would be.
--postgres alone starts a throwaway server from the machine's binaries (as the tests do,
fsync off); with a URL it uses that (empty) database. Targets: 1,000 pairs/s on SQLite
(issue 3), 500 on PostgreSQL (issue 18), on a 2-core machine.

Measured here (2 cores shared with other work, Python 3.11, SQLite 3.40, WAL, synchronous
NORMAL, 20,000 pairs after a warm-up):
- whole transaction as one call on the aiosqlite thread (what bot/ledger/sqlite_store.py
  does): 3,300-4,300 pairs/s on one connection; 3,400-4,300 spread over 2-4 connections;
- the same statements awaited one by one through aiosqlite behind an asyncio.Lock
  (a throwaway variant, not kept): 430-870 pairs/s, below the target.
See docs/architecture.md for the PostgreSQL figures.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import sys
import tempfile
import time
from contextlib import AsyncExitStack, ExitStack
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.core.models import Usage
from bot.core.prices import default_prices
from bot.ledger.admin import LedgerAdmin
from bot.ledger.facade import JobSpec, Ledger, Requester
from bot.ledger.opener import open_store

GUILD = 1_000
ROLE = 77
MEMBERS = 500


def _spec(user: int) -> JobSpec:
    who = Requester(user_id=user, guild_id=GUILD, role_ids=(ROLE, ROLE + 1), channel_id=5)
    return JobSpec(who, "generate", "gpt-image-1", 1, "1024x1024", "low", {"prompt": "a cat"})


async def _worker(ledger: Ledger, users: itertools.cycle[int], left: list[int]) -> int:
    done = 0
    usage = Usage(input_text_tokens=10, output_tokens=272)
    while left[0] > 0:
        left[0] -= 1
        reservation = await ledger.reserve(_spec(next(users)))
        await ledger.settle(reservation.job_id, 1, usage)
        done += 1
    return done


async def run(
    pairs: int, tasks: int, connections: int, folder: Path, url: str | None = None
) -> float:
    """Run the benchmark on SQLite in `folder` (or PostgreSQL at `url`); return pairs/s."""
    async with AsyncExitStack() as stack:
        stores = [
            await stack.enter_async_context(open_store(folder / "bench.sqlite3", url))
            for _ in range(connections)
        ]
        ledgers = [Ledger(s, default_daily_images=10, prices=default_prices()) for s in stores]
        admin = LedgerAdmin(ledgers[0])
        await admin.set_role_limit(1, GUILD, ROLE, 100_000)
        await admin.set_budget(1, GUILD, Decimal(1_000_000))
        users = itertools.cycle(range(1, MEMBERS + 1))
        left = [min(pairs // 10, 2_000)]  # warm-up: caches, statement plans, WAL
        await asyncio.gather(*(_worker(ledgers[i % connections], users, left)
                               for i in range(tasks)))  # fmt: skip
        gc.collect()
        left = [pairs]
        started = time.perf_counter()
        counts = await asyncio.gather(
            *(_worker(ledgers[i % connections], users, left) for i in range(tasks))
        )
        elapsed = time.perf_counter() - started
    return sum(counts) / elapsed


def _postgres_url(given: str, stack: ExitStack) -> str:
    """The URL to use: the one given, or a throwaway server's (stopped when `stack` closes)."""
    if given:
        return given
    from tests.postgres import start_server  # the tests' own server: binaries on this machine

    server = start_server()
    stack.callback(server.stop)
    return asyncio.run(server.new_database())


def main() -> None:
    """Parse options, run, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20_000)
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument(
        "--postgres", nargs="?", const="", default=None, metavar="URL",
        help="also run on PostgreSQL (no URL: a throwaway server from this machine's binaries)",
    )  # fmt: skip
    args = parser.parse_args()
    shape = f"{args.pairs} pairs, {args.tasks} concurrent tasks, {args.connections} store(s)"
    with tempfile.TemporaryDirectory() as folder:
        rate = asyncio.run(run(args.pairs, args.tasks, args.connections, Path(folder)))
    print(f"reserve+settle on SQLite:     {rate:,.0f} pairs/s ({shape})")
    if args.postgres is None:
        return
    with ExitStack() as stack:
        url = _postgres_url(args.postgres, stack)
        rate = asyncio.run(run(args.pairs, args.tasks, args.connections, Path("."), url))
    print(f"reserve+settle on PostgreSQL: {rate:,.0f} pairs/s ({shape})")


if __name__ == "__main__":
    main()

"""A slow round of restart notices never holds up the lease's heartbeats (issue 19): taking a
dead process's jobs while an earlier round still waits (for the gateway, for Discord's rate
limits) queues the next round behind it instead of waiting in keep_lease, whose heartbeats
would otherwise stop past the lease and get this live process taken and stopped.

The real ledger, leases and notices on PostgreSQL; the bot is a stand-in holding them, whose
Discord never becomes ready (the notice round that blocks)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from bot.discord.notices import Notices
from bot.discord.takeover import keep_lease
from bot.images.store import ResultStore
from bot.ledger.facade import JobSpec, Ledger, Requester
from bot.ledger.leases import Leases
from bot.ledger.moderation import LedgerModeration
from tests.leased import leased_database
from tests.postgres import PostgresServer

LEASE = 0.4  # seconds: the test's lease, short so that missed heartbeats show quickly


class NeverReady:
    """A Discord client whose gateway never comes up: a notice round waits for ever."""

    async def wait_until_ready(self) -> None:
        await asyncio.Event().wait()


class CountedLeases(Leases):
    """The real lease, counting its heartbeats."""

    beats = 0

    async def heartbeat(self) -> bool:
        """Renew the lease, and count it."""
        self.beats += 1
        return await super().heartbeat()


class StandInBot:
    """What take_over and keep_lease use of the bot."""

    def __init__(self, ledger: Ledger, results: ResultStore) -> None:
        self.ledger = ledger
        self.results = results
        self.notices = Notices(NeverReady(), ledger, LedgerModeration(ledger))  # type: ignore[arg-type]
        self.background: set[asyncio.Task[None]] = set()
        self.closed = False

    def in_background(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(work, name=name)
        self.background.add(task)
        return task

    async def close(self) -> None:
        self.closed = True


def spec() -> JobSpec:
    who = Requester(user_id=222, guild_id=None, channel_id=None)
    return JobSpec(who, "generate", "dall-e-3", 1, "1024x1024", "standard", {"prompt": "a fox"})


async def test_heartbeats_go_on_while_an_earlier_notice_round_waits(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    async with leased_database(postgres_server) as db:
        # A dead process left a queued job: taking it owes its member a notice.
        await db.leases("dead").register()
        job = (await db.ledger("dead").reserve(spec())).job_id
        await db.stop_heartbeat("dead")

        results = ResultStore(tmp_path / "results", keep_days=1, max_bytes=10**8)
        bot = StandInBot(db.ledger("survivor"), results)
        leases = CountedLeases(db.store, db.locks, "survivor")
        await leases.register()
        bot.notices.start_restart_notices([])  # a round already under way, waiting for Discord
        earlier = bot.notices.restart_task
        heart = asyncio.create_task(keep_lease(bot, leases, LEASE))  # type: ignore[arg-type]
        try:
            for _ in range(100):  # the first reclaim comes after one lease
                if bot.notices.restart_task is not earlier:
                    break
                await asyncio.sleep(0.05)
            record = await bot.ledger.job(job)
            assert record is not None and record.status == "interrupted", "nothing was taken"
            beats = leases.beats
            await asyncio.sleep(3 * LEASE)
            assert leases.beats >= beats + 6, "the heartbeats stopped behind the notice round"
            assert not heart.done() and not bot.closed
            assert earlier is not None and not earlier.done()
            queued = bot.notices.restart_task
            assert queued is not None and not queued.done()  # queued behind it
        finally:
            heart.cancel()
            rounds = {heart, *bot.background}
            if bot.notices.restart_task is not None:
                rounds.add(bot.notices.restart_task)
            for task in rounds:
                task.cancel()
            await asyncio.gather(*rounds, return_exceptions=True)
            assert earlier is not None and earlier.cancelled()  # cancelling the newest ends all
            results.close()

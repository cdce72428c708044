"""Shards across processes: which ones this process runs, and the locks that keep processes
on one database from tripping over each other at the gateway.

Discord sends a guild's events on shard `(guild_id >> 22) % shard_count` and direct messages on
shard 0; `SHARD_COUNT` and `SHARD_IDS` say which of them this process holds (every process
gets the same count). Three things are done once across the processes, under the fleet's
locks (bot/ledger/fleet.py: PostgreSQL advisory locks, or in-process ones on SQLite):

* a shard is held by one process at a time (`shard:<count>:<id>`): a second process given the
  same shards is a hot standby, waiting until the first one's connection is gone;
* IDENTIFYs keep Discord's pace: at most `max_concurrency` sessions start per 5 s, bucket
  `shard_id % max_concurrency`; discord.py spaces them only within one process, so each
  IDENTIFY takes its bucket's lock and keeps it for `IDENTIFY_SPACING` s;
* the commands are registered by one process only (`command-sync`, kept for the process's life):
  the others find the lock taken and leave Discord's commands alone.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import discord

from bot.ledger.fleet import FleetLocks

log = logging.getLogger(__name__)

IDENTIFY_SPACING = 5.0  # seconds Discord wants between IDENTIFYs of one bucket
SYNC_LOCK = "command-sync"


@dataclass(frozen=True, slots=True)
class ShardPlan:
    """This process's shards: `ids` out of `count` (every process is given the same count)."""

    count: int
    ids: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError("SHARD_COUNT must be at least 1")
        if not self.ids:
            raise ValueError("SHARD_IDS names no shard")
        wrong = [shard for shard in self.ids if not 0 <= shard < self.count]
        if wrong:
            raise ValueError(f"SHARD_IDS {wrong} are not below SHARD_COUNT {self.count}")
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("SHARD_IDS names a shard twice")

    @classmethod
    def of(cls, count: int | None, ids: tuple[int, ...] | None) -> ShardPlan | None:
        """The plan the settings give (None: unsharded, one gateway session)."""
        if count is None:
            if ids:
                raise ValueError("SHARD_IDS needs SHARD_COUNT")
            return None
        return cls(count, ids if ids else tuple(range(count)))

    def lock_names(self) -> list[str]:
        """One lock per shard held: another process given the same shards waits on them."""
        return [f"shard:{self.count}:{shard}" for shard in self.ids]

    def describe(self) -> str:
        """For the log: `shards 0, 2 of 4`."""
        listed = ", ".join(map(str, self.ids))
        return f"shard{'s' if len(self.ids) > 1 else ''} {listed} of {self.count}"


async def hold_shards(locks: FleetLocks, plan: ShardPlan) -> None:
    """Take this process's shards, waiting (a standby) while another process holds them."""
    for name in plan.lock_names():
        if await locks.acquire(name, wait=False):
            continue
        log.info("standby: another process holds %s; waiting to take it over", name)
        await locks.acquire(name)
        log.warning("took over %s: the process holding it is gone", name)


async def sync_once(locks: FleetLocks) -> bool:
    """Whether this process registers the commands: the first to start does, and keeps the
    lock while it runs, so processes starting beside it leave them alone."""
    if await locks.acquire(SYNC_LOCK, wait=False):
        return True
    log.info("another process registers the commands; leaving them alone")
    return False


class IdentifyPacer:
    """Spaces IDENTIFYs of one bucket across every process by `spacing` seconds."""

    def __init__(self, locks: FleetLocks, spacing: float = IDENTIFY_SPACING) -> None:
        self._locks = locks
        self.spacing = spacing
        self._concurrency: int | None = None
        self._releases: set[asyncio.Task[None]] = set()

    async def before_identify(self, client: discord.Client, shard_id: int | None) -> None:
        """Wait for this shard's bucket, then keep it `spacing` s from now."""
        bucket = (shard_id or 0) % await self._max_concurrency(client)
        name = f"identify:{bucket}"
        await self._locks.acquire(name)
        task = asyncio.create_task(self._release_later(name), name=f"identify-bucket-{bucket}")
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _max_concurrency(self, client: discord.Client) -> int:
        """How many sessions Discord lets this bot start per window (asked once; 1 if unsure)."""
        if self._concurrency is None:
            try:
                _, _, limits = await client.http.get_bot_gateway()
                self._concurrency = max(1, int(limits.get("max_concurrency", 1)))
            except (discord.HTTPException, discord.GatewayNotFound, ValueError, TypeError):
                log.warning("could not read Discord's identify concurrency; starting one at a time")
                self._concurrency = 1
        return self._concurrency

    async def _release_later(self, name: str) -> None:
        try:
            await asyncio.sleep(self.spacing)
        finally:
            await self._locks.release(name)

    async def close(self) -> None:
        """Stop the pending releases (the locks go with the connection)."""
        for task in list(self._releases):
            task.cancel()
        await asyncio.gather(*self._releases, return_exceptions=True)

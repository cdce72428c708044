"""One PostgreSQL database as several leased processes share it (issue 19): the store, the
fleet's locks, and each process's leased Ledger and Leases, for the lease, takeover and spool
tests; and a process's heartbeat made an hour old (it stopped long ago)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial

from bot.core.prices import default_prices
from bot.ledger.facade import JobSpec, Ledger, Requester
from bot.ledger.fleet import PostgresLocks, open_fleet
from bot.ledger.leases import Leases
from bot.ledger.opener import open_store
from bot.ledger.store import Store, Tx
from tests.postgres import PostgresServer


@dataclass
class Leased:
    """The shared database: a process's ledger and leases by its owner name."""

    store: Store
    locks: PostgresLocks

    def ledger(self, owner: str) -> Ledger:
        """The leased ledger of process `owner` (it settles and refunds only its own jobs)."""
        return Ledger(
            self.store, default_daily_images=5, prices=default_prices(), owner=owner, leased=True
        )

    def leases(self, owner: str) -> Leases:
        """Process `owner`'s lease."""
        return Leases(self.store, self.locks, owner)

    async def stop_heartbeat(self, owner: str) -> None:
        """Process `owner` missed its heartbeats for an hour: its lease may be taken."""
        await self.store.transaction(partial(_age_lease, owner=owner))


@asynccontextmanager
async def leased_database(server: PostgresServer) -> AsyncIterator[Leased]:
    """A fresh database on the test server, as several leased processes see it."""
    url = await server.new_database()
    async with open_store("unused", url) as store, open_fleet(url) as locks:
        assert isinstance(locks, PostgresLocks)
        yield Leased(store, locks)


def fox_spec() -> JobSpec:
    """A one-image generation in a guild."""
    who = Requester(user_id=222, guild_id=111, channel_id=333)
    params = {"prompt": "a red fox", "n": 1, "background": "auto"}
    return JobSpec(who, "generate", "gpt-image-1", 1, "1024x1024", "low", params)


async def _age_lease(tx: Tx, owner: str) -> None:
    await tx.run(
        "UPDATE processes SET heartbeat_at = now() - interval '1 hour' WHERE owner = ?", owner
    )

"""Owed notices and alerts are sent once, by whichever process claims them (issue 19), on each
backend: "processes" here are Ledgers on stores of their own (connections, pools) sharing one
database, racing with asyncio.gather.

- A restart notice is claimed by holding its job: only a lease reclaim moves a job to another
  process (bot/ledger/leases.py), so `notices_held` gives each job to one process at most,
  and a process whose job was taken can neither tell nor mark it.
- A budget alert is decided inside the settle that crosses 80% (the guild's spend row is locked
  by it), a cap alert by an insert into cap_alerts: one of any number of racers gets True.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from functools import partial

from bot.core.prices import default_prices
from bot.ledger.admin import LedgerAdmin
from bot.ledger.facade import JobSpec, Ledger, Requester
from bot.ledger.fleet import PostgresLocks, open_fleet
from bot.ledger.leases import Leases
from bot.ledger.store import Tx
from tests.places import Place
from tests.postgres import PostgresServer
from tests.unit.ledger.support import Clock

GUILD = 111
START = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


def dalle3(user: int = 222) -> JobSpec:
    """One dall-e-3 standard square image: $0.04, exactly."""
    who = Requester(user_id=user, guild_id=GUILD, channel_id=333)
    params = {"prompt": "a red fox", "n": 1}
    return JobSpec(who, "generate", "dall-e-3", 1, "1024x1024", "standard", params)


@asynccontextmanager
async def ledgers(place: Place, *owners: str, leased: bool = True) -> AsyncIterator[list[Ledger]]:
    """One Ledger per owner, each on a store (connection, pool) of its own."""
    clock = Clock(START)
    async with AsyncExitStack() as stack:
        found = []
        for owner in owners:
            store = await stack.enter_async_context(place.open())
            found.append(
                Ledger(
                    store,
                    default_daily_images=100,
                    prices=default_prices(),
                    clock=clock,
                    owner=owner,
                    leased=leased,
                )
            )
        yield found


async def test_a_notice_is_told_and_marked_only_by_the_process_holding_its_job(
    place: Place,
) -> None:
    async with ledgers(place, "holder", "other") as (holder, other):
        job = (await holder.reserve(dalle3())).job_id
        assert await holder.refund(job, "restarting", status="interrupted", owe_notice=True)
        assert await holder.notices_held([job]) == {job}
        assert await other.notices_held([job]) == set()
        await other.notices_sent([job])  # not its job: changes nothing
        assert [record.id for record in await holder.owed_notices()] == [job]
        await holder.notices_sent([job])
        assert await holder.notices_held([job]) == set()
        assert await holder.owed_notices() == []
    # Alone (no leases), the one process holds every owed notice, as before.
    async with ledgers(place, "alone", leased=False) as (alone,):
        job = (await alone.reserve(dalle3())).job_id
        assert await alone.refund(job, "restarting", status="interrupted", owe_notice=True)
        assert await alone.notices_held([job, job + 1]) == {job}


async def test_survivors_racing_for_the_dead_each_hold_their_own_notices(
    postgres_server: PostgresServer,
) -> None:
    url = await postgres_server.new_database()
    place = Place("postgres", postgres_server.folder / "unused.sqlite3", url)
    dead = [f"dead-{n}" for n in range(12)]
    async with (
        ledgers(place, *dead, "survivor-a", "survivor-b") as found,
        open_fleet(url) as locks,
    ):
        assert isinstance(locks, PostgresLocks)
        *dying, a, b = found
        owed: list[int] = []
        for ledger in dying:
            await Leases(ledger.store, locks, ledger.owner).register()
            for _ in range(2):
                job = (await ledger.reserve(dalle3())).job_id
                await ledger.refund(job, "stopped", status="interrupted", owe_notice=True)
                owed.append(job)  # refunded, then the process died before telling
            await ledger.reserve(dalle3())  # and one still queued
        survivors = [Leases(s.store, locks, s.owner) for s in (a, b)]
        for leases in survivors:
            await leases.register()
        took_a: list[int] = []
        took_b: list[int] = []
        for ledger in dying:  # one dies after another; both survivors reclaim at once
            await a.store.transaction(partial(_stop_heartbeat, owner=ledger.owner))
            got_a, got_b = await asyncio.gather(*(leases.reclaim() for leases in survivors))
            assert len(got_a + got_b) == 3, "its 3 jobs, each taken by one survivor"
            assert not (got_a and got_b), "two survivors shared a dead process"
            took_a += got_a
            took_b += got_b
        held_a, held_b = await a.notices_held(owed), await b.notices_held(owed)
        assert not held_a & held_b and held_a | held_b == set(owed)
        assert held_a == set(owed) & set(took_a)


async def _stop_heartbeat(tx: Tx, owner: str) -> None:
    await tx.run(
        "UPDATE processes SET heartbeat_at = now() - interval '1 hour' WHERE owner = ?", owner
    )


async def test_two_processes_crossing_the_budget_alert_at_once_send_one(place: Place) -> None:
    async with ledgers(place, "one", "two") as (one, two):
        admin = LedgerAdmin(one)
        await admin.set_budget(1, GUILD, 1.5)  # the alert at $1.20: the 30th job of $0.04
        await admin.set_guild_default(1, GUILD, 100)
        jobs = [
            (ledger, (await ledger.reserve(dalle3(user=200 + n))).job_id)
            for n, ledger in enumerate([one, two] * 18)
        ]
        settled = await asyncio.gather(*(ledger.settle(job, 1, None) for ledger, job in jobs))
        assert [s.images_charged for s in settled] == [1] * 36
        assert sum(s.budget_alert for s in settled) == 1


async def test_two_processes_reaching_a_cap_at_once_alert_once(place: Place) -> None:
    async with ledgers(place, "one", "two") as (one, two):
        tries = [
            ledger.first_alert("operator_daily", "2025-03-14", GUILD) for ledger in [one, two] * 10
        ]
        assert sum(await asyncio.gather(*tries)) == 1
        assert not await two.first_alert("operator_daily", "2025-03-14", GUILD)
        assert await two.first_alert("operator_daily", "2025-03-15", GUILD)  # a new period

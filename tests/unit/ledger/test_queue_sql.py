"""The shared fair queue's transactions on PostgreSQL: caps held exactly by claimers in several
"processes" (pools) at once, fair rounds, Cancel from anywhere, places in line."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from bot.ledger.opener import open_store
from bot.ledger.queue_sql import Caps, QueueTable
from bot.wisgate.pacer import Pacer
from tests.postgres import PostgresServer


@pytest.fixture
async def tables(
    postgres_server: PostgresServer, tmp_path: object
) -> AsyncIterator[list[QueueTable]]:
    """Three processes' views of one fresh database (a pool each)."""
    url = await postgres_server.new_database()
    async with AsyncExitStack() as stack:
        stores = [await stack.enter_async_context(open_store("unused", url)) for _ in range(3)]
        yield [QueueTable(store, f"process-{n}") for n, store in enumerate(stores)]


async def admitted(table: QueueTable) -> list[tuple[int, int | None]]:
    """(user, guild) of every admitted job, read from the table."""

    async def body(tx: object) -> list[tuple[int, int | None]]:
        rows = await tx.all("SELECT user_id, guild_id FROM queue WHERE state = 'admitted'")  # type: ignore[attr-defined]
        return [(int(u), g) for u, g in rows]

    return await table.store.transaction(body, write=False)


async def test_claimers_in_three_processes_hold_every_cap_exactly(tables: list[QueueTable]) -> None:
    job = 0
    for table in tables:  # each process queues jobs of 12 members in 2 guilds
        for member in range(12):
            for _ in range(3):
                job += 1
                await table.enqueue(job, 100 + member, 1 + member % 2, 1)
    caps = Caps(total=6, per_member=2, per_guild=3)
    results = await asyncio.gather(*(t.claim(caps) for t in tables for _ in range(4)))
    assert sum(len(r) for r in results) == 6
    rows = await admitted(tables[0])
    assert len(rows) == 6
    assert max(Counter(u for u, _ in rows).values()) <= 2
    assert Counter(g for _, g in rows) == {1: 3, 2: 3}
    # A freed slot goes to the next in turn, whichever process claims.
    first = results[0][0] if results[0] else next(a for r in results for a in r)
    await tables[2].release(first.job_id)
    again = await tables[1].claim(caps)
    assert len(again) == 1 and len(await admitted(tables[0])) == 6


async def test_one_members_burst_does_not_delay_the_others_first_jobs(
    tables: list[QueueTable],
) -> None:
    burst, others = 1, [2, 3, 4]
    for job in range(1, 11):
        await tables[0].enqueue(job, burst, 9, 1)
    for n, member in enumerate(others):
        await tables[1 + n % 2].enqueue(100 + n, member, 9, 1)
    order: list[int] = []
    caps = Caps(total=1)
    for turn in range(6):
        (admission,) = await tables[turn % 3].claim(caps)
        order.append(admission.job_id)
        await tables[turn % 3].release(admission.job_id)
    # The burst's first job had started alone; then each other member's first, in turn.
    assert order[:4] == [1, 100, 101, 102]
    assert order[4:] == [2, 3]


async def test_a_pacer_that_says_no_stops_the_next_in_turn(tables: list[QueueTable]) -> None:
    await tables[0].enqueue(1, 5, None, 4)
    await tables[0].enqueue(2, 6, None, 1)
    # The first asks 4 images and the window has room for 2: nobody passes it.
    assert await tables[1].claim(Caps(total=8), lambda: lambda running, cost: cost <= 2) == []
    await tables[1].publish_pause(30.0, 2)
    assert await tables[2].claim(Caps(total=8)) == []  # paused everywhere


async def test_cancel_from_another_process_and_places(tables: list[QueueTable]) -> None:
    for job in (1, 2, 3):
        await tables[0].enqueue(job, 10 + job, None, 1)
    (started,) = await tables[1].claim(Caps(total=1))
    assert started.job_id == 1 and started.owner == "process-0"
    places = {p.job_id: (p.state, p.position) for p in await tables[0].places()}
    assert places == {1: ("admitted", None), 2: ("waiting", 1), 3: ("waiting", 2)}
    assert await tables[2].cancel(1, 11) == "started"
    assert await tables[2].cancel(2, 99) == "not_yours"
    assert await tables[2].cancel(2, 12) == "cancelled"
    assert await tables[2].cancel(7, 12) == "unknown"
    assert {p.job_id: p.state for p in await tables[0].places()}[2] == "cancelled"
    assert await tables[0].withdraw(2)
    assert not await tables[0].withdraw(1)  # admitted: it runs


async def test_one_claim_admits_only_what_the_window_has_room_for(
    tables: list[QueueTable],
) -> None:
    for job in range(1, 6):
        await tables[0].enqueue(job, 10 + job, None, 1)
    pacer = Pacer(8)
    window = {"x-ratelimit-limit-requests": "10", "x-ratelimit-remaining-requests": "2",
              "x-ratelimit-reset-requests": "30s"}  # fmt: skip
    pacer.observe(200, window)
    # Each job the claim admits counts against the next: two fit, not all five.
    admitted = await tables[1].claim(Caps(total=8), pacer.trial)
    assert [a.job_id for a in admitted] == [1, 2]
    assert pacer.budget.left == 2  # spent only once the claim held (the claimer's side does)


async def test_every_claimer_reads_the_published_pause_and_limit(
    tables: list[QueueTable],
) -> None:
    for job in range(1, 6):
        await tables[0].enqueue(job, 10 + job, None, 1)
    await tables[0].publish_pause(0.4, 2)
    assert await tables[1].claim(Caps(total=8)) == []
    assert 0 < tables[1].pause.seconds <= 0.4 and tables[1].pause.call_limit == 2
    await asyncio.sleep(tables[1].pause.seconds + 0.05)
    admitted = await tables[2].claim(Caps(total=8))
    assert [a.job_id for a in admitted] == [1, 2]  # the published limit, not the caps' 8
    assert tables[2].pause.seconds == 0


async def test_a_pause_only_lowers_the_published_limit_and_growth_needs_the_last_read(
    tables: list[QueueTable],
) -> None:
    assert await tables[0].publish_pause(0.01, 2) == 2
    assert await tables[1].publish_pause(0.01, 4) == 2  # another halved further: theirs holds
    assert await tables[1].publish_limit(3, expected=4) is False  # it read 4: stale
    assert await tables[1].publish_limit(3, expected=2) is True
    await asyncio.sleep(0.02)
    await tables[2].claim(Caps(total=8))
    assert tables[2].pause.call_limit == 3

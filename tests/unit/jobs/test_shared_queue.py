"""The shared queue's process side (bot/jobs/shared_queue.py) on a real PostgreSQL: two
processes' queues (a pool and a LISTEN connection each) on one database: the caps hold across
them, a freed slot in one wakes a job of the other by NOTIFY, a Cancel pressed in one ends a
job waiting in the other, places are told."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

import pytest

from bot.jobs.queue import QueueCancelled, QueueLimits, Ticket
from bot.jobs.shared_queue import SharedQueue
from bot.ledger.fleet import open_fleet
from bot.ledger.opener import open_store
from bot.ledger.queue_sql import CHANNEL, Place, QueueTable
from bot.wisgate.pacer import Pacer
from tests.postgres import PostgresServer


@dataclass
class Item:
    """What the runner puts on a ticket: the job id is what the shared queue reads."""

    job_id: int


Queues = list[SharedQueue[Item]]


@pytest.fixture
async def queues(postgres_server: PostgresServer) -> AsyncIterator[Queues]:
    """Two processes' queues on one fresh database: 2 in total, 1 per member."""
    url = await postgres_server.new_database()
    async with AsyncExitStack() as stack:
        made: Queues = []
        for n in range(2):
            store = await stack.enter_async_context(open_store("unused", url))
            locks = await stack.enter_async_context(open_fleet(url))
            queue: SharedQueue[Item] = SharedQueue(
                QueueTable(store, f"process-{n}"), QueueLimits(2, per_member=1), poll=5.0
            )
            await locks.listen(CHANNEL, lambda _payload, q=queue: q.wake())
            stack.push_async_callback(queue.close)
            made.append(queue)
        yield made


async def admitted(ticket: Ticket[Item], within: float = 3.0) -> None:
    await asyncio.wait_for(asyncio.shield(ticket.admitted), within)


async def test_caps_hold_across_processes_and_notify_wakes_the_next(queues: Queues) -> None:
    first, second = queues
    a = first.join(Item(1), member=1, guild=7)
    b = second.join(Item(2), member=2, guild=7)
    await admitted(a)
    await admitted(b)
    c = first.join(Item(3), member=3, guild=7)  # total cap 2: waits
    d = second.join(Item(4), member=1, guild=7)  # member 1 has one running: waits
    await asyncio.sleep(0.3)
    assert c.state == "waiting" and d.state == "waiting"
    freed = time.monotonic()
    second.release(b)  # in the other process: NOTIFY wakes the first, far before its 5 s poll
    await admitted(c, 1.0)
    assert time.monotonic() - freed < 1.0
    assert d.state == "waiting"
    first.release(a)
    await admitted(d, 1.0)


async def test_a_cancel_pressed_in_another_process_ends_the_waiting_job(queues: Queues) -> None:
    first, second = queues
    moved: list[int | None] = []
    first.on_moved = lambda ticket: moved.append(ticket.position)
    running = [first.join(Item(n), member=n, guild=None) for n in (1, 2)]
    for ticket in running:
        await admitted(ticket)
    waiting = first.join(Item(3), member=3, guild=None)
    await asyncio.sleep(0.3)
    assert moved == [1]  # its place, told
    assert await second._table.cancel(3, 3) == "cancelled"
    with pytest.raises(QueueCancelled):
        await asyncio.wait_for(first.wait(waiting), 2.0)
    assert first.waiting == 0


class HeldReadings(QueueTable):
    """The database answering a reading of the places slowly: taken, then held back."""

    def __init__(self, table: QueueTable) -> None:
        super().__init__(table.store, table.owner)
        self.hold: asyncio.Event | None = None
        self.taken = asyncio.Event()

    async def places(self) -> list[Place]:
        """The places as read now, returned once `hold` is set."""
        reading = await super().places()
        if self.hold is not None:
            self.taken.set()
            await self.hold.wait()
        return reading


async def test_a_reading_taken_before_a_requeue_does_not_start_the_job_again(
    queues: Queues,
) -> None:
    first = queues[0]
    table = first._table = HeldReadings(first._table)
    pacer = first._pacer = Pacer(4)
    ticket = first.join(Item(1), member=1, guild=None)
    await admitted(ticket)
    table.hold = asyncio.Event()
    first.wake()
    await asyncio.wait_for(table.taken.wait(), 3.0)  # it says job 1 is admitted
    pacer.observe(429, {"retry-after": "30"})  # the job meets a rate limit meanwhile
    first.requeue(ticket)
    await asyncio.sleep(0.2)  # its row is written: waiting, the pause published
    table.hold.set()
    await asyncio.sleep(0.5)
    assert ticket.state == "waiting"  # not started again during the pause
    assert not ticket.admitted.done()


class FailingOnce(QueueTable):
    """The database failing the first requeue write (a dropped connection, say)."""

    def __init__(self, table: QueueTable) -> None:
        super().__init__(table.store, table.owner)
        self.failed = False

    async def requeue(self, job_id: int) -> None:
        """Fails once, then writes."""
        if not self.failed:
            self.failed = True
            raise ConnectionResetError("connection lost")
        await super().requeue(job_id)


async def test_a_requeue_that_fails_to_be_written_is_tried_again(queues: Queues) -> None:
    first = queues[0]
    table = first._table = FailingOnce(first._table)
    pacer = first._pacer = Pacer(4)
    ticket = first.join(Item(1), member=1, guild=None)
    await admitted(ticket)
    pacer.observe(429, {"retry-after": "0.2"})
    first.requeue(ticket)
    # Not written, the row would stay "admitted" and every reading stale: waiting forever.
    await admitted(ticket, 3.0)
    assert table.failed


RATE_LIMITED = {"retry-after": "0.1"}


async def test_a_halving_elsewhere_wins_over_a_limit_grown_back_here(queues: Queues) -> None:
    first, second = queues
    pacers = [Pacer(4), Pacer(4)]
    for queue, pacer in zip(queues, pacers, strict=True):
        queue._pacer = pacer
        pacer.subscribe(queue.wake)
    a = first.join(Item(1), member=1, guild=None)
    b = second.join(Item(2), member=2, guild=None)
    await admitted(a)
    await admitted(b)
    pacers[1].observe(429, RATE_LIMITED)  # the second halves 4 -> 2 and says so
    second.requeue(b)
    await admitted(b)
    second.release(b)
    await asyncio.sleep(0.3)
    assert pacers[0].limit == 2  # the first followed
    await second.close()  # the second reads nothing for a while (a busy process)
    pacers[0].observe(429, RATE_LIMITED)  # the first halves again, 2 -> 1, and publishes it
    first.requeue(a)
    await admitted(a)
    for _ in range(2):
        pacers[1].observe(200, {})  # the second grows back to 3 from the 2 it last read
    assert pacers[1].limit == 3
    await second._claim_and_read()  # its next claim
    assert [pacer.limit for pacer in pacers] == [1, 1]  # the halving held; 3 was not published

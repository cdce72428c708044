"""The fleet's locks: one holder across processes (connections) and within one process, and a
lock freed the moment its holder's connection dies (a standby's takeover)."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from bot.ledger.fleet import LocalLocks, PostgresLocks, open_fleet
from tests.postgres import PostgresServer


@pytest.fixture
async def url(postgres_server: PostgresServer) -> str:
    """A fresh database on the test server."""
    return await postgres_server.new_database()


async def test_local_locks_have_one_holder() -> None:
    locks = LocalLocks()
    assert await locks.acquire("x")
    assert not await locks.acquire("x", wait=False)
    waiter = asyncio.create_task(locks.acquire("x"))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    await locks.release("x")
    assert await asyncio.wait_for(waiter, 1)
    await locks.release("never-taken")  # nothing happens


async def test_one_process_holds_a_lock_the_others_wait(url: str) -> None:
    async with open_fleet(url) as first, open_fleet(url) as second:
        assert first.shared
        assert await first.acquire("shard:2:0")
        assert not await second.acquire("shard:2:0", wait=False)
        assert await second.acquire("shard:2:1", wait=False)  # another name: free
        waiter = asyncio.create_task(second.acquire("shard:2:0"))
        await asyncio.sleep(0.3)
        assert not waiter.done()
        await first.release("shard:2:0")
        assert await asyncio.wait_for(waiter, 2)


async def test_tasks_of_one_process_take_turns_though_postgres_locks_are_reentrant(
    url: str,
) -> None:
    async with open_fleet(url) as locks:
        assert await locks.acquire("identify:0")
        assert not await locks.acquire("identify:0", wait=False)
        waiter = asyncio.create_task(locks.acquire("identify:0"))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        await locks.release("identify:0")
        assert await asyncio.wait_for(waiter, 2)


async def test_a_dead_holders_lock_is_taken_over_within_a_poll(url: str) -> None:
    conn = await asyncpg.connect(url)
    holder = PostgresLocks(conn)
    assert await holder.acquire("shard:1:0")
    async with open_fleet(url) as standby:
        waiter = asyncio.create_task(standby.acquire("shard:1:0"))
        await asyncio.sleep(0.3)
        assert not waiter.done()
        killed = time.monotonic()
        conn.terminate()  # as when the process is SIGKILLed: no unlock, the socket just goes
        assert await asyncio.wait_for(waiter, 5)
        assert time.monotonic() - killed < 1.0

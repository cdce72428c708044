"""Locks the bot's processes share: what lets several run on one database without stepping on
each other (identifying with Discord, registering commands, holding shards).

A lock is named; it is held until released or until its holder is gone. On PostgreSQL it is a
session-level advisory lock on the process's own connection (`open_fleet`): PostgreSQL
releases it the moment that connection dies, however the process ended, so a standby waiting
for a live process's shards takes them over when that process is killed. The connection is
nobody else's: a lock asked on a busy pool would wait behind the ledger's transactions, and a
pooled connection goes back to the pool still holding its session's locks. On SQLite (one
process) the same names are plain asyncio locks.

Waiting polls `pg_try_advisory_lock` instead of blocking in `pg_advisory_lock`: one blocked
statement would keep every other lock of the process waiting behind it on the one connection.
PostgreSQL's session locks are re-entrant (a session takes its own lock again at once), so
the process's tasks first take an asyncio lock of the same name: one holder per process too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Protocol

import asyncpg

from bot.ledger.database import DatabaseError
from bot.ledger.postgres_db import CONNECT_ERRORS, shown

log = logging.getLogger(__name__)

POLL = 0.25  # seconds between tries of a lock another process holds
# Names are hashed into PostgreSQL's one advisory-lock space: this prefix keeps ours apart.
_NAMESPACE = "wisgate-discord-bot:"
_TRY = "SELECT pg_try_advisory_lock(hashtextextended($1, 0))"
_UNLOCK = "SELECT pg_advisory_unlock(hashtextextended($1, 0))"


class FleetLocks(Protocol):
    """Named locks held across the processes on one database (or within the one process)."""

    shared: bool  # True when other processes take these locks too (PostgreSQL)

    async def acquire(self, name: str, *, wait: bool = True) -> bool:
        """Take the lock (waiting while another holds it, with `wait`); False if not taken."""
        ...

    async def release(self, name: str) -> None:
        """Give the lock back (nothing if not held)."""
        ...

    async def listen(self, channel: str, callback: Callable[[str], None]) -> None:
        """Call `callback(payload)` on each NOTIFY on `channel` (nothing without others)."""
        ...


class LocalLocks:
    """The locks of one process alone (SQLite: no other process shares the database)."""

    shared = False

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    async def acquire(self, name: str, *, wait: bool = True) -> bool:
        """Take the named asyncio lock; without `wait`, only if it is free now."""
        lock = self._locks.setdefault(name, asyncio.Lock())
        if not wait and lock.locked():
            return False
        await lock.acquire()
        return True

    async def release(self, name: str) -> None:
        """Release it if held."""
        lock = self._locks.get(name)
        if lock is not None and lock.locked():
            lock.release()

    async def listen(self, channel: str, callback: Callable[[str], None]) -> None:
        """One process alone hears nobody."""

    def held(self, name: str) -> bool:
        """Whether some task of this process holds it."""
        lock = self._locks.get(name)
        return lock is not None and lock.locked()


class PostgresLocks:
    """Advisory locks on one connection of this process's own (see the module docstring)."""

    shared = True

    def __init__(self, conn: asyncpg.Connection, poll: float = POLL) -> None:
        self.conn = conn
        self.poll = poll
        self._local = LocalLocks()  # one holder per process: session locks are re-entrant
        self._io = asyncio.Lock()  # asyncpg runs one statement at a time per connection

    async def acquire(self, name: str, *, wait: bool = True) -> bool:
        """Take the lock, polling while another process holds it (with `wait`)."""
        if not await self._local.acquire(name, wait=wait):
            return False
        try:
            while True:
                async with self._io:
                    taken = bool(await self.conn.fetchval(_TRY, _NAMESPACE + name))
                if taken:
                    return True
                if not wait:
                    await self._local.release(name)
                    return False
                await asyncio.sleep(self.poll)
        except BaseException:
            await self._local.release(name)
            raise

    async def listen(self, channel: str, callback: Callable[[str], None]) -> None:
        """LISTEN on this connection: NOTIFYs arrive as soon as their transaction commits."""

        def heard(_conn: object, _pid: int, _channel: str, payload: object) -> None:
            callback(str(payload))

        async with self._io:
            await self.conn.add_listener(channel, heard)

    async def execute(self, sql: str, *args: object) -> str:
        """One statement on this connection (the lease's heartbeat): its status."""
        async with self._io:
            status: str = await self.conn.execute(sql, *args)
        return status

    async def release(self, name: str) -> None:
        """Give it back to the other processes."""
        if not self._local.held(name):
            return
        try:
            if not self.conn.is_closed():
                async with self._io:
                    await self.conn.fetchval(_UNLOCK, _NAMESPACE + name)
        finally:
            await self._local.release(name)


@asynccontextmanager
async def open_fleet(url: str | None) -> AsyncIterator[FleetLocks]:
    """The fleet's locks: on PostgreSQL at `url` (a connection of their own, closed on exit,
    which releases every lock), else this process's own."""
    if not url:
        yield LocalLocks()
        return
    try:
        conn = await asyncpg.connect(url)
    except CONNECT_ERRORS as error:
        raise DatabaseError(f"PostgreSQL at {shown(url)} cannot be used: {error}") from None
    try:
        yield PostgresLocks(conn)
    finally:
        await conn.close()

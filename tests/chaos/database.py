"""The bot's database as the chaos checks read it: its SQLite file, or a PostgreSQL database
several bot processes share (the PostgreSQL mode, tests/chaos/test_chaos_fleet.py).

The driver polls it every few tens of milliseconds from inside the test's event loop, so a
PostgreSQL database is read on one connection kept open on a thread of its own (a connection
per query, as tests/e2e/backend.py opens, costs ~6 ms each: too slow to poll with). Queries are
written in SQLite's SQL with `?` placeholders, as the bot's own are.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from bot.ledger.postgres_store import to_postgres
from tests.e2e.harness import assert_no_secrets
from tests.fakes.discord import FakeDiscord


class Database:
    """Rows of the bot's database: the SQLite file at `path`, or the PostgreSQL `url`."""

    def __init__(self, path: Path, url: str | None = None) -> None:
        self.path = path
        self.url = url
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: asyncpg.Connection | None = None
        self._thread: threading.Thread | None = None

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Read (or change) it directly, a connection apart from the bot's."""
        if self.url is None:
            # WAL lets us read while the bot writes.
            with sqlite3.connect(self.path, timeout=5) as conn:
                return conn.execute(sql, args).fetchall()
        loop = self._start()
        future = asyncio.run_coroutine_threadsafe(self._fetch(to_postgres(sql), args), loop)
        return future.result(timeout=30)

    def assert_no_secrets(self, fake: FakeDiscord) -> None:
        """No token or key sent to Discord, nor in any row."""
        assert_no_secrets(fake, self.path, self.url)

    def close(self) -> None:
        """Close the PostgreSQL connection and its thread, if open."""
        if self._loop is None or self._thread is None:
            return
        if self._conn is not None:
            asyncio.run_coroutine_threadsafe(self._conn.close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._loop = self._thread = self._conn = None

    def _start(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._loop.run_forever, name="chaos-db", daemon=True
            )
            self._thread.start()
        return self._loop

    async def _fetch(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        if self._conn is None:
            self._conn = await asyncpg.connect(self.url)
        found = await self._conn.fetch(sql, *args)
        # SUM over bigint is numeric in PostgreSQL; counts and money here are whole numbers.
        return [tuple(int(v) if type(v) is Decimal else v for v in row) for row in found]

"""The PostgreSQL store: transaction bodies awaited on an asyncpg pool, retried on conflicts.

Writing transactions run at READ COMMITTED; the bodies take the row locks their checks need
(bot/ledger/locks.py), always in one order, so concurrent reservations from any number of
processes never pass a limit. A deadlock or serialization failure (40P01, 40001) rolls the
whole body back and runs it again, a bounded number of times: bodies read everything they
decide on inside the transaction, so a second run decides afresh. Read-only transactions run
at REPEATABLE READ: one snapshot, as SQLite's read transactions give.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Literal, TypeVar

import asyncpg

from bot.ledger.store import Body, Dialect, Row

log = logging.getLogger(__name__)
T = TypeVar("T")

ATTEMPTS = 8
# Conflicts PostgreSQL resolves by aborting one transaction: safe to run it again.
RETRIED: tuple[type[Exception], ...] = (
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
)
# A pooled connection or a plain one: both speak the same.
Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
Isolation = Literal["read_committed", "repeatable_read"]
_PLACEHOLDER = re.compile(r"\?(\d*)")
_translated: dict[str, str] = {}


def to_postgres(sql: str) -> str:
    """The house SQL's `?` (in order) and `?N` placeholders as PostgreSQL's `$N`."""
    found = _translated.get(sql)
    if found is None:
        count = 0

        def number(match: re.Match[str]) -> str:
            nonlocal count
            if match.group(1):
                return f"${match.group(1)}"
            count += 1
            return f"${count}"

        found = _translated[sql] = _PLACEHOLDER.sub(number, sql)
    return found


def _plain(record: asyncpg.Record) -> tuple[Any, ...]:
    # SUM over bigint is numeric in PostgreSQL; money and counts here are whole numbers.
    return tuple(int(v) if type(v) is Decimal else v for v in record)


class PostgresTx:
    """Statements on an asyncpg connection whose transaction is open."""

    dialect: Dialect = "postgres"
    serialised = False  # READ COMMITTED: writers take their row locks themselves

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def one(self, sql: str, *args: Any) -> Row | None:
        """The first row, or None."""
        row = await self.conn.fetchrow(to_postgres(sql), *args)
        return None if row is None else _plain(row)

    async def all(self, sql: str, *args: Any) -> list[Row]:
        """Every row."""
        return [_plain(row) for row in await self.conn.fetch(to_postgres(sql), *args)]

    async def value(self, sql: str, *args: Any) -> Any:
        """The first column of the first row (None without a row)."""
        found = await self.conn.fetchval(to_postgres(sql), *args)
        return int(found) if type(found) is Decimal else found

    async def run(self, sql: str, *args: Any) -> int:
        """Run a statement; how many rows it changed."""
        status: str = await self.conn.execute(to_postgres(sql), *args)
        last = status.rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0

    async def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each row of arguments."""
        await self.conn.executemany(to_postgres(sql), rows)

    def any_of(self, column: str, values: Sequence[int]) -> tuple[str, Any]:
        """`column = ANY(array)`: one statement text for any number of values."""
        return f"{column} = ANY(?::bigint[])", list(values)


class PostgresStore:
    """The ledger's store on an asyncpg pool (any number of processes on one database)."""

    dialect: Dialect = "postgres"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def transaction(self, body: Body[T], *, write: bool = True) -> T:
        """Run body(tx) in one transaction; again (bounded) after a deadlock or conflict."""
        isolation: Isolation = "read_committed" if write else "repeatable_read"
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with (
                    self.pool.acquire() as conn,
                    conn.transaction(isolation=isolation, readonly=not write),
                ):
                    return await body(PostgresTx(conn))
            except RETRIED as error:
                if attempt == ATTEMPTS:
                    raise
                log.info("transaction retried after %s (attempt %d)", type(error).__name__, attempt)
                # Jittered, growing pauses keep the same transactions from meeting again.
                await asyncio.sleep(random.uniform(0, 0.001 * 2**attempt))
        raise AssertionError("unreachable")

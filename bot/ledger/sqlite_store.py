"""The SQLite store: a transaction body driven to its end in one call on aiosqlite's thread.

Measured with bench/ledger.py (2 cores, 100 concurrent tasks, one file): the whole transaction
as one call on the connection's thread ran 3,300-4,300 reserve+settle pairs/s, against 430-870
when each statement was awaited through aiosqlite behind an asyncio.Lock. So a body's awaits
here never suspend: SqliteTx answers each at once, and `drive` runs the coroutine with a single
send(). A body awaiting anything else (a sleep, a network call) is a programming error, refused.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, TypeVar, cast

import aiosqlite
import orjson

from bot.ledger.store import Body, Dialect, Row

T = TypeVar("T")


class SqliteTx:
    """Statements on the sqlite3 connection whose transaction is open, answered at once."""

    dialect: Dialect = "sqlite"
    serialised = True  # BEGIN IMMEDIATE: one writer at a time

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    async def one(self, sql: str, *args: Any) -> Row | None:
        """The first row, or None."""
        return cast(Row | None, self.db.execute(sql, args).fetchone())

    async def all(self, sql: str, *args: Any) -> list[Row]:
        """Every row."""
        return self.db.execute(sql, args).fetchall()

    async def value(self, sql: str, *args: Any) -> Any:
        """The first column of the first row (None without a row)."""
        row = self.db.execute(sql, args).fetchone()
        return None if row is None else row[0]

    async def run(self, sql: str, *args: Any) -> int:
        """Run a statement; how many rows it changed."""
        return self.db.execute(sql, args).rowcount

    async def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each row of arguments."""
        self.db.executemany(sql, rows)

    def any_of(self, column: str, values: Sequence[int]) -> tuple[str, Any]:
        """`column IN (...)` as one statement text (one cached plan) for any number of values."""
        return f"{column} IN (SELECT value FROM json_each(?))", orjson.dumps(list(values)).decode()


def drive(body: Coroutine[Any, Any, T]) -> T:
    """Run a body whose awaits all complete at once to its end, in this thread, now."""
    try:
        waited = body.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    body.close()
    raise RuntimeError(f"an SQLite transaction body awaited {waited!r}: only the database")


def in_transaction(db: sqlite3.Connection, body: Body[T], write: bool) -> T:
    """Run body between BEGIN and COMMIT on the calling (the connection's) thread."""
    if db.in_transaction:
        raise RuntimeError("a transaction is already open on this connection")
    # IMMEDIATE takes the write lock first, so two writers never both read then both write.
    # Reads use a plain BEGIN: one consistent snapshot, no write lock.
    db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        result = drive(body(SqliteTx(db)))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return result


class SqliteStore:
    """The ledger's store on one aiosqlite connection (one file; WAL)."""

    dialect: Dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def transaction(self, body: Body[T], *, write: bool = True) -> T:
        """Run body(tx) as one transaction, in one call on the connection's thread."""
        conn = self.conn
        # aiosqlite has no public "run this function on your thread"; _execute is what all of
        # its own methods use (0.20 - 0.22). Every test in tests/unit/ledger/ fails loudly if
        # it changes.
        execute = cast(Callable[..., Awaitable[T]], conn._execute)
        return await execute(lambda: in_transaction(conn._conn, body, write))

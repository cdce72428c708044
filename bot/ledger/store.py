"""The store protocol: what the ledger's transaction bodies may ask of a database.

A body is an `async def body(tx: Tx) -> T` written once for both backends. It speaks one SQL
(SQLite's `?` placeholders, `?N` for numbered ones; PostgreSQL's store rewrites them to `$N`)
through the few calls below, and runs whole inside one transaction:

* SQLite (bot/ledger/sqlite_store.py) drives the body to its end on the aiosqlite thread in
  ONE call, inside BEGIN IMMEDIATE: every await inside it completes at once, so nothing else
  runs between a check and its write, and writers are serialised by SQLite itself;
* PostgreSQL (bot/ledger/postgres_store.py) awaits the body on an asyncpg connection inside a
  transaction. READ COMMITTED does not serialise writers, so bodies that check a counter and
  then write it take its row lock first (bot/ledger/locks.py), always in one order;
  deadlock and serialization failures are retried a bounded number of times.

The decisions (limits, budgets, caps, charges) are plain functions of what the body read:
bot/ledger/rules.py.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any, Literal, Protocol, TypeVar

T = TypeVar("T")
Dialect = Literal["sqlite", "postgres"]
Row = Sequence[Any]
Body = Callable[["Tx"], Coroutine[Any, Any, T]]


class Tx(Protocol):
    """One open transaction: statements in the house SQL, values bound, never formatted in."""

    dialect: Dialect
    # True where the database already serialises writing transactions (SQLite's BEGIN
    # IMMEDIATE): row locks are then needless and bot/ledger/locks.py's helpers do nothing.
    serialised: bool

    async def one(self, sql: str, *args: Any) -> Row | None:
        """The first row, or None."""
        ...

    async def all(self, sql: str, *args: Any) -> list[Row]:
        """Every row."""
        ...

    async def value(self, sql: str, *args: Any) -> Any:
        """The first column of the first row (None without a row)."""
        ...

    async def run(self, sql: str, *args: Any) -> int:
        """Run a statement; how many rows it changed."""
        ...

    async def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each row of arguments."""
        ...

    def any_of(self, column: str, values: Sequence[int]) -> tuple[str, Any]:
        """A condition `column is one of values` and the one argument it binds."""
        ...


class Store(Protocol):
    """A database the ledger runs its transactions on."""

    dialect: Dialect

    async def transaction(self, body: Body[T], *, write: bool = True) -> T:
        """Run body(tx) as one transaction (read-only: one consistent snapshot)."""
        ...

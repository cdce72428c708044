"""Copy an SQLite ledger into an empty PostgreSQL database (`python -m bot migrate-to-postgres`).

Both schemas are built by migrations of the same numbers, so their tables and columns match
one for one (checked here before anything is copied, and by the tests). Opening the source
applies its pending migrations, as the bot's start would. The copy is ONE PostgreSQL
transaction: the target's tables are locked and found empty, filled from one snapshot of the
source, their identity sequences moved past the copied ids, and each table's row count and
money totals (its *_micros columns) compared with the source's before the commit. Any
difference, or any error, rolls everything back: the target stays empty.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from graphlib import TopologicalSorter
from pathlib import Path

import aiosqlite
import asyncpg

from bot.ledger.database import DatabaseError, open_database
from bot.ledger.postgres_db import open_postgres, shown
from bot.ledger.postgres_store import Connection

CHUNK = 5_000  # rows per COPY: memory stays flat for a ledger of any size
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class TableCopy:
    """One table copied: its rows and the totals of its money columns (micro-dollars)."""

    name: str
    rows: int
    micros: dict[str, int]


async def migrate_to_postgres(path: Path, url: str) -> list[TableCopy]:
    """Copy every table of the SQLite file at `path` into the empty database at `url`."""
    if not await asyncio.to_thread(Path(path).is_file):
        raise DatabaseError(f"{path} does not exist: set DATABASE_PATH to the bot's SQLite file")
    async with open_database(path) as source, open_postgres(url, pool_size=1) as target:
        try:
            async with target.pool.acquire() as conn, conn.transaction():
                return await _copy(source, conn, url)
        except asyncpg.PostgresError as error:
            raise DatabaseError(f"the copy failed and was rolled back: {error}") from None


async def _copy(source: aiosqlite.Connection, conn: Connection, url: str) -> list[TableCopy]:
    tables = await _source_tables(source)
    order = await _target_order(conn, tables)
    # Nothing else may write the target until the commit (a bot started on it too early).
    await conn.execute(f"LOCK TABLE {', '.join(order)} IN EXCLUSIVE MODE")
    for name in order:
        if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {name})"):
            raise DatabaseError(
                f"PostgreSQL at {shown(url)} is not empty (table {name} has rows): "
                "migrate-to-postgres only fills a new, empty database"
            )
    await source.execute("BEGIN")  # one snapshot of the source for every table
    try:
        copies = [await _copy_table(source, conn, name, tables[name]) for name in order]
    finally:
        await source.execute("ROLLBACK")
    await _advance_identities(conn)
    return copies


async def _source_tables(source: aiosqlite.Connection) -> dict[str, list[str]]:
    """The SQLite tables and their columns, in the schema's order."""
    async with source.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ) as cursor:
        names = [row[0] for row in await cursor.fetchall()]
    tables = {}
    for name in names:
        async with source.execute(f"PRAGMA table_info({name})") as cursor:
            tables[name] = [row[1] for row in await cursor.fetchall()]
    return tables


async def _target_order(conn: Connection, tables: dict[str, list[str]]) -> list[str]:
    """The tables in an order that fills referenced tables first; DatabaseError if the two
    schemas differ (a table or column one has and the other lacks)."""
    rows = await conn.fetch(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name <> 'schema_version'"
    )
    target: dict[str, set[str]] = {}
    for table, column in rows:
        target.setdefault(table, set()).add(column)
    if target != {name: set(columns) for name, columns in tables.items()}:
        raise DatabaseError(
            "the SQLite and PostgreSQL schemas differ (tables "
            f"{sorted(tables)} and {sorted(target)}): this release's migrations disagree"
        )
    bad = [name for name in tables if not _NAME.match(name)]
    if bad:
        raise DatabaseError(f"unexpected table names {bad}")
    graph: dict[str, set[str]] = {name: set() for name in tables}
    for child, parent in await conn.fetch(
        "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
        "WHERE contype = 'f' AND connamespace = current_schema()::regnamespace"
    ):
        graph[child].add(parent)
    return list(TopologicalSorter(graph).static_order())


async def _copy_table(
    source: aiosqlite.Connection, conn: Connection, name: str, columns: list[str]
) -> TableCopy:
    """COPY one table in chunks, then compare its count and money totals on both sides."""
    async with source.execute(f"SELECT {', '.join(columns)} FROM {name}") as cursor:
        while rows := await cursor.fetchmany(CHUNK):
            await conn.copy_records_to_table(name, records=rows, columns=columns)
    money = [column for column in columns if column.endswith("_micros")]
    # The same statement on both sides: a count, then each money column's total.
    totals = ", ".join(["COUNT(*)", *(f"COALESCE(SUM({column}), 0)" for column in money)])
    async with source.execute(f"SELECT {totals} FROM {name}") as cursor:
        expected = tuple(int(value) for value in (await cursor.fetchone() or ()))
    found = tuple(int(value) for value in await conn.fetchrow(f"SELECT {totals} FROM {name}") or ())
    if found != expected:
        raise DatabaseError(
            f"table {name} differs after the copy (count and totals {found}, expected "
            f"{expected}): nothing was kept"
        )
    return TableCopy(name, expected[0], dict(zip(money, expected[1:], strict=True)))


async def _advance_identities(conn: Connection) -> None:
    """Move each identity column's sequence past the ids copied, so new rows get new ids."""
    for table, column in await conn.fetch(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND is_identity = 'YES'"
    ):
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(MAX({column}), 0) + 1, "
            f"false) FROM {table}",
            table,
            column,
        )

"""Open the SQLite database (WAL, foreign keys, busy timeout) and apply pending migrations."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
BUSY_TIMEOUT_MS = 5000


class DatabaseError(Exception):
    """The database cannot be used by this version of the bot; the message says why."""


def discover_migrations(directory: Path = MIGRATIONS_DIR) -> list[tuple[int, Path]]:
    """Migration files as (version, path), in order; versions must run 1, 2, 3... without gaps."""
    found = []
    for path in directory.glob("*.sql"):
        match = _NAME.match(path.name)
        if match is None:
            raise DatabaseError(f"migration file {path.name} is not named like 0001_name.sql")
        found.append((int(match.group(1)), path))
    found.sort()
    for expected, (version, path) in enumerate(found, start=1):
        if version != expected:
            raise DatabaseError(f"migration {path.name} should be numbered {expected:04d}")
    return found


async def configure(conn: aiosqlite.Connection) -> None:
    """Per-connection settings: WAL for concurrent readers, enforced foreign keys, a busy wait."""
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA synchronous = NORMAL")
    await conn.execute("PRAGMA foreign_keys = ON")
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


async def schema_version(conn: aiosqlite.Connection) -> int:
    """The version recorded in PRAGMA user_version."""
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def migrate(conn: aiosqlite.Connection, directory: Path = MIGRATIONS_DIR) -> int:
    """Apply pending migrations in order, each in one transaction; return the final version."""
    migrations = discover_migrations(directory)
    latest = migrations[-1][0] if migrations else 0
    current = await schema_version(conn)
    if current > latest:
        raise DatabaseError(
            f"The database is at schema version {current}, but this bot only knows up to "
            f"version {latest}. It was written by a newer release: upgrade the bot, or restore "
            "a backup made before the upgrade."
        )
    for version, path in migrations:
        if version <= current:
            continue
        script = path.read_text(encoding="utf-8")
        log.info("applying migration %s", path.name)
        try:
            # executescript commits any open transaction first, then runs ours as one unit;
            # user_version is part of the same transaction, so a failure leaves no trace.
            await conn.executescript(
                f"BEGIN IMMEDIATE;\n{script}\n;PRAGMA user_version = {version};\nCOMMIT;"
            )
        except Exception as error:
            if conn.in_transaction:
                await conn.rollback()
            raise DatabaseError(f"migration {path.name} failed: {error}") from error
    return max(current, latest)


@asynccontextmanager
async def open_database(
    path: Path | str, *, migrations: Path = MIGRATIONS_DIR
) -> AsyncIterator[aiosqlite.Connection]:
    """Open (creating its folder), configure and migrate the database; close it on exit.

    The connection is in autocommit mode (isolation_level=None): callers open their own
    transactions with BEGIN IMMEDIATE, so nothing is held open by accident.
    """
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = await aiosqlite.connect(str(path), isolation_level=None)
    try:
        await configure(conn)
        await migrate(conn, migrations)
        yield conn
    finally:
        await conn.close()

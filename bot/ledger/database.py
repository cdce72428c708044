"""Open the SQLite database (WAL, foreign keys, busy timeout) and apply pending migrations.

The migrations are the `migrations` package's .sql files, one folder per backend
(migrations/sqlite/, migrations/postgres/, the same version numbers in both), found through
importlib.resources: an installed wheel run from any folder carries and finds them. Finding
none is an error (an incomplete installation), never an empty schema.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)

MIGRATIONS: Traversable = files("migrations") / "sqlite"
POSTGRES_MIGRATIONS: Traversable = files("migrations") / "postgres"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
BUSY_TIMEOUT_MS = 5000


class DatabaseError(Exception):
    """The database cannot be used by this version of the bot; the message says why."""


def discover_migrations(directory: Traversable | None = None) -> list[tuple[int, Traversable]]:
    """Migration files as (version, file), in order; versions must run 1, 2, 3... without gaps.

    Raises DatabaseError when there are none: the bot would otherwise run on an empty schema.
    """
    directory = directory or MIGRATIONS
    found: list[tuple[int, Traversable]] = []
    scripts = [item for item in _listing(directory) if item.name.endswith(".sql")]
    if not scripts:
        raise DatabaseError(
            f"no migrations found in {directory}: the installation is incomplete; reinstall the "
            "bot (its wheel carries the migrations package)"
        )
    for path in scripts:
        match = _NAME.match(path.name)
        if match is None:
            raise DatabaseError(f"migration file {path.name} is not named like 0001_name.sql")
        found.append((int(match.group(1)), path))
    found.sort(key=lambda item: item[0])
    for expected, (version, path) in enumerate(found, start=1):
        if version != expected:
            raise DatabaseError(f"migration {path.name} should be numbered {expected:04d}")
    return found


def _listing(directory: Traversable) -> list[Traversable]:
    try:
        return list(directory.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def newer_error(version: int, latest: int) -> DatabaseError:
    """The refusal of a database written by a newer release."""
    return DatabaseError(
        f"The database is at schema version {version}, but this bot only knows up to "
        f"version {latest}. It was written by a newer release: upgrade the bot, or restore "
        "a backup made before the upgrade."
    )


def pending(
    migrations: list[tuple[int, Traversable]], current: int
) -> list[tuple[int, Traversable]]:
    """The migrations a database at version `current` still needs, in order; DatabaseError
    when it is newer than all of them (written by a newer release)."""
    latest = migrations[-1][0]
    if current > latest:
        raise newer_error(current, latest)
    return [(version, path) for version, path in migrations if version > current]


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


async def migrate(
    conn: aiosqlite.Connection, directory: Traversable | None = None, *, quiet: bool = False
) -> int:
    """Apply pending migrations in order, each in one transaction; return the final version."""
    migrations = discover_migrations(directory)
    current = await schema_version(conn)
    for version, path in pending(migrations, current):
        script = path.read_text(encoding="utf-8")
        if not quiet:  # scratch copies (check, sync) are not the database to announce
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
    return max(current, migrations[-1][0])


def _try_open(path: str) -> None:
    sqlite3.connect(path).close()


@asynccontextmanager
async def open_database(
    path: Path | str, *, migrations: Traversable | None = None
) -> AsyncIterator[aiosqlite.Connection]:
    """Open (creating its folder), configure and migrate the database; close it on exit.

    The connection is in autocommit mode (isolation_level=None): callers open their own
    transactions with BEGIN IMMEDIATE, so nothing is held open by accident.
    """
    try:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # aiosqlite's thread answers a failed connect after asyncio.run may have closed
            # the loop, printing a traceback past the owner's paragraph: fail here first.
            await asyncio.to_thread(_try_open, str(path))
        conn = await aiosqlite.connect(str(path), isolation_level=None)
    except (OSError, sqlite3.Error) as error:  # a folder in the way, no rights: say so
        raise DatabaseError(f"{path} cannot be opened: {error}") from None
    try:
        try:
            await configure(conn)
        except sqlite3.Error as error:  # not an SQLite file, or a damaged one
            raise DatabaseError(f"{path} cannot be used as an SQLite database: {error}") from None
        await migrate(conn, migrations, quiet=str(path) == ":memory:")  # scratch: no news
        yield conn
    finally:
        await conn.close()

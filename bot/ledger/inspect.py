"""Whether the bot could use a database, found out without changing it.

`python -m bot check` runs beside a live bot and from wrong folders: it must not create,
migrate or lock anything. So an existing database is read through a read-only connection, and
the pending migrations are tried on a copy in memory; a missing one is only checked for a
folder the bot could create it in (the bot creates and migrates it at start). A PostgreSQL
database (DATABASE_URL) is read in a read-only transaction: its version, and whether its user
may create the schema.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from bot.ledger.database import DatabaseError, discover_migrations, migrate, schema_version


@dataclass(frozen=True)
class DatabaseState:
    """What the bot would find at start: the schema version (0 when it is new)."""

    where: str  # the file, or the URL without its password
    exists: bool
    version: int
    latest: int
    postgres: bool = False  # pending migrations were not tried on a copy there

    @property
    def pending(self) -> int:
        """Migrations the next start applies."""
        return self.latest - self.version


async def inspect_database(path: Path, url: str | None = None) -> DatabaseState:
    """The database at `url` (PostgreSQL), else at `path`, as the bot would find it;
    DatabaseError says why it cannot."""
    if url:
        from bot.ledger.postgres_db import inspect_postgres, shown  # asyncpg only when used

        version, latest = await inspect_postgres(url)
        return DatabaseState(shown(url), version > 0, version, latest, postgres=True)
    latest = discover_migrations()[-1][0]
    path, exists = _check_place(path)
    if not exists:
        await _try_migrations(None)  # the installation's migrations build a schema at all
        return DatabaseState(str(path), exists=False, version=0, latest=latest)
    try:
        async with aiosqlite.connect(f"{path.as_uri()}?mode=ro", uri=True) as conn:
            version = await schema_version(conn)
            # The header alone passes for some damaged files: read the schema too.
            await (await conn.execute("SELECT count(*) FROM sqlite_master")).close()
            if version > latest:
                await migrate(conn, quiet=True)  # raises its "written by a newer release" error
            if version < latest:
                await _try_migrations(conn)
    except sqlite3.Error as error:
        raise DatabaseError(
            f"{path} cannot be read as an SQLite database ({error}): set DATABASE_PATH to the "
            "bot's database, or move this file away"
        ) from None
    return DatabaseState(str(path), exists=True, version=version, latest=latest)


async def _try_migrations(source: aiosqlite.Connection | None) -> None:
    """Apply the pending migrations to an in-memory copy of `source` (None: an empty one)."""
    async with aiosqlite.connect(":memory:", isolation_level=None) as scratch:
        if source is not None:
            await source.backup(scratch)
        await migrate(scratch, quiet=True)


def _check_place(path: Path) -> tuple[Path, bool]:
    """The absolute path and whether it exists; DatabaseError unless the bot could open it for
    writing, or create it."""
    path = path.absolute()
    if path.is_dir():
        raise DatabaseError(
            f"{path} is a folder: DATABASE_PATH names the database file, such as "
            f"{path / 'bot.sqlite3'}"
        )
    folder = path.parent
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise DatabaseError(
            f"{path} cannot be read and written by this user: change its permissions, or set "
            "DATABASE_PATH to another file"
        )
    while not folder.exists():  # the bot creates the missing folders: the first existing decides
        folder = folder.parent
    if not folder.is_dir():
        raise DatabaseError(
            f"{folder} is a file, so the folder for {path} cannot be made: set DATABASE_PATH "
            "to a file in a folder"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        # SQLite writes the -wal and -shm files beside the database.
        raise DatabaseError(
            f"{folder} cannot be written by this user: change its permissions, or set "
            "DATABASE_PATH to a file elsewhere"
        )
    return path, path.exists()

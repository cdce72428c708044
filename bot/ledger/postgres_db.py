"""Open a PostgreSQL database (an asyncpg pool) and apply pending migrations, once.

The version lives in a `schema_version` table (one row per migration applied). Processes
starting together each take the same session-level advisory lock before reading it, so the
first migrates and the others find the work done. Each migration and its row are one
transaction (PostgreSQL's DDL is transactional: a failure leaves no trace). A database newer
than this code is refused, as on SQLite.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources.abc import Traversable
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bot.ledger.database import (
    POSTGRES_MIGRATIONS,
    DatabaseError,
    discover_migrations,
    newer_error,
    pending,
)
from bot.ledger.postgres_store import Connection, PostgresStore

log = logging.getLogger(__name__)

MIGRATION_LOCK = 0x57495347_4C444752  # 'WISGLDGR': this bot's migrations, on this database
POOL_SIZE = 10
CONNECT_TIMEOUT = 10.0  # seconds; asyncpg's default of 60 leaves `check` hanging on a typo
CONNECT_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError)
_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, "
    "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
)


def shown(url: str) -> str:
    """The URL as messages may show it: without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


async def schema_version(conn: Connection) -> int:
    """The highest migration applied (0 for a database the bot never migrated)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version"))


async def migrate(
    conn: Connection, directory: Traversable | None = None, *, quiet: bool = False
) -> int:
    """Apply pending migrations in order under the advisory lock; return the final version."""
    migrations = discover_migrations(directory or POSTGRES_MIGRATIONS)
    latest = migrations[-1][0]
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(_VERSION_TABLE)
        current = await schema_version(conn)
        for version, path in pending(migrations, current):
            if not quiet:
                log.info("applying migration %s", path.name)
            try:
                async with conn.transaction():
                    await conn.execute(path.read_text(encoding="utf-8"))
                    await conn.execute(
                        "INSERT INTO schema_version (version, name) VALUES ($1, $2)",
                        version,
                        path.name,
                    )
            except asyncpg.PostgresError as error:
                raise DatabaseError(f"migration {path.name} failed: {error}") from error
        return max(current, latest)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


async def inspect_postgres(url: str) -> tuple[int, int]:
    """(version, latest) of the database at `url`, read without changing it (`check`).

    Raises DatabaseError when it cannot be reached, was written by a newer release, or its
    user could not create the schema at the first start.
    """
    latest = discover_migrations(POSTGRES_MIGRATIONS)[-1][0]
    try:
        conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT)
    except CONNECT_ERRORS as error:
        raise DatabaseError(f"PostgreSQL at {shown(url)} cannot be used: {error}") from None
    try:
        async with conn.transaction(readonly=True):
            version = await schema_version(conn)
            # PostgreSQL 15 no longer lets every user create tables in `public`.
            may_create = await conn.fetchval("SELECT has_schema_privilege('public', 'CREATE')")
    finally:
        await conn.close()
    if version > latest:
        raise newer_error(version, latest)
    if version < latest and not may_create:
        raise DatabaseError(
            f"PostgreSQL at {shown(url)}: this user may not create tables in schema public, so "
            "the bot cannot migrate it; make the user the database's owner (ALTER DATABASE ... "
            "OWNER TO ...) or GRANT CREATE ON SCHEMA public to it"
        )
    return version, latest


@asynccontextmanager
async def open_postgres(
    url: str, *, migrations: Traversable | None = None, pool_size: int = POOL_SIZE
) -> AsyncIterator[PostgresStore]:
    """A pool on the database at `url`, migrated; closed on exit. DatabaseError says why not."""
    try:
        pool = await asyncpg.create_pool(
            url, min_size=1, max_size=pool_size, timeout=CONNECT_TIMEOUT
        )
    except CONNECT_ERRORS as error:
        raise DatabaseError(f"PostgreSQL at {shown(url)} cannot be used: {error}") from None
    try:
        async with pool.acquire() as conn:
            await migrate(conn, migrations)
        yield PostgresStore(pool)
    finally:
        await pool.close()

"""PostgreSQL's side of opening a database: the same migrations as SQLite's, applied once
under an advisory lock by processes starting together, one transaction each, a newer schema
refused, and `check`'s read that changes nothing."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import asyncpg
import pytest

from bot.ledger.database import (
    MIGRATIONS,
    POSTGRES_MIGRATIONS,
    DatabaseError,
    discover_migrations,
    open_database,
)
from bot.ledger.inspect import inspect_database
from bot.ledger.postgres_db import open_postgres, schema_version
from tests.postgres import PostgresServer

CLOSED = "postgresql://bot:hunter2@127.0.0.1:9/ledger"  # nothing listens on the discard port


async def _columns(url: str) -> dict[str, set[str]]:
    conn = await asyncpg.connect(url)
    try:
        found: dict[str, set[str]] = {}
        for table, column in await conn.fetch(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name <> 'schema_version'"
        ):
            found.setdefault(table, set()).add(column)
        return found
    finally:
        await conn.close()


async def _versions(url: str) -> list[int]:
    conn = await asyncpg.connect(url)
    try:
        if await schema_version(conn) == 0:
            return []
        return [row[0] for row in await conn.fetch("SELECT version FROM schema_version")]
    finally:
        await conn.close()


async def test_both_backends_migrate_to_the_same_tables_and_columns(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    sqlite_files = [path.name for _, path in discover_migrations(MIGRATIONS)]
    assert [path.name for _, path in discover_migrations(POSTGRES_MIGRATIONS)] == sqlite_files
    async with open_database(tmp_path / "bot.sqlite3"):
        pass
    with sqlite3.connect(tmp_path / "bot.sqlite3") as db:
        tables = [row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )]  # fmt: skip
        expected = {t: {c[1] for c in db.execute(f"PRAGMA table_info({t})")} for t in tables}
    url = await postgres_server.new_database()
    assert await _columns(url) == expected
    assert await _versions(url) == list(range(1, len(sqlite_files) + 1))


async def test_processes_starting_together_migrate_once(postgres_server: PostgresServer) -> None:
    url = await postgres_server.new_database(template="template0")  # empty: never migrated

    async def start() -> None:
        async with open_postgres(url, pool_size=1):
            pass

    await asyncio.gather(*(start() for _ in range(4)))
    latest = discover_migrations(POSTGRES_MIGRATIONS)[-1][0]
    # One row per version (its primary key): each migration ran exactly once.
    assert await _versions(url) == list(range(1, latest + 1))


async def test_a_failed_migration_leaves_no_trace_and_a_newer_schema_is_refused(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_first.sql").write_text("CREATE TABLE a (x integer);")
    (folder / "0002_broken.sql").write_text(
        "CREATE TABLE b (x integer); INSERT INTO nowhere VALUES (1);"
    )
    url = await postgres_server.new_database(template="template0")

    with pytest.raises(DatabaseError, match=r"0002_broken\.sql failed"):
        async with open_postgres(url, migrations=folder):
            pass
    assert await _versions(url) == [1]
    assert await _columns(url) == {"a": {"x"}}

    (folder / "0002_broken.sql").unlink()
    conn = await asyncpg.connect(url)
    await conn.execute("INSERT INTO schema_version (version, name) VALUES (7, '0007_x.sql')")
    await conn.close()
    with pytest.raises(DatabaseError, match=r"schema version 7.*upgrade the bot"):
        async with open_postgres(url, migrations=folder):
            pass


async def test_an_unreachable_server_is_one_sentence_without_the_password() -> None:
    with pytest.raises(DatabaseError) as opening:
        async with open_postgres(CLOSED):
            pass
    with pytest.raises(DatabaseError) as checking:
        await inspect_database(Path("unused"), CLOSED)
    for error in (opening.value, checking.value):
        assert "hunter2" not in str(error) and "bot:***@127.0.0.1:9" in str(error)


async def test_check_reads_the_version_and_changes_nothing(
    postgres_server: PostgresServer,
) -> None:
    latest = discover_migrations(POSTGRES_MIGRATIONS)[-1][0]
    empty = await postgres_server.new_database(template="template0")
    state = await inspect_database(Path("unused"), empty)
    assert (state.exists, state.version, state.latest, state.postgres) == (False, 0, latest, True)
    assert await _columns(empty) == {}  # not even the schema_version table

    migrated = await postgres_server.new_database()
    state = await inspect_database(Path("unused"), migrated)
    assert (state.exists, state.version, state.pending) == (True, latest, 0)

    conn = await asyncpg.connect(migrated)
    await conn.execute("INSERT INTO schema_version (version, name) VALUES ($1, 'x')", latest + 1)
    await conn.close()
    with pytest.raises(DatabaseError, match="newer release"):
        await inspect_database(Path("unused"), migrated)

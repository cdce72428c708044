"""Database opening and migrations: order, one transaction each, refusal of newer schemas."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import pytest

from bot.ledger.database import DatabaseError, discover_migrations, open_database, schema_version


def write(directory: Path, name: str, sql: str) -> None:
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(sql, encoding="utf-8")


async def test_real_migrations_apply_and_pragmas_are_set(tmp_path: Path) -> None:
    latest = discover_migrations()[-1][0]
    async with open_database(tmp_path / "sub" / "bot.sqlite3") as conn:
        assert await schema_version(conn) == latest
        async with conn.execute("PRAGMA journal_mode") as cursor:
            assert (await cursor.fetchone()) == ("wal",)
        async with conn.execute("PRAGMA foreign_keys") as cursor:
            assert (await cursor.fetchone()) == (1,)
        async with conn.execute("PRAGMA busy_timeout") as cursor:
            row = await cursor.fetchone()
            assert row is not None and row[0] >= 1000
    # Opening again applies nothing new and keeps the version.
    async with open_database(tmp_path / "sub" / "bot.sqlite3") as conn:
        assert await schema_version(conn) == latest


async def test_pending_migrations_apply_in_order(tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    write(folder, "0001_first.sql", "CREATE TABLE a (x INTEGER);")
    db = tmp_path / "t.sqlite3"
    async with open_database(db, migrations=folder) as conn:
        assert await schema_version(conn) == 1
    write(
        folder, "0002_second.sql", "ALTER TABLE a ADD COLUMN y TEXT; INSERT INTO a VALUES (1, 'z');"
    )
    async with open_database(db, migrations=folder) as conn:
        assert await schema_version(conn) == 2
        async with conn.execute("SELECT x, y FROM a") as cursor:
            assert await cursor.fetchall() == [(1, "z")]


async def test_failed_migration_leaves_no_trace(tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    write(folder, "0001_first.sql", "CREATE TABLE a (x INTEGER);")
    write(folder, "0002_broken.sql", "CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);")
    db = tmp_path / "t.sqlite3"
    with pytest.raises(DatabaseError, match=r"0002_broken\.sql failed"):
        async with open_database(db, migrations=folder):
            pass
    async with aiosqlite.connect(db) as conn:
        assert await schema_version(conn) == 1
        async with conn.execute("SELECT name FROM sqlite_master WHERE name = 'b'") as cursor:
            assert await cursor.fetchall() == []


async def test_newer_database_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    write(folder, "0001_first.sql", "CREATE TABLE a (x INTEGER);")
    db = tmp_path / "t.sqlite3"
    async with aiosqlite.connect(db) as conn:
        await conn.execute("PRAGMA user_version = 7")
        await conn.commit()
    with pytest.raises(DatabaseError, match=r"schema version 7.*upgrade the bot"):
        async with open_database(db, migrations=folder):
            pass


def test_badly_named_or_gapped_migrations_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "m1"
    write(folder, "1_first.sql", "")
    with pytest.raises(DatabaseError, match="not named like"):
        discover_migrations(folder)
    folder = tmp_path / "m2"
    write(folder, "0001_a.sql", "")
    write(folder, "0003_c.sql", "")
    with pytest.raises(DatabaseError, match="should be numbered 0002"):
        discover_migrations(folder)

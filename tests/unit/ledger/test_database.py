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


async def test_finding_no_migrations_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatabaseError, match="no migrations found"):
        async with open_database(tmp_path / "t.sqlite3", migrations=tmp_path / "empty"):
            pass


async def test_failure_kinds_are_read_from_the_error_texts_of_earlier_rows(
    tmp_path: Path,
) -> None:
    """Migration 0005 fills jobs.failure for rows written before it, from their error text."""
    older = tmp_path / "older"
    for _, path in discover_migrations()[:4]:
        write(older, path.name, path.read_text(encoding="utf-8"))
    db = tmp_path / "t.sqlite3"
    rows = [
        ("failed", "ContentRejected: blocked by the safety system"),
        ("failed", "unexpected error (ref 1a2b3c4d)"),
        ("interrupted", "the bot restarted before this finished"),
        ("expired", "QueueExpired: waited 600 s"),
        ("cancelled", "cancelled while reserving"),
        ("succeeded", None),
    ]
    async with open_database(db, migrations=older) as conn:
        for status, error in rows:
            await conn.execute(
                "INSERT INTO jobs (user_id, guild_id, kind, model, status, owner, day, month, "
                "images_asked, images_held, unit_price_micros, cost_held_micros, created_at, "
                "error) VALUES (1, 0, 'generate', 'm', ?, 'o', 'd', 'm', 1, 0, 0, 0, 't', ?)",
                (status, error),
            )
    async with open_database(db) as conn, conn.execute("SELECT failure FROM jobs") as cursor:
        found = [row[0] for row in await cursor.fetchall()]
    assert found == [
        "ContentRejected", "Unexpected", "Interrupted", "QueueExpired", "Cancelled", None,
    ]  # fmt: skip

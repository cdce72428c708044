"""Moving a bot from SQLite to PostgreSQL: every table, every row, totals checked, one
transaction, and never into a database that already holds a ledger."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.core.prices import default_prices
from bot.ledger.database import DatabaseError
from bot.ledger.facade import JobSpec, Ledger, Requester
from bot.ledger.opener import open_store
from bot.ledger.stats import collect
from bot.ledger.store import Store
from bot.ledger.transfer import migrate_to_postgres
from tests.places import rows
from tests.postgres import PostgresServer
from tests.unit.ledger.activity import FILLED, fill


def _tables(path: Path) -> dict[str, list[str]]:
    with sqlite3.connect(path) as db:
        names = [row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )]  # fmt: skip
        return {name: [c[1] for c in db.execute(f"PRAGMA table_info({name})")] for name in names}


async def _dump(store: Store, tables: dict[str, list[str]]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, as values, in a stable order."""
    return {
        name: sorted(await rows(store, f"SELECT {', '.join(columns)} FROM {name}"), key=repr)
        for name, columns in tables.items()
    }


@pytest.fixture
async def filled(tmp_path: Path) -> Path:
    """An SQLite ledger after a day and a half of every kind of activity."""
    path = tmp_path / "bot.sqlite3"
    async with open_store(path) as store:
        await fill(store)
    return path


async def test_every_row_arrives_and_the_ledger_goes_on(
    filled: Path, postgres_server: PostgresServer
) -> None:
    tables = _tables(filled)
    async with open_store(filled) as sqlite:
        before = await _dump(sqlite, tables)
        stats = await sqlite.transaction(lambda tx: collect(tx, day="2025-03-14", month="2025-03"))
    assert [name for name in FILLED if not before[name]] == []
    url = await postgres_server.new_database()

    copies = await migrate_to_postgres(filled, url)

    assert {copy.name: copy.rows for copy in copies} == {n: len(r) for n, r in before.items()}
    assert next(c for c in copies if c.name == "jobs").micros["cost_charged_micros"] > 0
    async with open_store(filled, url) as postgres:
        assert await _dump(postgres, tables) == before
        moved = await postgres.transaction(
            lambda tx: collect(tx, day="2025-03-14", month="2025-03")
        )
        assert moved == stats
        # New rows get new ids: the identity sequences moved past the copied ones.
        ledger = Ledger(postgres, default_daily_images=5, prices=default_prices())
        who = Requester(user_id=77, guild_id=111)
        job = await ledger.reserve(JobSpec(who, "generate", "gpt-image-1", 1, "1024x1024", "low"))
        assert job.job_id == max(row[0] for row in before["jobs"]) + 1


async def test_a_database_holding_a_ledger_is_refused_and_left_as_it_was(
    filled: Path, tmp_path: Path, postgres_server: PostgresServer
) -> None:
    url = await postgres_server.new_database()
    await migrate_to_postgres(filled, url)
    async with open_store(filled, url) as postgres:
        jobs = await rows(postgres, "SELECT COUNT(*) FROM jobs")

    with pytest.raises(DatabaseError, match=r"is not empty \(table \w+ has rows\)"):
        await migrate_to_postgres(filled, url)
    async with open_store(filled, url) as postgres:
        assert await rows(postgres, "SELECT COUNT(*) FROM jobs") == jobs

    with pytest.raises(DatabaseError, match="does not exist"):
        await migrate_to_postgres(tmp_path / "missing.sqlite3", url)
    assert not (tmp_path / "missing.sqlite3").exists()


async def test_a_failed_copy_leaves_the_target_empty(
    filled: Path, postgres_server: PostgresServer
) -> None:
    """A row PostgreSQL refuses (here, a NUL in a text column) rolls the whole copy back."""
    with sqlite3.connect(filled) as db:
        db.execute("UPDATE jobs SET error = 'bad' || char(0) || 'byte' WHERE id = 2")
    url = await postgres_server.new_database()

    with pytest.raises(DatabaseError, match="rolled back"):
        await migrate_to_postgres(filled, url)

    async with open_store(filled, url) as postgres:
        counts = await rows(
            postgres,
            "SELECT (SELECT COUNT(*) FROM jobs) + (SELECT COUNT(*) FROM guild_settings) "
            "+ (SELECT COUNT(*) FROM audit_log)",
        )
    assert counts == [(0,)]

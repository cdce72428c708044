"""Open the ledger's store the settings name: PostgreSQL at DATABASE_URL, else SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.ledger.database import open_database
from bot.ledger.sqlite_store import SqliteStore
from bot.ledger.store import Store


@asynccontextmanager
async def open_store(path: Path | str, url: str | None = None) -> AsyncIterator[Store]:
    """The store at `url` (postgresql://...) when given, else the SQLite file at `path`;
    opened, migrated, and closed on exit."""
    if url:
        # Imported here: a bot on SQLite (the default) never loads asyncpg.
        from bot.ledger.postgres_db import open_postgres

        async with open_postgres(url) as store:
            yield store
    else:
        async with open_database(path) as conn:
            yield SqliteStore(conn)

"""Where a test's ledger lives: an SQLite file or a PostgreSQL database, opened alike."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.ledger.opener import open_store
from bot.ledger.store import Store
from tests.postgres import PostgresServer

BACKENDS = ("sqlite", "postgres")


@dataclass(frozen=True)
class Place:
    """A database the bot could be pointed at: its file, or its URL on the test server."""

    backend: str
    path: Path  # the SQLite file (unused by PostgreSQL but for the folders beside it)
    url: str | None

    def open(self) -> AbstractAsyncContextManager[Store]:
        """Open (and migrate) the store here, as the bot would."""
        return open_store(self.path, self.url)

    def settings(self) -> dict[str, Any]:
        """The settings that point the bot here."""
        return {"database_path": self.path, "database_url": self.url}


async def new_place(backend: str, folder: Path, server: PostgresServer | None) -> Place:
    """A fresh, migrated database of `backend`: a new SQLite file in `folder`, or a clone of
    the server's template."""
    url = None if server is None or backend == "sqlite" else await server.new_database()
    return Place(backend, folder / "ledger.sqlite3", url)


async def rows(store: Store, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Read with one statement of the house SQL (`?` placeholders), on either store."""

    async def body(tx: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await tx.all(sql, *args)]

    return await store.transaction(body, write=False)


async def scalar(store: Store, sql: str, *args: Any) -> Any:
    """The first column of the one row a statement reads."""
    found = await rows(store, sql, *args)
    assert found, f"no row from {sql}"
    return found[0][0]

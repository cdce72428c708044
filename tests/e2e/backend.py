"""Which database the end-to-end tests' bot uses, and reading it as an operator would.

`pytest --backend=postgres` (or TEST_BACKEND=postgres) gives the end-to-end tests' bots
databases on the test server (tests/postgres.py), set up by tests/e2e/conftest.py for each
test: one database per bot folder, as each folder holds its own SQLite file (a restart in the
same folder finds its database again). The bot gets it as DATABASE_URL. By default the bot
uses its SQLite file.

Tests read the bot's database with SQLite's SQL (`?` placeholders, `json_extract(params,
'$.key')` or `params ->> '$.key'`); on PostgreSQL those read the same values: a JSON number
as a number, true as 1, a string as text, an array or object as its JSON text.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from bot.ledger.postgres_store import to_postgres
from tests.postgres import PostgresServer
from tests.secrets_guard import database_leaks as sqlite_leaks
from tests.secrets_guard import find_secrets

_server: list[PostgresServer | None] = [None]
_databases: dict[Path, str] = {}
# SQLite's JSON paths, as PostgreSQL's `->` on jsonb (decoded by _as_sqlite_reads_it; whole
# json columns stay their text, as SQLite gives them).
_JSON_PATHS = (
    (re.compile(r"json_extract\((\w+),\s*'\$\.(\w+)'\)"), r"(\1::jsonb -> '\2')"),
    (re.compile(r"(\w+)\s*->>\s*'\$\.(\w+)'"), r"(\1::jsonb -> '\2')"),
)


def use(server: PostgresServer | None) -> None:
    """Give the running test's bots databases on this server (None: SQLite files)."""
    _server[0] = server
    _databases.clear()


async def database_url(folder: Path) -> str | None:
    """The PostgreSQL database of the bot whose files are in `folder` (None: SQLite)."""
    server = _server[0]
    if server is None:
        return None
    if folder not in _databases:  # pytest's folders are absolute: one name, one database
        _databases[folder] = await server.new_database()
    return _databases[folder]


def _on_thread(work: Any) -> Any:
    # Tests call these from inside their own event loop: query from a thread with its own.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, work).result(timeout=30)


def _as_sqlite_reads_it(text: str) -> Any:
    """A JSON value as SQLite's `->>` gives it: arrays and objects as compact JSON text."""
    value = orjson.loads(text)
    if isinstance(value, bool):
        return int(value)
    return orjson.dumps(value).decode() if isinstance(value, dict | list) else value


async def _pg_rows(url: str, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    for pattern, replacement in _JSON_PATHS:
        sql = pattern.sub(replacement, sql)
    conn = await asyncpg.connect(url)
    try:
        await conn.set_type_codec(
            "jsonb", schema="pg_catalog", encoder=str, decoder=_as_sqlite_reads_it
        )
        found = await conn.fetch(to_postgres(sql), *args)
    finally:
        await conn.close()
    return [tuple(int(v) if type(v) is Decimal else v for v in row) for row in found]


def rows(path: Path, url: str | None, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Read (or change) the bot's database directly (a second connection), in SQLite's SQL."""
    if url is None:
        with sqlite3.connect(path, timeout=5) as conn:
            return conn.execute(sql, args).fetchall()
    return list(_on_thread(_pg_rows(url, sql, args)))


async def _pg_leaks(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        found = []
        for (table,) in tables:
            for row in await conn.fetch(f'SELECT * FROM "{table}"'):
                if find_secrets(repr(tuple(row))):
                    found.append(f"{table}: {tuple(row)!r}"[:500])
        return found
    finally:
        await conn.close()


def database_leaks(path: Path, url: str | None) -> list[str]:
    """Rows of any table of the bot's database that contain a secret."""
    return sqlite_leaks(path) if url is None else list(_on_thread(_pg_leaks(url)))

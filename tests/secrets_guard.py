"""Every secret the tests use, and a log handler that notices any of them in any log line.

tests/conftest.py installs the handler for the whole run and fails the test during which a
secret appeared (in a message, an argument, or a traceback). The end-to-end harness also
searches what the fake Discord received and every row of the bot's database.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from tests.fakes.wisgate import TEST_API_KEY

DISCORD_TOKEN = "discord-test-token-0123456789"
OTHER_SECRETS = ("discord-token-never-printed", "sk-wrong-key-also-secret", "sk-bench-key")
SECRETS: tuple[str, ...] = (TEST_API_KEY, DISCORD_TOKEN, *OTHER_SECRETS)


def find_secrets(text: str, secrets: Iterable[str] = SECRETS) -> list[str]:
    """The secrets that occur in `text`."""
    return [secret for secret in secrets if secret in text]


class SecretLeakHandler(logging.Handler):
    """Formats every record as a real handler would, and keeps those that show a secret."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # a broken record is not our concern here
            return
        if find_secrets(text):
            self.leaks.append(text[:500])


def database_leaks(path: Path) -> list[str]:
    """Rows of any table of an SQLite file that contain a secret."""
    found = []
    with sqlite3.connect(path) as conn:
        tables = [
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                if find_secrets(repr(row)):
                    found.append(f"{table}: {row!r}"[:500])
    return found

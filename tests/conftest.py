"""Shared fixtures."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import aiosqlite
import pytest
from pydantic import SecretStr

from bot.ledger.database import open_database
from bot.wisgate.client import WisGateClient
from tests.fakes.wisgate import TEST_API_KEY, FakeWisGate
from tests.secrets_guard import SecretLeakHandler

# -- no secret in any log line, in any test ------------------------------------------------


@pytest.fixture(scope="session")
def _leak_handler() -> Iterator[SecretLeakHandler]:
    """One handler on the root logger for the whole run; our own loggers at DEBUG."""
    handler = SecretLeakHandler()
    root = logging.getLogger()
    ours = [logging.getLogger(name) for name in ("bot", "cogs", "tests")]
    old_levels = [root.level, *(logger.level for logger in ours)]
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.WARNING, logging.INFO))
    for logger in ours:
        logger.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    for logger, level in zip([root, *ours], old_levels, strict=True):
        logger.setLevel(level)


@pytest.fixture(autouse=True)
def no_secret_in_logs(_leak_handler: SecretLeakHandler) -> Iterator[None]:
    """Fail the test during which a token or key reached a log line."""
    before = len(_leak_handler.leaks)
    yield
    leaked = _leak_handler.leaks[before:]
    assert not leaked, f"a secret reached the logs: {leaked}"


# -- the fake WisGate ---------------------------------------------------------------------


@pytest.fixture
async def fake_wisgate() -> AsyncIterator[FakeWisGate]:
    """A loopback WisGate with flat (small, fast) images; set `.noisy = True` for real sizes."""
    async with FakeWisGate(api_key=TEST_API_KEY, noisy=False) as fake:
        yield fake


@pytest.fixture
async def wisgate_session() -> AsyncIterator[aiohttp.ClientSession]:
    """The one aiohttp session a WisGate client borrows."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def wisgate_client(
    wisgate_session: aiohttp.ClientSession, fake_wisgate: FakeWisGate
) -> WisGateClient:
    """A client for the fake, with millisecond backoff so retry tests stay fast."""
    return WisGateClient(
        wisgate_session,
        base_url=fake_wisgate.base_url,
        api_key=SecretStr(TEST_API_KEY),
        max_retries=3,
        backoff_base=0.001,
        backoff_cap=0.01,
    )


# -- a migrated database for the ledger's tests ----------------------------------------------


@pytest.fixture
async def conn(tmp_path: Path) -> AsyncIterator[aiosqlite.Connection]:
    """A fresh, migrated database in the test's own folder."""
    async with open_database(tmp_path / "ledger.sqlite3") as connection:
        yield connection

"""Shared fixtures."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from bot.ledger.store import Store
from bot.wisgate.client import WisGateClient
from tests.fakes.wisgate import TEST_API_KEY, FakeWisGate
from tests.places import BACKENDS, Place, new_place
from tests.postgres import REQUIRED, PostgresServer, start_server
from tests.secrets_guard import SecretLeakHandler


def pytest_addoption(parser: pytest.Parser) -> None:
    """--backend: the database the end-to-end tests' bot keeps its ledger in."""
    parser.addoption(
        "--backend",
        choices=BACKENDS,
        default=os.environ.get("TEST_BACKEND", "sqlite"),
        help="the end-to-end tests' database: sqlite (default) or postgres (a test server); "
        "the ledger's own tests always run on both",
    )


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


# -- migrated databases for the ledger's tests, on both backends -----------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the run (tests/postgres.py); skips when there is none."""
    try:
        server = start_server()
    except FileNotFoundError as error:
        if REQUIRED:
            pytest.fail(f"REQUIRE_POSTGRES is set, but {error}")
        pytest.skip(
            f"PostgreSQL tests skipped: {error}. Install PostgreSQL (Debian: apt-get install "
            "postgresql) to run them; REQUIRE_POSTGRES=1 makes this a failure"
        )
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
async def place(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    """A fresh database for one ledger test, on each backend in turn."""
    backend: str = request.param
    server = request.getfixturevalue("postgres_server") if backend == "postgres" else None
    return await new_place(backend, tmp_path, server)


@pytest.fixture
async def store(place: Place) -> AsyncIterator[Store]:
    """The ledger's store on `place`, open for the test."""
    async with place.open() as opened:
        yield opened

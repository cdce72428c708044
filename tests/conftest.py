"""Shared fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from pydantic import SecretStr

from bot.wisgate import WisGateClient
from tests.fakes.wisgate import TEST_API_KEY, FakeWisGate

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

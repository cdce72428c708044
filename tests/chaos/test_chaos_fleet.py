"""Chaos on PostgreSQL (issue 19): the chaos run (tests/chaos/test_chaos.py) with three bot
processes, one shard each, on one database, faults on both sides, and one process SIGKILLed
mid-run and not restarted (tests/chaos/fleet.py). The same checks hold (invariants.py), and
the ones across processes (fleet_checks.py): WisGate never sees more calls at once than the
caps allow (the total cap, 3 here, binds), the owner's daily cap (every process charges it;
$1.25 here, reached mid-run) is never overspent, and a survivor ends the dead process's jobs
within a few leases of the kill. A run takes ~25-35 s on two loaded cores.

    .venv/bin/pytest tests/chaos/test_chaos_fleet.py                    # the CI seed(s)
    CHAOS_SEEDS=5 .venv/bin/pytest tests/chaos/test_chaos_fleet.py -s   # seeds 1-5, figures

Without PostgreSQL binaries it skips, saying so (tests/postgres.py); REQUIRE_POSTGRES=1 makes
that a failure.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from tests.chaos.fleet import FleetDriver
from tests.chaos.plan import make_plan
from tests.chaos.test_chaos import play, seeds
from tests.fakes.wisgate import TEST_API_KEY, FakeWisGate
from tests.postgres import PostgresServer


@pytest.mark.parametrize("seed", seeds())
async def test_chaos_on_postgres(
    seed: int, tmp_path: Path, postgres_server: PostgresServer
) -> None:
    run = await play(FleetDriver(make_plan(seed), tmp_path, postgres_server))
    assert [epoch.killed_at is not None for epoch in run.epochs].count(True) == 1
    assert run.takeovers and run.takeovers[0].jobs, "the killed process had no job to take"
    assert run.wisgate.max_in_flight == FleetDriver.cap, "the cap never bound: it went untested"


async def test_the_fake_wisgate_counts_calls_past_its_cap() -> None:
    """The cap check can fail: three slow calls at once against a cap of two."""
    async with (
        FakeWisGate(api_key=TEST_API_KEY, noisy=False) as fake,
        aiohttp.ClientSession() as http,
    ):
        fake.cap_in_flight(2)
        fake.fail("slow", times=3, delay=0.3)
        body = {"model": "dall-e-2", "prompt": "a teapot", "size": "256x256"}
        headers = {"Authorization": f"Bearer {TEST_API_KEY}"}

        async def call() -> int:
            url = f"{fake.base_url}/images/generations"
            async with http.post(url, json=body, headers=headers) as response:
                await response.read()
                return response.status

        assert list(await asyncio.gather(call(), call(), call())) == [200, 200, 200]
        assert fake.max_in_flight == 3 and fake.in_flight == 0
        assert len(fake.over_cap) == 1 and "3 image calls at once (cap 2)" in fake.over_cap[0]
        assert all(r.ended is not None and r.ended > r.time for r in fake.requests)
        await call()  # one at a time: within the cap
        assert len(fake.over_cap) == 1

"""bot.images.memory: freed buffers stay mapped (no page faults per job), start-up objects
frozen."""

from __future__ import annotations

import asyncio
import gc
import logging
import platform
import sys
from pathlib import Path

import pytest

from bot.app import run_bot
from bot.config import load_settings
from bot.images.memory import keep_freed_memory
from tests.fakes.discord import FakeDiscord
from tests.fakes.wisgate import TEST_API_KEY, FakeWisGate
from tests.secrets_guard import DISCORD_TOKEN

REPO = Path(__file__).resolve().parents[3]

# A job's buffers, eight jobs at a time in worker threads as in a burst: the answer, the
# string made of it, the decoded image. Prints the minor page faults per job once warm.
JOBS = """
import resource, sys
from concurrent.futures import ThreadPoolExecutor
from bot.images.memory import keep_freed_memory

if sys.argv[1] == "tuned":
    assert keep_freed_memory()
MB = 1 << 20

def job(k):
    answer = b"A" * (3 * MB + k)
    text = answer.decode()
    image = b"B" * (2 * MB + k)
    return len(text) + len(image)

def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

with ThreadPoolExecutor(4) as pool:
    for _ in range(5):
        list(pool.map(job, range(8)))
    before = faults()
    for _ in range(20):
        list(pool.map(job, range(8)))
print((faults() - before) / 160)
"""


async def faults_per_job(mode: str) -> float:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        JOBS,
        mode,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    return float(out.decode().strip())


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
async def test_freed_buffers_are_reused_instead_of_faulted_in_again() -> None:
    plain = await faults_per_job("plain")
    tuned = await faults_per_job("tuned")
    # Each job touches ~8 MiB: 2,048 pages when none of it was kept.
    assert plain > 500, f"the pattern no longer faults without the tuning ({plain})"
    assert tuned < plain / 20, (plain, tuned)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MALLOC_TRIM_THRESHOLD_", "131072"),
        ("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=131072"),
    ],
)
def test_the_operators_own_glibc_settings_are_kept(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    caplog.set_level(logging.INFO, logger="bot.images.memory")
    assert keep_freed_memory() is False
    assert "left as the environment sets them" in caplog.text


async def test_run_bot_tunes_memory_and_freezes_startup_objects_once_connected(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="bot.discord.client")
    tuned: list[bool] = []

    def record_tuning() -> bool:
        tuned.append(True)  # recorded, not done: the thresholds would stay for the session
        return True

    monkeypatch.setattr("bot.app.keep_freed_memory", record_tuning)
    async with FakeDiscord(token=DISCORD_TOKEN) as fake, FakeWisGate() as api:
        guild = fake.add_guild("Test")
        settings = load_settings(
            _env_file=None,
            discord_token=DISCORD_TOKEN,
            wisgate_api_key=TEST_API_KEY,
            wisgate_base_url=api.base_url,
            database_path=tmp_path / "bot.sqlite3",
            dev_guild_id=guild.id,
        )
        assert gc.get_freeze_count() == 0
        task = asyncio.create_task(run_bot(settings))
        try:
            await fake.wait_for(lambda: gc.get_freeze_count() > 0 or task.done(), within=15)
            assert not task.done(), task
            assert tuned == [True]
            assert "start-up objects" in caplog.text
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            gc.unfreeze()  # the rest of the test session collects as before

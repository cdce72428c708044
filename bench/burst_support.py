"""What bench/burst.py and bench/burst_fairness.py share: the bot in a subprocess, its
environment, the fake WisGate's fixed answer, and reading deliveries off the fake Discord."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson
import pybase64

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the scripts import this module before tests.fakes

from tests.fakes.discord import FakeDiscord, FakeGuild, FakeInteraction  # noqa: E402
from tests.fakes.images import make_image  # noqa: E402
from tests.fakes.wisgate import TEST_API_KEY, FakeWisGate, usage_for  # noqa: E402

TOKEN = "bench-discord-token"
# When the fake Discord checks request bodies against the schema (bench/burst.py's docstring).
SchemaCheck = Literal["inline", "later"]


def quantile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values, by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def start_bot(env: dict[str, str]) -> asyncio.subprocess.Process:
    """Start bench/burst_bot.py and wait until it is connected."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bench" / "burst_bot.py"),
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
    if line.strip() != b"READY":
        raise RuntimeError(f"bot did not start: {line!r}")
    return process


async def stop_bot(process: asyncio.subprocess.Process) -> dict[str, Any]:
    """SIGTERM the bot and read its stall and memory figures."""
    process.terminate()
    assert process.stdout is not None
    out = await asyncio.wait_for(process.stdout.read(), timeout=60)
    await process.wait()
    return dict(json.loads(out.decode().strip().splitlines()[-1]))


def delivery(fake: FakeDiscord, handle: FakeInteraction) -> tuple[float, int] | None:
    """When the images reached Discord (on the fake's clock), and the job id in their names."""
    for request in fake.requests_for(handle):
        if request.files and request.status < 300:
            return request.at, int(request.files[0].filename.split("-")[1])
    return None


def all_delivered(fake: FakeDiscord, handles: list[FakeInteraction]) -> Callable[[], bool]:
    """A predicate for wait_for: every handle's images reached Discord. It looks again only at
    the ones still pending: run after every request, a full pass over 500 handles in this
    process (which answers the bot) would slow the fakes as the burst goes on."""
    pending = list(handles)

    def check() -> bool:
        pending[:] = [handle for handle in pending if delivery(fake, handle) is None]
        return not pending

    return check


def fixed_answer(noisy: bool) -> bytes:
    """One precomputed answer with one 1024x1024 PNG, so the fake does no work per call.

    (Generating and encoding it per call would stall this process's loop, where the fake
    Discord records acknowledgement times, and blame the bot for it.)
    """
    png = make_image(1024, 1024, "png", noisy=noisy)
    payload = {
        "created": int(time.time()),
        "data": [{"b64_json": pybase64.b64encode(png).decode("ascii")}],
        "output_format": "png",
        "size": "1024x1024",
        "usage": usage_for("burst", 0, 1),
    }
    return orjson.dumps(payload)


def bot_env(
    fake: FakeDiscord, api: FakeWisGate, guild: FakeGuild, folder: str, *, cap: int, jobs: int
) -> dict[str, str]:
    """The production bot's environment: the fakes' addresses, one model, the global cap."""
    return {
        "DISCORD_TOKEN": TOKEN,
        "WISGATE_API_KEY": TEST_API_KEY,
        "WISGATE_BASE_URL": api.base_url,
        "DATABASE_PATH": str(Path(folder) / "bench.sqlite3"),
        "DEV_GUILD_ID": str(guild.id),
        "ENABLED_MODELS": "gpt-image-1",
        "DEFAULT_MODEL": "gpt-image-1",
        "MAX_CONCURRENT_JOBS": str(cap),
        "MAX_JOBS_PER_GUILD": str(cap),  # every member is in the one bench guild
        "DAILY_IMAGE_LIMIT": str(jobs),
        # The burst measures the pipeline: the owner's spending caps would refuse most of it.
        "OPERATOR_DAILY_USD": "off",
        "OPERATOR_MONTHLY_USD": "off",
        "ACCOUNT_DAILY_USD": "off",
        "PERSONAL_MONTHLY_USD": "off",
        "STREAMING_PREVIEWS": "off",
        "LOG_LEVEL": "WARNING",
        "BENCH_API": fake.api_url,
        "BENCH_GATEWAY": fake.gateway.url,
    }


@dataclass
class Run:
    """What one run of the production bot left: the fake Discord's records, the interactions,
    the bot's own figures (stalls, memory, the runner's per-job log), WisGate calls."""

    fake: FakeDiscord
    handles: list[FakeInteraction]
    figures: dict[str, Any]
    wisgate_calls: int


async def run_production_bot(
    drive: Callable[[FakeDiscord, FakeGuild], Awaitable[list[FakeInteraction]]],
    *,
    delay: float,
    noisy: bool,
    cap: int,
    daily: int,
    schema: SchemaCheck,
    extra_env: dict[str, str] | None = None,
) -> Run:
    """Both fakes and the production bot, synced; `drive` sends the interactions; returns
    once every one's images reached Discord and the bot has stopped."""
    answer = fixed_answer(noisy)
    async with (
        FakeDiscord(token=TOKEN, schema_check=schema) as fake,
        FakeWisGate(latency=delay, fixed_body=answer) as api,
    ):
        guild = fake.add_guild("bench")
        with tempfile.TemporaryDirectory() as folder:
            env = bot_env(fake, api, guild, folder, cap=cap, jobs=daily) | (extra_env or {})
            bot = await start_bot(env)
            await fake.wait_for(lambda: bool(fake.guild_commands(guild.id)), within=30)
            handles = await drive(fake, guild)
            await fake.wait_for(
                all_delivered(fake, handles),
                within=120 + delay * len(handles) / cap,
                what="every delivery",
            )
            figures = await stop_bot(bot)
    return Run(fake, handles, figures, len(api.requests))

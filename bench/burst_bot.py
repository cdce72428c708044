"""The bot side of bench/burst.py: the production bot (or a bare one) in its own process.

Started by bench/burst.py with the fake's addresses in the environment. It measures its own
event loop's longest stall and prints one JSON line when it receives SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import signal
import sys
import time
from pathlib import Path

import discord
import yarl
from discord import app_commands
from discord.ext import commands

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import load_settings  # noqa: E402
from bot.wiring import build_bot  # noqa: E402


class BareBot(commands.Bot):
    """A discord.py bot whose /imagine only defers: the floor for acknowledgement latency."""

    def __init__(self, guild_id: int) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            guild_ready_timeout=0.05,
        )
        self.guild_id = guild_id

    async def setup_hook(self) -> None:
        """Register /imagine in the bench guild."""

        @app_commands.command(name="imagine")
        async def imagine(interaction: discord.Interaction, prompt: str) -> None:
            """Only defer."""
            await interaction.response.defer(thinking=True)

        guild = discord.Object(self.guild_id)
        self.tree.add_command(imagine, guild=guild)
        await self.tree.sync(guild=guild)


async def watch_loop(stalls: list[float], interval: float = 0.005) -> None:
    """Record how late a short sleep wakes: the loop's stalls."""
    while True:
        before = time.perf_counter()
        await asyncio.sleep(interval)
        stalls.append(time.perf_counter() - before - interval)


class JobLog(logging.Handler):
    """Keeps the runner's structured per-job fields (queue wait, upstream, delivery)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.jobs: dict[int, dict[str, object]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "job", None)
        if isinstance(fields, dict):
            self.jobs[int(fields["job_id"])] = fields


async def main() -> None:
    discord.http.Route.BASE = os.environ["BENCH_API"]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["BENCH_GATEWAY"])
    token = os.environ["DISCORD_TOKEN"]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    stalls: list[float] = []
    jobs = JobLog()
    runner_log = logging.getLogger("bot.runner")
    runner_log.setLevel(logging.INFO)
    runner_log.propagate = False
    runner_log.addHandler(jobs)
    if os.environ.get("BENCH_BARE") == "1":
        runner = BareBot(int(os.environ["DEV_GUILD_ID"]))
        context = runner
    else:
        settings = load_settings(_env_file=None)
        context = build_bot(settings, guild_ready_timeout=0.05)  # type: ignore[assignment]
    async with context as bot:
        await bot.login(token)
        connection = asyncio.create_task(bot.connect())
        await bot.wait_until_ready()
        import gc

        gc.freeze()  # DESIGN.md: a full collection adds 70-110 ms to a burst
        watcher = asyncio.create_task(watch_loop(stalls))
        print("READY", flush=True)
        await stop.wait()
        watcher.cancel()
        await bot.close()
        await asyncio.wait({connection}, timeout=5)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures = {"max_stall": max(stalls, default=0.0), "peak_rss_kib": peak_kib, "jobs": jobs.jobs}
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    asyncio.run(main())

"""The bot side of bench/burst.py: the production bot (or a bare one, or the floor pipeline of
bench/burst_floor.py with BENCH_FLOOR=1) in its own process.

Started by bench/burst.py with the fake's addresses in the environment. It measures its own
event loop's longest stall and prints one JSON line when it receives SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
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

import burst_stages  # noqa: E402
from burst_floor import FLOOR_LOG, FloorBot  # noqa: E402

from bot.app import build_bot  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.discord.client import ImageBot  # noqa: E402
from bot.images.memory import freeze_startup_objects, keep_freed_memory  # noqa: E402


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


BEAT = [time.perf_counter()]


async def watch_loop(stalls: list[tuple[float, float]], interval: float = 0.005) -> None:
    """Record how late a short sleep wakes: the loop's stalls, with when they began."""
    while True:
        before = time.perf_counter()
        BEAT[0] = before
        await asyncio.sleep(interval)
        stalls.append((before, time.perf_counter() - before - interval))


def peak_rss_kib() -> int:
    """This process's peak resident memory (VmHWM). Not ru_maxrss: Linux carries that over
    from the parent through fork and exec, so it reported the bench's own growth."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def worst_stalls(stalls: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The five longest stalls as (seconds after the burst's first stall, ms)."""
    busy = [at for at, stall in stalls if stall > 0.02]
    start = busy[0] if busy else 0.0
    ranked = sorted(stalls, key=lambda item: -item[1])[:5]
    return [(round(at - start, 2), round(stall * 1000)) for at, stall in ranked]


def stall_sampler(main_id: int, seen: dict[str, int], threshold: float = 0.05) -> None:
    """BENCH_STALLS=1: from a thread, note what the loop thread runs while it is stalled."""
    import traceback

    while True:
        time.sleep(0.01)
        if time.perf_counter() - BEAT[0] > threshold:
            frame = sys._current_frames().get(main_id)
            if frame is not None:
                key = "".join(traceback.format_stack(frame)[-6:])
                seen[key] = seen.get(key, 0) + 1


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
    if os.environ.get("BENCH_TRACEMALLOC"):
        import tracemalloc

        tracemalloc.start(8)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    stalls: list[tuple[float, float]] = []
    jobs = JobLog()
    for name in ("bot.jobs.runner", FLOOR_LOG):
        runner_log = logging.getLogger(name)
        runner_log.setLevel(logging.INFO)
        runner_log.propagate = False
        runner_log.addHandler(jobs)
    context: contextlib.AbstractAsyncContextManager[commands.Bot]
    if os.environ.get("BENCH_BARE") == "1":
        context = BareBot(int(os.environ["DEV_GUILD_ID"]))
    elif os.environ.get("BENCH_FLOOR") == "1":
        keep_freed_memory()  # the production bot's memory settings: not work per job
        context = FloorBot(
            int(os.environ["DEV_GUILD_ID"]),
            base_url=os.environ["WISGATE_BASE_URL"],
            api_key=os.environ["WISGATE_API_KEY"],
            cap=int(os.environ["MAX_CONCURRENT_JOBS"]),
        )
    else:
        if os.environ.get("BENCH_STAGES"):
            burst_stages.instrument()
        # As bot.app.run_bot (`python -m bot`) starts it: the same memory settings.
        keep_freed_memory()
        settings = load_settings(_env_file=None)
        context = build_bot(settings, guild_ready_timeout=0.05, freeze_on_ready=True)
    async with context as bot:
        await bot.login(token)
        connection = asyncio.create_task(bot.connect())
        await bot.wait_until_ready()
        import gc

        if isinstance(bot, ImageBot):
            # Its on_ready may not have frozen yet; that collection is not the burst's.
            await asyncio.wait_for(bot.startup_frozen.wait(), timeout=30)
        else:
            # The production bot freezes its start-up objects once ready (bot.images.memory); the
            # bare one does too, so that its floor is not a full collection either.
            freeze_startup_objects()
        faults_before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        gc_pauses: dict[int, float] = {}
        gc_started: list[float] = [0.0]

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                gc_started[0] = time.perf_counter()
            else:
                took = time.perf_counter() - gc_started[0]
                generation = info["generation"]
                gc_pauses[generation] = max(gc_pauses.get(generation, 0.0), took)

        gc.callbacks.append(on_gc)
        watcher = asyncio.create_task(watch_loop(stalls))
        stall_stacks: dict[str, int] = {}
        if os.environ.get("BENCH_STALLS"):
            import threading

            threading.Thread(
                target=stall_sampler,
                args=(threading.main_thread().ident, stall_stacks),
                daemon=True,
            ).start()
        profile = None
        if os.environ.get("BENCH_PROFILE") and isinstance(bot, ImageBot):
            import cProfile

            profile = cProfile.Profile()
            profile.enable()
        print("READY", flush=True)
        await stop.wait()
        if profile is not None:
            profile.disable()
            profile.dump_stats(os.environ["BENCH_PROFILE"])
        page_faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults_before
        watcher.cancel()
        await bot.close()
        await asyncio.wait({connection}, timeout=5)
    if os.environ.get("BENCH_TRACEMALLOC"):
        import tracemalloc

        _, peak = tracemalloc.get_traced_memory()
        print(f"tracemalloc: peak of Python allocations {peak / 2**20:.0f} MiB", file=sys.stderr)
        import gc as _gc

        held, _ = tracemalloc.get_traced_memory()
        found = _gc.collect()
        after, _ = tracemalloc.get_traced_memory()
        print(
            f"tracemalloc: {held / 2**20:.0f} MiB held at the end, {after / 2**20:.0f} MiB "
            f"after a full collection ({found} objects in cycles)",
            file=sys.stderr,
        )
        snapshot = tracemalloc.take_snapshot()
        for stat in snapshot.statistics("traceback")[:5]:
            print(stat, file=sys.stderr)
            for line in stat.traceback.format()[-16:]:
                print("   ", line, file=sys.stderr)
    for stack, count in sorted(stall_stacks.items(), key=lambda item: -item[1])[:6]:
        print(f"--- stalled {count} x 10 ms in:\n{stack}", file=sys.stderr)
    peak_kib = peak_rss_kib()
    figures = {
        "max_stall": max((stall for _, stall in stalls), default=0.0),
        # How often, and when (seconds after the first stall over 20 ms), the loop stalled.
        "stalls_over_50ms": sum(stall > 0.05 for _, stall in stalls),
        "stalls_over_100ms": sum(stall > 0.1 for _, stall in stalls),
        "worst_stalls": worst_stalls(stalls),
        "peak_rss_kib": peak_kib,
        "jobs": jobs.jobs,
        "gc_pauses": gc_pauses,
        "page_faults": page_faults,  # minor faults from READY until told to stop
    }
    if burst_stages.TIMES:
        figures["stage_times"] = burst_stages.figures(len(jobs.jobs))
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    asyncio.run(main())

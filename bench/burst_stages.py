"""Where the production bot's time goes per job, for bench/burst.py (BENCH_STAGES=1).

bench/burst_bot.py calls `instrument()` before building the bot: it wraps the methods each job
passes through (the read-only checks before the defer, bot/discord/gate.py; the runner's
stages, the reporter's delivery, the Discord request that uploads) with a wall-clock timer,
in the bot's process only. Wall time under the burst: an await also counts the time the loop
spent on other jobs before it came back. `figures(jobs)` gives, per
stage, its calls per job, ms per job and the p50 ms of one call; bench/burst.py prints them.
BENCH_PROFILE=<file> adds a cProfile of the loop's thread from READY to the stop instead.
"""

from __future__ import annotations

import functools
import inspect
import statistics
import time
from collections.abc import Callable
from typing import Any

TIMES: dict[str, list[float]] = {}


def _wrap(owner: Any, name: str, stage: str) -> None:
    """Replace owner.name by a timed version recording into TIMES[stage]."""
    original: Callable[..., Any] = getattr(owner, name)
    spent = TIMES.setdefault(stage, [])
    clock = time.perf_counter
    wrapper: Callable[..., Any]
    if inspect.iscoroutinefunction(original):

        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            began = clock()
            try:
                return await original(*args, **kwargs)
            finally:
                spent.append(clock() - began)

        wrapper = timed_async
    else:

        def timed(*args: Any, **kwargs: Any) -> Any:
            began = clock()
            try:
                return original(*args, **kwargs)
            finally:
                spent.append(clock() - began)

        wrapper = timed
    setattr(owner, name, functools.wraps(original)(wrapper))


def instrument() -> None:
    """Time the stages of a job (imports the bot's modules; call before building the bot)."""
    import discord

    from bot.discord import intake, reporter
    from bot.discord.notices import Notices
    from bot.images.store import ResultStore
    from bot.jobs.spool import InputSpool
    from bot.ledger.facade import Ledger
    from bot.wisgate.client import WisGateClient

    stages: list[tuple[Any, str, str]] = [
        (intake, "check_before_download", "pre-defer checks (servers, ledger, blocked terms)"),
        (InputSpool, "restore", "spool restore"),
        (Ledger, "start", "ledger start (running)"),
        (WisGateClient, "_image_request", "WisGate call (incl. the delay), read, parse"),
        (WisGateClient, "_off_loop", "  of which join+parse+base64 (thread hop)"),
        (WisGateClient, "_finish", "WisGate finish (url downloads)"),
        (ResultStore, "save", "results store save"),
        (Ledger, "settle", "ledger settle"),
        (Notices, "settled", "after-settlement hook"),
        (reporter.InteractionReporter, "deliver", "reporter deliver"),
        (reporter.InteractionReporter, "_stop_ticker", "  of which stop the ticker"),
        (reporter, "fit_images", "  of which fit_images"),
        (reporter, "result_embed", "  of which result_embed"),
        (reporter, "result_view", "  of which result_view (buttons)"),
        (reporter, "pack_messages", "  of which pack_messages"),
        (discord.Interaction, "edit_original_response", "edit_original_response (all)"),
        (reporter.InteractionReporter, "_edit", "status edits (ticker, previews)"),
        (Ledger, "delivered", "ledger delivered"),
    ]
    for owner, name, stage in stages:
        if hasattr(owner, name):  # a stage the code no longer has is left out, not an error
            _wrap(owner, name, stage)


def figures(jobs: int) -> dict[str, tuple[float, float, float]]:
    """Per stage: (calls per job, ms per job, p50 ms of one call)."""
    return {
        stage: (
            len(spent) / max(jobs, 1),
            1000 * sum(spent) / max(jobs, 1),
            1000 * statistics.median(spent) if spent else 0.0,
        )
        for stage, spent in TIMES.items()
    }

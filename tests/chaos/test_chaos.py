"""Chaos: 200 jobs from 20 members through the production bot in a subprocess, against both
fakes, with faults drawn at random on both sides and the bot SIGKILLed at least twice.

Each run is decided by one seed (tests/chaos/plan.py): members, models and image counts,
WisGate faults (429, 5xx, dropped connections, slow and too-slow answers, a reset mid-body,
malformed JSON, moderation blocks), Discord faults (429, 5xx, 413 on uploads, tokens that
expire while the job runs, failing channel posts), and two or three SIGKILLs while jobs run
(harsh ones may also cut off requests not yet held), each followed by a restart on the same
database. Afterwards tests/chaos/invariants.py checks that every job was delivered and charged
or refunded and the member told, that no member is above their limit nor the server above its
budget, that charged images equal delivered ones, and that nothing is left queued or running;
its docstring lists every check, and the one window a kill can still hit (counted in the
summary line): images delivered free when the kill lands between the upload and the charge.

The two tests at the end kill the bot at a chosen moment instead: while restart notices are
being sent, and between a refund and telling the member; either way the next start tells
them (a member may hear twice, never not at all).

    .venv/bin/pytest tests/chaos/test_chaos.py                     # the CI seed(s): CHAOS_SEEDS
    CHAOS_SEEDS=10 .venv/bin/pytest tests/chaos/test_chaos.py -v   # seeds 1-10, one after another
    CHAOS_SEEDS=7,42 .venv/bin/pytest tests/chaos/test_chaos.py    # these seeds ("42," for one)

tests/chaos/test_chaos_fleet.py runs the same plans on PostgreSQL with three bot processes,
one killed for good.

A run takes ~15-25 s on two cores and is cut off after RUN_TIMEOUT. A failure names its seed
(rerun it alone with CHAOS_SEEDS=<seed>,) and lists what broke; the bot's log is kept in the
test's tmp_path.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tests.chaos.driver import Driver, running
from tests.chaos.invariants import RECOVERED, check, was_told
from tests.chaos.plan import (
    REQUEST_TIMEOUT,
    DiscordFault,
    JobPlan,
    Plan,
    make_plan,
)
from tests.chaos.records import Run, db_rows
from tests.fakes.wisgate import Fault

RUN_TIMEOUT = 120.0  # seconds: a run that hangs fails instead of stalling CI
WINDOW = (10, 1.0)  # images a second WisGate allows in the rate-limited run: it binds
CI_SEEDS = "1"


def seeds() -> list[int]:
    """CHAOS_SEEDS: a count (seeds 1..N) or a comma-separated list."""
    text = os.environ.get("CHAOS_SEEDS", CI_SEEDS).strip()
    if "," not in text and text.isdigit():
        return list(range(1, int(text) + 1))
    return [int(part) for part in text.split(",") if part.strip()]


@pytest.mark.parametrize("seed", seeds())
async def test_chaos(seed: int, tmp_path: Path) -> None:
    await play(Driver(make_plan(seed), tmp_path))


@pytest.mark.parametrize("seed", seeds())
async def test_chaos_under_a_rate_limit(seed: int, tmp_path: Path) -> None:
    """The same, with WisGate allowing only WINDOW images a second, less than the run asks
    at its busiest (the summary counts the windows filled): jobs wait for the window, and
    none fails on a 429 (the invariants check it)."""
    run = await play(Driver(replace(make_plan(seed), window=WINDOW), tmp_path))
    assert run.wisgate.windows_filled >= 3  # the limit bound: jobs had to wait for it


async def play(driver: Driver) -> Run:
    """Run the driver's plan, check every invariant, fail with the violations."""
    seed = driver.plan.seed
    started = time.monotonic()
    try:
        run = await asyncio.wait_for(driver.run(), RUN_TIMEOUT)
    except TimeoutError:
        pytest.fail(f"chaos seed {seed}: no end within {RUN_TIMEOUT:.0f} s (log: {driver.folder})")
    report = check(run)
    took = time.monotonic() - started
    print(f"chaos seed {seed}: {took:.1f} s; {report.summary()}")
    shown = "\n  ".join(report.violations[:40])
    more = len(report.violations) - 40
    assert not report.violations, (
        f"chaos seed {seed} ({took:.1f} s; {report.summary()}): "
        f"{len(report.violations)} violations{f' ({more} not shown)' if more > 0 else ''}:\n"
        f"  {shown}\nbot log: {run.log}"
    )
    return run


# -- one kill at a chosen moment: the windows the chaos run hits only by chance -------------


def one_job(
    *, wisgate: tuple[Fault, ...] = (), discord: tuple[DiscordFault, ...] = ()
) -> tuple[JobPlan, Plan]:
    """A plan of a single public /imagine by member 0, with these faults."""
    options = {"model": "gpt-image-1", "size": "1024x1024", "quality": "low", "count": 1}
    job = JobPlan(
        index=0,
        seed=0,
        member=0,
        command="imagine",
        options={**options, "prompt": "chaos-0-000 a teapot"},
        in_dm=False,
        channel=0,
        gap=0.0,
        wisgate=wisgate,
        discord=discord,
    )
    return job, Plan(seed=0, jobs=(job,), kills=(), budget_usd=10.0)


def status_of(run: Run) -> list[tuple[str, str]]:
    """(status, error) of every job."""
    return db_rows(run.database, "SELECT status, error FROM jobs")


async def test_restart_notices_survive_a_kill_while_they_are_sent(tmp_path: Path) -> None:
    """The bot dies with a job running, its interaction's token expired; the next process
    refunds it and starts telling the member in the channel, but the channel answers 502
    (discord.py retries after 1 s) and that process dies too in that second; the third one
    must still tell them."""
    job, plan = one_job(wisgate=(Fault("slow", delay=REQUEST_TIMEOUT),))
    driver = Driver(plan, tmp_path)
    async with driver.world() as run:
        item = await driver.inject(job)
        assert await running(run, 5.0)
        run.discord.expire_token(item.handle)  # else the next start answers on the interaction
        run.discord.fail_next("POST", r"^/channels/\d+/messages$", 502)
        await driver.kill_and_restart(harsh=True, notices=False)
        await run.discord.wait_for_request("POST", r"^/channels/\d+/messages$", status=502)
        await driver.kill_and_restart(harsh=True)
        await driver.finish()
    assert status_of(run) == [("interrupted", RECOVERED)]
    assert was_told(run, item), "the restart notice was lost with the process sending it"
    assert run.exit_code == 0


async def test_a_refund_cut_short_by_a_kill_is_still_told(tmp_path: Path) -> None:
    """WisGate blocks the job; the ledger refunds it; telling the member meets a 502, which
    discord.py retries after 1 s; the bot is SIGKILLed in that second."""
    job, plan = one_job(
        wisgate=(Fault("moderation_blocked"),),
        discord=(DiscordFault("server_error", 1, 502),),
    )
    driver = Driver(plan, tmp_path)
    async with driver.world() as run:
        item = await driver.inject(job)
        path = r"/messages/@original$"
        await run.discord.wait_for_request(path=path, interaction=item.handle, status=502)
        await driver.kill_and_restart(harsh=True)
        await driver.finish()
    assert [status for status, _ in status_of(run)] == ["failed"]
    assert was_told(run, item), "refunded, and the member was never told"


async def test_a_delivery_cut_short_by_a_kill_is_finished_by_the_next_start(
    tmp_path: Path,
) -> None:
    """WisGate answers and the job is charged; uploading the images meets a 502, which
    discord.py retries after 1 s; the bot is SIGKILLed in that second. The next start must
    deliver the kept images (in the job's channel: the token died with the process) and
    charge nothing more."""
    job, plan = one_job(discord=(DiscordFault("server_error", 1, 502),))
    # Two images: no streamed previews, so the first edit of the reply is the delivery.
    job = replace(job, options={**job.options, "count": 2})
    plan = replace(plan, jobs=(job,))
    driver = Driver(plan, tmp_path)
    async with driver.world() as run:
        item = await driver.inject(job)
        path = r"/messages/@original$"
        await run.discord.wait_for_request(path=path, interaction=item.handle, status=502)
        await driver.kill_and_restart(harsh=True)
        await driver.finish()
    rows = db_rows(
        run.database,
        "SELECT status, images_charged, images_sent, delivery, cost_charged_micros > 0 FROM jobs",
    )
    assert rows == [("succeeded", 2, 2, "delivered", 1)]
    posts = [
        r
        for r in run.discord.requests
        if r.files and r.status == 200 and r.path.startswith("/channels/")
    ]
    assert len(posts) == 1 and f"<@{item.handle.user.id}>" in str(posts[0].json)
    assert run.exit_code == 0

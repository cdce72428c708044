"""The fair queue under load: throughput against the cap's limit, and how evenly members wait.

Run from the repository root: `.venv/bin/python bench/burst.py --fairness [--delay 2] [--cap 8]`.

The fairness run: 300 jobs from 30 members (10 each), upstream latency 2 s, global cap 8,
per-member cap 2, so the limit is 8 / 2 s = 4 jobs/s. With a per-member cap of 2, a member's
tenth job waits behind their own first nine (>= 8 s even on an idle bot), so a member's p99
wait is their own backlog plus their share of the service, and comparing members only
means something when their demands are alike and their arrival is not. So the members come
in three bursts, 10 s apart, of ten members each, each member's ten requests back to back
(as one member clicking ten times before the next): 100 jobs every 10 s against 40 served,
so the queue holds work from the first second to the last and throughput can reach the
limit. An arrival-order (FIFO) queue, even with the per-member cap, serves a burst's first
member in ~8 s and keeps the last burst's members ~58 s: a spread of ~7 (discrete-event
simulation of this shape). Round-robin with every start counted as a turn should give
~1.2: the first burst's members ~46 s, the later bursts' ~52-56 s, as everyone present
shares each round. (Equal waves, every member asking two jobs each 10 s, cannot tell the
two apart: FIFO and round-robin both give ~1.7 there, the spread of arrival order alone.)
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from burst_support import SchemaCheck, delivery, quantile, run_production_bot

from tests.fakes.discord import FakeDiscord, FakeGuild, FakeInteraction

# 3 bursts x 10 members x 10 jobs = 300 jobs; 10 s apart; at most 2 running per member.
FAIR_BURSTS, FAIR_MEMBERS, FAIR_JOBS, FAIR_GAP, FAIR_MEMBER_CAP = 3, 10, 10, 10.0, 2


async def fairness_bursts(fake: FakeDiscord, guild: FakeGuild) -> list[FakeInteraction]:
    """FAIR_BURSTS bursts, FAIR_GAP s apart, of FAIR_MEMBERS members x FAIR_JOBS jobs each,
    every member's jobs back to back."""
    handles: list[FakeInteraction] = []
    start = time.monotonic()
    for burst_no in range(FAIR_BURSTS):
        await asyncio.sleep(max(0.0, start + burst_no * FAIR_GAP - time.monotonic()))
        for member_no in range(FAIR_MEMBERS):
            user = guild.add_member(f"burst{burst_no}-member{member_no}").user
            for job in range(FAIR_JOBS):
                options = {"prompt": f"burst {burst_no} member {member_no} job {job}"}
                handles.append(await fake.inject_slash("imagine", options, user=user))
    return handles


async def run_fairness(
    delay: float, cap: int, noisy: bool, schema: SchemaCheck = "later"
) -> dict[str, Any]:
    """The production bot under the fairness bursts; waits per member from the runner's log."""
    run = await run_production_bot(
        fairness_bursts,
        delay=delay,
        noisy=noisy,
        cap=cap,
        daily=FAIR_JOBS,
        schema=schema,
        extra_env={"MAX_JOBS_PER_MEMBER": str(FAIR_MEMBER_CAP)},
    )
    fake, handles, figures = run.fake, run.handles, run.figures
    ends = [found[0] for h in handles if (found := delivery(fake, h)) is not None]
    jobs = figures["jobs"]
    assert isinstance(jobs, dict)
    waits: dict[int, list[float]] = {}
    for fields in jobs.values():
        waits.setdefault(int(fields["member"]), []).append(float(fields.get("queued_s", 0.0)))
    order = {h.user.id: n // (FAIR_MEMBERS * FAIR_JOBS) for n, h in enumerate(handles)}
    return {
        "elapsed": max(ends) - handles[0].created_at,
        "jobs": len(ends),
        "p99": {member: quantile(values, 0.99) for member, values in waits.items()},
        "burst_of": order,
        "requests": run.wisgate_calls,
    }


async def report_fairness(
    delay: float, cap: int, noisy: bool, schema: SchemaCheck = "later"
) -> None:
    """Run the fairness bursts and print throughput against the limit and the p99 spread."""
    ours = await run_fairness(delay, cap, noisy, schema)
    elapsed, done = float(str(ours["elapsed"])), int(str(ours["jobs"]))
    p99, burst_of = ours["p99"], ours["burst_of"]
    assert isinstance(p99, dict) and isinstance(burst_of, dict)
    limit = cap / delay
    print(
        f"fairness: {done} jobs from {len(p99)} members in {FAIR_BURSTS} bursts "
        f"{FAIR_GAP:.0f} s apart ({FAIR_MEMBERS} members x {FAIR_JOBS} jobs each, back to "
        f"back); upstream {delay} s; caps {cap} in total, {FAIR_MEMBER_CAP} per member"
    )
    throughput = done / elapsed
    print(
        f"throughput {throughput:.2f} jobs/s over {elapsed:.1f} s against the cap's limit "
        f"{cap} / {delay:g} s = {limit:.2f} jobs/s: {throughput / limit:.1%} (target >= 90%)"
    )
    fastest, slowest = min(p99.values()), max(p99.values())
    print(
        f"members' p99 queue wait: fastest {fastest:.1f} s, slowest {slowest:.1f} s, "
        f"spread {slowest / fastest:.2f} (target <= 2)"
    )
    by_burst = [
        statistics.mean(v for m, v in p99.items() if burst_of[m] == n) for n in range(FAIR_BURSTS)
    ]
    print(
        "mean of members' p99 wait by burst: "
        + ", ".join(f"#{n + 1} {value:.1f} s" for n, value in enumerate(by_burst))
        + f"; WisGate calls: {ours['requests']}"
    )

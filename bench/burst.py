"""500 /imagine interactions at once: acknowledgement latency, overhead, loop stalls, memory.
With --fairness: the fair queue's throughput and how evenly it spreads the waiting.

Run from the repository root: `.venv/bin/python bench/burst.py [--jobs 500] [--delay 2]
[--rounds 3]`, or `.venv/bin/python bench/burst.py --fairness [--delay 2] [--cap 8]`. On a
noisy machine one burst's latencies swing by 2-4x from run to run (the bare bot's defer p99
ranged 250-1,090 ms on the 2-core machine); --rounds repeats the pair and prints medians.
The fakes (Discord and WisGate) run in this process; the bot runs in a subprocess
(bench/burst_bot.py) so its event loop and memory are its own. WisGate answers every call
after a fixed delay with one 1024x1024 PNG. In the same run, a bare discord.py bot that only
defers gets the same burst: its acknowledgement latency is the floor we compare against.

Overhead is what the bot adds beyond the upstream delay. Jobs run under the global cap
(MAX_CONCURRENT_JOBS, default 8); the wait for a slot is a policy, not overhead, so it is
taken out using the runner's structured per-job log (the job id is read back from the
delivered file's name). Two figures: the pipeline overhead once a job has its slot (the
upstream call beyond the delay, then decoding and uploading; the images are out before the
ledger settles), which is the target;
and everything from the defer to the images minus upstream and queue, which adds the wait
behind the burst's own 500 reservations.

The fake Discord checks every request body against Discord's schema after the burst, not
before answering it (schema_check="later"; --schema-inline checks as the tests do):
jsonschema spends ~8 ms of this process's loop on each message body, time real Discord does
not add; inline, it was counted as the bot's delivery time and delayed every answer queued
behind it. A body that breaks the schema still fails the run.

This process records acknowledgement times, so it collects and freezes its garbage before
each burst (a collection over an earlier run's objects once added ~0.8 s to the second run).
All 50 members are in one guild, so the per-guild cap is set to the global cap here: the
burst measures the pipeline, not the per-guild policy (MAX_JOBS_PER_GUILD, default 4).

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

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import orjson
import pybase64

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.discord import FakeDiscord, FakeGuild, FakeInteraction  # noqa: E402
from tests.fakes.images import make_image  # noqa: E402
from tests.fakes.wisgate import TEST_API_KEY, FakeWisGate, usage_for  # noqa: E402

TOKEN = "bench-discord-token"
# When the fake Discord checks request bodies against the schema (see the module docstring).
SchemaCheck = Literal["inline", "later"]
MEMBERS = 50
# The fairness run (see the module docstring): 3 x 10 members x 10 jobs = 300 jobs.
FAIR_BURSTS, FAIR_MEMBERS, FAIR_JOBS, FAIR_GAP, FAIR_MEMBER_CAP = 3, 10, 10, 10.0, 2


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


async def burst(fake: FakeDiscord, guild: FakeGuild, jobs: int) -> list[FakeInteraction]:
    """Inject `jobs` /imagine interactions at once from MEMBERS members."""
    members = [guild.add_member(f"member{k}").user for k in range(MEMBERS)]
    # This process records the acknowledgement times: a garbage collection here, over what
    # an earlier run left, would be blamed on the bot. Collect and freeze first; unfreeze
    # what the last burst froze, or its fakes (~1 GB of recorded uploads) are never freed
    # and every later round runs slower beside a swelling process.
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    injections = [
        fake.inject_slash("imagine", {"prompt": f"burst {k}"}, user=members[k % MEMBERS])
        for k in range(jobs)
    ]
    return list(await asyncio.gather(*injections))


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


def schema_checked(fake: FakeDiscord) -> None:
    """Check the bodies the fake answered unchecked (schema_check="later"); fail on any."""
    violations = fake.check_schemas_later()
    if violations:
        raise AssertionError(
            f"{len(violations)} request bodies broke Discord's schema: {violations[:3]}"
        )


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
        "STREAMING_PREVIEWS": "off",
        "LOG_LEVEL": "WARNING",
        "BENCH_API": fake.api_url,
        "BENCH_GATEWAY": fake.gateway.url,
    }


async def run_production(
    jobs: int, delay: float, noisy: bool, cap: int, schema: SchemaCheck = "later"
) -> dict[str, Any]:
    """The production bot under the burst."""
    answer = fixed_answer(noisy)
    async with (
        FakeDiscord(token=TOKEN, schema_check=schema) as fake,
        FakeWisGate(latency=delay, fixed_body=answer) as api,
    ):
        guild = fake.add_guild("bench")
        with tempfile.TemporaryDirectory() as folder:
            env = bot_env(fake, api, guild, folder, cap=cap, jobs=jobs)
            bot = await start_bot(env)
            await fake.wait_for(lambda: bool(fake.guild_commands(guild.id)), within=30)
            handles = await burst(fake, guild, jobs)
            await fake.wait_for(
                all_delivered(fake, handles),
                within=120 + delay * jobs / cap,
                what="every delivery",
            )
            figures = await stop_bot(bot)
            schema_checked(fake)
    acks = [h.ack_latency for h in handles if h.ack_latency is not None]
    job_log = figures.pop("jobs")
    assert isinstance(job_log, dict)
    overheads, totals = [], []
    for handle in handles:
        found = delivery(fake, handle)
        assert found is not None
        at, job_id = found
        total = at - handle.created_at
        queued = float(job_log[str(job_id)].get("queued_s", 0.0))
        totals.append(total)
        # What the bot adds after acknowledging: validation, the reservation, decoding and
        # uploading; not the burst's own acknowledgement queue (reported above).
        overheads.append(total - (handle.ack_latency or 0.0) - queued - delay)
    stages = {
        name: [float(fields.get(name, 0.0)) for fields in job_log.values()]
        for name in ("queued_s", "upstream_s", "delivery_s")
    }
    stages["upstream_s"] = [value - delay for value in stages["upstream_s"]]
    return {
        "acks": acks,
        "stages": stages,
        "overheads": overheads,
        "totals": totals,
        "requests": len(api.requests),
        **figures,
    }


async def run_bare(jobs: int, schema: SchemaCheck = "later") -> tuple[list[float], dict[str, Any]]:
    """The bare bot (defer only) under the same burst."""
    async with FakeDiscord(token=TOKEN, schema_check=schema) as fake:
        guild = fake.add_guild("bench")
        env = {"DISCORD_TOKEN": TOKEN, "DEV_GUILD_ID": str(guild.id), "BENCH_BARE": "1"}
        env |= {"BENCH_API": fake.api_url, "BENCH_GATEWAY": fake.gateway.url}
        bot = await start_bot(env)
        await fake.wait_for(lambda: bool(fake.guild_commands(guild.id)), within=30)
        handles = await burst(fake, guild, jobs)
        await fake.wait_for(lambda: all(h.acknowledged for h in handles), within=60)
        figures = await stop_bot(bot)
        schema_checked(fake)
    return [h.ack_latency for h in handles if h.ack_latency is not None], figures


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


async def run_fairness(delay: float, cap: int, noisy: bool) -> dict[str, Any]:
    """The production bot under the fairness bursts; waits per member from the runner's log."""
    answer = fixed_answer(noisy)
    total = FAIR_BURSTS * FAIR_MEMBERS * FAIR_JOBS
    async with (
        FakeDiscord(token=TOKEN, schema_check="later") as fake,
        FakeWisGate(latency=delay, fixed_body=answer) as api,
    ):
        guild = fake.add_guild("bench")
        with tempfile.TemporaryDirectory() as folder:
            env = bot_env(fake, api, guild, folder, cap=cap, jobs=FAIR_JOBS)
            env["MAX_JOBS_PER_MEMBER"] = str(FAIR_MEMBER_CAP)
            bot = await start_bot(env)
            await fake.wait_for(lambda: bool(fake.guild_commands(guild.id)), within=30)
            handles = await fairness_bursts(fake, guild)
            await fake.wait_for(
                all_delivered(fake, handles),
                within=120 + delay * total / cap,
                what="every delivery",
            )
            figures = await stop_bot(bot)
            schema_checked(fake)
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
        "requests": len(api.requests),
    }


async def report_fairness(delay: float, cap: int, noisy: bool) -> None:
    """Run the fairness bursts and print throughput against the limit and the p99 spread."""
    ours = await run_fairness(delay, cap, noisy)
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


def ms(value: float) -> str:
    """Milliseconds, for printing."""
    return f"{value * 1000:.0f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--delay", type=float, default=2.0, help="upstream seconds per call")
    parser.add_argument("--flat", action="store_true", help="tiny flat PNGs, not photo-sized")
    parser.add_argument("--cap", type=int, default=8, help="MAX_CONCURRENT_JOBS (default 8)")
    parser.add_argument("--fairness", action="store_true", help="the fair-queue run instead")
    parser.add_argument(
        "--schema-inline",
        action="store_true",
        help="the fake checks each body before answering (as in the tests), not after the run",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="repeat bare + ours; medians (a noisy machine)"
    )
    args = parser.parse_args()
    if args.fairness:
        await report_fairness(args.delay, args.cap, noisy=not args.flat)
        return
    rounds = [await report_burst(args) for _ in range(args.rounds)]
    if len(rounds) > 1:
        print(f"\nover {len(rounds)} rounds (bare then ours each time), the median of each figure:")
        for name, target in SUMMARY_TARGETS.items():
            values = [round_[name] for round_ in rounds]
            each = ", ".join(f"{value:.2f}" for value in values)
            print(f"  {name}: {statistics.median(values):.2f}  (each: {each}){target}")


# What the summary over several rounds reports, with the targets.
SUMMARY_TARGETS = {
    "defer p99 ratio": "  (target <= 1.5)",
    "pipeline overhead p50 ms": "  (target <= 50)",
    "longest stall ms": "  (target <= 100)",
    "bare bot's longest stall ms": "",
    "peak RSS MiB": "",
}


async def report_burst(args: argparse.Namespace) -> dict[str, float]:
    """One round: the bare bot's burst, then ours; print the figures, return the headline ones."""
    schema: SchemaCheck = "inline" if args.schema_inline else "later"
    bare, bare_figures = await run_bare(args.jobs, schema)
    ours = await run_production(args.jobs, args.delay, not args.flat, args.cap, schema)
    acks = ours["acks"]
    assert isinstance(acks, list)
    overheads = ours["overheads"]
    assert isinstance(overheads, list)
    print(
        f"{args.jobs} interactions at once; upstream delay {args.delay} s; "
        f"{'flat' if args.flat else 'photo-sized (~2 MB)'} 1024x1024 PNGs"
    )
    print(
        f"bare bot   defer p50 {ms(quantile(bare, 0.5))}  p99 {ms(quantile(bare, 0.99))}  "
        f"max {ms(max(bare))}"
    )
    print(
        f"image bot  defer p50 {ms(quantile(acks, 0.5))}  p99 {ms(quantile(acks, 0.99))}  "
        f"max {ms(max(acks))}  (all {len(acks)} acknowledged)"
    )
    print(
        f"defer p99 ratio (image bot / bare): {quantile(acks, 0.99) / quantile(bare, 0.99):.2f}"
        "  (target <= 1.5)"
    )
    totals = ours["totals"]
    assert isinstance(totals, list)
    print(
        f"end to end (incl. queue behind the cap of {args.cap}): "
        f"p50 {ms(statistics.median(totals))}  p99 {ms(quantile(totals, 0.99))}"
    )
    stages = ours["stages"]
    assert isinstance(stages, dict)
    pipeline = [a + b for a, b in zip(stages["upstream_s"], stages["delivery_s"], strict=True)]
    print(
        "pipeline overhead once a job has its slot (upstream call beyond the delay, then "
        f"decode and upload): p50 {ms(statistics.median(pipeline))}  "
        f"p99 {ms(quantile(pipeline, 0.99))}  (target p50 <= 50 ms); of which upstream "
        f"beyond the delay p50 {ms(statistics.median(stages['upstream_s']))}, delivery "
        f"p50 {ms(statistics.median(stages['delivery_s']))}"
    )
    print(
        "from the defer to the images, minus upstream and queue (adds waiting behind the "
        f"burst's own reservations): p50 {ms(statistics.median(overheads))}  "
        f"p99 {ms(quantile(overheads, 0.99))}"
    )
    print(f"longest garbage collection pause by generation: {ours.get('gc_pauses')}")
    print(
        f"longest event-loop stall in the bot: {ms(float(ours['max_stall']))}  (target <= 100 ms)"
        f"; stalls over 50 ms: {ours['stalls_over_50ms']}, over 100 ms: "
        f"{ours['stalls_over_100ms']}; worst (s after the burst began, ms): {ours['worst_stalls']}"
    )
    print(
        f"the bare bot's longest stall under its burst: {ms(float(bare_figures['max_stall']))}"
        f"; worst: {bare_figures['worst_stalls']}"
    )
    print(
        f"peak RSS of the bot process: {float(ours['peak_rss_kib']) / 1024:.0f} MiB; "
        f"page faults per job: {float(ours['page_faults']) / args.jobs:.0f}; "
        f"WisGate calls: {ours['requests']}"
    )
    return {
        "defer p99 ratio": quantile(acks, 0.99) / quantile(bare, 0.99),
        "pipeline overhead p50 ms": statistics.median(pipeline) * 1000,
        "longest stall ms": float(ours["max_stall"]) * 1000,
        "bare bot's longest stall ms": float(bare_figures["max_stall"]) * 1000,
        "peak RSS MiB": float(ours["peak_rss_kib"]) / 1024,
    }


if __name__ == "__main__":
    asyncio.run(main())

"""A busy moment against a tight key: how much of WisGate's window the pacer uses.

Run from the repository root: `.venv/bin/python bench/pacing.py [--jobs 200] [--members 40]
[--images 10] [--window 1.0] [--latency 0.2]`.

The production bot (built by bot.app, as the end-to-end tests build it) runs in this process
against the fakes; the fake WisGate allows `--images` images per `--window` seconds (fixed
windows, 429 with retry-after-ms beyond, x-ratelimit-*-images headers on every answer), as a
low-tier key does. Every member asks at once; retries are off (MAX_RETRIES=0), so a job that
met a 429 on its own would fail, and the per-server cap is lifted so the key is the only
bottleneck. Printed, all measured in this run:

- allowance used: the fewest windows these images need, over the windows the calls spanned
  (first admitted call to last); 100% is the key's whole allowance;
- 429s per window: rate-limit answers over the windows the run needed (the first window of a
  process may cost up to MAX_CONCURRENT_JOBS - allowance, before the headers are known);
- queue wait p50/p99 (from the runner's timings in the ledger), against the ideal: with N
  jobs and A images a window, the last job cannot start before ceil(N/A) - 1 windows.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: find tests

from tests.e2e.harness import World, running_bot
from tests.fakes.discord import FakeDiscord, FakeGuild


def quantile(values: list[float], q: float) -> float:
    """The q-quantile (inclusive method) of at least two values."""
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


async def run(args: argparse.Namespace) -> None:
    """One busy moment; print the figures."""
    people: list[object] = []

    def crowd(fake: FakeDiscord, guild: FakeGuild) -> None:
        for number in range(args.members - 2):
            user = fake.add_user(f"member{number}")
            guild.add_member(user)
            people.append(user)

    settings = {
        "max_retries": 0,
        "max_concurrent_jobs": 8,
        "max_jobs_per_guild": args.jobs,
        "max_jobs_per_member": args.jobs,
        "daily_image_limit": args.jobs,
        "max_daily_images": "off",
        "operator_daily_usd": "off",
        "operator_monthly_usd": "off",
        "account_daily_usd": "off",
        "personal_monthly_usd": "off",
    }
    with tempfile.TemporaryDirectory() as folder:
        async with running_bot(
            Path(folder),
            setup=crowd,
            wisgate_setup=lambda fake: fake.rate_limit(args.images, args.window),
            **settings,
        ) as world:
            world.wisgate.latency = args.latency
            members = [world.alice, world.bob, *people]
            started = time.monotonic()
            await asyncio.gather(
                *(
                    world.slash(
                        "imagine", {"prompt": f"a lantern {n}"}, user=members[n % len(members)]
                    )
                    for n in range(args.jobs)
                )
            )
            await world.idle(within=args.jobs * args.window / args.images * 3 + 60)
            took = time.monotonic() - started
            report(world, args, took)


def report(world: World, args: argparse.Namespace, took: float) -> None:
    """Print the figures of one run."""
    rows = world.rows("SELECT status, COUNT(*) FROM jobs GROUP BY status")
    times = [at for at, _ in world.wisgate.window_log]
    images = sum(count for _, count in world.wisgate.window_log)
    needed = math.ceil(images / args.images)
    used = (needed - 1) * args.window / (max(times) - min(times))
    waits = [
        (datetime.fromisoformat(start) - datetime.fromisoformat(made)).total_seconds()
        for made, start in world.rows("SELECT created_at, started_at FROM jobs")
    ]
    ideal_last = (needed - 1) * args.window
    print(f"jobs {args.jobs} from {args.members} members; {args.images} images per {args.window} s")
    print(f"  ended: {dict(rows)} in {took:.1f} s")
    print(f"  allowance used: {used:.1%}  (target >= 90%)")
    print(
        f"  429s per window: {world.wisgate.rate_limited / needed:.2f}  "
        f"({world.wisgate.rate_limited} over {needed} windows; target <= 1)"
    )
    print(
        f"  queue wait p50 {quantile(waits, 0.5):.2f} s, p99 {quantile(waits, 0.99):.2f} s; "
        f"the last job cannot start before {ideal_last:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--members", type=int, default=40)
    parser.add_argument("--images", type=int, default=10, help="images allowed per window")
    parser.add_argument("--window", type=float, default=1.0, help="the window, in seconds")
    parser.add_argument("--latency", type=float, default=0.2, help="WisGate's answer time")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

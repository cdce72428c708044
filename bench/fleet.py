"""The shared fair queue on PostgreSQL (issue 19): admissions/s and claim latency with 1 and 3
bot processes on one database.

Run: .venv/bin/python bench/fleet.py [--jobs 3000] [--processes 1,3] [--postgres URL]

Each process (an OS process with its own pool, as a bot process has) puts `--jobs` jobs of 40
members in 2 guilds into the line with 20 concurrent tasks (enqueue: one transaction each,
under the queue's advisory lock), then claims until the line is empty: each claim admits what
the caps allow (8 in total, 2 per member, 4 per guild), and every job admitted (by whichever
process) is released at once, as if WisGate had answered instantly. So the figures are the
queue's own ceiling, far above what one WisGate key admits (~250 images a minute). Printed:
enqueues/s and admissions/s over all processes, and the latency of one claim transaction
(p50/p99, the advisory lock's wait included). Without --postgres a throwaway server starts
from the machine's binaries (as the tests do, fsync off).

Measured here (2 cores shared with other test runs, PostgreSQL 15, --jobs 1000, December 2026):
1 process: 1,195 enqueues/s, 1,383 admissions/s, claim p50 1.8 ms p99 4.8 ms; 3 processes:
899 enqueues/s, 1,090 admissions/s, claim p50 2.6 ms p99 9.6 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.ledger.opener import open_store
from bot.ledger.queue_sql import Caps, QueueTable

CAPS = Caps(total=8, per_member=2, per_guild=4)
MEMBERS = 40
TASKS = 20


async def _process(number: int, url: str, jobs: int, barrier: Any) -> dict[str, Any]:
    async with open_store("unused", url) as store:
        table = QueueTable(store, f"bench-{number}")
        ids = iter(range(number * 10_000_000, number * 10_000_000 + jobs))

        async def put() -> None:
            for job_id in ids:
                member = job_id % MEMBERS
                await table.enqueue(job_id, 1_000 + member, 1 + member % 2, 1)

        await asyncio.to_thread(barrier.wait)
        started = time.perf_counter()
        await asyncio.gather(*(put() for _ in range(TASKS)))
        enqueued = time.perf_counter() - started
        await asyncio.to_thread(barrier.wait)
        latencies: list[float] = []
        admitted = 0
        started = time.perf_counter()
        idle = 0
        while idle < 3:  # three empty claims in a row: the line is drained
            before = time.perf_counter()
            got = await table.claim(CAPS)
            latencies.append(time.perf_counter() - before)
            admitted += len(got)
            idle = 0 if got else idle + 1
            for admission in got:
                await table.release(admission.job_id)
            if not got:
                await asyncio.sleep(0.01)
        drained = time.perf_counter() - started
    return {"enqueued": enqueued, "admitted": admitted, "drained": drained, "lat": latencies}


def _run(number: int, url: str, jobs: int, barrier: Any, results: Any) -> None:
    results.put(asyncio.run(_process(number, url, jobs, barrier)))


def measure(url: str, processes: int, jobs: int) -> str:
    """One round with `processes` processes; the figures as one line."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(target=_run, args=(n, url, jobs, barrier, results))
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    figures = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    total = jobs * processes
    enqueue_rate = total / max(f["enqueued"] for f in figures)
    admitted = sum(f["admitted"] for f in figures)
    admit_rate = admitted / max(f["drained"] for f in figures)
    latencies = sorted(x for f in figures for x in f["lat"])
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    assert admitted == total, f"admitted {admitted} of {total}"
    return (
        f"{processes} process(es): {enqueue_rate:,.0f} enqueues/s, {admit_rate:,.0f} "
        f"admissions/s, claim p50 {p50:.1f} ms p99 {p99:.1f} ms ({total} jobs)"
    )


def main() -> None:
    """Parse options, run each process count on a fresh database, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3000, help="jobs per process")
    parser.add_argument("--processes", default="1,3")
    parser.add_argument("--postgres", default="", metavar="URL", help="an empty database")
    args = parser.parse_args()
    with ExitStack() as stack:
        server = None
        if not args.postgres:
            from tests.postgres import start_server  # the tests' own server

            server = start_server()
            stack.callback(server.stop)
        for count in (int(n) for n in args.processes.split(",")):
            url = args.postgres or asyncio.run(server.new_database())  # type: ignore[union-attr]
            print(measure(url, count, args.jobs), flush=True)


if __name__ == "__main__":
    main()

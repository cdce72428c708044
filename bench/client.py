"""Throughput and client CPU of WisGateClient.generate vs the openai SDK, on the same fake.

Run from the repository root: `.venv/bin/python bench/client.py [--requests 200] [--rounds 3]`.
The fake runs in a subprocess (its CPU is not counted) and answers every call with the same
precomputed ~2 MB of base64. Both clients fully decode every image: ours with pybase64 (what
the bot does), the SDK path with the stdlib, as a plain SDK user would.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import openai
import orjson
import pybase64
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.core.models import ImageRequest  # noqa: E402
from bot.wisgate.client import WisGateClient  # noqa: E402
from tests.fakes.images import make_image  # noqa: E402
from tests.fakes.wisgate import FakeWisGate, usage_for  # noqa: E402

KEY = "sk-bench-key"
SIZE = "1024x768"  # a noisy PNG of this size is ~1.6 MB, ~2.1 MB as base64
REQUEST = ImageRequest("generate", "gpt-image-1", "a benchmark")


@dataclass
class Figures:
    """One measured run."""

    name: str
    seconds: float
    cpu: float
    requests: int

    @property
    def rate(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float:
        """Client CPU milliseconds per request."""
        return 1000 * self.cpu / self.requests


def fixed_answer() -> bytes:
    """One precomputed generation answer: the fake does no per-request image work."""
    width, height = (int(side) for side in SIZE.split("x"))
    b64 = pybase64.b64encode(make_image(width, height, "png", noisy=True)).decode("ascii")
    payload = {"created": int(time.time()), "data": [{"b64_json": b64}], "output_format": "png",
               "size": SIZE, "usage": usage_for("a benchmark", 0, 1)}  # fmt: skip
    return orjson.dumps(payload)


async def serve_fake() -> None:
    """The subprocess: serve the fake, print its port, stop when stdin closes."""
    async with FakeWisGate(api_key=KEY, fixed_body=fixed_answer()) as fake:
        print(f"PORT {fake.port}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def start_fake() -> tuple[subprocess.Popen[str], str]:
    """Start the fake in its own process (its CPU is not ours) and return its base URL."""
    command = [sys.executable, __file__, "--serve-fake"]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("PORT "):
        process.kill()
        raise SystemExit(f"the fake did not start: {line!r}")
    return process, f"http://127.0.0.1:{int(line.split()[1])}/v1"


async def load(name: str, call: Callable[[], Awaitable[int]], total: int, width: int) -> Figures:
    """Run `total` calls, `width` at a time; check every call decoded a real image."""
    gate = asyncio.Semaphore(width)

    async def one() -> None:
        async with gate:
            size = await call()
            assert size > 1_000_000, size

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(total)))
    return Figures(name, time.perf_counter() - wall, time.process_time() - cpu, total)


async def bench(
    base_url: str, total: int, width: int, rounds: int
) -> list[tuple[Figures, Figures]]:
    """Alternate rounds of both clients (after a warm-up) so drift hits both alike."""
    async with aiohttp.ClientSession() as session:
        ours = WisGateClient(session, base_url=base_url, api_key=SecretStr(KEY), max_retries=0)
        sdk = openai.AsyncOpenAI(base_url=base_url, api_key=KEY, max_retries=0)

        async def ours_call() -> int:
            result = await ours.generate(REQUEST)
            return len(result.images[0].data)

        async def sdk_call() -> int:
            response = await sdk.images.generate(model="gpt-image-1", prompt="a benchmark")
            assert response.data and response.data[0].b64_json
            return len(base64.b64decode(response.data[0].b64_json))

        await load("warm-up", ours_call, 2 * width, width)
        await load("warm-up", sdk_call, 2 * width, width)
        results = []
        for _ in range(rounds):
            mine = await load("WisGateClient", ours_call, total, width)
            theirs = await load("openai SDK", sdk_call, total, width)
            results.append((mine, theirs))
            print_round(mine, theirs)
        await sdk.close()
        return results


def print_round(mine: Figures, theirs: Figures) -> None:
    """One line per client and the ratios."""
    for figures in (mine, theirs):
        print(
            f"  {figures.name:14} {figures.rate:7.1f} req/s  "
            f"{figures.cpu_ms:6.2f} ms CPU/req  ({figures.seconds:.2f} s wall)"
        )
    print(
        f"  ratio: throughput x{mine.rate / theirs.rate:.2f} (target >= 1.5), "
        f"CPU/req x{mine.cpu_ms / theirs.cpu_ms:.2f} (target <= 0.7)"
    )


def main() -> None:
    """Parse options, run the rounds, print the medians."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        asyncio.run(serve_fake())
        return
    process, base_url = start_fake()
    try:
        print(f"{args.requests} requests, {args.concurrency} at a time, {SIZE} noisy PNG answers")
        results = asyncio.run(bench(base_url, args.requests, args.concurrency, args.rounds))
    finally:
        assert process.stdin is not None
        process.stdin.close()  # the fake serves until its stdin closes
        process.wait(timeout=10)
    throughput = statistics.median(m.rate / t.rate for m, t in results)
    cpu = statistics.median(m.cpu_ms / t.cpu_ms for m, t in results)
    print(f"median ratios: throughput x{throughput:.2f}, CPU per request x{cpu:.2f}")


if __name__ == "__main__":
    main()

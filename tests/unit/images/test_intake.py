"""Bounds on uploads before a hold (bot/images/intake.py) and queued inputs on disk
(bot/jobs/spool.py)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from bot.core.models import ImageRequest, InputImage
from bot.images.intake import IntakeBusy, IntakeLimits
from bot.jobs.spool import InputSpool


async def test_bytes_are_admitted_within_the_budget_and_in_order() -> None:
    limits = IntakeLimits(max_bytes=100, per_member=5)
    entered: list[str] = []
    release = asyncio.Event()

    async def request(name: str, member: int, size: int) -> None:
        async with limits.admitted(member, size):
            entered.append(name)
            await release.wait()

    first = asyncio.create_task(request("a", 1, 60))
    await asyncio.sleep(0)
    second = asyncio.create_task(request("b", 2, 60))  # 120 > 100: waits for a
    third = asyncio.create_task(request("c", 3, 30))  # fits beside a
    await asyncio.sleep(0.01)
    assert entered == ["a", "c"] and limits.in_use == 90
    release.set()
    await asyncio.gather(first, second, third)
    assert entered == ["a", "c", "b"] and limits.in_use == 0 and limits.peak == 90
    limits.close()


async def test_a_request_larger_than_the_budget_goes_alone() -> None:
    limits = IntakeLimits(max_bytes=100)
    async with limits.admitted(1, 500):
        assert limits.in_use == 500
    limits.close()


async def test_a_member_has_at_most_per_member_requests_in_intake() -> None:
    limits = IntakeLimits(max_bytes=10**9, per_member=2, wait=0.05)
    async with limits.admitted(7, 1), limits.admitted(7, 1):
        with pytest.raises(IntakeBusy, match="nothing was charged"):
            async with limits.admitted(7, 1):
                pass  # pragma: no cover - never admitted
        async with limits.admitted(8, 1):  # another member is not held up
            pass
    async with limits.admitted(7, 1):  # freed again
        pass
    limits.close()


async def test_decodes_run_on_two_dedicated_threads() -> None:
    limits = IntakeLimits(max_bytes=1, decoders=2)
    running, most, lock = 0, 0, threading.Lock()

    def decode(name: str) -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        threading.Event().wait(0.02)
        with lock:
            running -= 1
        return threading.current_thread().name

    names = await asyncio.gather(*(limits.decode(decode, str(n)) for n in range(6)))
    assert most == 2 and all(name.startswith("decode") for name in names)
    limits.close()


def _request(*sizes: int) -> ImageRequest:
    images = tuple(
        InputImage(bytes([n]) * size, f"in{n}.png", "png", 8, 8, False)
        for n, size in enumerate(sizes)
    )
    return ImageRequest(kind="edit", model="gpt-image-2", prompt="x", images=images)


async def test_queued_inputs_beyond_the_budget_wait_on_disk(tmp_path: Path) -> None:
    spool = InputSpool(tmp_path / "spool", budget=1000)
    small = _request(300, 300)
    big = _request(500, 200)
    kept_small = await spool.keep(1, small)
    assert kept_small is small and spool.in_memory == 600
    kept_big = await spool.keep(2, big)  # 600 + 700 > 1000: to disk
    assert all(image.data == b"" and image.spooled for image in kept_big.images)
    assert len(list((tmp_path / "spool").iterdir())) == 2
    assert spool.in_memory == 600

    restored = await spool.restore(2, kept_big)
    assert [image.data for image in restored.images] == [image.data for image in big.images]
    assert not any(image.spooled for image in restored.images)
    assert list((tmp_path / "spool").iterdir()) == []  # read back: the files are gone
    assert (await spool.restore(1, kept_small)) is small and spool.in_memory == 0


async def test_a_job_leaving_the_queue_unstarted_leaves_nothing(tmp_path: Path) -> None:
    spool = InputSpool(tmp_path / "spool", budget=0)
    await spool.keep(3, _request(10))
    assert len(list((tmp_path / "spool").iterdir())) == 1
    spool.discard(3)
    assert list((tmp_path / "spool").iterdir()) == [] and spool.in_memory == 0
    (tmp_path / "spool" / "left-by-a-dead-process.bin").write_bytes(b"x")
    spool.clear()
    assert not (tmp_path / "spool").exists()

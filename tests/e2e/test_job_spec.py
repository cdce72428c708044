"""What a job records at reservation: whether it was private, and a hold covering previews."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import running_bot


@pytest.mark.parametrize("private", [False, True])
async def test_private_requests_are_recorded_as_private(tmp_path: Path, private: bool) -> None:
    async with running_bot(tmp_path) as world:
        await world.slash("imagine", {"prompt": "a kite", "private": private})
        await world.idle()
        [(flag,)] = world.rows("SELECT json_extract(params, '$.private') FROM jobs")
        assert flag == (1 if private else None)


async def hold_while_running(tmp_path: Path, previews: str, n: int = 1) -> int:
    """The job's hold, read while WisGate is still working on it."""
    async with running_bot(tmp_path / f"{previews}-{n}", streaming_previews=previews) as world:
        world.wisgate.fail("slow", delay=0.5)
        await world.slash("imagine", {"prompt": "a kite", "model": "gpt-image-2", "count": n})
        await world.discord.wait_for(lambda: len(world.wisgate.requests) == 1)
        [(held,)] = world.rows("SELECT cost_held_micros FROM jobs")
        await world.idle()
        return int(held)


async def test_the_hold_covers_partial_images_when_the_job_may_stream(tmp_path: Path) -> None:
    off, on = await hold_while_running(tmp_path, "off"), await hold_while_running(tmp_path, "on")
    assert on > off  # the output tokens of two partial images are held too
    # Several images are never streamed: no partial images in their hold.
    assert await hold_while_running(tmp_path, "on", n=2) == await hold_while_running(
        tmp_path, "off", n=2
    )

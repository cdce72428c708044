"""The decoder thread: started before the bot connects, and where WisGate's answers are decoded."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import aiohttp
from pydantic import SecretStr

from bot.core.models import ImageRequest
from bot.wisgate.client import WisGateClient
from bot.wisgate.decoder import decoder_thread
from tests.fakes.wisgate import TEST_API_KEY, FakeWisGate


def _decoder_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("wisgate-decoder")]


async def test_the_thread_runs_before_the_first_answer_and_leaves_after() -> None:
    before = set(_decoder_threads())

    async with decoder_thread() as decoder:
        started = [t for t in _decoder_threads() if t not in before]
        assert len(started) == 1 and started[0].is_alive()
        assert decoder.submit(threading.current_thread).result(timeout=5) is started[0]

    started[0].join(timeout=5)
    assert not started[0].is_alive()


class CountingPool(ThreadPoolExecutor):
    """A real one-thread pool that counts the jobs given to it."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.jobs = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.jobs += 1
        return super().submit(fn, *args, **kwargs)


async def test_large_answers_are_decoded_on_the_given_thread_small_ones_inline(
    wisgate_session: aiohttp.ClientSession, fake_wisgate: FakeWisGate
) -> None:
    pool = CountingPool()
    client = WisGateClient(
        wisgate_session,
        base_url=fake_wisgate.base_url,
        api_key=SecretStr(TEST_API_KEY),
        streaming="off",
        decoder=pool,
    )
    try:
        request = ImageRequest("generate", "gpt-image-1", "x", size="1024x1024")
        fake_wisgate.noisy = False  # a flat PNG: a few KiB of JSON
        (small,) = (await client.generate(request)).images
        assert pool.jobs == 0

        fake_wisgate.noisy = True  # photo-like: megabytes of JSON, read in many chunks
        (large,) = (await client.generate(request)).images
        assert pool.jobs == 1
    finally:
        pool.shutdown()

    assert (small.format, small.width, small.height) == ("png", 1024, 1024)
    assert (large.format, large.width, large.height) == ("png", 1024, 1024)
    assert len(large.data) > 1024 * 1024 and large.data.startswith(b"\x89PNG\r\n\x1a\n")

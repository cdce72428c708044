"""The one thread that joins, parses and decodes WisGate's answers, started before the bot connects.

That work holds the GIL (orjson, base64), so more threads would not make it faster; they did
make a burst's first answers slower. asyncio's default pool starts threads only when a job
finds none idle, so the first answers of a burst started three or four of them: each
`Thread.start()` waits on the event loop until the new thread runs (4-60 ms with the others
busy), and each new thread got its own malloc arena whose first use is page faults, the
costliest work on the 2-core VM (bench/burst.py). One thread, started up front, reuses one
warm arena from the second answer on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager


@asynccontextmanager
async def decoder_thread() -> AsyncIterator[ThreadPoolExecutor]:
    """A single-thread executor whose thread is already running; shut down on exit."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wisgate-decoder")
    try:
        await asyncio.wrap_future(executor.submit(lambda: None))  # starts the thread now
        yield executor
    finally:
        executor.shutdown(wait=False)  # an idle thread leaves at once; nothing waits on it

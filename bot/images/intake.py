"""Bounds on what members' uploads can take before their jobs are held: bytes and decodes.

An /edit downloads its attachments and decodes each with Pillow before the ledger holds
anything. Without bounds, eight parallel /edits of large files took the process to ~2 GB. So:

* a request's declared bytes are admitted against a global budget, and a member has at most
  `per_member` requests in this phase at once; the rest wait (FIFO), or are refused after
  `wait` seconds with nothing charged;
* decodes run on a small dedicated pool (not asyncio's default pool, which DNS lookups share),
  so at most `decoders` images are decoded at a time, each under the catalogue's pixel cap.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeVar

from bot.core.errors import BotError
from bot.i18n import N_, _

log = logging.getLogger(__name__)

T = TypeVar("T")

BUSY = N_(
    "The bot is busy checking other uploads right now. Try again in a minute; nothing was charged."
)


class IntakeBusy(BotError):
    """A request waited too long for room to download and check its files."""

    def __init__(self) -> None:
        super().__init__(_(BUSY))


class IntakeLimits:
    """Admits requests' downloads by bytes and per member; decodes on its own small pool."""

    def __init__(
        self,
        *,
        max_bytes: int,
        per_member: int = 2,
        decoders: int = 2,
        wait: float = 120.0,
    ) -> None:
        self.max_bytes = max_bytes
        self.per_member = per_member
        self.wait = wait
        self.in_use = 0  # declared bytes of requests being downloaded and checked
        self.peak = 0
        self._members: Counter[int] = Counter()
        self._changed = asyncio.Condition()
        self._pool = ThreadPoolExecutor(decoders, thread_name_prefix="decode")

    def _fits(self, member: int, size: int) -> bool:
        # A request bigger than the whole budget still goes, alone: refusing it would refuse
        # a valid /edit, and alone it is the bound.
        room = self.in_use == 0 or self.in_use + size <= self.max_bytes
        return room and self._members[member] < self.per_member

    @asynccontextmanager
    async def admitted(self, member: int, size: int) -> AsyncIterator[None]:
        """Hold room for `size` declared bytes of `member`'s files while they are checked."""
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self._fits(member, size)), self.wait
                )
            except TimeoutError:
                log.warning("member %d waited %.0f s to download; refused", member, self.wait)
                raise IntakeBusy() from None
            self.in_use += size
            self.peak = max(self.peak, self.in_use)
            self._members[member] += 1
        try:
            yield
        finally:
            async with self._changed:
                self.in_use -= size
                self._members[member] -= 1
                if not self._members[member]:
                    del self._members[member]
                self._changed.notify_all()

    async def decode(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a decoding function (Pillow) on the dedicated pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, partial(func, *args, **kwargs))

    def close(self) -> None:
        """Stop the decode threads once their work ends."""
        self._pool.shutdown(wait=False, cancel_futures=True)

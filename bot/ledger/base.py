"""What every part of the Ledger shares: its store, clock, owner name, caps and prices."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from bot.core.prices import PriceTable
from bot.ledger.models import OperatorCaps, utc
from bot.ledger.store import Body, Store

T = TypeVar("T")


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


def _new_owner() -> str:
    """Names this Ledger on the jobs it holds, so recovery only takes other processes' jobs."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class LedgerBase:
    """The ledger's construction and its one way to the database: `transaction`."""

    def __init__(
        self,
        store: Store,
        *,
        default_daily_images: int,
        prices: PriceTable,
        caps: OperatorCaps | None = None,
        clock: Callable[[], datetime] = utc_now,
        owner: str | None = None,
        leased: bool = False,
    ) -> None:
        self.store = store
        self.default_daily_images = default_daily_images
        self.prices = prices
        self.caps = caps or OperatorCaps()
        self._clock = clock
        self.owner = owner or _new_owner()
        # With leases (several processes on PostgreSQL, bot/ledger/leases.py) settle and refund
        # act only on jobs this owner still holds: a survivor may have taken a stalled one's.
        # Alone, the start-up recovery ends an earlier process's jobs without taking them.
        self.leased = leased
        # Reservations whose caller was cancelled: kept alive until refunded.
        self._orphans: set[asyncio.Task[bool]] = set()

    def now(self) -> datetime:
        """The ledger's clock, in UTC."""
        return utc(self._clock())

    async def transaction(self, body: Body[T], *, write: bool = True) -> T:
        """Run body(tx) as one transaction on the store (read-only: one snapshot)."""
        return await self.store.transaction(body, write=write)

"""What the ledger's tests share: a settable clock (their `conn` fixture is in conftest)."""

from __future__ import annotations

from datetime import datetime


class Clock:
    """A settable clock for the ledger: tests move `now` across days and months."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

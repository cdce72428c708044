"""The key's window as WisGate's x-ratelimit-* headers tell it: what is left, and when it refills.

OpenAI-style gateways count requests or images per window (`x-ratelimit-limit-requests`,
`-images`), say how many are left (`x-ratelimit-remaining-*`) and when the window resets
(`x-ratelimit-reset-*`, e.g. `1s`, `6m0s`). Each admission spends from the budget at once
(a request, or the images it asks for when the window counts images), so calls sent together
never overrun it; each answer can only lower it, since the gateway may not have counted the
calls still in flight.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_PERIOD = 2.0  # a window whose length no answer told
KINDS = ("requests", "images")
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?"
                       r"(?:(\d+(?:\.\d+)?)ms)?")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Reading:
    """One answer's word on the tightest window: left, seconds to its reset, size, unit."""

    left: int
    reset: float | None
    size: int | None
    unit: str  # "requests" or "images"


class Budget:
    """What the gateway's window still allows, as far as the answers so far tell."""

    def __init__(self) -> None:
        self.left: int | None = None  # None: no answer has said; nothing is held back
        self.unit = "requests"
        self._size: int | None = None
        self._resets = 0.0  # clock time the window refills to its size
        self._period = 0.0  # the window's length, as far as we know: the longest reset heard

    def allows(self, cost: int, now: float) -> bool:
        """May a call asking `cost` images start now? A call bigger than the whole window
        goes once the window is full again (it could never fit otherwise)."""
        if self.left is None:
            return True
        self._refill(now)
        need = self._units(cost)
        return self.left > 0 and self.left >= min(need, self._size or need)

    def spend(self, cost: int, now: float) -> None:
        """A call asking `cost` images is about to start."""
        if self.left is not None:
            self._refill(now)
            self.left -= self._units(cost)

    def _refill(self, now: float) -> None:
        if now >= self._resets and self._size:
            # A new window: until an answer from it says when it ends, assume a whole one.
            self.left, self._resets = self._size, now + (self._period or DEFAULT_PERIOD)

    def learn(self, reading: Reading, now: float) -> None:
        """An answer's headers: the budget only falls (calls in flight are not counted yet)."""
        if self.left is None or reading.unit != self.unit:
            self.left, self.unit = reading.left, reading.unit
        else:
            self.left = min(self.left, reading.left)
        self._size = reading.size or self._size
        self._resets = now + (reading.reset or 0.0)
        self._period = max(self._period, reading.reset or 0.0)

    def spent(self) -> None:
        """A 429 said the window is used up."""
        if self.left is not None:
            self.left = 0

    def _units(self, cost: int) -> int:
        return cost if self.unit == "images" else 1


def read_window(headers: Mapping[str, str]) -> Reading | None:
    """The tightest window the x-ratelimit-* headers describe, if any."""
    tightest: Reading | None = None
    for unit in KINDS:
        value = headers.get(f"x-ratelimit-remaining-{unit}", "").strip()
        if not value.isdigit():
            continue
        left = int(value)
        if tightest is None or left < tightest.left:
            size = headers.get(f"x-ratelimit-limit-{unit}", "").strip()
            reset = duration(headers.get(f"x-ratelimit-reset-{unit}", ""))
            tightest = Reading(left, reset, int(size) if size.isdigit() else None, unit)
    return tightest


def duration(text: str) -> float | None:
    """OpenAI's reset durations, e.g. `1s`, `250ms`, `6m0s`, `1h2m`; None if unreadable."""
    text = text.strip()
    match = _DURATION.fullmatch(text)
    if not text or match is None or not any(match.groups()):
        try:
            return float(text)  # a plain number of seconds
        except ValueError:
            return None
    hours, minutes, seconds, millis = (float(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds + millis / 1000

"""One pacer toward WisGate, fed by every answer: how many calls may be in flight, and when.

The key's rate limit is shared by every job, so it is kept in one place instead of each job
retrying its own 429s against the others:
- a 429 rate-limit answer pauses every admission until its Retry-After (or the
  x-ratelimit-reset-* header) has passed, or, with neither, for half a second doubling with
  each such 429 in a row; and it halves the calls allowed in flight (multiplicative
  decrease), once per round: 429s that may answer calls sent before the last decrease (no
  more answers since than calls then allowed in flight) are the same news. Each
  success lets one more through, up to the ceiling, once as many successes as the current
  allowance have come back (additive increase);
- the x-ratelimit-* headers give a budget (bot/wisgate/budget.py): what is left of the
  current window, spent by each admission (a request, or its images when the window counts
  images), refilled when it resets; what does not fit waits, and at 0 admissions pause until
  the reset, so the request that would be refused is never sent;
- it starts at the ceiling (MAX_CONCURRENT_JOBS): a key with room to spare loses nothing,
  and a tight one costs a few 429s in its first window, after which the headers keep count;
- `insufficient_quota` (the key's balance is gone) is no rate limit: no job waits for it,
  but new requests are refused for a few minutes instead of each being sent to fail.
The fair queue asks `allows(running, images)` before starting a job and is told (`subscribe`) when
admissions may resume.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable, Mapping

from bot.wisgate.budget import DEFAULT_PERIOD, Budget, read_window

log = logging.getLogger(__name__)

OUT_OF_CREDIT_PAUSE = 300.0  # seconds new requests are refused after insufficient_quota
HINTLESS_PAUSE = 0.5  # a 429 that says nothing about when to come back: doubled in a row
HINTLESS_CAP = 20.0
MAX_PAUSE = 120.0


class Pacer:
    """Calls allowed in flight toward WisGate, and the time before which none may start."""

    def __init__(self, ceiling: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ceiling = ceiling
        self.limit = ceiling  # calls allowed in flight now
        self.paused_until = 0.0  # clock time; no call starts before it
        self.out_of_credit_until = 0.0
        self.rate_limited = 0  # 429 rate-limit answers seen, for logs and tests
        self.budget = Budget()  # the gateway's window, from its headers
        self._clock = clock
        self._successes = 0  # since the last increase
        self._answers = 0  # since the last decrease
        self._old_calls = 0  # calls that could be in flight at the last decrease
        self._hintless = 0  # 429s in a row that said nothing about when to come back
        self._listeners: list[Callable[[], None]] = []
        self._wake: asyncio.TimerHandle | None = None

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever more calls may start (a pause ended, the limit rose)."""
        self._listeners.append(listener)

    def allows(self, running: int, cost: int = 1) -> bool:
        """May a call asking `cost` images start now, with `running` in flight?"""
        return self._allows(self.budget, running, cost, self._clock())

    def admitted(self, cost: int = 1) -> None:
        """A call asking `cost` images is about to start: it spends from the window."""
        self.budget.spend(cost, self._clock())

    def trial(self) -> Callable[[int, int], bool]:
        """`allows` for one claim admitting several calls at once: each one it allows spends
        from a copy of the window, so the next is judged on what is left (the claim may yet
        roll back: `admitted` spends for real once it holds)."""
        budget = copy.copy(self.budget)
        now = self._clock()

        def allows(running: int, cost: int) -> bool:
            if not self._allows(budget, running, cost, now):
                return False
            budget.spend(cost, now)
            return True

        return allows

    def _allows(self, budget: Budget, running: int, cost: int, now: float) -> bool:
        """Not paused, below the calls allowed in flight, and room in `budget`'s window."""
        return now >= self.paused_until and running < self.limit and budget.allows(cost, now)

    def adopt_limit(self, limit: int) -> None:
        """Another process changed the calls allowed in flight for the key: follow it."""
        limit = max(1, min(self.ceiling, limit))
        if limit != self.limit:
            rose = limit > self.limit
            self.limit, self._successes = limit, 0
            if rose:
                self._notify()

    def paused(self) -> float:
        """Seconds until admissions resume (0 when they are open)."""
        return max(0.0, self.paused_until - self._clock())

    def out_of_credit(self) -> float:
        """Seconds new requests are still refused after the key ran out of credit."""
        return max(0.0, self.out_of_credit_until - self._clock())

    def observe(self, status: int, headers: Mapping[str, str], code: str | None = None) -> None:
        """Learn from one answer of WisGate (any status, its headers, its error code)."""
        if status == 429 and code == "insufficient_quota":
            self.out_of_credit_until = self._clock() + OUT_OF_CREDIT_PAUSE
            log.error("WisGate: the key's credit is gone; refusing new requests for a while")
            return
        self._answers += 1
        reading = read_window(headers)
        if reading is not None:
            self.budget.learn(reading, self._clock())
        if status == 429:
            self.rate_limited += 1
            self.budget.spent()
            self._slow_down(self._wait_of(headers))
            return
        if status < 400:
            self._hintless = 0
            self._speed_up()
        if reading is not None and reading.left <= 0:
            self._pause(reading.reset if reading.reset is not None else DEFAULT_PERIOD)

    def _slow_down(self, wait: float) -> None:
        if self.paused() > 0 or self._answers <= self._old_calls:
            # Sent before the last decrease could take effect: the same news, halved already.
            self._pause(wait)
            return
        self._old_calls, self.limit = self.limit, max(1, self.limit // 2)
        self._successes = self._answers = 0
        log.warning(
            "WisGate's rate limit: pausing %.1f s, at most %d call(s) at once", wait, self.limit
        )
        self._pause(wait)

    def _wait_of(self, headers: Mapping[str, str]) -> float:
        """Seconds a 429 asks us to wait; without a word on it, a backoff doubling in a row."""
        wait = _hinted_wait(headers)
        if wait is not None:
            self._hintless = 0
            return wait
        self._hintless += 1
        return min(HINTLESS_CAP, HINTLESS_PAUSE * 2.0 ** (self._hintless - 1))

    def _speed_up(self) -> None:
        if self.limit >= self.ceiling:
            return
        self._successes += 1
        if self._successes >= self.limit:
            self._successes = 0
            self.limit += 1
            self._notify()

    def _pause(self, seconds: float) -> None:
        until = self._clock() + min(MAX_PAUSE, max(0.0, seconds))
        if until <= self.paused_until:
            return
        self.paused_until = until
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a unit test driving the clock by hand): nobody to wake
        if self._wake is not None:
            self._wake.cancel()
        self._wake = loop.call_later(self.paused(), self._notify)

    def _notify(self) -> None:
        self._wake = None
        for listener in self._listeners:
            listener()


def _hinted_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds a 429 asks us to wait: retry-after-ms, retry-after, else the reset headers."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue
    reading = read_window(headers)
    return None if reading is None else reading.reset

"""How long jobs took lately: what the status lines may promise (issue 17, item 9).

The runner records how long each successful WisGate call took, from the job's slot to the
answer (the "generating" stage), in memory and per process: the last WINDOW per model and
quality, and the last WINDOW of any kind. From them:
- `typical(request)`: the 25th to 75th percentile for the request's model and quality, the
  range a generating line shows ("usually 20–35 s");
- `wait(position, slots)`: about how long a queued job at `position` waits for a slot, as
  the median of recent calls (of any model: the jobs ahead may be of any) times the places
  ahead of it over the slots serving them (a slot frees every median/slots seconds).
Both are None until MIN_SAMPLES calls are known: no figure is ever made up. A restart
forgets them (the first jobs after it show no estimate), and a window so short follows a
slower upstream within minutes.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass

from bot.core.models import ImageRequest
from bot.core.used import used_settings

WINDOW = 50  # recent calls kept per model and quality, and of any kind
MIN_SAMPLES = 3  # fewer recent calls than this: no estimate


@dataclass(frozen=True, slots=True)
class Typical:
    """The usual range of a call's duration in seconds: 25th and 75th percentiles."""

    low: float
    high: float


class RecentDurations:
    """Rolling windows of recent WisGate call durations, per model and quality and in all."""

    def __init__(self, window: int = WINDOW, min_samples: int = MIN_SAMPLES) -> None:
        if window < 1 or not 2 <= min_samples <= window:
            raise ValueError("window at least 1, min_samples from 2 to the window")
        self._window = window
        self._min = min_samples
        self._by_kind: dict[tuple[str, str], deque[float]] = {}
        self._all: deque[float] = deque(maxlen=window)
        self._median: float | None = None  # of _all, kept current: read at every renumber

    def record(self, request: ImageRequest, seconds: float) -> None:
        """One call for `request` took `seconds` (from its slot to WisGate's answer)."""
        if seconds < 0:
            return
        kind = _kind(request)
        self._by_kind.setdefault(kind, deque(maxlen=self._window)).append(seconds)
        self._all.append(seconds)
        if len(self._all) >= self._min:
            self._median = statistics.median(self._all)

    def typical(self, request: ImageRequest) -> Typical | None:
        """The usual range for the request's model and quality; None with too few calls."""
        recent = self._by_kind.get(_kind(request))
        if recent is None or len(recent) < self._min:
            return None
        low, _, high = statistics.quantiles(recent, n=4, method="inclusive")
        return Typical(low, high)

    def wait(self, position: int, slots: int) -> float | None:
        """About how many seconds a job `position`th in line waits for one of `slots` slots;
        None with too few calls known."""
        if self._median is None or position < 1 or slots < 1:
            return None
        return position * self._median / slots


def _kind(request: ImageRequest) -> tuple[str, str]:
    """Model and quality as the API will use them (an unset quality is the model's default)."""
    return request.model, used_settings(request, None).quality or "auto"

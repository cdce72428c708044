"""Recent call durations (bot/jobs/durations.py): what the status lines may promise."""

from __future__ import annotations

import pytest

from bot.core.models import ImageRequest
from bot.jobs.durations import RecentDurations, Typical

LOW = ImageRequest("generate", "gpt-image-2", "p", quality="low")
HIGH = ImageRequest("generate", "gpt-image-2", "p", quality="high")


def test_nothing_is_promised_before_enough_calls_are_known() -> None:
    durations = RecentDurations(min_samples=3)
    assert durations.typical(LOW) is None and durations.wait(1, 1) is None
    durations.record(LOW, 20.0)
    durations.record(LOW, 30.0)
    assert durations.typical(LOW) is None and durations.wait(1, 1) is None
    durations.record(LOW, 40.0)
    assert durations.typical(LOW) == Typical(25.0, 35.0)
    assert durations.wait(1, 1) == 30.0


def test_the_range_is_per_model_and_quality_the_wait_over_every_call() -> None:
    durations = RecentDurations(min_samples=3)
    for seconds in (10.0, 12.0, 14.0):
        durations.record(LOW, seconds)
    for seconds in (60.0, 80.0, 100.0):
        durations.record(HIGH, seconds)
    assert durations.typical(LOW) == Typical(11.0, 13.0)
    assert durations.typical(HIGH) == Typical(70.0, 90.0)
    other = ImageRequest("generate", "gpt-image-1", "p", quality="low")
    assert durations.typical(other) is None  # another model: nothing known of it
    # The jobs ahead may be of any kind: the median of all six calls (37 s) per place, shared
    # by the slots serving the line.
    assert durations.wait(1, 1) == pytest.approx(37.0)
    assert durations.wait(4, 2) == pytest.approx(74.0)
    assert durations.wait(0, 2) is None and durations.wait(3, 0) is None


def test_an_unset_quality_counts_as_the_models_default() -> None:
    durations = RecentDurations(min_samples=2)
    unset = ImageRequest("generate", "dall-e-3", "p")
    standard = ImageRequest("generate", "dall-e-3", "p", quality="standard")
    durations.record(unset, 8.0)
    durations.record(standard, 12.0)
    assert durations.typical(unset) == durations.typical(standard) == Typical(9.0, 11.0)


def test_only_the_window_counts() -> None:
    durations = RecentDurations(window=4, min_samples=2)
    for seconds in (100.0, 100.0, 100.0, 100.0, 10.0, 10.0, 10.0, 10.0):
        durations.record(LOW, seconds)
    assert durations.typical(LOW) == Typical(10.0, 10.0)  # a slow spell is forgotten
    assert durations.wait(1, 1) == 10.0
    durations.record(LOW, -1.0)  # a clock that went back is no duration
    assert durations.wait(1, 1) == 10.0


def test_settings_are_checked() -> None:
    for window, least in ((0, 2), (5, 1), (3, 4)):
        with pytest.raises(ValueError):
            RecentDurations(window=window, min_samples=least)

"""The pacer (bot/wisgate/pacer.py): AIMD on 429s, pauses, backoff, the header budget."""

from __future__ import annotations

import asyncio

import pytest

from bot.wisgate import pacer as pacer_module
from bot.wisgate.budget import duration
from bot.wisgate.pacer import Pacer

OK = 200


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def made(ceiling: int = 8) -> tuple[Pacer, Clock]:
    clock = Clock()
    return Pacer(ceiling, clock=clock), clock


def headers(left: int, reset: str = "1s", size: int = 5) -> dict[str, str]:
    return {
        "x-ratelimit-limit-requests": str(size),
        "x-ratelimit-remaining-requests": str(left),
        "x-ratelimit-reset-requests": reset,
    }


def test_starts_at_the_ceiling_and_grows_back_by_one_per_round_of_successes() -> None:
    pacer, clock = made(ceiling=4)
    assert pacer.allows(3) and not pacer.allows(4)
    pacer.observe(429, {"retry-after": "1"}, "rate_limit_exceeded")
    pacer.observe(429, {"retry-after": "1"}, "rate_limit_exceeded")  # the same burst
    assert pacer.limit == 2
    clock.now += 1
    for _ in range(2):
        pacer.observe(500, {})  # answers to calls that may have left before the decrease
    pacer.observe(429, {"retry-after": "1"}, "rate_limit_exceeded")
    assert pacer.limit == 2  # one of the four in flight then: still the same news
    clock.now += 1
    pacer.observe(429, {"retry-after": "1"}, "rate_limit_exceeded")  # news: a call sent since
    assert pacer.limit == 1
    clock.now += 1
    limits = []
    for _ in range(8):
        pacer.observe(OK, {})
        limits.append(pacer.limit)
    # +1 after 1 success, +1 after 2 more, +1 after 3 more, then the ceiling holds.
    assert limits == [2, 2, 3, 3, 3, 4, 4, 4]


def test_a_429_halves_the_calls_in_flight_and_pauses_until_retry_after() -> None:
    pacer, clock = made()
    pacer.limit = 6
    pacer.observe(429, {"retry-after-ms": "1500"}, "rate_limit_exceeded")
    assert pacer.limit == 3 and pacer.rate_limited == 1
    assert pacer.paused() == pytest.approx(1.5)
    assert not pacer.allows(0)
    clock.now += 1.5
    assert pacer.allows(0) and pacer.paused() == 0


@pytest.mark.parametrize(
    ("answer", "wait"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "6m0s"}, 120.0),
        ({"x-ratelimit-remaining-images": "0", "x-ratelimit-reset-images": "1.5s"}, 1.5),
        ({"retry-after": "soon"}, pacer_module.HINTLESS_PAUSE),
        ({}, pacer_module.HINTLESS_PAUSE),
    ],
)
def test_the_pause_follows_the_answers_headers(answer: dict[str, str], wait: float) -> None:
    pacer, _ = made()
    pacer.observe(429, answer, "rate_limit_exceeded")
    assert pacer.paused() == pytest.approx(wait)  # 6 minutes is capped at MAX_PAUSE


def test_429s_without_a_hint_back_off_doubling_until_a_success() -> None:
    pacer, clock = made()
    pauses = []
    for _ in range(8):
        pacer.observe(429, {}, "rate_limit_exceeded")
        pauses.append(pacer.paused())
        clock.now += pacer.paused()
    assert pauses == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0]
    pacer.observe(OK, {})
    pacer.observe(429, {}, "rate_limit_exceeded")
    assert pacer.paused() == 0.5


def test_the_halving_never_goes_below_one() -> None:
    pacer, clock = made()
    for _ in range(5):
        pacer.observe(429, {"retry-after": "1"}, "rate_limit_exceeded")
        clock.now += 1
        for _ in range(8):
            pacer.observe(500, {})
    assert pacer.limit == 1 and pacer.allows(0)


def test_remaining_headers_keep_it_from_sending_what_would_be_refused() -> None:
    pacer, clock = made()
    pacer.limit = 8
    pacer.observe(OK, headers(left=2, reset="0.8s"))
    assert pacer.allows(0)
    pacer.admitted()
    pacer.admitted()
    assert not pacer.allows(0)  # the window's budget is spent: no call is sent to be refused
    assert pacer.paused() == 0  # not a pause: answers still in flight may say more
    pacer.observe(OK, headers(left=0, reset="0.7s"))
    assert pacer.paused() == pytest.approx(0.7)
    clock.now += 0.7
    assert pacer.allows(0)  # a new window: its size again
    for _ in range(5):
        pacer.admitted()
    assert not pacer.allows(0)


def test_a_stale_answer_never_raises_the_budget_it_spent() -> None:
    pacer, _ = made()
    pacer.limit = 8
    pacer.observe(OK, headers(left=3))
    for _ in range(3):
        pacer.admitted()
    pacer.observe(OK, headers(left=2))  # answered before the three above reached the gateway
    assert not pacer.allows(0)


def test_out_of_credit_is_not_a_rate_limit() -> None:
    pacer, clock = made()
    pacer.observe(429, {"retry-after": "1"}, "insufficient_quota")
    assert pacer.out_of_credit() == pytest.approx(pacer_module.OUT_OF_CREDIT_PAUSE)
    assert pacer.allows(0) and pacer.rate_limited == 0 and pacer.limit == 8
    clock.now += pacer_module.OUT_OF_CREDIT_PAUSE
    assert pacer.out_of_credit() == 0


def test_listeners_hear_when_more_calls_may_start() -> None:
    pacer, _ = made()
    pacer.limit = 1
    heard: list[int] = []
    pacer.subscribe(lambda: heard.append(pacer.limit))
    pacer.observe(OK, {})
    assert heard == [2]


async def test_a_pause_wakes_the_listeners_when_it_ends() -> None:
    pacer = Pacer(4)  # the real clock: the wake-up is a loop timer
    woken = []
    pacer.subscribe(lambda: woken.append(pacer.allows(0)))
    pacer.observe(429, {"retry-after-ms": "50"}, "rate_limit_exceeded")
    assert not pacer.allows(0)
    await asyncio.sleep(0.1)
    assert woken == [True]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("250ms", 0.25),
        ("6m0s", 360.0),
        ("1h2m", 3720.0),
        ("1m30.5s", 90.5),
        ("2.5", 2.5),
        ("", None),
        ("soon", None),
    ],
)
def test_reset_durations_read_as_openai_writes_them(text: str, seconds: float | None) -> None:
    assert duration(text) == (None if seconds is None else pytest.approx(seconds))


def test_a_new_window_is_refilled_once_not_at_every_ask() -> None:
    """Long generations answer late: until one does, the refilled window is assumed whole."""
    pacer, clock = made()
    pacer.limit = 8
    pacer.observe(OK, headers(left=4, reset="60s", size=5))  # a one-minute window
    clock.now += 60
    assert pacer.allows(0)
    for _ in range(5):
        pacer.admitted()
    clock.now += 30  # none of the five has answered yet
    assert not pacer.allows(0)
    clock.now += 30
    assert pacer.allows(0)


def images_window(left: int, reset: str = "60s", size: int = 5) -> dict[str, str]:
    return {
        "x-ratelimit-limit-images": str(size),
        "x-ratelimit-remaining-images": str(left),
        "x-ratelimit-reset-images": reset,
        "x-ratelimit-remaining-requests": "100",  # roomier: the images window binds
    }


def test_a_window_counting_images_is_spent_by_the_images_asked() -> None:
    pacer, clock = made()
    pacer.observe(OK, images_window(left=4))
    assert pacer.budget.unit == "images"
    assert pacer.allows(0, cost=3)
    pacer.admitted(3)
    assert not pacer.allows(1, cost=2)  # one image left: a two-image call would be refused
    assert pacer.allows(1, cost=1)
    clock.now += 60
    assert pacer.allows(1, cost=5)


def test_a_call_bigger_than_the_window_goes_once_the_window_is_whole() -> None:
    """Ten images against five a minute: refusing it forever would be worse than one 429."""
    pacer, clock = made()
    pacer.observe(OK, images_window(left=4))
    assert not pacer.allows(0, cost=10)
    clock.now += 60
    assert pacer.allows(0, cost=10)


def test_a_claims_trial_counts_each_call_it_allows_against_the_next() -> None:
    pacer, clock = made()
    pacer.observe(OK, images_window(left=4))
    allows = pacer.trial()
    assert [allows(0, 3), allows(1, 2), allows(1, 1), allows(2, 1)] == [True, False, True, False]
    assert pacer.budget.left == 4  # a trial spends nothing: the claim may roll back
    pacer.admitted(3)
    clock.now += 60
    assert pacer.trial()(0, 5)  # the window the trial sees refills like the pacer's


def test_a_limit_another_process_set_is_followed_within_the_ceiling() -> None:
    pacer, _ = made(ceiling=8)
    woken: list[int] = []
    pacer.subscribe(lambda: woken.append(pacer.limit))
    pacer.adopt_limit(3)
    assert pacer.limit == 3 and not pacer.allows(3) and woken == []
    pacer.adopt_limit(50)
    assert pacer.limit == 8 and woken == [8]  # more may start: the queue is woken
    pacer.adopt_limit(0)
    assert pacer.limit == 1

"""The chaos run, decided up front by one seed: who asks for what, which faults each job
meets on WisGate and on Discord, when the bot is killed, and the quota policy in force.

Everything here is pure data from `random.Random(seed)`: the same seed gives the same plan.
What the plan cannot fix is timing (which job is in flight when the kill lands): that is the
chaos, and the checks (tests/chaos/invariants.py) hold whatever the interleaving.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any, Literal

from tests.fakes.wisgate import Fault

MEMBERS = 20
JOBS = 200
DAILY_LIMIT = 6  # images a member may have charged per UTC day, unless a moderator says else
REQUEST_TIMEOUT = 2.5  # seconds one WisGate call may take (a "too slow" fault outlasts it)
# Moderators' settings, made with /quota-admin before the first job: member -> images.
LIMIT_OVERRIDES = {0: 3, 1: 15}
GRANTS = {2: 4}
TAG = re.compile(r"chaos-\d+-(\d{3})\b")  # every prompt carries its job's index

DiscordKind = Literal["rate_limit", "server_error", "too_large", "expired_token"]
# (kind, weight) of faults FakeWisGate plays; "too_slow" is a "slow" past REQUEST_TIMEOUT.
_WISGATE_KINDS: list[tuple[str, int]] = [
    ("rate_limit", 3), ("server_error", 3), ("drop", 1), ("slow", 2), ("too_slow", 1),
    ("reset", 2), ("malformed_json", 2), ("moderation_blocked", 2),
]  # fmt: skip
_DISCORD_KINDS: list[tuple[DiscordKind, int]] = [
    ("rate_limit", 3), ("server_error", 2), ("too_large", 2), ("expired_token", 2),
]  # fmt: skip
_SUBJECTS = ("a lighthouse", "two foxes", "a teapot", "a city at dusk", "a paper boat")


@dataclass(frozen=True)
class DiscordFault:
    """One misbehaviour of Discord toward one interaction's webhook (or its expiry)."""

    kind: DiscordKind
    count: int = 1
    status: int = 0
    retry_after: float = 0.0


@dataclass(frozen=True)
class JobPlan:
    """One member's request: where, what, and the faults it meets."""

    index: int
    seed: int
    member: int
    command: Literal["imagine", "edit"]
    options: dict[str, Any]
    in_dm: bool
    channel: int  # 0 or 1: which of the guild's two channels (ignored in DMs)
    gap: float  # seconds to wait before injecting it
    wisgate: tuple[Fault, ...] = ()
    discord: tuple[DiscordFault, ...] = ()

    @property
    def tag(self) -> str:
        """What its prompt starts with: finds its job row, its WisGate calls."""
        return f"chaos-{self.seed}-{self.index:03d}"


@dataclass(frozen=True)
class Kill:
    """SIGKILL the bot after injecting job `after` (or a later one), once a job is running.

    A gentle kill first waits until every interaction so far was admitted (a job row or a
    refusal); a harsh one does not, so requests may die between the defer and the hold.
    """

    after: int
    harsh: bool


@dataclass(frozen=True)
class ChannelFault:
    """From job `after` on, the next `count` channel messages (fallbacks, notices) fail."""

    after: int
    status: int
    count: int


@dataclass(frozen=True)
class Plan:
    """The whole run."""

    seed: int
    jobs: tuple[JobPlan, ...]
    kills: tuple[Kill, ...]
    budget_usd: float
    channel_faults: tuple[ChannelFault, ...] = ()
    # WisGate's images-per-window limit (images, seconds), as a low-tier key has; None: none.
    window: tuple[int, float] | None = None

    def limit_of(self, member: int, in_dm: bool) -> int:
        """The daily limit the member should have: moderators' overrides apply in the guild."""
        return DAILY_LIMIT if in_dm else LIMIT_OVERRIDES.get(member, DAILY_LIMIT)


def make_plan(seed: int, jobs: int = JOBS) -> Plan:
    """The plan for `seed`."""
    rng = random.Random(seed)
    # A few members ask a lot (and meet their limit), most ask a little.
    weights = [1.0 / (1 + 0.3 * member) for member in range(MEMBERS)]
    planned = tuple(_job(rng, seed, index, weights) for index in range(jobs))
    # Kills while members still have quota left (later, most requests are refused).
    first = rng.randint(jobs // 5, jobs * 2 // 5)
    second = rng.randint(first + jobs // 10, jobs * 3 // 5)
    kills = [Kill(first, rng.random() < 0.5), Kill(second, rng.random() < 0.5)]
    if rng.random() < 0.3:
        kills.append(Kill(rng.randint(second + jobs // 20, jobs * 3 // 4), rng.random() < 0.5))
    channel_faults = tuple(
        ChannelFault(rng.randrange(jobs), rng.choice((429, 500, 502)), rng.randint(1, 2))
        for _ in range(rng.randint(2, 4))
    )
    return Plan(
        seed=seed,
        jobs=planned,
        kills=tuple(kills),
        budget_usd=round(rng.uniform(1.2, 2.2), 2),
        channel_faults=tuple(sorted(channel_faults, key=lambda fault: fault.after)),
    )


def _job(rng: random.Random, seed: int, index: int, weights: list[float]) -> JobPlan:
    member = rng.choices(range(MEMBERS), weights)[0]
    command: Literal["imagine", "edit"] = "edit" if rng.random() < 0.1 else "imagine"
    prompt = f"chaos-{seed}-{index:03d} {rng.choice(_SUBJECTS)}"
    # Small, cheap images: the fake draws flat pictures, so every answer is a few KB.
    if command == "imagine" and rng.random() < 0.35:
        options: dict[str, Any] = {
            "model": "dall-e-2",
            "size": "256x256",
            "count": rng.randint(1, 2),
        }
    else:
        n = rng.choice((1, 1, 1, 2, 3))
        options = {"model": "gpt-image-1", "size": "1024x1024", "quality": "low", "count": n}
    options["prompt"] = prompt
    if rng.random() < 0.2:
        options["private"] = True
    return JobPlan(
        index=index,
        seed=seed,
        member=member,
        command=command,
        options=options,
        in_dm=rng.random() < 0.1,
        channel=rng.randrange(2),
        gap=min(0.4, rng.expovariate(1 / 0.06)),
        wisgate=_wisgate_faults(rng),
        discord=_discord_faults(rng),
    )


def _wisgate_faults(rng: random.Random) -> tuple[Fault, ...]:
    if rng.random() < 0.5:
        return ()
    kinds, weights = zip(*_WISGATE_KINDS, strict=True)
    faults = []
    for kind in rng.choices(kinds, weights, k=rng.randint(1, 4)):
        if kind == "rate_limit":
            faults.append(Fault("rate_limit", retry_after=rng.choice(("0", None))))
        elif kind == "server_error":
            faults.append(Fault("server_error", status=rng.choice((500, 502, 503))))
        elif kind == "slow":
            faults.append(Fault("slow", delay=round(rng.uniform(0.2, 1.2), 2)))
        elif kind == "too_slow":
            faults.append(Fault("slow", delay=REQUEST_TIMEOUT + 0.5))
        else:
            faults.append(Fault(kind))  # type: ignore[arg-type]
    return tuple(faults)


def _discord_faults(rng: random.Random) -> tuple[DiscordFault, ...]:
    if rng.random() < 0.6:
        return ()
    kinds, weights = zip(*_DISCORD_KINDS, strict=True)
    kind = rng.choices(kinds, weights)[0]
    if kind == "rate_limit":
        return (DiscordFault(kind, rng.randint(1, 2), 429, round(rng.uniform(0.05, 0.5), 2)),)
    if kind == "server_error":
        return (DiscordFault(kind, 1, rng.choice((500, 502))),)
    if kind == "too_large":
        return (DiscordFault(kind, rng.randint(1, 2), 413),)
    return (DiscordFault(kind),)

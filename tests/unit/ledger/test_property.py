"""The ledger's invariant under concurrency: several connections (as several bot processes),
100+ interleaved reserve/start/settle/refund calls across members, roles, limits and budgets,
on each backend (SQLite files; PostgreSQL databases cloned on the test server).

After every scenario: no member above their limit on any day, no guild above its budget in
any month, charged totals equal the sums over the jobs (and what the callers were told),
and no hold left once every job has ended. The clock crosses UTC midnight (and a month)
in the middle of some scenarios.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.models import Usage
from bot.core.prices import default_prices
from bot.ledger.admin import LedgerAdmin
from bot.ledger.facade import (
    BudgetExhausted,
    JobSpec,
    Ledger,
    MemberBlocked,
    QuotaExceeded,
    Requester,
)
from bot.ledger.models import REFUND_STATUSES
from bot.ledger.store import Tx
from tests.places import BACKENDS, Place, new_place
from tests.unit.ledger.support import Clock

USERS = (1, 2, 3, 4, 5, 6)
GUILDS = (10, 20)
ROLES = (101, 102, 103)
BEFORE_MIDNIGHT = datetime(2025, 5, 31, 23, 59, 59, tzinfo=UTC)
AFTER_MIDNIGHT = datetime(2025, 6, 1, 0, 0, 1, tzinfo=UTC)  # a new day and a new month
MODELS = (
    ("dall-e-2", None, "256x256"),
    ("gpt-image-1", "low", "1024x1024"),
    ("gpt-image-2", None, "1536x1024"),
    ("dall-e-3", "hd", "1792x1024"),
)
PRICES = default_prices()


@dataclass(frozen=True)
class World:
    """Policies set before the jobs run."""

    global_default: int
    guild_defaults: dict[int, int | None]
    role_limits: dict[tuple[int, int], int]
    overrides: dict[tuple[int, int], int]
    blocked: frozenset[tuple[int, int]]
    grants: dict[tuple[int, int], int]
    budgets: dict[int, int | None]  # micro-USD
    roles: dict[int, tuple[int, ...]]

    def limit(self, guild: int | None, user: int) -> int:
        """The rule under test, restated: override > best role > guild default > global."""
        if guild is None:
            return self.global_default
        if (guild, user) in self.overrides:
            return self.overrides[(guild, user)]
        limits = [self.role_limits[(guild, r)] for r in self.roles[user] if (guild, r) in
                  self.role_limits]  # fmt: skip
        if limits:
            return max(limits)
        default = self.guild_defaults[guild]
        return self.global_default if default is None else default


@dataclass(frozen=True)
class Plan:
    """One job's life: who, what, how it ends, on which connection, with what pauses."""

    user: int
    guild: int | None
    model: int
    images: int
    outcome: str  # "settle" or a refund status
    delivered: int
    output_tokens: int | None
    start: bool
    repeat_end: bool
    connection: int
    pauses: tuple[int, int, int]


# Tight limits (refusals) and loose ones (many concurrent holds) both occur.
limits = st.integers(0, 4) | st.integers(5, 40)
worlds = st.builds(
    World,
    global_default=limits,
    guild_defaults=st.fixed_dictionaries({g: st.none() | limits for g in GUILDS}),
    role_limits=st.dictionaries(st.tuples(st.sampled_from(GUILDS), st.sampled_from(ROLES)), limits),
    overrides=st.dictionaries(st.tuples(st.sampled_from(GUILDS), st.sampled_from(USERS)), limits),
    blocked=st.frozensets(st.tuples(st.sampled_from(GUILDS), st.sampled_from(USERS)), max_size=2),
    grants=st.dictionaries(
        st.tuples(st.sampled_from(GUILDS), st.sampled_from(USERS)), st.integers(1, 3)
    ),
    budgets=st.fixed_dictionaries({g: st.none() | st.integers(20_000, 600_000) for g in GUILDS}),
    roles=st.fixed_dictionaries(
        {u: st.lists(st.sampled_from(ROLES), max_size=2, unique=True).map(tuple) for u in USERS}
    ),
)
plans = st.builds(
    Plan,
    user=st.sampled_from(USERS),
    guild=st.sampled_from((*GUILDS, None)),
    model=st.integers(0, len(MODELS) - 1),
    images=st.integers(1, 4),
    outcome=st.sampled_from(("settle", "settle", "settle", *REFUND_STATUSES)),
    delivered=st.integers(0, 5),
    # Sometimes far above what was held (up to 0.4 USD), to exercise the cap.
    output_tokens=st.none() | st.integers(0, 10_000),
    start=st.booleans(),
    repeat_end=st.booleans(),
    connection=st.integers(0, 2),
    pauses=st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
)


async def _pause(turns: int) -> None:
    for _ in range(turns):
        await asyncio.sleep(0)


async def _setup(admin: LedgerAdmin, world: World) -> None:
    for guild, images in world.guild_defaults.items():
        await admin.set_guild_default(1, guild, images)
    for (guild, role), images in world.role_limits.items():
        await admin.set_role_limit(1, guild, role, images)
    for (guild, user), images in world.overrides.items():
        await admin.set_member_limit(1, guild, user, images)
    for guild, user in world.blocked:
        await admin.block(1, guild, user, "property test")
    for (guild, user), images in world.grants.items():
        await admin.grant(1, guild, user, images)
    for guild, micros in world.budgets.items():
        await admin.set_budget(1, guild, None if micros is None else Decimal(micros) / 10**6)


async def _run_job(ledger: Ledger, world: World, plan: Plan, told: list[tuple[str, int]]) -> None:
    model, quality, size = MODELS[plan.model]
    who = Requester(plan.user, plan.guild, world.roles[plan.user], channel_id=77)
    spec = JobSpec(who, "generate", model, plan.images, size, quality, {"prompt": "p" * 40})
    await _pause(plan.pauses[0])
    try:
        reservation = await ledger.reserve(spec)
    except (QuotaExceeded, BudgetExhausted, MemberBlocked) as refusal:
        assert refusal.user_message
        told.append((type(refusal).__name__, 0))
        return
    assert (plan.guild, plan.user) not in world.blocked
    await _pause(plan.pauses[1])
    if plan.start:
        assert await ledger.start(reservation.job_id)
    await _pause(plan.pauses[2])
    for attempt in range(2 if plan.repeat_end else 1):
        if plan.outcome == "settle":
            usage = None if plan.output_tokens is None else Usage(40, 0, plan.output_tokens)
            settled = await ledger.settle(reservation.job_id, plan.delivered, usage)
            assert settled.already_ended == (attempt == 1)
            assert settled.images_charged == min(plan.delivered, plan.images)
            assert settled.cost_charged_micros <= reservation.cost_held_micros
            if attempt == 0:
                told.append(("charged", settled.images_charged))
        else:
            refunded = await ledger.refund(reservation.job_id, "test", status=plan.outcome)
            assert refunded == (attempt == 0)


async def _check(tx: Tx, world: World, told: list[tuple[str, int]]) -> None:
    async def one(sql: str) -> tuple[object, ...]:
        return tuple(await tx.one(sql) or ())

    assert await one("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')") == (0,)
    assert await one("SELECT SUM(images_held), SUM(cost_held_micros) FROM jobs") in (
        (0, 0), (None, None)
    )  # fmt: skip
    assert await one("SELECT COALESCE(MAX(images_held), 0), COALESCE(MAX(cost_held_micros), 0) "
                     "FROM member_usage") == (0, 0)  # fmt: skip
    assert await one("SELECT COALESCE(MAX(held_micros), 0) FROM guild_spend") == (0,)
    # Per member and day: the counters equal the sums over that day's jobs.
    per_day = await tx.all(
        "SELECT u.guild_id, u.user_id, u.day, u.images_charged, u.cost_charged_micros, "
        "COALESCE(SUM(j.images_charged), 0), COALESCE(SUM(j.cost_charged_micros), 0) "
        "FROM member_usage u LEFT JOIN jobs j ON j.guild_id = u.guild_id "
        "AND j.user_id = u.user_id AND j.day = u.day GROUP BY u.guild_id, u.user_id, u.day"
    )
    for scope, user, day, images, cost, job_images, job_cost in per_day:
        assert (images, cost) == (job_images, job_cost)
        guild = None if scope == 0 else scope
        allowance = world.limit(guild, user)
        if day == BEFORE_MIDNIGHT.date().isoformat():
            allowance += world.grants.get((scope, user), 0)
        if (scope, user) in world.blocked:
            allowance = 0
        assert images <= allowance, (scope, user, day)
    assert sum(row[3] for row in per_day) == sum(n for kind, n in told if kind == "charged")
    # Per guild and month: charges equal the jobs' and stay within the budget.
    per_month = await tx.all(
        "SELECT s.guild_id, s.month, s.charged_micros, "
        "(SELECT COALESCE(SUM(cost_charged_micros), 0) FROM jobs j "
        " WHERE j.guild_id = s.guild_id AND j.month = s.month) FROM guild_spend s"
    )
    for scope, _month, charged, job_charged in per_month:
        assert charged == job_charged
        budget = world.budgets.get(scope)
        assert budget is None or charged <= budget


async def _scenario(place: Place, world: World, jobs: list[Plan], midnight: int | None) -> None:
    clock = Clock(BEFORE_MIDNIGHT)
    told: list[tuple[str, int]] = []
    async with AsyncExitStack() as stack:
        stores = [await stack.enter_async_context(place.open()) for _ in range(3)]
        ledgers = [
            Ledger(s, default_daily_images=world.global_default, prices=PRICES, clock=clock)
            for s in stores
        ]
        await _setup(LedgerAdmin(ledgers[0]), world)

        async def job(index: int, plan: Plan) -> None:
            if index == midnight:
                clock.now = AFTER_MIDNIGHT
            await _run_job(ledgers[plan.connection], world, plan, told)

        await asyncio.gather(*(job(i, plan) for i, plan in enumerate(jobs)))
        assert len(told) >= sum(1 for plan in jobs if plan.outcome == "settle")
        await ledgers[0].transaction(lambda tx: _check(tx, world, told), write=False)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(
    world=worlds,
    jobs=st.lists(plans, min_size=100, max_size=130),
    midnight=st.none() | st.integers(0, 129),
)
def test_no_overspend_and_no_lost_charge_under_concurrency(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    backend: str,
    world: World,
    jobs: list[Plan],
    midnight: int | None,
) -> None:
    server = request.getfixturevalue("postgres_server") if backend == "postgres" else None

    async def example() -> None:
        place = await new_place(backend, tmp_path_factory.mktemp("ledger"), server)
        await _scenario(place, world, jobs, midnight)

    asyncio.run(example())

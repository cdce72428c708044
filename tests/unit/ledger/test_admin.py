"""Moderator operations: limit resolution, grants, resets, blocks, budgets, the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.errors import BadValue
from bot.core.prices import default_prices
from bot.discord.wording import member_text
from bot.ledger.admin import LedgerAdmin
from bot.ledger.facade import JobSpec, Ledger, MemberBlocked, QuotaExceeded, Requester
from bot.ledger.store import Store
from tests.places import rows
from tests.unit.ledger.support import Clock

GUILD, OTHER_GUILD = 1_001, 1_002
MOD, USER = 7, 8
ROLE_A, ROLE_B, ROLE_C = 31, 32, 33
START = datetime(2025, 6, 30, 18, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def ledger(store: Store, clock: Clock) -> Ledger:
    return Ledger(store, default_daily_images=4, prices=default_prices(), clock=clock)


@pytest.fixture
def admin(ledger: Ledger) -> LedgerAdmin:
    return LedgerAdmin(ledger)


def who(*roles: int, user: int = USER, guild: int | None = GUILD) -> Requester:
    return Requester(user_id=user, guild_id=guild, role_ids=roles, channel_id=9)


def job(requester: Requester, images: int = 1) -> JobSpec:
    return JobSpec(requester, "generate", "dall-e-2", images, "256x256", None, {"prompt": "x"})


async def limit_of(ledger: Ledger, requester: Requester) -> tuple[int, str]:
    status = await ledger.status(requester)
    return status.limit, status.limit_source


async def test_limits_resolve_member_then_best_role_then_guild_then_global(
    ledger: Ledger, admin: LedgerAdmin
) -> None:
    assert await limit_of(ledger, who(ROLE_A)) == (4, "global")
    await admin.set_guild_default(MOD, GUILD, 10)
    assert await limit_of(ledger, who(ROLE_A)) == (10, "guild")
    # A role limit wins over the guild default even when it is lower.
    await admin.set_role_limit(MOD, GUILD, ROLE_A, 2)
    assert await limit_of(ledger, who(ROLE_A)) == (2, "role")
    # The best of the member's roles counts; roles the member lacks do not.
    await admin.set_role_limit(MOD, GUILD, ROLE_B, 6)
    await admin.set_role_limit(MOD, GUILD, ROLE_C, 50)
    assert await limit_of(ledger, who(ROLE_A, ROLE_B)) == (6, "role")
    assert await limit_of(ledger, who()) == (10, "guild")
    # A member override wins over everything, even when lower.
    await admin.set_member_limit(MOD, GUILD, USER, 1)
    assert await limit_of(ledger, who(ROLE_A, ROLE_B, ROLE_C)) == (1, "member")
    assert await limit_of(ledger, who(ROLE_C, user=USER + 1)) == (50, "role")
    # Clearing falls back one level at a time.
    await admin.set_member_limit(MOD, GUILD, USER, None)
    assert await limit_of(ledger, who(ROLE_A, ROLE_B)) == (6, "role")
    await admin.set_role_limit(MOD, GUILD, ROLE_B, None)
    assert await limit_of(ledger, who(ROLE_A, ROLE_B)) == (2, "role")
    await admin.set_guild_default(MOD, GUILD, None)
    assert await limit_of(ledger, who()) == (4, "global")
    # Limits belong to their guild.
    assert await limit_of(ledger, who(ROLE_A, guild=OTHER_GUILD)) == (4, "global")
    assert await limit_of(ledger, who(ROLE_A, guild=None)) == (4, "global")


async def test_a_zero_limit_refuses_with_its_own_message(
    ledger: Ledger, admin: LedgerAdmin
) -> None:
    await admin.set_member_limit(MOD, GUILD, USER, 0)
    with pytest.raises(QuotaExceeded) as caught:
        await ledger.reserve(job(who()))
    assert "a moderator set your images a day to 0" in member_text(caught.value)


async def test_a_grant_adds_to_today_only(ledger: Ledger, admin: LedgerAdmin, clock: Clock) -> None:
    await ledger.reserve(job(who(), 4))
    with pytest.raises(QuotaExceeded):
        await ledger.reserve(job(who()))
    change = await admin.grant(MOD, GUILD, USER, 3)
    assert (change.old, change.new) == (0, 3)
    assert (await admin.grant(MOD, GUILD, USER, 2)).new == 5
    status = await ledger.status(who())
    assert (status.granted, status.allowance, status.remaining) == (5, 9, 5)
    await ledger.reserve(job(who(), 5))
    clock.now = START + timedelta(hours=6)  # 2025-07-01 00:00 UTC
    status = await ledger.status(who())
    assert (status.granted, status.remaining) == (0, 4)


async def test_reset_forgives_todays_use_but_keeps_the_charges(
    ledger: Ledger, admin: LedgerAdmin, store: Store
) -> None:
    first = await ledger.reserve(job(who(), 3))
    await ledger.settle(first.job_id, 3, None)
    running = await ledger.reserve(job(who(), 1))
    change = await admin.reset_usage(MOD, GUILD, USER)
    assert (change.old, change.new) == (3, 0)
    status = await ledger.status(who())
    assert (status.used, status.held, status.remaining) == (0, 1, 3)
    await ledger.settle(running.job_id, 1, None)  # in flight at the reset: counts after it
    assert (await ledger.status(who())).used == 1
    # Still the sum over the day's jobs.
    assert await rows(store, "SELECT images_charged FROM member_usage") == [(4,)]


async def test_block_stops_a_member_and_unblock_restores_them(
    ledger: Ledger, admin: LedgerAdmin
) -> None:
    await admin.set_member_limit(MOD, GUILD, USER, 6)
    change = await admin.block(MOD, GUILD, USER, "spamming")
    assert (change.old, change.new) == (None, "spamming")
    with pytest.raises(MemberBlocked) as caught:
        await ledger.reserve(job(who()))
    assert "Reason: spamming" in member_text(caught.value)
    assert caught.value.reason == "spamming"
    status = await ledger.status(who())
    assert status.blocked and status.block_reason == "spamming" and status.remaining == 0
    await ledger.reserve(job(who(guild=OTHER_GUILD)))  # only in the guild that blocked
    assert (await admin.block(MOD, GUILD, USER, "  ")).old == "spamming"
    change = await admin.unblock(MOD, GUILD, USER)
    assert (change.old, change.new) == ("no reason given", None)
    assert (await ledger.reserve(job(who()))).status.limit == 6  # the override survived


async def test_every_change_is_an_audit_row_with_old_and_new(
    admin: LedgerAdmin, clock: Clock
) -> None:
    await admin.set_member_limit(MOD, GUILD, USER, 3)
    await admin.set_member_limit(MOD + 1, GUILD, USER, None)
    await admin.set_role_limit(MOD, GUILD, ROLE_A, 9)
    await admin.set_guild_default(MOD, GUILD, 12)
    await admin.grant(MOD, GUILD, USER, 2)
    await admin.reset_usage(MOD, GUILD, USER)
    await admin.block(MOD, GUILD, USER, "rude")
    await admin.unblock(MOD, GUILD, USER)
    budget = await admin.set_budget(MOD, GUILD, 25.5)
    assert (budget.old, budget.new) == (None, 25.5)
    assert (await admin.set_budget(MOD, GUILD, 0)).new is None
    settings = await admin.set_guild_settings(MOD, GUILD, moderator_role_id=77, log_channel_id=88)
    assert [(c.action, c.old, c.new) for c in settings] == [
        ("moderator_role", None, 77),
        ("log_channel", None, 88),
    ]
    await admin.set_member_limit(MOD, OTHER_GUILD, USER, 1)

    page = await admin.audit_log(GUILD, limit=50)
    assert page.next_before_id is None
    rows = [(e.actor_id, e.action, e.target_kind, e.target_id, e.old, e.new)
            for e in reversed(page.entries)]  # fmt: skip
    assert rows == [
        (MOD, "member_limit", "member", USER, None, 3),
        (MOD + 1, "member_limit", "member", USER, 3, None),
        (MOD, "role_limit", "role", ROLE_A, None, 9),
        (MOD, "guild_default", "guild", GUILD, None, 12),
        (MOD, "grant", "member", USER, 0, 2),
        (MOD, "reset_usage", "member", USER, 0, 0),
        (MOD, "block", "member", USER, None, "rude"),
        (MOD, "unblock", "member", USER, "rude", None),
        (MOD, "budget", "guild", GUILD, None, 25.5),
        (MOD, "budget", "guild", GUILD, 25.5, None),
        (MOD, "moderator_role", "guild", GUILD, None, 77),
        (MOD, "log_channel", "guild", GUILD, None, 88),
    ]
    assert all(entry.created_at == clock.now for entry in page.entries)
    assert page.entries[-7].reason == "rude"


async def test_audit_log_pages_and_filters_by_member(admin: LedgerAdmin) -> None:
    for images in range(5):
        await admin.set_member_limit(MOD, GUILD, USER, images)
        await admin.set_member_limit(MOD, GUILD, USER + 1, images)
    first = await admin.audit_log(GUILD, target_user_id=USER, limit=2)
    assert [e.new for e in first.entries] == [4, 3]
    assert first.next_before_id is not None
    second = await admin.audit_log(
        GUILD, target_user_id=USER, limit=2, before_id=first.next_before_id
    )
    third = await admin.audit_log(
        GUILD, target_user_id=USER, limit=2, before_id=second.next_before_id
    )
    assert [e.new for e in second.entries] == [2, 1]
    assert [e.new for e in third.entries] == [0] and third.next_before_id is None
    assert len((await admin.audit_log(GUILD, limit=100)).entries) == 10
    assert (await admin.audit_log(OTHER_GUILD)).entries == []


async def test_guild_settings_change_only_what_is_named(admin: LedgerAdmin) -> None:
    await admin.set_guild_settings(MOD, GUILD, moderator_role_id=77, log_channel_id=88)
    changes = await admin.set_guild_settings(MOD, GUILD, log_channel_id=None)
    assert [(c.action, c.old, c.new) for c in changes] == [("log_channel", 88, None)]
    await admin.set_budget(MOD, GUILD, 3)
    await admin.set_guild_default(MOD, GUILD, 6)
    config = await admin.guild_config(GUILD)
    assert (config.moderator_role_id, config.log_channel_id) == (77, None)
    assert (config.default_daily_images, config.monthly_budget_usd) == (6, 3.0)
    empty = await admin.guild_config(OTHER_GUILD)
    assert (empty.moderator_role_id, empty.monthly_budget_usd) == (None, None)


async def test_top_members_status_history_and_month_spend(
    ledger: Ledger, admin: LedgerAdmin
) -> None:
    await admin.set_budget(MOD, GUILD, 10)
    for user, images in ((USER, 2), (USER + 1, 4), (USER + 2, 1)):
        reservation = await ledger.reserve(job(who(user=user), images))
        await ledger.settle(reservation.job_id, images, None)
    await ledger.reserve(job(who(user=USER + 3), 4))  # held, not charged: not on the board
    top = (await admin.leaderboard(GUILD, limit=2)).members
    assert [(t.user_id, t.images, t.cost_micros) for t in top] == [
        (USER + 1, 4, 64_000),
        (USER, 2, 32_000),
    ]
    status = await admin.member_status(GUILD, USER + 1)
    assert (status.used, status.month_spend_usd, status.guild_budget_usd) == (4, 0.064, 10.0)
    assert status.guild_month_spend_usd == pytest.approx(0.112)
    assert [j.images_charged for j in await admin.history(GUILD, USER + 1)] == [4]
    spent, budget = await admin.month_spend(GUILD)
    assert spent == pytest.approx(0.112) and budget == 10.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda a: a.set_member_limit(MOD, GUILD, USER, -1), ("daily_limit", 0, 100_000)),
        (lambda a: a.set_role_limit(MOD, GUILD, ROLE_A, 10**9), ("daily_limit", 0, 100_000)),
        (lambda a: a.grant(MOD, GUILD, USER, 0), ("grant", 1, 100_000)),
        (lambda a: a.set_budget(MOD, GUILD, -5), ("budget_usd", 0, 1_000_000)),
        (lambda a: a.set_budget(MOD, GUILD, float("nan")), ("budget_usd", 0, 1_000_000)),
        (lambda a: a.block(MOD, 0, USER, "x"), ("server_only", None, None)),
    ],
)
async def test_bad_moderator_input_is_refused_and_not_audited(
    admin: LedgerAdmin, call: object, message: tuple[str, int | None, int | None]
) -> None:
    # The refusal carries which value and its bounds; bot/discord/value_texts.py words it.
    with pytest.raises(BadValue) as refused:
        await call(admin)  # type: ignore[operator]
    assert (refused.value.kind, refused.value.least, refused.value.most) == message
    assert (await admin.audit_log(GUILD)).entries == []

"""Moderators' reads: leaderboards and the month report against the jobs table, the list of
limits and blocks, one job by id within its guild, and blocks that end by themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.errors import BadValue, InvalidRequest
from bot.core.prices import default_prices
from bot.ledger.admin import LedgerAdmin
from bot.ledger.facade import JobSpec, Ledger, MemberBlocked, Requester
from bot.ledger.models import iso
from bot.ledger.store import Store
from tests.places import rows
from tests.unit.ledger.support import Clock

GUILD, OTHER_GUILD = 1_001, 1_002
MOD, ALICE, BOB, CAROL = 7, 8, 9, 10
ROLE_A, ROLE_B = 31, 32
START = datetime(2025, 6, 30, 18, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def ledger(store: Store, clock: Clock) -> Ledger:
    return Ledger(store, default_daily_images=50, prices=default_prices(), clock=clock)


@pytest.fixture
def admin(ledger: Ledger) -> LedgerAdmin:
    return LedgerAdmin(ledger)


def job(user: int, images: int = 1, guild: int | None = GUILD, quality: str = "low") -> JobSpec:
    who = Requester(user_id=user, guild_id=guild, channel_id=9)
    return JobSpec(who, "generate", "gpt-image-1", images, "1024x1024", quality, {"prompt": "x"})


async def made(ledger: Ledger, clock: Clock, when: datetime, spec: JobSpec, made: int) -> int:
    """Reserve at `when` and settle `made` images (0: refunded as a safety rejection)."""
    clock.now = when
    reservation = await ledger.reserve(spec)
    if made:
        await ledger.settle(reservation.job_id, made, None)
    else:
        await ledger.refund(reservation.job_id, "rejected: violence", failure="ContentRejected")
    clock.now = START
    return reservation.job_id


async def test_month_leaderboard_and_report_add_up_to_the_jobs_table(
    store: Store, ledger: Ledger, admin: LedgerAdmin, clock: Clock
) -> None:
    june = [
        (datetime(2025, 6, 2, 9, tzinfo=UTC), job(ALICE, 2), 2),
        (datetime(2025, 6, 2, 23, 59, tzinfo=UTC), job(BOB, 1, quality="high"), 1),
        (datetime(2025, 6, 15, 0, 0, tzinfo=UTC), job(BOB, 3), 1),  # two of three failed
        (datetime(2025, 6, 15, 12, tzinfo=UTC), job(CAROL, 1), 0),  # refunded: not charged
        (START, job(ALICE, 1, quality="medium"), 1),
        (START, job(CAROL, 4), 4),
    ]
    for when, spec, count in june:
        await made(ledger, clock, when, spec, count)
    # Not this guild's June: May, July, another guild, a direct message, a job still open.
    await made(ledger, clock, datetime(2025, 5, 31, 23, 59, tzinfo=UTC), job(ALICE, 5), 5)
    await made(ledger, clock, datetime(2025, 7, 1, tzinfo=UTC), job(BOB, 5), 5)
    await made(ledger, clock, START, job(ALICE, 6, guild=OTHER_GUILD), 6)
    await made(ledger, clock, START, job(ALICE, 7, guild=None), 7)
    await ledger.reserve(job(BOB, 8))
    await admin.reset_usage(MOD, GUILD, CAROL)  # forgives today's use; charges stay counted

    by_member = await rows(
        store,
        "SELECT user_id, SUM(images_charged), SUM(cost_charged_micros) FROM jobs "
        "WHERE guild_id = ? AND month = '2025-06' AND images_charged > 0 GROUP BY user_id",
        GUILD,
    )
    board = await admin.leaderboard(GUILD, "month")
    assert sorted((m.user_id, m.images, m.cost_micros) for m in board.members) == sorted(by_member)
    assert [m.user_id for m in board.members] == [CAROL, ALICE, BOB]  # images, then cost
    [(images, micros)] = await rows(
        store,
        "SELECT SUM(images_charged), SUM(cost_charged_micros) FROM jobs "
        "WHERE guild_id = ? AND month = '2025-06'",
        GUILD,
    )
    assert (board.total_members, board.total_images, board.total_micros) == (3, images, micros)
    assert images == 9 and micros > 0

    first = await admin.leaderboard(GUILD, "month", limit=1)
    assert [m.user_id for m in first.members] == [CAROL]
    assert (first.total_members, first.total_images, first.total_micros) == (3, images, micros)

    today = await admin.leaderboard(GUILD, "day")
    assert [(m.user_id, m.images) for m in today.members] == [(CAROL, 4), (ALICE, 1)]

    report = await admin.month_report(GUILD)
    assert report.month == "2025-06" and len(report.daily_micros) == 30
    by_day = dict(
        await rows(
            store,
            "SELECT CAST(substr(day, 9) AS INTEGER), SUM(cost_charged_micros) FROM jobs "
            "WHERE guild_id = ? AND month = '2025-06' GROUP BY day",
            GUILD,
        )
    )
    assert {day: m for day, m in enumerate(report.daily_micros, start=1) if m} == {
        day: m for day, m in by_day.items() if m
    }
    assert set(by_day) == {2, 15, 30}
    assert report.charged_micros == micros == sum(report.daily_micros)
    assert report.budget_micros is None and report.board == board
    await admin.set_budget(MOD, GUILD, 12.5)
    assert (await admin.month_report(GUILD)).budget_micros == 12_500_000
    # Nothing of this guild's shows in the other one.
    other = await admin.leaderboard(OTHER_GUILD, "month")
    assert [(m.user_id, m.images) for m in other.members] == [(ALICE, 6)]
    assert sum((await admin.month_report(OTHER_GUILD)).daily_micros) == other.total_micros


async def test_a_timed_block_ends_by_itself_for_check_reserve_and_status(
    ledger: Ledger, admin: LedgerAdmin, clock: Clock
) -> None:
    change = await admin.block(MOD, GUILD, ALICE, "spam", timedelta(hours=1))
    until = START + timedelta(hours=1)
    assert (change.old, change.new) == (None, {"reason": "spam", "until": iso(until)})
    [entry] = (await admin.audit_log(GUILD)).entries
    assert (entry.action, entry.old, entry.new, entry.reason) == (
        "block", None, {"reason": "spam", "until": iso(until)}, "spam"
    )  # fmt: skip
    alice = Requester(ALICE, GUILD)

    clock.now = until - timedelta(minutes=1)
    with pytest.raises(MemberBlocked) as before_defer:
        await ledger.check(job(ALICE))  # the gate's read before the defer
    assert before_defer.value.until == until and before_defer.value.reason == "spam"
    with pytest.raises(MemberBlocked):
        await ledger.reserve(job(ALICE))
    status = await ledger.status(alice)
    assert status.blocked and status.blocked_until == until and status.remaining == 0

    clock.now = until  # the block is over at its end
    await ledger.check(job(ALICE))
    await ledger.reserve(job(ALICE))
    status = await ledger.status(alice)
    assert not status.blocked and status.blocked_until is None and status.block_reason is None
    assert (await admin.unblock(MOD, GUILD, ALICE)).old is None  # nothing was in force

    again = await admin.block(MOD, GUILD, ALICE, "again")  # until unblocked
    assert (again.old, again.new) == (None, "again")
    clock.now = until + timedelta(days=400)
    with pytest.raises(MemberBlocked) as forever:
        await ledger.check(job(ALICE))
    assert forever.value.until is None
    week = await admin.block(MOD, GUILD, ALICE, "calmer", timedelta(days=7))
    assert week.old == "again" and week.new == {
        "reason": "calmer",
        "until": iso(clock.now + timedelta(days=7)),
    }
    assert (await admin.unblock(MOD, GUILD, ALICE)).old == week.new


@pytest.mark.parametrize("duration", [timedelta(0), timedelta(seconds=-5), timedelta(days=367)])
async def test_a_block_duration_out_of_range_is_refused_and_not_audited(
    admin: LedgerAdmin, duration: timedelta
) -> None:
    with pytest.raises(BadValue, match="block_days"):
        await admin.block(MOD, GUILD, ALICE, "x", duration)
    assert (await admin.audit_log(GUILD)).entries == []


async def test_the_list_pages_limits_and_blocks_in_force_and_stays_in_its_guild(
    admin: LedgerAdmin, clock: Clock
) -> None:
    members = list(range(100, 112))
    for images, user in enumerate(members, start=1):
        await admin.set_member_limit(MOD, GUILD, user, images)
    await admin.set_member_limit(MOD, GUILD, 199, 5)
    await admin.set_member_limit(MOD, GUILD, 199, None)  # cleared: not listed
    await admin.set_role_limit(MOD, GUILD, ROLE_B, 30)
    await admin.set_role_limit(MOD, GUILD, ROLE_A, 0)
    await admin.block(MOD, GUILD, ALICE, "for good")
    await admin.block(MOD + 1, GUILD, BOB, "a day", timedelta(days=1))
    clock.now = START - timedelta(days=2)
    await admin.block(MOD, GUILD, CAROL, "over", timedelta(hours=1))  # ended long ago
    clock.now = START
    await admin.set_member_limit(MOD, OTHER_GUILD, 555, 3)
    await admin.set_role_limit(MOD, OTHER_GUILD, 556, 3)
    await admin.block(MOD, OTHER_GUILD, 557, "elsewhere")

    first = await admin.policies(GUILD, limit=10)
    assert first.counts == {"member_limit": 12, "role_limit": 2, "block": 2}
    assert first.has_more and len(first.entries) == 10
    assert [(e.kind, e.target_id, e.images) for e in first.entries] == [
        ("member_limit", user, images) for images, user in enumerate(members[:10], start=1)
    ]
    second = await admin.policies(GUILD, limit=10, offset=10)
    assert not second.has_more
    assert [(e.kind, e.target_id) for e in second.entries] == [
        ("member_limit", 110), ("member_limit", 111), ("role_limit", ROLE_A),
        ("role_limit", ROLE_B), ("block", ALICE), ("block", BOB),
    ]  # fmt: skip
    forever, day = second.entries[-2:]
    assert (forever.reason, forever.until, forever.by, forever.since) == (
        "for good", None, MOD, START
    )  # fmt: skip
    assert (day.reason, day.until, day.by) == ("a day", START + timedelta(days=1), MOD + 1)
    assert (await admin.policies(GUILD, limit=10, offset=20)).entries == []

    listed = {e.target_id for page in (first, second) for e in page.entries}
    assert listed.isdisjoint({555, 556, 557, 199, CAROL})
    elsewhere = await admin.policies(OTHER_GUILD, limit=10)
    assert [(e.kind, e.target_id) for e in elsewhere.entries] == [
        ("member_limit", 555), ("role_limit", 556), ("block", 557),
    ]  # fmt: skip
    with pytest.raises(InvalidRequest):
        await admin.policies(0, limit=10)


async def test_a_job_opens_only_in_its_own_guild(
    ledger: Ledger, admin: LedgerAdmin, clock: Clock
) -> None:
    here = await made(ledger, clock, START, job(ALICE, 2), 2)
    refused = await made(ledger, clock, START, job(BOB), 0)
    there = await made(ledger, clock, START, job(ALICE, guild=OTHER_GUILD), 1)
    in_dm = await made(ledger, clock, START, job(ALICE, guild=None), 1)

    detail = await admin.job(GUILD, here)
    assert detail is not None and detail.failure is None
    assert (detail.record.user_id, detail.record.images_charged, detail.record.guild_id) == (
        ALICE, 2, GUILD
    )  # fmt: skip
    rejected = await admin.job(GUILD, refused)
    assert rejected is not None and rejected.failure == "ContentRejected"
    assert rejected.record.error == "rejected: violence" and rejected.record.status == "failed"

    for job_id in (there, in_dm, 10_000):
        assert await admin.job(GUILD, job_id) is None
    assert await admin.job(OTHER_GUILD, here) is None
    assert (await admin.job(OTHER_GUILD, there)) is not None
    with pytest.raises(InvalidRequest):
        await admin.job(0, in_dm)  # direct messages have no moderators

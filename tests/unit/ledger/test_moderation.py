"""Blocked terms in the ledger (audited changes) and the once-an-hour rejection reports."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.errors import BadValue
from bot.core.prices import default_prices
from bot.core.terms import MAX_TERMS_PER_GUILD
from bot.ledger.facade import JobSpec, Ledger, Requester
from bot.ledger.moderation import LedgerModeration
from bot.ledger.store import Store
from tests.places import rows
from tests.unit.ledger.support import Clock

GUILD, OTHER_GUILD = 2_001, 2_002
MOD, USER, OTHER_USER = 7, 8, 9


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2025, 6, 30, 18, 0, tzinfo=UTC))


@pytest.fixture
def ledger(store: Store, clock: Clock) -> Ledger:
    return Ledger(store, default_daily_images=50, prices=default_prices(), clock=clock)


@pytest.fixture
def moderation(ledger: Ledger) -> LedgerModeration:
    return LedgerModeration(ledger)


async def test_terms_are_added_removed_and_audited(
    moderation: LedgerModeration, store: Store
) -> None:
    added = await moderation.add_term(MOD, GUILD, " Dragon ")
    assert (added.old, added.new, added.audit_id > 0) == (None, "dragon", True)
    again = await moderation.add_term(MOD, GUILD, "DRAGON")
    assert (again.old, again.new, again.audit_id) == ("dragon", "dragon", 0)
    await moderation.add_term(MOD, OTHER_GUILD, "fox")
    assert await moderation.terms(GUILD) == ["dragon"]
    assert await moderation.blocked_term(GUILD, "a dragon") == "dragon"
    assert await moderation.blocked_term(GUILD, "a fox") is None  # the other guild's term
    assert await moderation.blocked_term(None, "a dragon") is None  # DMs have no terms

    removed = await moderation.remove_term(MOD, GUILD, "dragon")
    assert (removed.old, removed.new) == ("dragon", None)
    missing = await moderation.remove_term(MOD, GUILD, "dragon")
    assert (missing.old, missing.audit_id) == (None, 0)
    audit = await rows(
        store,
        "SELECT guild_id, action, target_kind, old_value, new_value FROM audit_log ORDER BY id",
    )
    assert audit == [
        (GUILD, "term_add", "guild", "null", '"dragon"'),
        (OTHER_GUILD, "term_add", "guild", "null", '"fox"'),
        (GUILD, "term_remove", "guild", '"dragon"', "null"),
    ]


async def test_terms_are_for_guilds_only_and_capped(moderation: LedgerModeration) -> None:
    with pytest.raises(BadValue, match="server_only"):
        await moderation.add_term(MOD, 0, "dragon")
    for index in range(MAX_TERMS_PER_GUILD):
        await moderation.add_term(MOD, GUILD, f"t{index}")
    with pytest.raises(BadValue, match="terms_full") as full:
        await moderation.add_term(MOD, GUILD, "one more")
    assert full.value.most == MAX_TERMS_PER_GUILD


async def reject(ledger: Ledger, user: int = USER, guild: int | None = GUILD) -> int:
    """A job refunded as the runner records a safety-system rejection."""
    spec = JobSpec(Requester(user, guild), "generate", "dall-e-2", 1, "256x256", None)
    reservation = await ledger.reserve(spec)
    await ledger.refund(reservation.job_id, "Rejected.", failure="ContentRejected")
    return reservation.job_id


async def test_the_third_rejection_in_an_hour_is_reported_once_an_hour(
    ledger: Ledger, moderation: LedgerModeration, clock: Clock
) -> None:
    first = await reject(ledger)
    await reject(ledger, user=OTHER_USER)
    other_failure = await ledger.reserve(
        JobSpec(Requester(USER, GUILD), "generate", "dall-e-2", 1, "256x256", None)
    )
    await ledger.refund(other_failure.job_id, "busy", failure="RateLimited")  # not a rejection
    clock.now += timedelta(minutes=20)
    second = await reject(ledger)
    assert await moderation.rejection_report(GUILD, USER) is None
    clock.now += timedelta(minutes=20)
    third = await reject(ledger)
    report = await moderation.rejection_report(GUILD, USER)
    assert report is not None
    assert (report.rejections, report.job_ids) == (3, (first, second, third))

    for _ in range(3):  # within the hour after the report: silence
        clock.now += timedelta(minutes=5)
        await reject(ledger)
        assert await moderation.rejection_report(GUILD, USER) is None

    clock.now += timedelta(minutes=50)  # the report is over an hour old now
    fresh = await reject(ledger)
    report = await moderation.rejection_report(GUILD, USER)
    # Only rejections after the first report and within the hour: the last three of them.
    assert report is not None and report.rejections == 3 and report.job_ids[-1] == fresh


async def test_rejections_spread_over_more_than_an_hour_are_not_reported(
    ledger: Ledger, moderation: LedgerModeration, clock: Clock
) -> None:
    for _ in range(5):
        await reject(ledger)
        assert await moderation.rejection_report(GUILD, USER) is None
        clock.now += timedelta(minutes=31)


async def test_concurrent_refund_hooks_report_once(
    ledger: Ledger, moderation: LedgerModeration, store: Store
) -> None:
    for _ in range(4):
        await reject(ledger)
    reports = await asyncio.gather(*(moderation.rejection_report(GUILD, USER) for _ in range(8)))
    assert sum(report is not None for report in reports) == 1
    assert await rows(store, "SELECT COUNT(*) FROM moderation_reports") == [(1,)]

"""The ledger's core: reserve, start, settle, refund, recovery, periods, on each backend (a real
SQLite file, a real PostgreSQL database)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.models import GeneratedImage, Usage
from bot.core.prices import PriceTable, default_prices
from bot.core.used import Used
from bot.discord.wording import member_text
from bot.images.store import ResultStore
from bot.jobs.recovery import Recovered, recover
from bot.ledger.admin import LedgerAdmin
from bot.ledger.database import open_database
from bot.ledger.facade import (
    BudgetExhausted,
    JobSpec,
    Ledger,
    QuotaExceeded,
    Requester,
    UnknownJob,
)
from bot.ledger.holds import cheaper
from bot.ledger.sqlite_store import SqliteStore
from bot.ledger.store import Store, Tx
from tests.fakes.images import make_image
from tests.places import Place, rows, scalar
from tests.unit.ledger.support import Clock

GUILD = 111
USER = 222
START = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def ledger(store: Store, clock: Clock) -> Ledger:
    return Ledger(store, default_daily_images=5, prices=default_prices(), clock=clock)


def spec(
    images: int = 1,
    *,
    user: int = USER,
    guild: int | None = GUILD,
    model: str = "gpt-image-1",
    quality: str | None = "low",
    size: str | None = "1024x1024",
    prompt: str = "a red fox",
) -> JobSpec:
    who = Requester(user_id=user, guild_id=guild, channel_id=333)
    params = {"prompt": prompt, "n": images, "background": "auto"}
    return JobSpec(who, "generate", model, images, size, quality, params)


def dalle3() -> JobSpec:
    """One dall-e-3 standard square image: $0.04, exactly (no token pricing)."""
    return spec(1, model="dall-e-3", quality="standard", size="1024x1024")


async def total_holds(store: Store) -> tuple[object, ...]:
    (row,) = await rows(
        store,
        "SELECT (SELECT COALESCE(SUM(images_held), 0) FROM member_usage), "
        "(SELECT COALESCE(SUM(cost_held_micros), 0) FROM member_usage), "
        "(SELECT COALESCE(SUM(held_micros), 0) FROM guild_spend)",
    )
    return row


async def test_reserve_holds_then_settle_charges_usage_and_releases(
    ledger: Ledger, store: Store
) -> None:
    reservation = await ledger.reserve(spec(3))
    assert reservation.images_held == 3
    # 3 x 0.011 x 1.05 margin + 9 prompt bytes x 5 micro-USD.
    assert reservation.cost_held_micros == 34_650 + 45
    assert (reservation.status.held, reservation.status.remaining) == (3, 2)
    assert await total_holds(store) == (3, 34_695, 34_695)

    assert await ledger.start(reservation.job_id)
    usage = Usage(input_text_tokens=9, output_tokens=2 * 272)
    settlement = await ledger.settle(reservation.job_id, 2, usage)

    assert (settlement.status, settlement.images_charged) == ("succeeded", 2)
    assert settlement.cost_charged_micros == 9 * 5 + 2 * 272 * 40
    assert not settlement.already_ended and not settlement.budget_alert
    assert await total_holds(store) == (0, 0, 0)
    status = await ledger.status(Requester(USER, GUILD))
    assert (status.used, status.held, status.remaining) == (2, 0, 3)
    assert status.month_spend_micros == settlement.cost_charged_micros
    assert status.guild_month_spend_micros == settlement.cost_charged_micros
    job = await ledger.job(reservation.job_id)
    assert job is not None
    assert (job.status, job.images_asked, job.images_charged) == ("succeeded", 3, 2)
    assert job.started_at == START and job.ended_at == START


async def test_settle_without_usage_charges_list_price_per_delivered_image(
    ledger: Ledger,
) -> None:
    reservation = await ledger.reserve(spec(1, model="dall-e-3", quality="hd", size="1792x1024"))
    assert reservation.cost_held_micros == 120_000
    settlement = await ledger.settle(reservation.job_id, 1, None)
    assert settlement.cost_charged_micros == 120_000
    reservation = await ledger.reserve(spec(4, model="dall-e-2", quality=None, size="256x256"))
    settlement = await ledger.settle(reservation.job_id, 3, None)
    assert (settlement.images_charged, settlement.cost_charged_micros) == (3, 48_000)


async def test_unset_options_are_held_and_charged_at_what_the_api_uses(
    ledger: Ledger, store: Store
) -> None:
    # dall-e-3 asked nothing draws standard 1024x1024: held and charged $0.04, not $0.12.
    reservation = await ledger.reserve(spec(1, model="dall-e-3", quality=None, size=None))
    assert reservation.cost_held_micros == 40_000
    assert await total_holds(store) == (1, 40_000, 40_000)
    settlement = await ledger.settle(reservation.job_id, 1, None)
    assert settlement.cost_charged_micros == settlement.cost_actual_micros == 40_000
    job = await ledger.job(reservation.job_id)
    assert job is not None and (job.size, job.quality) == ("1024x1024", "standard")


async def test_auto_is_held_at_its_dearest_and_charged_at_what_was_made(ledger: Ledger) -> None:
    # gpt-image-1 picks quality and size itself: the hold covers high 1536x1024 (x1.05).
    reservation = await ledger.reserve(spec(2, quality=None, size=None, prompt=""))
    assert reservation.cost_held_micros == 2 * 262_500
    # An answer without usage: the list price of what it reports, never more than held.
    used = Used(size="1024x1536", quality="medium")
    settlement = await ledger.settle(reservation.job_id, 2, None, used)
    assert settlement.cost_charged_micros == 2 * 63_000
    job = await ledger.job(reservation.job_id)
    assert job is not None and (job.size, job.quality) == ("1024x1536", "medium")
    # With usage, the usage; "auto" reported is recorded as nothing known.
    reservation = await ledger.reserve(spec(1, quality="auto", size="auto", prompt=""))
    usage = Usage(output_tokens=1056)
    settlement = await ledger.settle(reservation.job_id, 1, usage, Used(quality="auto"))
    assert settlement.cost_charged_micros == 1056 * 40
    job = await ledger.job(reservation.job_id)
    assert job is not None and (job.size, job.quality) == ("auto", "auto")


async def test_a_budget_refusal_suggests_only_the_members_own_dearer_choices(
    ledger: Ledger,
) -> None:
    await LedgerAdmin(ledger).set_budget(1, GUILD, 0.05)
    cases = [
        # (images, quality, size) asked of gpt-image-1 -> what to undo ((): nothing)
        ((4, "low", "1536x1024"), ("fewer images", "a smaller size")),
        ((1, "high", "1536x1024"), ("a lower quality", "a smaller size")),
        ((3, "medium", "1024x1024"), ("fewer images", "a lower quality")),
        # Chose nothing: the API picks (held at high); the member made no dearer choice.
        ((1, None, None), ()),
        # Chose only the count, but one image at the API's pick still does not fit.
        ((2, None, None), ()),
    ]
    for (images, quality, size), expected in cases:
        with pytest.raises(BudgetExhausted) as caught:
            await ledger.reserve(spec(images, quality=quality, size=size))
        assert caught.value.cheaper == expected, (images, quality, size)
    # A model priced by tokens alone has no cheaper size or quality to name.
    images = {name: table for name, table in ledger.prices.images.items() if name != "gpt-image-1"}
    tokens_only = PriceTable(images, ledger.prices.tokens)
    assert cheaper(tokens_only, spec(2, model="gpt-image-1"), 1_000_000) == ("fewer images",)
    assert cheaper(tokens_only, spec(2, model="gpt-image-1"), 10) == ()
    with pytest.raises(BudgetExhausted) as caught:  # the read-only check says the same
        await ledger.check(spec(4, quality="low", size="1536x1024"))
    assert caught.value.cheaper == ("fewer images", "a smaller size")
    assert "with fewer images and a smaller size it fits" in member_text(caught.value)


async def test_settle_with_nothing_delivered_charges_no_image(ledger: Ledger) -> None:
    reservation = await ledger.reserve(spec(2))
    settlement = await ledger.settle(reservation.job_id, 0, None)
    assert (settlement.status, settlement.images_charged, settlement.cost_charged_micros) == (
        "failed",
        0,
        0,
    )
    assert (await ledger.status(Requester(USER, GUILD))).remaining == 5


async def test_refund_releases_everything_and_records_why(ledger: Ledger, store: Store) -> None:
    reservation = await ledger.reserve(spec(4))
    assert (await ledger.status(Requester(USER, GUILD))).remaining == 1
    assert await ledger.refund(reservation.job_id, "WisGate answered 500", status="failed")
    assert await total_holds(store) == (0, 0, 0)
    job = await ledger.job(reservation.job_id)
    assert job is not None
    assert (job.status, job.error, job.cost_charged_micros) == ("failed", "WisGate answered 500", 0)
    assert (await ledger.status(Requester(USER, GUILD))).remaining == 5


async def test_settle_and_refund_are_idempotent(ledger: Ledger, store: Store) -> None:
    first = await ledger.reserve(spec(2))
    settled = await ledger.settle(first.job_id, 2, Usage(output_tokens=544))
    again = await ledger.settle(first.job_id, 2, Usage(output_tokens=544))
    assert again.already_ended and again.images_charged == settled.images_charged
    assert again.cost_charged_micros == settled.cost_charged_micros
    assert not await ledger.refund(first.job_id, "late failure")

    second = await ledger.reserve(spec(1))
    assert await ledger.refund(second.job_id, "cancelled", status="cancelled")
    assert not await ledger.refund(second.job_id, "cancelled", status="cancelled")
    late = await ledger.settle(second.job_id, 1, Usage(output_tokens=272))
    assert late.already_ended and late.status == "cancelled" and late.images_charged == 0
    assert not await ledger.start(second.job_id)

    charged = await scalar(store, "SELECT images_charged FROM member_usage")
    spent = await scalar(store, "SELECT charged_micros FROM guild_spend")
    assert (charged, spent) == (2, settled.cost_charged_micros)


async def test_unknown_jobs_and_bad_arguments_are_refused(ledger: Ledger) -> None:
    with pytest.raises(UnknownJob):
        await ledger.settle(999, 1, None)
    with pytest.raises(UnknownJob):
        await ledger.refund(999, "x")
    with pytest.raises(UnknownJob):
        await ledger.delivered(999, 1, 2, 3)
    assert await ledger.job(999) is None
    with pytest.raises(ValueError, match="refund status"):
        await ledger.refund(1, "x", status="succeeded")
    with pytest.raises(ValueError, match="at least one image"):
        await ledger.reserve(spec(0))


async def test_quota_refusal_says_what_is_left_and_when_it_resets(
    ledger: Ledger, store: Store
) -> None:
    held = await ledger.reserve(spec(3))
    with pytest.raises(QuotaExceeded) as caught:
        await ledger.reserve(spec(3))
    error = caught.value
    midnight = datetime(2025, 3, 15, tzinfo=UTC)
    assert (error.limit, error.used, error.remaining, error.asked) == (5, 3, 2, 3)
    assert error.resets_at == midnight
    assert f"<t:{int(midnight.timestamp())}:R>" in member_text(error)
    assert "have 2 of your 5 images left today: ask for 2 or fewer" in member_text(error)
    await ledger.settle(held.job_id, 3, None)
    await ledger.reserve(spec(2))
    with pytest.raises(QuotaExceeded) as caught:
        await ledger.reserve(spec(1))
    assert "You have used all 5 of your images today. They reset <t:" in member_text(caught.value)
    assert caught.value.remaining == 0
    assert await scalar(store, "SELECT COUNT(*) FROM jobs") == 2  # refusals leave no job


async def test_images_reset_at_utc_midnight_and_late_jobs_count_in_their_day(
    ledger: Ledger, clock: Clock
) -> None:
    clock.now = datetime(2025, 3, 14, 23, 59, 59, 999_000, tzinfo=UTC)
    late = await ledger.reserve(spec(4))
    await ledger.settle((await ledger.reserve(spec(1))).job_id, 1, None)
    with pytest.raises(QuotaExceeded):
        await ledger.reserve(spec(1))

    clock.now = datetime(2025, 3, 15, 0, 0, tzinfo=UTC)
    status = await ledger.status(Requester(USER, GUILD))
    assert (status.day, status.used, status.held, status.remaining) == ("2025-03-15", 0, 0, 5)
    assert status.resets_at == datetime(2025, 3, 16, tzinfo=UTC)
    # The job held yesterday is charged to yesterday when it settles today.
    await ledger.settle(late.job_id, 4, None)
    assert (await ledger.status(Requester(USER, GUILD))).remaining == 5
    fresh = await ledger.reserve(spec(5))
    assert fresh.status.remaining == 0


async def test_month_spend_adds_up_over_days_and_resets_with_the_month(
    ledger: Ledger, clock: Clock
) -> None:
    clock.now = datetime(2025, 1, 30, tzinfo=UTC)
    await ledger.settle((await ledger.reserve(dalle3())).job_id, 1, None)
    clock.now = datetime(2025, 1, 31, 23, 0, tzinfo=UTC)
    await ledger.settle((await ledger.reserve(dalle3())).job_id, 1, None)
    status = await ledger.status(Requester(USER, GUILD))
    assert (status.month_spend_micros, status.guild_month_spend_micros) == (80_000, 80_000)
    clock.now = datetime(2025, 2, 1, tzinfo=UTC)
    status = await ledger.status(Requester(USER, GUILD))
    assert (status.month_spend_micros, status.guild_month_spend_micros) == (0, 0)


async def test_direct_messages_use_the_global_default_per_member(ledger: Ledger) -> None:
    admin = LedgerAdmin(ledger)
    await admin.set_member_limit(1, GUILD, USER, 1)
    dm = await ledger.reserve(spec(5, guild=None))
    assert dm.status.guild_id is None and dm.status.limit_source == "global"
    with pytest.raises(QuotaExceeded):
        await ledger.reserve(spec(1, guild=None))
    # Another member in DMs, and the same member in the guild, have their own counts.
    await ledger.reserve(spec(5, guild=None, user=USER + 1))
    await ledger.reserve(spec(1))
    await ledger.settle(dm.job_id, 5, None)
    history = await ledger.history(None, USER)
    assert [job.id for job in history] == [dm.job_id]
    assert history[0].guild_id is None


async def test_budget_refuses_what_it_cannot_cover_until_the_month_turns(
    ledger: Ledger, clock: Clock
) -> None:
    await LedgerAdmin(ledger).set_budget(1, GUILD, 0.10)
    with pytest.raises(BudgetExhausted) as caught:
        await ledger.reserve(spec(1, quality="high"))  # may cost 0.167 x 1.05
    # The member chose high quality; low would fit: say so, in images' words (no dollars).
    assert caught.value.cheaper == ("a lower quality",)
    text = member_text(caught.value)
    assert "not enough for this request; with a lower quality it fits. It resets <t:" in text
    assert "$" not in text
    held = await ledger.reserve(spec(5, model="dall-e-2", quality=None, size="1024x1024"))
    assert held.cost_held_micros == 100_000  # exactly the budget
    with pytest.raises(BudgetExhausted):
        await ledger.reserve(spec(1, user=USER + 1, model="dall-e-2", size="256x256"))
    await ledger.settle(held.job_id, 5, None)
    with pytest.raises(BudgetExhausted) as caught:
        await ledger.reserve(spec(1, user=USER + 1, model="dall-e-2", size="256x256"))
    first_of_april = datetime(2025, 4, 1, tzinfo=UTC)
    assert caught.value.resets_at == first_of_april
    assert caught.value.cheaper == ()  # the cheapest request there is: nothing to suggest
    assert "This server has reached its monthly image budget." in member_text(caught.value)
    assert f"<t:{int(first_of_april.timestamp())}:R>" in member_text(caught.value)
    clock.now = first_of_april
    await ledger.reserve(spec(1, user=USER + 1, model="dall-e-2", size="256x256"))


async def test_usage_above_the_hold_is_capped_and_recorded(
    ledger: Ledger, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    reservation = await ledger.reserve(spec(1, prompt="x"))
    huge = Usage(input_text_tokens=10, output_tokens=10_000)  # 0.40 USD, held ~0.0116
    settlement = await ledger.settle(reservation.job_id, 1, huge)
    assert settlement.cost_charged_micros == reservation.cost_held_micros
    assert settlement.cost_actual_micros == 10 * 5 + 10_000 * 40
    overrun = await scalar(store, "SELECT overrun_micros FROM guild_spend")
    assert overrun == settlement.cost_actual_micros - settlement.cost_charged_micros
    assert "above its hold" in caplog.text


async def test_budget_alert_fires_once_per_month_and_budget(
    ledger: Ledger, clock: Clock, place: Place
) -> None:
    admin = LedgerAdmin(ledger)
    await admin.set_budget(1, GUILD, 1)
    await admin.set_guild_default(1, GUILD, 100)

    async def one() -> bool:
        reservation = await ledger.reserve(dalle3())
        return (await ledger.settle(reservation.job_id, 1, None)).budget_alert

    alerts = [await one() for _ in range(22)]  # 0.04 .. 0.88
    assert alerts.index(True) == 19 and alerts.count(True) == 1  # the 20th reaches 0.80
    # A restarted bot (a new Ledger on a new connection) does not send it again.
    async with place.open() as other:
        restarted = Ledger(other, default_daily_images=100, prices=default_prices(), clock=clock)
        reservation = await restarted.reserve(dalle3())
        assert not (await restarted.settle(reservation.job_id, 1, None)).budget_alert
    # Raising the budget re-arms it for the new figure.
    await admin.set_budget(1, GUILD, 1.2)
    assert [await one() for _ in range(2)] == [True, False]  # 0.96 >= 0.8 x 1.2
    clock.now = datetime(2025, 4, 2, tzinfo=UTC)
    assert [await one() for _ in range(25)].count(True) == 1


async def test_recovery_refunds_what_an_earlier_process_left_open(
    tmp_path: Path, clock: Clock, place: Place
) -> None:
    results = ResultStore(tmp_path / "results", keep_days=7, max_bytes=10**9)
    async with place.open() as store:
        before = Ledger(store, default_daily_images=5, prices=default_prices(), clock=clock)
        queued = await before.reserve(spec(1))
        running = await before.reserve(spec(2, user=USER + 1, guild=None))
        await before.start(running.job_id)
        done = await before.reserve(spec(1))
        await before.settle(done.job_id, 1, None)
        await before.delivered(done.job_id, 1, 444, 555)
    clock.now += timedelta(minutes=3)
    async with place.open() as store:
        after = Ledger(store, default_daily_images=5, prices=default_prices(), clock=clock)
        mine = await after.reserve(spec(1, user=USER + 2))
        recovered = await recover(after, results)
        assert recovered.to_deliver == []
        refunded = recovered.refunded
        assert [job.id for job in refunded] == [queued.job_id, running.job_id]
        assert {job.status for job in refunded} == {"interrupted"}
        assert [(job.user_id, job.channel_id, job.guild_id) for job in refunded] == [
            (USER, 333, GUILD),
            (USER + 1, 333, None),
        ]
        assert refunded[0].params["prompt"] == "a red fox"
        assert refunded[1].ended_at == clock.now
        assert (await after.job(mine.job_id)).status == "queued"  # type: ignore[union-attr]
        assert await recover(after, results) == Recovered([], [])
        # Each owes its member a restart notice until one was tried (a later start sends it).
        assert [job.id for job in await after.owed_notices()] == [queued.job_id, running.job_id]
        await after.notices_sent([queued.job_id])
        assert [job.id for job in await after.owed_notices()] == [running.job_id]
        assert (await after.settle(queued.job_id, 1, None)).already_ended
        await after.refund(mine.job_id, "done")
        assert await total_holds(store) == (0, 0, 0)
        assert (await after.status(Requester(USER, GUILD))).used == 1


async def test_recovery_charges_kept_images_and_delivers_cut_off_deliveries(
    tmp_path: Path, clock: Clock, place: Place
) -> None:
    results = ResultStore(tmp_path / "results", keep_days=7, max_bytes=10**9)
    image = GeneratedImage(make_image(32, 32), "png", 32, 32)
    async with place.open() as store:
        before = Ledger(store, default_daily_images=5, prices=default_prices(), clock=clock)
        # Killed after WisGate answered and its images were kept, before the charge.
        answered = await before.reserve(spec(2))
        await before.start(answered.job_id)
        await results.save(answered.job_id, answered.result_key, [image, image], None)
        # Killed while delivering: charged, not yet delivered.
        sending = await before.reserve(spec(1, user=USER + 1))
        await before.start(sending.job_id)
        await before.settle(sending.job_id, 1, None)
        # Running, with kept images of a job id reused by another database: never charged.
        stale = await before.reserve(spec(1, user=USER + 2))
        await before.start(stale.job_id)
        await results.save(stale.job_id, "someone-else", [image], None)
    async with place.open() as store:
        after = Ledger(store, default_daily_images=5, prices=default_prices(), clock=clock)
        recovered = await recover(after, results)
        assert [job.id for job in recovered.refunded] == [stale.job_id]
        assert [job.id for job in recovered.to_deliver] == [answered.job_id, sending.job_id]
        kept = await after.job(answered.job_id)
        assert kept is not None and (kept.status, kept.images_charged) == ("succeeded", 2)
        assert kept.delivery == "pending" and kept.cost_charged_micros > 0
        assert await after.delivered(answered.job_id, 1, 7, 8) == "waiting"
        assert await after.delivered(answered.job_id, 2) == "delivered"
        assert await after.undelivered_ids() == {sending.job_id}
        assert await total_holds(store) == (0, 0, 0)


async def test_result_message_history_and_parameters_read_back(ledger: Ledger) -> None:
    first = await ledger.reserve(spec(1, prompt="first"))
    second = await ledger.reserve(spec(1, prompt="second"))
    other_guild = await ledger.reserve(spec(1, guild=GUILD + 1))
    await ledger.settle(first.job_id, 1, None)
    assert await ledger.delivered(first.job_id, 1, 444, 555) == "delivered"
    assert await ledger.job_of_message(555) == await ledger.job(first.job_id)
    job = await ledger.job(first.job_id)
    assert job is not None
    assert job.params == {"prompt": "first", "n": 1, "background": "auto"}
    assert (job.kind, job.model, job.size, job.quality) == ("generate", "gpt-image-1",
                                                             "1024x1024", "low")  # fmt: skip
    assert (job.result_channel_id, job.result_message_id) == (444, 555)
    history = await ledger.history(GUILD, USER)
    assert [j.id for j in history] == [second.job_id, first.job_id]
    assert other_guild.job_id not in [j.id for j in history]
    assert len(await ledger.history(GUILD, USER, limit=1)) == 1


async def test_a_cancelled_reserve_gives_its_hold_back(ledger: Ledger, store: Store) -> None:
    task = asyncio.ensure_future(ledger.reserve(spec(2)))
    await asyncio.sleep(0)  # the transaction is now on its way to the database thread
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(200):
        if await scalar(store, "SELECT COUNT(*) FROM jobs WHERE status = 'cancelled'") == 1:
            break
        await asyncio.sleep(0.01)
    assert await scalar(store, "SELECT status FROM jobs") == "cancelled"
    assert await total_holds(store) == (0, 0, 0)


async def test_a_failing_transaction_leaves_nothing(ledger: Ledger, store: Store) -> None:
    async def body(tx: Tx) -> None:
        await tx.run(
            "INSERT INTO guild_settings (guild_id, default_daily_images) VALUES (?, 1)", GUILD
        )
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await ledger.transaction(body)
    assert await scalar(store, "SELECT COUNT(*) FROM guild_settings") == 0
    await ledger.reserve(spec(1))  # the connection is usable again


async def test_a_transaction_is_never_nested_on_one_sqlite_connection(
    tmp_path: Path, clock: Clock
) -> None:
    async with open_database(tmp_path / "ledger.sqlite3") as conn:
        ledger = Ledger(SqliteStore(conn), default_daily_images=5, prices=default_prices())
        await conn.execute("BEGIN")
        with pytest.raises(RuntimeError, match="already open"):
            await ledger.reserve(spec(1))
        await conn.rollback()
        await ledger.reserve(spec(1))
        assert not conn.in_transaction


async def test_an_sqlite_body_may_await_only_the_database(tmp_path: Path) -> None:
    async with open_database(tmp_path / "ledger.sqlite3") as conn:
        store = SqliteStore(conn)

        async def body(tx: Tx) -> None:
            await tx.run("INSERT INTO guild_settings (guild_id) VALUES (?)", GUILD)
            await asyncio.sleep(0)  # would let another task in between: refused

        with pytest.raises(RuntimeError, match="only the database"):
            await store.transaction(body)
        assert await scalar(store, "SELECT COUNT(*) FROM guild_settings") == 0

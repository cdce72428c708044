"""Interaction tokens of open jobs: kept at reserve, gone when the job ends, swept when old."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.prices import default_prices
from bot.images.store import ResultStore
from bot.jobs.recovery import recover
from bot.ledger.facade import InteractionToken, JobSpec, Ledger, QuotaExceeded, Requester
from bot.ledger.store import Store
from tests.places import Place, rows
from tests.unit.ledger.support import Clock

START = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
TOKEN = "interaction-token-never-shown-0123456789"
APP = 999


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def ledger(store: Store, clock: Clock) -> Ledger:
    return Ledger(store, default_daily_images=5, prices=default_prices(), clock=clock)


def spec(images: int = 1, *, token: str = TOKEN, created: datetime = START) -> JobSpec:
    who = Requester(user_id=222, guild_id=111, channel_id=333)
    interaction = InteractionToken(APP, token, created, locale="pt-BR")
    params = {"prompt": "a red fox", "n": images}
    return JobSpec(
        who, "generate", "gpt-image-1", images, "1024x1024", "low", params, interaction=interaction
    )


async def stored(store: Store) -> list[tuple[object, ...]]:
    return await rows(
        store,
        "SELECT job_id, application_id, token, created_at, locale FROM interaction_tokens "
        "ORDER BY job_id",
    )


async def test_reserve_keeps_the_token_in_its_transaction(ledger: Ledger, store: Store) -> None:
    job = await ledger.reserve(spec())
    kept = (job.job_id, APP, TOKEN, "2025-03-14T12:00:00.000+00:00", "pt-BR")
    assert await stored(store) == [kept]
    # The asker's language comes back with the token: the interrupted answer speaks it.
    assert await ledger.interactions([job.job_id, job.job_id + 1]) == {
        job.job_id: InteractionToken(APP, TOKEN, START, locale="pt-BR")
    }
    # A token kept before migration 0010 has none.
    await store.transaction(
        lambda tx: tx.run(
            "UPDATE interaction_tokens SET locale = NULL WHERE job_id = ?", job.job_id
        )
    )
    assert (await ledger.interactions([job.job_id]))[job.job_id].locale is None
    # A request without an interaction (none deferred) keeps nothing.
    bare = await ledger.reserve(replace(spec(), interaction=None))
    assert await ledger.interactions([bare.job_id]) == {}
    # A refused reserve rolls the token back with the job.
    with pytest.raises(QuotaExceeded):
        await ledger.reserve(spec(5, token="refused-token"))
    assert [row[2] for row in await stored(store)] == [TOKEN]


async def test_settle_and_refund_delete_it(ledger: Ledger, store: Store) -> None:
    charged = await ledger.reserve(spec(token="charged"))
    refunded = await ledger.reserve(spec(token="refunded"))
    owed = await ledger.reserve(spec(token="owed"))
    await ledger.start(charged.job_id)
    await ledger.settle(charged.job_id, 1, None)
    await ledger.refund(refunded.job_id, "failed")
    assert [row[2] for row in await stored(store)] == ["owed"]
    # A refund owing its member a notice keeps the token until they were told: it tells them.
    await ledger.refund(owed.job_id, "failed", owe_notice=True)
    assert [row[2] for row in await stored(store)] == ["owed"]
    await ledger.notices_sent([owed.job_id])
    assert await stored(store) == []


async def test_recovery_keeps_the_tokens_of_the_jobs_it_refunds_until_told(
    tmp_path: Path, clock: Clock, place: Place
) -> None:
    results = ResultStore(tmp_path / "results", keep_days=7, max_bytes=10**9)
    async with place.open() as store:
        before = Ledger(store, default_daily_images=5, prices=default_prices(), clock=clock)
        first = await before.reserve(spec(token="first"))
        second = await before.reserve(spec(token="second"))
        await before.start(second.job_id)
    async with place.open() as store:
        after = Ledger(store, default_daily_images=5, prices=default_prices(), clock=clock)
        recovered = await recover(after, results)
        ids = [job.id for job in recovered.refunded]
        assert ids == [first.job_id, second.job_id]
        tokens = await after.interactions(ids)
        assert {job_id: token.token for job_id, token in tokens.items()} == {
            first.job_id: "first",
            second.job_id: "second",
        }
        await after.notices_sent([first.job_id])
        assert list(await after.interactions(ids)) == [second.job_id]
    results.close()


async def test_the_sweep_deletes_tokens_past_their_life(
    ledger: Ledger, store: Store, clock: Clock
) -> None:
    old = await ledger.reserve(spec(token="old", created=START - timedelta(minutes=20)))
    edge = await ledger.reserve(spec(token="edge", created=START - timedelta(minutes=14)))
    fresh = await ledger.reserve(spec(token="fresh"))
    assert await ledger.forget_interactions() == 1
    assert [row[0] for row in await stored(store)] == [edge.job_id, fresh.job_id]
    clock.now += timedelta(minutes=2)
    assert await ledger.forget_interactions() == 1
    assert [row[0] for row in await stored(store)] == [fresh.job_id]
    assert old.job_id not in await ledger.interactions([old.job_id])


def test_the_token_is_never_in_a_repr() -> None:
    job = spec()
    assert job.interaction is not None
    for shown in (repr(job), str(job), repr(job.interaction), str(job.interaction)):
        assert TOKEN not in shown
    assert "application_id=999" in repr(job.interaction)

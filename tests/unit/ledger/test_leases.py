"""Leases on PostgreSQL: a survivor takes a dead process's open jobs, and a process whose job
was taken can no longer settle or refund it (issue 19: settle and refund only what it owns)."""

from __future__ import annotations

from bot.core.prices import default_prices
from bot.ledger.facade import JobSpec, Ledger, Requester
from bot.ledger.fleet import PostgresLocks, open_fleet
from bot.ledger.leases import Leases
from bot.ledger.opener import open_store
from tests.postgres import PostgresServer


def spec() -> JobSpec:
    who = Requester(user_id=222, guild_id=111, channel_id=333)
    params = {"prompt": "a red fox", "n": 1, "background": "auto"}
    return JobSpec(who, "generate", "gpt-image-1", 1, "1024x1024", "low", params)


async def test_a_reclaimed_job_is_settled_only_by_its_new_owner(
    postgres_server: PostgresServer,
) -> None:
    url = await postgres_server.new_database()
    async with open_store("unused", url) as store, open_fleet(url) as locks:
        assert isinstance(locks, PostgresLocks)

        def ledger(owner: str) -> Ledger:
            return Ledger(
                store, default_daily_images=5, prices=default_prices(), owner=owner, leased=True
            )

        stalled, survivor = ledger("stalled"), ledger("survivor")
        await Leases(store, locks, "stalled").register()
        first = (await stalled.reserve(spec())).job_id
        second = (await stalled.reserve(spec())).job_id
        await store.transaction(_age_lease)  # its heartbeat stopped long ago

        leases = Leases(store, locks, "survivor")
        await leases.register()
        assert await leases.reclaim() == [first, second]
        assert await leases.reclaim() == []  # taken once
        assert not await Leases(store, locks, "stalled").heartbeat()  # it must stop

        # The stalled process wakes up: its settle and refund change nothing.
        late = await stalled.settle(first, 1, None)
        assert late.already_ended and late.images_charged == 0
        assert not await stalled.refund(second, "late")
        # The survivor ends them, once.
        assert (await survivor.settle(first, 1, None)).images_charged == 1
        assert await survivor.refund(second, "interrupted")
        record = await survivor.job(first)
        assert record is not None and record.status == "succeeded"


async def _age_lease(tx: object) -> None:
    await tx.run(  # type: ignore[attr-defined]
        "UPDATE processes SET heartbeat_at = now() - interval '1 hour' WHERE owner = 'stalled'"
    )

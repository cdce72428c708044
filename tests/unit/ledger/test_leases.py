"""Leases on PostgreSQL: a survivor takes a dead process's open jobs, and a process whose job
was taken can no longer settle or refund it (issue 19: settle and refund only what it owns)."""

from __future__ import annotations

from tests.leased import fox_spec, leased_database
from tests.postgres import PostgresServer


async def test_a_reclaimed_job_is_settled_only_by_its_new_owner(
    postgres_server: PostgresServer,
) -> None:
    async with leased_database(postgres_server) as db:
        stalled, survivor = db.ledger("stalled"), db.ledger("survivor")
        await db.leases("stalled").register()
        first = (await stalled.reserve(fox_spec())).job_id
        second = (await stalled.reserve(fox_spec())).job_id
        await db.stop_heartbeat("stalled")

        leases = db.leases("survivor")
        await leases.register()
        assert await leases.reclaim() == [first, second]
        assert await leases.reclaim() == []  # taken once
        assert not await db.leases("stalled").heartbeat()  # it must stop

        # The stalled process wakes up: its settle and refund change nothing.
        late = await stalled.settle(first, 1, None)
        assert late.already_ended and late.images_charged == 0
        assert not await stalled.refund(second, "late")
        # The survivor ends them, once.
        assert (await survivor.settle(first, 1, None)).images_charged == 1
        assert await survivor.refund(second, "interrupted")
        record = await survivor.job(first)
        assert record is not None and record.status == "succeeded"

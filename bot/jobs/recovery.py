"""At start-up: end every job an earlier process left open, by what it left behind.

A job that reached WisGate and whose images were kept (bot/images/store.py) before the stop is
charged for them and delivered, like any other; a job with no kept images is refunded and its
member owed a restart notice. Charged jobs whose delivery a stop cut off are delivered again.
Sending is the Discord layer's part (bot/discord/redelivery.py, bot/discord/interrupted.py,
bot/discord/notices.py): this only decides. The sweeps below keep the results store and the
open jobs' interaction tokens (secrets for 15 minutes) from outliving their use.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bot.images.store import ResultStore
from bot.ledger.facade import JobRecord, Ledger

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Recovered:
    """What recovery did: jobs refunded (their members owed a notice), jobs to deliver."""

    refunded: list[JobRecord]
    to_deliver: list[JobRecord]


async def recover(
    ledger: Ledger, results: ResultStore, taken: list[int] | None = None
) -> Recovered:
    """Charge open jobs whose images were kept, refund the others, list what to deliver.

    Alone on a database (SQLite), at start-up: every open job this Ledger does not hold. With
    several processes on PostgreSQL, `taken`: the jobs this process's lease reclaim took from
    a dead one (bot/ledger/leases.py), now its own; their deliveries and owed notices too.
    """
    if taken is None:
        records = await ledger.others_open()
        to_deliver = None
    else:
        found = [await ledger.job(job_id) for job_id in taken]
        records = [r for r in found if r is not None and r.status in ("queued", "running")]
        to_deliver = [r for r in found if r is not None and r.delivery == "pending"]
    lost: list[int] = []
    for record in records:
        kept = None
        if record.status == "running":
            kept = await results.load(record.id, record.result_key)
        if kept is None or not kept.images:
            lost.append(record.id)
            continue
        settlement = await ledger.settle(record.id, len(kept.images), kept.usage)
        log.warning(
            "job %d: a stop came after WisGate answered; charged %d kept image(s) to deliver",
            record.id,
            settlement.images_charged,
        )
    refunded = await ledger.interrupt(lost)
    if to_deliver is None:
        return Recovered(refunded=refunded, to_deliver=await ledger.undelivered())
    settled = [await ledger.job(r.id) for r in records if r.id not in lost]
    to_deliver += [r for r in settled if r is not None and r.delivery == "pending"]
    return Recovered(refunded=refunded, to_deliver=to_deliver)


async def sweep_results(ledger: Ledger, results: ResultStore, every: float = 3600.0) -> None:
    """Remove kept images past their retention or beyond the store's size cap, every hour
    (images still waiting for their member go last)."""
    while True:
        try:
            report = await results.prune(waiting=await ledger.undelivered_ids())
            if report.removed:
                log.info("results store: removed %d old result(s)", report.removed)
        except Exception:
            log.exception("results store sweep failed; trying again in an hour")
        await asyncio.sleep(every)


async def sweep_interactions(ledger: Ledger, every: float = 300.0) -> None:
    """Delete interaction tokens past their life every few minutes (start-up did it once):
    those of jobs that outwaited them, and any a stop left behind."""
    while True:
        await asyncio.sleep(every)
        try:
            await ledger.forget_interactions()
        except Exception:
            log.exception("interaction token sweep failed; trying again in %.0f s", every)

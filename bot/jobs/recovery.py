"""At start-up: end every job an earlier process left open, by what it left behind.

A job that reached WisGate and whose images were kept (bot/images/store.py) before the stop is
charged for them and delivered, like any other; a job with no kept images is refunded and its
member owed a restart notice. Charged jobs whose delivery a stop cut off are delivered again.
Sending is the Discord layer's part (bot/discord/redelivery.py, bot/discord/notices.py): this
only decides.
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


async def recover(ledger: Ledger, results: ResultStore) -> Recovered:
    """Charge open jobs whose images were kept, refund the others, list what to deliver.

    With several live processes on one database, only call this when the others have
    stopped: it takes every open job that this Ledger does not hold.
    """
    lost: list[int] = []
    for record in await ledger.others_open():
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
    return Recovered(refunded=refunded, to_deliver=await ledger.undelivered())


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

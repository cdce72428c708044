"""Several processes on one PostgreSQL database: this process's lease, and the jobs of the
ones that die (bot/ledger/leases.py).

Instead of start-up recovery (which would take every other process's jobs, live ones too),
each process writes its lease first, renews it every LEASE / 4 s and, every LEASE, reclaims
the processes whose lease ran out: their jobs become its own, and the start-up recovery's
decisions apply to them (bot/jobs/recovery.py): what kept images is charged and delivered
(bot/discord/redelivery.py), the rest refunded and the members told, on their interactions
while the tokens live, else by a restart notice (bot/discord/notices.py). A process whose
lease another took stops: its jobs are no longer its own to settle. The input spool folders
of the processes gone for good (bot/jobs/spool.py) go too, where they are on this machine.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from bot.discord.interrupted import answer_interrupted
from bot.discord.redelivery import redeliver_all
from bot.jobs.recovery import recover
from bot.jobs.spool import InputSpool, folder_owners, remove_folders
from bot.ledger.leases import LEASE, Leases

if TYPE_CHECKING:
    from bot.discord.client import ImageBot

log = logging.getLogger(__name__)


async def take_over(
    bot: ImageBot, leases: Leases, lease: float = LEASE, spool: InputSpool | None = None
) -> list[int]:
    """End the jobs of processes whose lease ran out, as their own start-up would have, and
    remove their spool folders here."""
    taken = await leases.reclaim(lease)
    if spool is not None:
        await clear_gone_spools(spool, leases)
    if not taken:
        return []
    log.warning("took %d job(s) of a process that is gone", len(taken))
    recovered = await recover(bot.ledger, bot.results, taken)
    if recovered.to_deliver:
        bot.in_background(redeliver_all(bot, recovered.to_deliver), "re-delivery")
    ours = set(taken)
    owed = [record for record in await bot.ledger.owed_notices() if record.id in ours]
    if owed:
        # Queued behind any round under way, never awaited here: a slow round (the gateway,
        # Discord's rate limits) must not hold up keep_lease's heartbeats past the lease.
        bot.notices.start_restart_notices(owed, lambda records: answer_interrupted(bot, records))
    return taken


async def clear_gone_spools(spool: InputSpool, leases: Leases) -> None:
    """Remove the spool folders beside this process's whose processes are gone for good: their
    queued jobs were ended by whoever took their lease, so their inputs will never be read."""
    root = spool.directory.parent
    others = [owner for owner in folder_owners(root) if owner != leases.owner]
    if not others:
        return  # the usual case: no query
    gone = await leases.gone(others)
    if gone:
        await asyncio.to_thread(remove_folders, root, gone)
        log.info("removed the input spool of %d process(es) that are gone", len(gone))


async def keep_lease(
    bot: ImageBot, leases: Leases, lease: float = LEASE, spool: InputSpool | None = None
) -> None:
    """Heartbeat every lease / 4 s; reclaim the dead every `lease` s; stop this process when
    another took its lease."""
    reclaim_at = time.monotonic() + lease
    while True:
        try:
            alive = await leases.heartbeat()
        except Exception:
            log.exception("the lease's heartbeat failed; trying again")
            alive = True  # the connection's loss also frees our locks: a standby takes over
        if not alive:
            log.error(
                "another process took this one's lease (it missed its heartbeats for %.0f s): "
                "stopping, as its jobs are no longer this process's to end",
                lease,
            )
            asyncio.get_running_loop().create_task(bot.close(), name="lease-lost")
            return
        if time.monotonic() >= reclaim_at:
            reclaim_at = time.monotonic() + lease
            try:
                await take_over(bot, leases, lease, spool)
            except Exception:
                log.exception("reclaiming a dead process's jobs failed; trying again")
        await asyncio.sleep(lease / 4)

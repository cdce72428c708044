"""The Ledger's records half: recovery after a restart, notices owed, interaction tokens, and
job records read back (result buttons, history). Each call is one transaction."""

from __future__ import annotations

import logging
from functools import partial

from bot.ledger import interactions as ledger_interactions
from bot.ledger import jobs as ledger_jobs
from bot.ledger.base import LedgerBase
from bot.ledger.models import TOKEN_LIFETIME, InteractionToken, JobRecord, scope_of

log = logging.getLogger(__name__)


class LedgerRecords(LedgerBase):
    """What a start-up, a notice or a result button reads of jobs, and recovery's refunds."""

    async def others_open(self) -> list[JobRecord]:
        """Jobs an earlier process left queued or running (recovery decides their end).

        With several live processes on one database, only call this when the others have
        stopped: it returns every open job that this Ledger does not hold.
        """
        return await self.transaction(
            partial(ledger_jobs.others_open, owner=self.owner), write=False
        )

    async def interrupt(self, job_ids: list[int]) -> list[JobRecord]:
        """Refund open jobs an earlier process left without images, owing restart notices."""
        records = await self.transaction(
            partial(
                ledger_jobs.interrupt,
                job_ids=job_ids,
                now=self.now(),
                owner=self.owner if self.leased else None,
            )
        )
        if records:
            log.warning("refunded %d job(s) interrupted by a restart", len(records))
        return records

    async def undelivered(self) -> list[JobRecord]:
        """Charged jobs of an earlier process whose delivery a stop cut off."""
        return await self.transaction(
            partial(ledger_jobs.undelivered, owner=self.owner), write=False
        )

    async def undelivered_ids(self) -> set[int]:
        """Every charged job whose images have not all reached Discord (kept longest)."""
        return await self.transaction(ledger_jobs.undelivered_ids, write=False)

    async def waiting(self, guild_id: int | None, user_id: int, limit: int = 5) -> list[JobRecord]:
        """A member's charged jobs here whose images did not all reach Discord, newest first."""
        body = partial(ledger_jobs.waiting, scope=scope_of(guild_id), user_id=user_id, limit=limit)
        return await self.transaction(body, write=False)

    async def owed_notices(self) -> list[JobRecord]:
        """Refunded jobs whose member may not have been told (the restart notice's list).

        Those interrupt() refunded, by this start or an earlier one stopped before its
        notices, and those whose process stopped between a refund and telling the member.
        """
        return await self.transaction(ledger_jobs.owed_notices, write=False)

    async def notices_held(self, job_ids: list[int]) -> set[int]:
        """Which of these jobs' members this process may tell now: still owed a notice, and
        (with leases) still this process's, not taken by a survivor that tells them itself."""
        owner = self.owner if self.leased else None
        body = partial(ledger_jobs.notices_held, job_ids=job_ids, owner=owner)
        return set(await self.transaction(body, write=False))

    async def notices_sent(self, job_ids: list[int]) -> None:
        """Record that the member was told about these refunds (or that we tried)."""
        owner = self.owner if self.leased else None
        await self.transaction(partial(ledger_jobs.notices_sent, job_ids=job_ids, owner=owner))

    async def interactions(self, job_ids: list[int]) -> dict[int, InteractionToken]:
        """The stored interaction tokens of these jobs, by id (to answer them after a stop)."""
        body = partial(ledger_interactions.load, job_ids=job_ids)
        return await self.transaction(body, write=False)

    async def forget_interactions(self) -> int:
        """Delete the tokens of interactions older than Discord lets them live; how many."""
        moment = self.now() - TOKEN_LIFETIME
        removed = await self.transaction(partial(ledger_interactions.forget_before, moment=moment))
        if removed:
            log.info("deleted %d interaction token(s) past their life", removed)
        return removed

    async def job(self, job_id: int) -> JobRecord | None:
        """One job by id (result buttons read its parameters back from here)."""
        return await self.transaction(partial(ledger_jobs.load_job, job_id=job_id), write=False)

    async def job_of_message(self, message_id: int) -> JobRecord | None:
        """The job whose images were posted in this message (as recorded), or None."""
        body = partial(ledger_jobs.by_result_message, message_id=message_id)
        return await self.transaction(body, write=False)

    async def history(
        self, guild_id: int | None, user_id: int, limit: int = 10, before: int | None = None
    ) -> list[JobRecord]:
        """A member's latest jobs in one guild (or in DMs), newest first, older than `before`."""
        body = partial(ledger_jobs.history, scope=scope_of(guild_id), user_id=user_id)
        return await self.transaction(partial(body, limit=limit, before=before), write=False)

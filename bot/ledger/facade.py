"""The quota ledger: reservations that never overspend and never lose a charge.

Every operation is one transaction on the ledger's store (bot/ledger/store.py): SQLite, where
the whole body runs as one call on the connection's thread inside BEGIN IMMEDIATE, or
PostgreSQL, where the body takes its row locks in one fixed order and is retried after a
deadlock. Either way no read-then-write spans anything another writer can get between.

Money is integer micro-dollars; periods are UTC days (images) and UTC months (budgets).
The member-facing errors and data classes live in bot/ledger/models.py; the transaction
bodies are module-level functions taking the open transaction, bound with functools.partial:
bot/ledger/quotas.py (quotas, check, reserve), bot/ledger/jobs.py (settle, refund,
recovery, job records) and bot/ledger/interactions.py (open jobs' interaction tokens); their
decisions are bot/ledger/rules.py's. Recovery and the reads of job records are
bot/ledger/records.py's half of the Ledger; its construction, clock and transactions
bot/ledger/base.py's. Moderator operations are bot/ledger/admin.py (its SQL in
bot/ledger/admin_sql.py), bot/ledger/moderation.py and bot/ledger/reports.py; usage
statistics bot/ledger/stats.py; opening and migrating the databases bot/ledger/database.py
(SQLite), bot/ledger/postgres_db.py and bot/ledger/opener.py.
Prices are in bot/core/prices.py; what a job holds, bot/ledger/holds.py.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial

import orjson

from bot.core.models import Usage
from bot.core.used import Used
from bot.ledger import holds
from bot.ledger import jobs as ledger_jobs
from bot.ledger import quotas as ledger_sql
from bot.ledger.base import utc_now
from bot.ledger.models import (
    REFUND_STATUSES,
    BudgetExhausted,
    CapReached,
    Delivery,
    InteractionToken,
    JobRecord,
    JobSpec,
    MemberBlocked,
    MemberStatus,
    OperatorCaps,
    QuotaExceeded,
    Requester,
    Reservation,
    Settlement,
    UnknownJob,
    scope_of,
)
from bot.ledger.records import LedgerRecords

__all__ = [
    "BudgetExhausted",
    "CapReached",
    "InteractionToken",
    "JobRecord",
    "JobSpec",
    "Ledger",
    "MemberBlocked",
    "MemberStatus",
    "OperatorCaps",
    "QuotaExceeded",
    "Requester",
    "Reservation",
    "Settlement",
    "UnknownJob",
    "utc_now",
]

log = logging.getLogger(__name__)


class Ledger(LedgerRecords):
    """Quotas, reservations, jobs: reserve -> start -> settle or refund, each one transaction."""

    async def check(self, spec: JobSpec, prompt: str | None = None) -> None:
        """Refuse now what reserve would refuse, holding nothing: before any download; and
        `prompt` (None: not known yet) against the guild's blocked terms. One read.

        Raises MemberBlocked, QuotaExceeded, BudgetExhausted, CapReached or BlockedTerm (all
        BotError). reserve checks again in its own transaction; this read spares the work
        between (the defer, downloads, decodes) for requests that would be refused.
        """
        if spec.images < 1:
            raise ValueError("a job asks for at least one image")
        body = partial(
            ledger_sql.check_request,
            spec=spec,
            prompt=prompt,
            cost=holds.estimate(self.prices, spec).total_micros,
            caps=self.caps,
            global_default=self.default_daily_images,
            now=self.now(),
        )
        try:
            await self.transaction(body, write=False)
        except BudgetExhausted as error:
            raise holds.suggest(error, self.prices, spec) from None

    async def reserve(self, spec: JobSpec) -> Reservation:
        """Hold the job's images and estimated cost and record it queued, or raise why not.

        Raises MemberBlocked, QuotaExceeded, BudgetExhausted or CapReached (all BotError).
        """
        if spec.images < 1:
            raise ValueError("a job asks for at least one image")
        body = partial(
            ledger_sql.reserve,
            spec=spec,
            estimate=holds.estimate(self.prices, spec),
            params_json=orjson.dumps(dict(spec.params)).decode(),
            owner=self.owner,
            global_default=self.default_daily_images,
            caps=self.caps,
            now=self.now(),
        )
        pending = asyncio.ensure_future(self.transaction(body))
        try:
            return await asyncio.shield(pending)
        except BudgetExhausted as error:
            raise holds.suggest(error, self.prices, spec) from None
        except asyncio.CancelledError:
            # The transaction runs to its end in the store whatever we do; if it
            # committed, nobody will ever settle that job, so give its hold back.
            pending.add_done_callback(self._refund_orphan)
            raise

    def _refund_orphan(self, pending: asyncio.Future[Reservation]) -> None:
        if pending.cancelled() or pending.exception() is not None:
            return
        job_id = pending.result().job_id
        task = asyncio.ensure_future(
            self.refund(job_id, "cancelled while reserving", status="cancelled")
        )
        self._orphans.add(task)
        task.add_done_callback(self._orphans.discard)

    async def start(self, job_id: int) -> bool:
        """queued -> running. False if the job already ended (cancelled...): do not run it."""
        return await self.transaction(partial(ledger_jobs.start, job_id=job_id, now=self.now()))

    async def settle(
        self, job_id: int, generated: int, usage: Usage | None, used: Used | None = None
    ) -> Settlement:
        """Charge the generated images at the usage cost, else the list price of what was `used`
        (None: as asked, else the model's defaults).

        Called as soon as WisGate returns images, before any delivery: what was generated is
        paid for by whoever asked, whether or not Discord then takes it (delivered() records
        that). Settling a job that already ended changes nothing and says so (already_ended).
        budget_alert is True for the one settle per month that brings the guild to 80%.
        """
        if generated < 0:
            raise ValueError("generated cannot be negative")
        body = partial(
            ledger_jobs.settle,
            job_id=job_id,
            generated=generated,
            usage=usage,
            used=used or Used(),
            prices=self.prices,
            now=self.now(),
            owner=self.owner if self.leased else None,
        )
        return await self.transaction(body)

    async def refund(
        self,
        job_id: int,
        reason: str,
        *,
        status: str = "failed",
        failure: str | None = None,
        owe_notice: bool = False,
    ) -> bool:
        """Release the whole hold and record why; False if the job had already ended.

        `failure` is the kind (the error's class name: ContentRejected, RateLimited...; by
        default the status capitalised), `reason` the words for people. With `owe_notice`,
        the member counts as not yet told until `notices_sent`: if the process stops first,
        the next start's restart notice tells them.
        """
        if status not in REFUND_STATUSES:
            raise ValueError(f"refund status must be one of {', '.join(REFUND_STATUSES)}")
        body = partial(
            ledger_jobs.refund,
            job_id=job_id,
            reason=reason,
            status=status,
            now=self.now(),
            owe_notice=owe_notice,
            failure=failure,
            owner=self.owner if self.leased else None,
        )
        return await self.transaction(body)

    async def delivered(
        self,
        job_id: int,
        sent: int,
        channel_id: int | None = None,
        message_id: int | None = None,
    ) -> Delivery | None:
        """Record that `sent` images of a charged job reached Discord (0: none could).

        Returns 'delivered' once all of them did, else 'waiting' (the member may have them
        delivered again); channel_id/message_id name the first message holding them.
        """
        body = partial(
            ledger_jobs.delivered,
            job_id=job_id,
            sent=sent,
            channel_id=channel_id,
            message_id=message_id,
            now=self.now(),
        )
        return await self.transaction(body)

    async def first_cap_alert(self, error: CapReached, guild_id: int | None) -> bool:
        """True the first time this cap is reached in its period here (tell the log once)."""
        return await self.first_alert(error.cap, error.period, guild_id)

    async def first_alert(self, kind: str, period: str, guild_id: int | None) -> bool:
        """True the first time this kind of news comes in this period here (told once)."""
        body = partial(
            ledger_sql.first_alert,
            cap=kind,
            period=period,
            scope=scope_of(guild_id),
            now=self.now(),
        )
        return await self.transaction(body)

    async def status(self, requester: Requester) -> MemberStatus:
        """The member's day: used, limit, granted, remaining, reset time, month spend, block."""
        body = partial(
            ledger_sql.member_status,
            scope=scope_of(requester.guild_id),
            user_id=requester.user_id,
            role_ids=requester.role_ids,
            global_default=self.default_daily_images,
            caps=self.caps,
            now=self.now(),
        )
        return await self.transaction(body, write=False)

"""The quota ledger: reservations that never overspend and never lose a charge.

Every operation is one SQLite transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error)
whose whole body - reads, checks and writes - runs as ONE call on the aiosqlite connection's
own worker thread (see Ledger.transaction). So:

* no read-then-write spans an await: nothing can run between the check and the write;
* transactions on one connection are serialised by that single thread (a second BEGIN on a
  connection with an open transaction would fail), so no asyncio.Lock is needed;
* several connections or processes on one file are serialised by SQLite itself: BEGIN
  IMMEDIATE takes the write lock up front and the busy timeout waits for it.

Measured with bench/ledger.py (2 cores, 100 concurrent tasks, one file): 3,300-4,300
reserve+settle pairs/s this way, against 430-870 when each statement is awaited through
aiosqlite behind an asyncio.Lock (the target is 1,000).

Money is integer micro-dollars; periods are UTC days (images) and UTC months (budgets).
The member-facing errors and data classes live in bot/ledger/models.py; the transaction
bodies are module-level functions taking the sqlite3 connection, bound with functools.partial:
bot/ledger/quotas.py (quotas, check, reserve), bot/ledger/jobs.py (settle, refund,
recovery, job records) and bot/ledger/interactions.py (open jobs' interaction tokens).
Moderator operations are bot/ledger/admin.py (its SQL in bot/ledger/admin_sql.py),
bot/ledger/moderation.py and bot/ledger/reports.py; usage statistics bot/ledger/stats.py;
opening and migrating the database bot/ledger/database.py.
Prices are in bot/core/prices.py; what a job holds, bot/ledger/holds.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar, cast

import aiosqlite
import orjson

from bot.core.models import Usage
from bot.core.prices import PriceTable
from bot.core.used import Used
from bot.ledger import holds
from bot.ledger import interactions as ledger_interactions
from bot.ledger import jobs as ledger_jobs
from bot.ledger import quotas as ledger_sql
from bot.ledger.models import (
    REFUND_STATUSES,
    TOKEN_LIFETIME,
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
    utc,
)

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
]

log = logging.getLogger(__name__)
T = TypeVar("T")
Body = Callable[[sqlite3.Connection], T]


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


def _new_owner() -> str:
    """Names this Ledger on the jobs it holds, so recovery only takes other processes' jobs."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _in_transaction(db: sqlite3.Connection, body: Body[T], write: bool) -> T:
    """Run body between BEGIN and COMMIT on the calling (the connection's) thread."""
    if db.in_transaction:
        raise RuntimeError("a transaction is already open on this connection")
    # IMMEDIATE takes the write lock first, so two writers never both read then both write.
    # Reads use a plain BEGIN: one consistent snapshot, no write lock.
    db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        result = body(db)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return result


class Ledger:
    """Quotas, reservations, jobs: reserve -> start -> settle or refund, each one transaction."""

    def __init__(
        self,
        conn: aiosqlite.Connection,
        *,
        default_daily_images: int,
        prices: PriceTable,
        caps: OperatorCaps | None = None,
        clock: Callable[[], datetime] = utc_now,
        owner: str | None = None,
    ) -> None:
        self._conn = conn
        self.default_daily_images = default_daily_images
        self.prices = prices
        self.caps = caps or OperatorCaps()
        self._clock = clock
        self.owner = owner or _new_owner()
        # Reservations whose caller was cancelled: kept alive until refunded.
        self._orphans: set[asyncio.Task[bool]] = set()

    def now(self) -> datetime:
        """The ledger's clock, in UTC."""
        return utc(self._clock())

    async def transaction(self, body: Body[T], *, write: bool = True) -> T:
        """Run body(sqlite3 connection) as one transaction on the connection's thread."""
        conn = self._conn
        # aiosqlite has no public "run this function on your thread"; _execute is what all of
        # its own methods use (0.20 - 0.22). Every test in tests/unit/ledger/ fails loudly if
        # it changes.
        execute = cast(Callable[..., Awaitable[T]], conn._execute)
        return await execute(lambda: _in_transaction(conn._conn, body, write))

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
            # The transaction runs to its end on the database thread whatever we do; if it
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
            partial(ledger_jobs.interrupt, job_ids=job_ids, now=self.now())
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

    async def notices_sent(self, job_ids: list[int]) -> None:
        """Record that the member was told about these refunds (or that we tried)."""
        await self.transaction(partial(ledger_jobs.notices_sent, job_ids=job_ids))

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

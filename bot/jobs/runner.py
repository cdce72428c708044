"""The job runner: every job takes one path, reserve -> queue -> WisGate -> keep -> settle ->
deliver.

What WisGate generated is charged: its images go to the results store (bot/images/store.py)
and the ledger settles before anything is sent to Discord. A failure before that refunds the
whole hold; a job never ends without one of the two. A delivery that fails leaves the charged
images waiting in the store (the member is told, and /history offers to deliver them again);
a stop during delivery leaves them for the next start to deliver (bot/jobs/recovery.py).
Cogs build a Job (validated request + ledger spec + a Reporter that speaks to Discord) and
call `submit`; they never touch the ledger or WisGate themselves. Jobs wait in a fair queue
(bot/jobs/queue.py) for a slot toward WisGate; a queued job can be cancelled, and one that waits
too long expires, both refunded before any WisGate request.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from bot.core.catalogue import Catalogue
from bot.core.errors import BotError, or_list, our_fault
from bot.core.models import GeneratedImage, ImageResult
from bot.core.used import used_settings
from bot.i18n import _
from bot.images.store import ResultStore
from bot.jobs.durations import RecentDurations
from bot.jobs.job import Delivered, Job, JobEvents, JobTimes
from bot.jobs.queue import (
    FairQueue,
    LeftQueue,
    QueueCancelled,
    QueueExpired,
    QueueInterrupted,
    QueueLimits,
    Ticket,
    interrupted_text,
)
from bot.jobs.shared_queue import SharedQueue
from bot.jobs.spool import InputSpool
from bot.ledger.facade import JobSpec, Ledger, Reservation, Settlement
from bot.ledger.queue_sql import QueueTable
from bot.wisgate.client import WisGateClient
from bot.wisgate.errors import RateLimited, UnknownModel

log = logging.getLogger(__name__)

# Places in line are shown every 5 s at best; recomputing them more often only costs CPU.
RENUMBER_AFTER = 0.5
# What Runner.cancel did: withdrew it, found it already generating, refused, or knows it not.
CancelOutcome = Literal["cancelled", "started", "not_yours", "unknown"]


@dataclass(slots=True)
class _Queued:
    """What a queue ticket carries: the job and its id."""

    job_id: int
    job: Job


class Runner:
    """Runs jobs through the fair queue toward WisGate; settles or refunds every one."""

    def __init__(
        self,
        *,
        wisgate: WisGateClient,
        ledger: Ledger,
        results: ResultStore,
        spool: InputSpool,
        catalogue: Catalogue,
        max_concurrent: int,
        max_per_member: int | None = None,
        max_per_guild: int | None = None,
        max_queue_wait: float | None = None,
        events: JobEvents | None = None,
        clock: Callable[[], float] = time.monotonic,
        shared_queue: QueueTable | None = None,
    ) -> None:
        self._wisgate = wisgate
        self._ledger = ledger
        self._results = results
        self._spool = spool
        self._catalogue = catalogue  # told when WisGate does not know a model
        limits = QueueLimits(max_concurrent, max_per_member, max_per_guild)
        # The pacer toward WisGate holds admissions back while its rate limit wants it.
        self._pacer = wisgate.pacer
        # With several processes on one PostgreSQL database the line is theirs in common
        # (bot/jobs/shared_queue.py); alone, it is this process's own.
        self._queue: FairQueue[_Queued] | SharedQueue[_Queued]
        if shared_queue is not None:
            self._queue = SharedQueue(shared_queue, limits, on_moved=self._moved, pacer=self._pacer)
        else:
            self._queue = FairQueue(
                limits, on_moved=self._moved, renumber_after=RENUMBER_AFTER, gate=self._pacer
            )
        self._shared = shared_queue
        self._tickets: dict[int, Ticket[_Queued]] = {}  # job id -> ticket, while the job is open
        self._tasks: set[asyncio.Task[None]] = set()
        self._clock = clock
        # Jobs admitted together start in turn: an asyncio.Lock wakes its waiters in order, and
        # on PostgreSQL two starts at once could commit, and reach WisGate, in either order.
        self._starting = asyncio.Lock()
        self._closing = False
        self.max_queue_wait = max_queue_wait  # seconds; None waits as long as it takes
        self._events = events
        # Recent WisGate call times: the status lines' expected wait and usual range.
        self.durations = RecentDurations()

    @property
    def in_flight(self) -> int:
        """Jobs accepted and not yet settled or refunded."""
        return len(self._tasks)

    async def submit(self, job: Job) -> Reservation:
        """Reserve the job's cost (raising the ledger's refusal) and queue it in the background."""
        if self._closing:
            raise BotError(_("The bot is restarting; try again in a minute. Nothing was charged."))
        reservation = await self._ledger.reserve(job.spec)
        job_id = reservation.job_id
        if self._closing:  # close() began while we reserved: it will not wait for this one
            await asyncio.shield(
                self._ledger.refund(
                    job_id, "interrupted by shutdown", status="interrupted", failure="Interrupted"
                )
            )
            raise BotError(_("The bot is restarting; try again in a minute. Nothing was charged."))
        times = JobTimes(submitted=self._clock())
        requester = job.spec.requester
        # Joined before the task starts: a Cancel pressed at once already finds the ticket.
        ticket = self._queue.join(
            _Queued(job_id, job),
            member=requester.user_id,
            guild=requester.guild_id,
            cost=job.request.n,
        )
        self._tickets[job_id] = ticket
        task = asyncio.create_task(self._run(job, reservation, ticket, times), name=f"job-{job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return reservation

    def cancel(self, job_id: int, user_id: int) -> CancelOutcome:
        """The requester's Cancel: a queued job leaves the line and its task refunds it at once."""
        ticket = self._tickets.get(job_id)
        if ticket is None:
            return "unknown"
        if ticket.item.job.spec.requester.user_id != user_id:
            return "not_yours"
        if self._queue.withdraw(ticket, QueueCancelled()):
            log.info("job %d cancelled by its requester while queued", job_id)
            return "cancelled"
        return "started"

    def queue_news(self, _payload: str = "") -> None:
        """Another process changed the shared queue (its NOTIFY): claim and look now."""
        if isinstance(self._queue, SharedQueue):
            self._queue.wake()

    async def cancel_anywhere(self, job_id: int, user_id: int) -> CancelOutcome:
        """Cancel, also for a job another process on the shared queue runs (its owner ends it
        and tells the member)."""
        outcome = self.cancel(job_id, user_id)
        if outcome == "unknown" and self._shared is not None:
            outcome = await self._shared.cancel(job_id, user_id)
        return outcome

    async def close(self, grace: float = 30.0) -> None:
        """Stop accepting jobs; refund the queued; give running ones `grace` s, then cancel."""
        self._closing = True
        for ticket in list(self._tickets.values()):
            # Starting a queued job now would only make it the next to interrupt.
            self._queue.withdraw(ticket, QueueInterrupted())
        if self._tasks:
            log.info("waiting up to %.0f s for %d job(s) in flight", grace, len(self._tasks))
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if isinstance(self._queue, SharedQueue):
            await self._queue.close()

    async def _run(
        self, job: Job, reservation: Reservation, ticket: Ticket[_Queued], times: JobTimes
    ) -> None:
        job_id = reservation.job_id
        outcome = "refunded"
        try:
            result, settlement = await self._generate(job, reservation, ticket, times)
            if settlement.already_ended:
                # Another process took this one's lease (a stall past it) and ended the job:
                # it delivers or refunds and tells the member. Sending ours too would be twice.
                outcome = (
                    f"not charged nor delivered (ended by another process: {settlement.status})"
                )
                log.warning(
                    "job %d was ended by another process (%s) while this one generated it (this "
                    "process's lease was taken): not delivering it",
                    job_id,
                    settlement.status,
                )
                await self._let_go(job, job_id)
                return
            outcome = f"charged {settlement.images_charged} for ${settlement.cost_charged_usd:.3f}"
            outcome = await self._deliver(job, reservation, result, times, outcome)
        except BotError as error:
            status = error.refund_status if isinstance(error, LeftQueue) else "failed"
            outcome = f"{status if status != 'failed' else 'refunded'} ({type(error).__name__})"
            failure = type(error).__name__
            text, reason = error.user_message, _reason(error)
            if isinstance(error, LeftQueue):  # made where the queue let go: word it here
                text = error.worded()
            if isinstance(error, UnknownModel):
                text = self._model_gone(job.spec.model, text)
            if await self._refund(job, job_id, text, reason=reason, status=status, failure=failure):
                await self._after_refund(job_id, job.spec, error)
        except asyncio.CancelledError:
            if outcome == "refunded":  # not settled: nothing was generated and kept
                outcome = "interrupted"
                await self._refund(
                    job,
                    job_id,
                    interrupted_text(),
                    reason="interrupted by shutdown",
                    status="interrupted",
                    failure="Interrupted",
                )
            else:
                outcome += ", delivery cut off (the next start delivers it)"
            raise
        except Exception:
            reference = secrets.token_hex(4)
            outcome = f"refunded (unexpected, ref {reference})"
            log.exception("job %d failed unexpectedly (ref %s)", job_id, reference)
            await self._refund(
                job,
                job_id,
                our_fault(reference),
                reason=f"unexpected error (ref {reference})",
                failure="Unexpected",
            )
        finally:
            self._tickets.pop(job_id, None)
            self._spool.discard(job_id)
            self._log_end(job_id, job.spec, outcome, times)

    async def _generate(
        self, job: Job, reservation: Reservation, ticket: Ticket[_Queued], times: JobTimes
    ) -> tuple[ImageResult, Settlement]:
        """Ask WisGate, keep what it made, and charge it: before anything reaches Discord."""
        job_id = reservation.job_id
        result = await self._call(job, job_id, ticket, times)
        times.answered = self._clock()
        if times.started is not None:
            self.durations.record(job.request, times.answered - times.started)
        # Kept first: a stop between here and the settle leaves images that recovery charges
        # and delivers, never images that were paid upstream and lost.
        await self._results.save(job_id, reservation.result_key, result.images, result.usage)
        # Shielded: once asked, the charge stands even if a shutdown cancels us meanwhile (the
        # refund that cancellation leads to then finds the job settled and changes nothing).
        # Priced at the size and quality the images were made at, when no usage says more.
        used = used_settings(job.request, result)
        settlement = await asyncio.shield(
            self._ledger.settle(job_id, len(result.images), result.usage, used)
        )
        if self._events is not None and not settlement.already_ended:
            try:
                await self._events.settled(job.spec, settlement)
            except Exception:
                # A failed notice (e.g. the budget alert) must not undo a charged job.
                log.exception("job %d: the after-settlement hook failed", job_id)
        return result, settlement

    async def _deliver(
        self,
        job: Job,
        reservation: Reservation,
        result: ImageResult,
        times: JobTimes,
        charged: str,
    ) -> str:
        """Send the charged images; whatever does not arrive waits in the store, the member told."""
        job_id = reservation.job_id
        try:
            delivered = await job.reporter.deliver(
                job_id, job.request, result, reservation.status.remaining
            )
        except Exception:
            # Charged either way: what did not arrive waits in the store for the member.
            log.exception("job %d: delivery failed; its images wait in the results store", job_id)
            delivered = Delivered(0)
        times.delivered = self._clock()
        if delivered.reencoded:
            await self._keep_as_sent(job_id, reservation.result_key, delivered.reencoded)
        state = await asyncio.shield(
            self._ledger.delivered(
                job_id, delivered.images, delivered.channel_id, delivered.message_id
            )
        )
        if state != "waiting":
            return f"delivered {delivered.images}, {charged}"
        try:
            await job.reporter.waiting(job_id)
        except Exception:
            log.warning("job %d: could not tell the member their images are waiting", job_id)
        return f"{charged}, {delivered.images} of {len(result.images)} delivered, kept for later"

    async def _let_go(self, job: Job, job_id: int) -> None:
        """The job ended without us (e.g. the process that took this one's lease charged and
        delivered it, or refunded it and told the member): post nothing, only stop our status
        edits, leaving the message to whoever answers."""
        try:
            await job.reporter.abandon()
        except Exception:
            log.warning("job %d: could not stop its status edits", job_id)

    async def _keep_as_sent(
        self, job_id: int, key: str, images: tuple[GeneratedImage, ...]
    ) -> None:
        """Keep the re-encoded images the member got instead of the originals."""
        try:
            await self._results.replace(job_id, key, images)
        except OSError:
            log.exception("job %d: could not keep the re-encoded images", job_id)

    def _log_end(self, job_id: int, spec: JobSpec, outcome: str, times: JobTimes) -> None:
        """One structured line per job: who, where, what, how long each stage took, outcome."""
        fields = {
            "job_id": job_id,
            "member": spec.requester.user_id,
            "guild": spec.requester.guild_id,
            "model": spec.model,
            "kind": spec.kind,
            "outcome": outcome,
            **times.durations(self._clock()),
        }
        log.info(
            "job %d %s: member %s guild %s model %s, queued %.2f s, upstream %.2f s, "
            "delivery %.2f s",
            job_id,
            outcome,
            spec.requester.user_id,
            spec.requester.guild_id,
            spec.model,
            fields.get("queued_s", 0.0),
            fields.get("upstream_s", 0.0),
            fields.get("delivery_s", 0.0),
            extra={"job": fields},
        )

    async def _call(
        self, job: Job, job_id: int, ticket: Ticket[_Queued], times: JobTimes
    ) -> ImageResult:
        """Wait for a slot in the fair queue, mark the job running, and ask WisGate; a rate
        limit sends the job back to the head of its member's line until the pacer lets it go
        again (never a failure, until MAX_QUEUE_WAIT since it was asked runs out)."""
        job.request = await self._spool.keep(job_id, job.request)
        while True:
            await self._wait_turn(ticket, times)
            try:
                return await self._ask(job, job_id, times)
            except RateLimited:
                if self._pacer is None:
                    raise
                log.info("job %d: WisGate's rate limit; back in line", job_id)
                self._queue.requeue(ticket)
                self._moved(ticket)
            finally:
                self._queue.release(ticket)

    async def _wait_turn(self, ticket: Ticket[_Queued], times: JobTimes) -> None:
        """Until admitted: QueueExpired once MAX_QUEUE_WAIT has passed since it was asked."""
        left = None
        if self.max_queue_wait is not None:
            left = max(0.0, times.submitted + self.max_queue_wait - self._clock())
        try:
            await self._queue.wait(ticket, left)
        except TimeoutError:
            times.left = self._clock()
            raise QueueExpired(self.max_queue_wait or 0.0) from None
        except LeftQueue:
            times.left = self._clock()
            raise

    async def _ask(self, job: Job, job_id: int, times: JobTimes) -> ImageResult:
        """Mark the job running and ask WisGate for its images."""
        times.started = self._clock()
        job.request = await self._spool.restore(job_id, job.request)
        async with self._starting:
            started = await self._ledger.start(job_id)
        if not started:
            raise BotError(_("This request was cancelled. Nothing was charged."))
        typical = self.durations.typical(job.request)
        job.reporter.progress("generating", None, job_id=job_id, typical=typical)
        call: Callable[..., Awaitable[ImageResult]] = (
            self._wisgate.generate if job.request.kind == "generate" else self._wisgate.edit
        )
        return await call(job.request, on_partial=job.reporter.preview)

    def _moved(self, ticket: Ticket[_Queued]) -> None:
        """A waiting job has a new place: record it and the wait it means (the reporter shows
        them). Slots: the fewest of the caps and the pacer's allowance that serve it."""
        queued, limits, position = ticket.item, self._queue.limits, ticket.position
        slots = min(limits.total, self._pacer.limit if self._pacer is not None else limits.total)
        if ticket.guild is not None and limits.per_guild is not None:
            slots = min(slots, limits.per_guild)
        wait = self.durations.wait(position, slots) if position is not None else None
        queued.job.reporter.progress("queued", position, job_id=queued.job_id, wait=wait)

    def _model_gone(self, model: str, text: str) -> str:
        """WisGate does not know the model: stop offering it; say which ones remain."""
        self._catalogue.mark_unavailable(model)
        available = self._catalogue.available
        if not available:
            return text
        return _("{text} Models you can use now: {models}.").format(
            text=text, models=or_list(available)
        )

    async def _after_refund(self, job_id: int, spec: JobSpec, error: BotError) -> None:
        """Tell the events of a refund; their failure is logged and never changes the job's end."""
        if self._events is None:
            return
        try:
            await self._events.refunded(spec, error)
        except Exception:
            log.exception("job %d: the after-refund hook failed", job_id)

    async def _refund(
        self,
        job: Job,
        job_id: int,
        text: str,
        *,
        reason: str,
        failure: str,
        status: str = "failed",
    ) -> bool:
        """Refund and tell the member; False (and nobody told) if the job had already ended."""
        # shield: a shutdown cancelling us must not cancel the refund itself. The member is
        # owed a notice until told: a process killed in between (telling can take seconds of
        # Discord retries) leaves it to the next start's restart notice, never to nobody.
        refund = self._ledger.refund(
            job_id, reason, status=status, failure=failure, owe_notice=True
        )
        if not await asyncio.shield(refund):
            # Settled already (charged, its delivery not ours to undo), or ended by the process
            # that took this one's lease: the member hears from it, not from us.
            log.info("job %d had already ended: not refunded, the member not told by us", job_id)
            await self._let_go(job, job_id)
            return False
        try:
            await job.reporter.fail(text)
        except Exception:
            log.warning("job %d: could not tell the member about the refund", job_id)
        # Told, or every route tried (a member nobody can reach is not told twice).
        await asyncio.shield(self._ledger.notices_sent([job_id]))
        return True


def _reason(error: BotError) -> str:
    """The ledger's record of why: the error's class and its own (non-secret) text."""
    return f"{type(error).__name__}: {error}"[:500]

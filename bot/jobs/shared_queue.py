"""The fair queue shared by every process on one PostgreSQL database: this process's side.

The line itself is rows (bot/ledger/queue_sql.py): caps in total, per member and per guild
toward WisGate hold across processes, and the fair rounds are the same for everyone. Each
process keeps a Ticket per job it runs, with the same calls the in-process FairQueue offers
the runner (join, wait, requeue, withdraw, release), and one task that claims: on a NOTIFY
(a job joined or left anywhere, or one of ours was admitted by another process), on each
change here, and every POLL seconds as the safety net. A claim admits any process's jobs in
fair turn; then this process reads its own rows and starts the tickets admitted, ends the
ones a Cancel marked elsewhere, and tells the members their places.

Rows follow the tickets in the background, in order, one change at a time: the runner's calls
stay synchronous (a Cancel pressed at once already finds the ticket), and a job whose slot
was freed here is released in the database before the next claim of this process. A job sent
back in line by a 429 keeps its row's "admitted" until that change is written: a reading
taken before then is stale for it, and would start it again during the pause.

The pacer's window is spent by the process whose claim admits a job, whoever runs it (its
check counted the job against the window); its pause and its calls allowed in flight are
published for every process's claims.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Generic, TypeVar

from bot.jobs.queue import QueueCancelled, QueueLimits, Ticket, wait_admitted
from bot.ledger.queue_sql import Caps, Place, QueueTable
from bot.wisgate.pacer import Pacer

T = TypeVar("T")
log = logging.getLogger(__name__)

POLL = 1.0  # seconds: a claim at least this often, whatever NOTIFY says
WRITE_TRIES = 6  # a change that fails is tried again after 0.1 s, doubling: ~3 s in all
WRITE_PAUSE = 0.1


class SharedQueue(Generic[T]):
    """Tickets of this process's jobs on the queue every process shares."""

    def __init__(
        self,
        table: QueueTable,
        limits: QueueLimits,
        *,
        on_moved: Callable[[Ticket[T]], None] | None = None,
        pacer: Pacer | None = None,
        poll: float = POLL,
    ) -> None:
        self._table = table
        self._limits = limits
        self._pacer = pacer
        self._poll = poll
        self.on_moved = on_moved
        self._tickets: dict[int, Ticket[T]] = {}  # job id -> ticket, while in line or running
        self._ids: dict[int, int] = {}  # id(ticket) -> job id
        self._writes: asyncio.Queue[Callable[[], Awaitable[Any]]] = asyncio.Queue()
        self._rows = asyncio.Lock()  # a change being written and a claim's reading never overlap
        self._wake = asyncio.Event()
        self._seq = 0
        self._tasks: list[asyncio.Task[None]] = []
        # Jobs sent back in line whose row does not say so yet: a reading calls them admitted.
        self._requeue_unwritten: set[int] = set()
        # The pacer's calls in flight: ours when last shared, and the published one as last read.
        self._limit_mine = None if pacer is None else pacer.ceiling
        self._limit_read: int | None = None
        if pacer is not None:
            pacer.subscribe(self.wake)

    @property
    def limits(self) -> QueueLimits:
        """The caps in force (across every process)."""
        return self._limits

    @limits.setter
    def limits(self, limits: QueueLimits) -> None:
        self._limits = limits
        self.wake()

    @property
    def running(self) -> int:
        """This process's tickets admitted and not yet released."""
        return sum(1 for t in self._tickets.values() if t.state == "running")

    @property
    def waiting(self) -> int:
        """This process's tickets waiting for a slot."""
        return sum(1 for t in self._tickets.values() if t.state == "waiting")

    def wake(self) -> None:
        """Claim now (a NOTIFY came, a slot freed, the pacer's pause ended)."""
        self._wake.set()

    def start(self) -> None:
        """Run the claimer and the writer (once the event loop runs)."""
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._write_rows(), name="shared-queue-writes"),
                asyncio.create_task(self._claim_loop(), name="shared-queue-claims"),
            ]

    async def close(self) -> None:
        """Stop both tasks; rows still written go with the lease (a survivor ends them)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def join(self, item: T, *, member: int, guild: int | None, cost: int = 1) -> Ticket[T]:
        """Put a job in line (its row follows at once, in the background)."""
        job_id = _job_id(item)
        self._seq += 1
        future = asyncio.get_running_loop().create_future()
        ticket = Ticket(item, member, guild, future, round=0, seq=self._seq, cost=cost)
        self._tickets[job_id] = ticket
        self._ids[id(ticket)] = job_id
        self._write(partial(self._table.enqueue, job_id, member, guild, cost))
        self.start()
        return ticket

    async def wait(self, ticket: Ticket[T], max_wait: float | None = None) -> None:
        """Return once admitted; TimeoutError after max_wait s (out of line then), or the
        withdrawal's error."""
        await wait_admitted(ticket, max_wait, self._abandon)

    def requeue(self, ticket: Ticket[T]) -> None:
        """Back in line after a rate limit, its round kept; the pause is shared with all."""
        if ticket.state != "running":
            return
        ticket.state = "waiting"
        ticket.admitted = asyncio.get_running_loop().create_future()
        ticket.position = ticket.position or 1  # the next claim's reading corrects it
        pacer = self._pacer
        if pacer is not None and pacer.paused() > 0:
            self._write(partial(self._publish_pause, pacer, pacer.paused(), pacer.limit))
        job_id = self._ids[id(ticket)]
        self._requeue_unwritten.add(job_id)
        self._write(partial(self._requeued, job_id))

    def withdraw(self, ticket: Ticket[T], error: BaseException) -> bool:
        """Out of line (its waiter raises `error`); False if it is not waiting here."""
        if ticket.state != "waiting":
            return False
        self._forget(ticket)
        ticket.admitted.set_exception(error)
        return True

    def release(self, ticket: Ticket[T]) -> None:
        """Done with WisGate: the slot is free for the next in line, in any process."""
        if ticket.state != "running":
            return
        self._forget(ticket)

    def _abandon(self, ticket: Ticket[T]) -> None:
        if ticket.state in ("running", "waiting"):
            was_waiting = ticket.state == "waiting"
            self._forget(ticket)
            if was_waiting:
                ticket.admitted.cancel()
        elif ticket.admitted.done() and not ticket.admitted.cancelled():
            ticket.admitted.exception()  # withdrawn while we were cancelled: mark it seen

    def _forget(self, ticket: Ticket[T]) -> None:
        """Gone here; its row goes too (freeing its slot if a claim admitted it meanwhile)."""
        ticket.state = "gone"
        ticket.position = None
        job_id = self._ids.pop(id(ticket), None)
        if job_id is not None:
            self._tickets.pop(job_id, None)
            self._requeue_unwritten.discard(job_id)
            self._write(partial(self._table.release, job_id))

    async def _requeued(self, job_id: int) -> None:
        await self._table.requeue(job_id)
        self._requeue_unwritten.discard(job_id)

    async def _publish_pause(self, pacer: Pacer, seconds: float, limit: int) -> None:
        # The published limit only falls with a pause: another process may have halved further.
        published = await self._table.publish_pause(seconds, limit)
        if published is not None and published < pacer.limit:
            pacer.adopt_limit(published)
        self._limit_read, self._limit_mine = published, pacer.limit

    def _write(self, change: Callable[[], Awaitable[Any]]) -> None:
        self._writes.put_nowait(change)

    async def _write_rows(self) -> None:
        """Apply the tickets' changes to the rows, in order; then claim."""
        while True:
            change = await self._writes.get()
            await self._apply(change)
            if self._writes.empty():
                self.wake()

    async def _apply(self, change: Callable[[], Awaitable[Any]]) -> None:
        """One change, tried again on a failure (in order: later changes build on it). A
        requeue never written would leave its job waiting here and holding a slot there."""
        for attempt in range(WRITE_TRIES):
            try:
                async with self._rows:
                    await change()
                return
            except Exception:
                if attempt == WRITE_TRIES - 1:
                    log.exception("the shared queue could not record a change after %d tries; "
                                  "the queue wait limit or a survivor's reclaim ends its job",
                                  WRITE_TRIES)  # fmt: skip
                    return
                log.warning("the shared queue could not record a change; trying again",
                            exc_info=True)  # fmt: skip
                await asyncio.sleep(WRITE_PAUSE * 2**attempt)

    async def _claim_loop(self) -> None:
        """Claim and read our rows on every wake-up, and every `poll` s."""
        while True:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation
            # that meets the wake-up, and close() then waited for this task forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self._claim_and_read()
            except Exception:
                log.exception("claiming from the shared queue failed; trying again")
                await asyncio.sleep(self._poll)

    async def _claim_and_read(self) -> None:
        if not self._writes.empty():
            return  # our own changes first: the writer wakes us when it is done
        limits = self._limits
        caps = Caps(limits.total, limits.per_member, limits.per_guild)
        pacer = self._pacer
        async with self._rows:
            await self._share_limit(pacer)
            admitted = await self._table.claim(caps, None if pacer is None else pacer.trial)
            shared = self._table.pause
            if pacer is not None:
                for admission in admitted:
                    pacer.admitted(admission.cost)
                if shared.call_limit is not None and shared.call_limit != self._limit_read:
                    pacer.adopt_limit(shared.call_limit)  # another process changed it
                    self._limit_read, self._limit_mine = shared.call_limit, pacer.limit
            if shared.seconds > 0:  # nobody tells us when another process's pause ends
                asyncio.get_running_loop().call_later(shared.seconds, self.wake)
            if not self._tickets:
                return
            places = await self._table.places()
        self._follow(places)

    async def _share_limit(self, pacer: Pacer | None) -> None:
        """Our calls in flight grew back since last shared: publish them, unless another
        process changed the published limit since we read it (a halving there wins)."""
        if pacer is None or pacer.limit == self._limit_mine:
            return
        if await self._table.publish_limit(pacer.limit, self._limit_read):
            self._limit_read = pacer.limit
        self._limit_mine = pacer.limit

    def _follow(self, places: list[Place]) -> None:
        """Start our tickets a claim admitted, end those a Cancel marked, tell the places."""
        for place in places:
            ticket = self._tickets.get(place.job_id)
            if ticket is None or ticket.state != "waiting":
                continue
            if place.state == "admitted":
                if place.job_id in self._requeue_unwritten:
                    # Read before its requeue was written (no write ends while a claim reads,
                    # so one made during the reading is still unwritten): not admitted again.
                    continue
                ticket.state = "running"
                ticket.position = None
                ticket.admitted.set_result(None)
            elif place.state == "cancelled":
                log.info("job %d cancelled by its requester (pressed in another process)",
                         place.job_id)  # fmt: skip
                self.withdraw(ticket, QueueCancelled())
            elif place.position is not None and place.position != ticket.position:
                ticket.position = place.position
                if self.on_moved is not None:
                    self.on_moved(ticket)


def _job_id(item: Any) -> int:
    """The job id a ticket's item carries (the runner's _Queued)."""
    return int(item.job_id)

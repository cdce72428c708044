"""The fair queue in front of WisGate: caps in total, per member and per guild, round-robin.

One member's ten requests never starve another member's one. Jobs are served in rounds:
a member's jobs go in the order they were asked, one per round, and each round serves every
member who has a job in it, in the order they asked (start-time fair queuing with equal
costs). Every start counts as a turn, including a job admitted at once because a slot was
free. A member who arrives late (or comes back after a pause) joins the oldest round still
running or waiting: no credit for the time they were away, no penalty for arriving after
others took free slots. A member held back by their own cap (or their guild's) is skipped
and keeps their early round for when a slot of theirs frees.

A `Gate` (the pacer toward WisGate, bot/wisgate/pacer.py) may hold every admission back
beyond the caps (a rate limit's pause, a lowered allowance) and says when to look again; a job
that met the rate limit goes back to the head of its member's line (`requeue`), its round kept.

Pure asyncio bookkeeping, no task of its own: every change (join, release, withdraw, new
limits) admits what it can at once, synchronously, so nothing races between a decision and
its effect. Places in line are only news for the members' status messages (edited every
few seconds), so with `renumber_after` they are recomputed at most that often: a burst of
joins then costs one sort, not one per join.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

from bot.core.errors import BotError
from bot.core.text import format_duration
from bot.i18n import _

T = TypeVar("T")
TicketState = Literal["waiting", "running", "gone"]


class LeftQueue(BotError):
    """A job left the queue without reaching WisGate; refunded with `refund_status`.

    Made wherever the queue lets go (a Cancel press, a shutdown, another process), so
    `worded()` says it again in the job's own task, in the language of the member who asked.
    """

    refund_status = "failed"

    def __init__(self) -> None:
        super().__init__(self.worded())

    def worded(self) -> str:
        """What the member reads, in the language being spoken now."""
        return _("Your request left the queue before it started. Nothing was charged.")


class QueueCancelled(LeftQueue):
    """The member pressed Cancel while the job was queued."""

    refund_status = "cancelled"

    def worded(self) -> str:
        return _(
            "Cancelled: your request never reached the image service, and nothing was charged."
        )


class QueueExpired(LeftQueue):
    """The job waited longer than MAX_QUEUE_WAIT."""

    refund_status = "expired"

    def __init__(self, waited: float) -> None:
        self.waited = waited
        super().__init__()

    def worded(self) -> str:
        return _(
            "Your request waited more than {waited} in the queue, so I gave up on it. Nothing "
            "was charged; please try again when it is quieter."
        ).format(waited=format_duration(self.waited))


class QueueInterrupted(LeftQueue):
    """The bot is shutting down; queued jobs are refunded rather than started."""

    refund_status = "interrupted"

    def worded(self) -> str:
        return interrupted_text()


def interrupted_text() -> str:
    """What a member reads when a restart stopped their job before anything was charged."""
    return _("The bot restarted before your images were ready. Nothing was charged.")


class Gate(Protocol):
    """What may hold admissions back beyond the caps (the pacer toward WisGate)."""

    def allows(self, running: int, cost: int) -> bool:
        """May one more job, asking `cost` images, start now with `running` admitted?"""

    def admitted(self, cost: int) -> None:
        """One more job, asking `cost` images, was admitted (it will call WisGate)."""

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call `listener` when more jobs may start."""


@dataclass(frozen=True, slots=True)
class QueueLimits:
    """How many jobs may run at once: in total, per member, per guild (None: no such cap)."""

    total: int
    per_member: int | None = None
    per_guild: int | None = None

    def __post_init__(self) -> None:
        for cap in (self.total, self.per_member, self.per_guild):
            if cap is not None and cap < 1:
                raise ValueError("queue caps must be at least 1")


@dataclass(eq=False, slots=True)
class Ticket(Generic[T]):
    """One job's place: who asked, where, its payload, and a future set when it may start."""

    item: T
    member: int
    guild: int | None  # None: direct messages and user installs, no guild cap
    admitted: asyncio.Future[None]
    round: int  # which round serves it: see the module docstring
    seq: int  # arrival order, to break ties within a round
    state: TicketState = "waiting"
    position: int | None = None  # last place announced to on_moved; None once running
    cost: int = 1  # images it asks for: what a window counting images spends on it


@dataclass(slots=True)
class _Running:
    """Counts of admitted tickets, in total and per member and guild."""

    total: int = 0
    members: Counter[int] = field(default_factory=Counter)
    guilds: Counter[int] = field(default_factory=Counter)
    rounds: Counter[int] = field(default_factory=Counter)

    def add(self, ticket: Ticket[Any], step: int) -> None:
        """Count a ticket in (step 1) or out (step -1); zero counts are dropped."""
        self.total += step
        _count(self.rounds, ticket.round, step)
        _count(self.members, ticket.member, step)
        if ticket.guild is not None:
            _count(self.guilds, ticket.guild, step)


class FairQueue(Generic[T]):
    """Admits waiting tickets under the caps, round-robin across members."""

    def __init__(
        self,
        limits: QueueLimits,
        *,
        on_moved: Callable[[Ticket[T]], None] | None = None,
        renumber_after: float | None = None,
        gate: Gate | None = None,
    ) -> None:
        self._limits = limits
        self._gate = gate
        if gate is not None:
            gate.subscribe(self._admit)
        self._renumber_after = renumber_after  # None: places are updated at every change
        self._renumber_timer: asyncio.TimerHandle | None = None
        self._lines: dict[int, deque[Ticket[T]]] = {}  # member -> waiting tickets, oldest first
        self._next_round: dict[int, int] = {}  # member -> the round of their next job
        self._round = 0  # the latest round started: where a newcomer goes when all is idle
        self._seq = 0
        self._running = _Running()
        # Called when a waiting ticket's place changes (its first place included).
        self.on_moved = on_moved

    @property
    def limits(self) -> QueueLimits:
        """The caps in force."""
        return self._limits

    @limits.setter
    def limits(self, limits: QueueLimits) -> None:
        self._limits = limits
        self._admit()  # raised caps take effect at once; lowered ones as jobs end

    @property
    def running(self) -> int:
        """Tickets admitted and not yet released."""
        return self._running.total

    @property
    def waiting(self) -> int:
        """Tickets waiting for a slot."""
        return sum(len(line) for line in self._lines.values())

    def running_for(self, member: int) -> int:
        """How many of this member's tickets are admitted."""
        return self._running.members[member]

    def join(self, item: T, *, member: int, guild: int | None, cost: int = 1) -> Ticket[T]:
        """Put a job (asking `cost` images) in line; admitted at once when the caps allow."""
        turn = max(self._current_round(), self._next_round.get(member, 0))
        self._next_round[member] = turn + 1
        self._seq += 1
        future = asyncio.get_running_loop().create_future()
        ticket = Ticket(item, member, guild, future, round=turn, seq=self._seq, cost=cost)
        self._lines.setdefault(member, deque()).append(ticket)
        self._admit()
        return ticket

    async def wait(self, ticket: Ticket[T], max_wait: float | None = None) -> None:
        """Return once admitted; raise TimeoutError after max_wait s (out of line then) or the
        withdrawal's error.
        """
        await wait_admitted(ticket, max_wait, self._abandon)

    def requeue(self, ticket: Ticket[T]) -> None:
        """An admitted job must wait again (a rate limit): first in its member's line, its
        round kept, so it starts before their later jobs and in its old turn among others."""
        if ticket.state != "running":
            return
        self._running.add(ticket, -1)
        ticket.state = "waiting"
        ticket.admitted = asyncio.get_running_loop().create_future()
        self._lines.setdefault(ticket.member, deque()).appendleft(ticket)
        # Its own place now (the member is told at once why it waits); the others' in a while.
        ticket.position = self.order().index(ticket) + 1
        self._places_changed()
        self._admit()

    def withdraw(self, ticket: Ticket[T], error: BaseException) -> bool:
        """Take a waiting ticket out of line; its waiter raises `error`. False if not waiting."""
        if ticket.state != "waiting":
            return False
        self._remove(ticket)
        ticket.admitted.set_exception(error)
        self._places_changed()
        return True

    def release(self, ticket: Ticket[T]) -> None:
        """An admitted job is done with WisGate: free its slot for the next in line."""
        if ticket.state != "running":
            return
        ticket.state = "gone"
        self._running.add(ticket, -1)
        self._admit()
        self._forget_if_idle(ticket.member)

    def _forget_if_idle(self, member: int) -> None:
        """An idle member's next job joins the round in progress, whatever they had before."""
        if member not in self._lines and member not in self._running.members:
            self._next_round.pop(member, None)

    def _current_round(self) -> int:
        """The oldest round with a job running or waiting (the latest started if none)."""
        rounds = [line[0].round for line in self._lines.values()]
        rounds.extend(self._running.rounds)
        return min(rounds, default=self._round)

    def _abandon(self, ticket: Ticket[T]) -> None:
        """The waiter gave up (timeout, shutdown): leave the line or hand the slot back."""
        if ticket.state == "running":
            self.release(ticket)
        elif ticket.state == "waiting":
            self._remove(ticket)
            ticket.admitted.cancel()
            self._places_changed()
        elif ticket.admitted.done() and not ticket.admitted.cancelled():
            ticket.admitted.exception()  # withdrawn while we were cancelled: mark it seen

    def _remove(self, ticket: Ticket[T]) -> None:
        line = self._lines[ticket.member]
        line.remove(ticket)
        if not line:
            del self._lines[ticket.member]
        ticket.state = "gone"
        self._forget_if_idle(ticket.member)

    def _admit(self) -> None:
        """Start tickets while there is room, each time the earliest eligible one."""
        while self._running.total < self._limits.total:
            ticket = self._next_ticket()
            if ticket is None or not self._gate_allows(ticket):
                break  # the next in turn waits for the gate: nobody passes it meanwhile
            self._start(ticket)
        self._places_changed()

    def _gate_allows(self, ticket: Ticket[T]) -> bool:
        return self._gate is None or self._gate.allows(self._running.total, ticket.cost)

    def _next_ticket(self) -> Ticket[T] | None:
        """The earliest (round, arrival) among members' oldest jobs that the caps allow."""
        heads = (line[0] for line in self._lines.values())
        eligible = [ticket for ticket in heads if self._has_room(ticket)]
        return min(eligible, key=_turn, default=None)

    def _has_room(self, ticket: Ticket[T]) -> bool:
        limits, running = self._limits, self._running
        member_full = (
            limits.per_member is not None and running.members[ticket.member] >= limits.per_member
        )
        guild_full = (
            limits.per_guild is not None
            and ticket.guild is not None
            and running.guilds[ticket.guild] >= limits.per_guild
        )
        return not (member_full or guild_full)

    def _start(self, ticket: Ticket[T]) -> None:
        line = self._lines[ticket.member]
        line.popleft()
        if not line:
            del self._lines[ticket.member]
        self._round = max(self._round, ticket.round)
        ticket.state = "running"
        ticket.position = None
        self._running.add(ticket, 1)
        if self._gate is not None:
            self._gate.admitted(ticket.cost)
        ticket.admitted.set_result(None)

    def order(self) -> list[Ticket[T]]:
        """Waiting tickets in the order they are expected to start.

        An estimate: a member at their cap is skipped when their turn comes, and a member
        who asks later may still join an earlier round than some of these.
        """
        waiting = [ticket for line in self._lines.values() for ticket in line]
        return sorted(waiting, key=_turn)

    def _places_changed(self) -> None:
        """Renumber now, or once `renumber_after` s from the first change since the last."""
        if self._renumber_after is None:
            self._renumber()
        elif self._renumber_timer is None:
            loop = asyncio.get_running_loop()
            self._renumber_timer = loop.call_later(self._renumber_after, self._renumber)

    def _renumber(self) -> None:
        """Tell on_moved about every waiting ticket whose place changed."""
        self._renumber_timer = None
        for place, ticket in enumerate(self.order(), start=1):
            if ticket.position != place:
                ticket.position = place
                if self.on_moved is not None:
                    self.on_moved(ticket)


async def wait_admitted(
    ticket: Ticket[T], max_wait: float | None, abandon: Callable[[Ticket[T]], None]
) -> None:
    """Until the ticket is admitted; `abandon` it on a timeout (TimeoutError) or cancellation;
    the withdrawal's error if it was withdrawn."""
    try:
        # asyncio.wait never cancels the future: admission stays a fact we can read.
        done, _ = await asyncio.wait({ticket.admitted}, timeout=max_wait)
    except asyncio.CancelledError:
        abandon(ticket)
        raise
    if not done:
        abandon(ticket)
        raise TimeoutError
    ticket.admitted.result()


def _turn(ticket: Ticket[Any]) -> tuple[int, int]:
    """Serving order: round first, then arrival."""
    return ticket.round, ticket.seq


def _count(counter: Counter[int], key: int, step: int) -> None:
    counter[key] += step
    if not counter[key]:
        del counter[key]  # one entry per member ever seen would only grow

"""The fair queue (bot/jobs/queue.py): caps, round-robin across members, places, leaving the
line."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.jobs.queue import FairQueue, QueueCancelled, QueueLimits, Ticket

Queue = FairQueue[str]


def running(tickets: list[Ticket[str]]) -> list[str]:
    """The items of the admitted tickets, in the order given."""
    return [t.item for t in tickets if t.state == "running"]


def join_all(queue: Queue, member: int, count: int, guild: int | None = 1) -> list[Ticket[str]]:
    """`count` jobs for one member, named like a1, a2..."""
    name = chr(ord("a") + member - 1)
    return [queue.join(f"{name}{k}", member=member, guild=guild) for k in range(1, count + 1)]


def release_first_running(queue: Queue, tickets: list[Ticket[str]]) -> str:
    """Finish the oldest admitted job; return its name."""
    ticket = next(t for t in tickets if t.state == "running")
    queue.release(ticket)
    return ticket.item


async def test_global_cap_admits_in_arrival_order_then_waits() -> None:
    queue = Queue(QueueLimits(total=2))
    tickets = join_all(queue, 1, 3)
    assert running(tickets) == ["a1", "a2"]
    assert (queue.running, queue.waiting) == (2, 1)
    assert tickets[2].position == 1
    queue.release(tickets[0])
    assert running(tickets) == ["a2", "a3"]
    assert tickets[2].position is None


def drain_one_slot(queue: Queue, tickets: list[Ticket[str]]) -> list[str]:
    """With one slot: finish jobs one by one; the order they ran in."""
    order = []
    while queue.running:
        order.append(release_first_running(queue, tickets))
    return order


async def test_one_members_burst_never_starves_anothers_single_job() -> None:
    """A asks for six, then B for one: with one slot, B goes next (a1 was A's turn)."""
    queue = Queue(QueueLimits(total=1))
    a = join_all(queue, 1, 6)
    [b] = join_all(queue, 2, 1)
    assert running(a) == ["a1"] and b.position == 1
    assert drain_one_slot(queue, [*a, b]) == ["a1", "b1", "a2", "a3", "a4", "a5", "a6"]


async def test_rounds_take_one_job_of_each_member_in_arrival_order() -> None:
    queue = Queue(QueueLimits(total=1))
    everything = join_all(queue, 1, 3) + join_all(queue, 2, 3) + join_all(queue, 3, 2)
    order = drain_one_slot(queue, everything)
    assert order == ["a1", "b1", "c1", "a2", "b2", "c2", "a3", "b3"]


async def test_a_member_coming_back_joins_the_round_in_progress() -> None:
    """No credit for being away: B, idle while A ran three rounds, does not jump all of A."""
    queue = Queue(QueueLimits(total=1))
    a = join_all(queue, 1, 6)
    for _ in range(3):
        release_first_running(queue, a)  # a1..a3 done; a4 runs (round 3)
    b = join_all(queue, 2, 3)
    assert [t.item for t in queue.order()] == ["b1", "a5", "b2", "a6", "b3"]
    assert [t.position for t in b] == [1, 3, 5]


async def test_a_member_who_went_idle_carries_no_debt() -> None:
    """A ran three jobs alone (nobody waited for them); asking again, A takes turns with B."""
    queue = Queue(QueueLimits(total=1))
    drain_one_slot(queue, join_all(queue, 1, 3))
    b1, b2 = join_all(queue, 2, 2)  # b1 runs at once
    a4 = queue.join("a4", member=1, guild=1)
    assert b1.state == "running"
    assert [t.item for t in queue.order()] == ["a4", "b2"]
    assert (a4.position, b2.position) == (1, 2)


async def test_taking_free_slots_counts_as_turns() -> None:
    """The first members of a burst got free slots at once; later ones go first next."""
    queue = Queue(QueueLimits(total=2))
    a = join_all(queue, 1, 3)  # a1, a2 start at once: A's rounds 0 and 1
    b = join_all(queue, 2, 3)  # rounds 0, 1, 2
    assert running(a) == ["a1", "a2"] and [t.position for t in b] == [1, 2, 4]
    assert [t.item for t in queue.order()] == ["b1", "b2", "a3", "b3"]


async def test_on_moved_reports_only_changed_places() -> None:
    moves: list[tuple[str, int | None]] = []
    queue = Queue(QueueLimits(total=1))
    queue.on_moved = lambda ticket: moves.append((ticket.item, ticket.position))
    a = join_all(queue, 1, 3)
    assert moves == [("a2", 1), ("a3", 2)]
    moves.clear()
    queue.join("b1", member=2, guild=1)
    assert moves == [("b1", 1), ("a2", 2), ("a3", 3)]  # b1's round 0 comes before a2's 1
    moves.clear()
    queue.join("c1", member=3, guild=1)
    assert moves == [("c1", 2), ("a2", 3), ("a3", 4)]  # b1 keeps its place
    moves.clear()
    queue.release(a[0])  # b1 starts
    assert moves == [("c1", 1), ("a2", 2), ("a3", 3)]


async def test_places_can_be_renumbered_at_most_every_so_often() -> None:
    moves: list[tuple[str, int | None]] = []
    queue = Queue(QueueLimits(total=1), renumber_after=0.05)
    queue.on_moved = lambda ticket: moves.append((ticket.item, ticket.position))
    a = join_all(queue, 1, 4)
    assert moves == [] and [t.position for t in a] == [None] * 4
    await asyncio.sleep(0.1)
    assert moves == [("a2", 1), ("a3", 2), ("a4", 3)]  # one renumbering for three joins
    moves.clear()
    queue.release(a[0])
    queue.release(a[1])
    assert a[2].state == "running" and moves == []
    await asyncio.sleep(0.1)
    assert moves == [("a4", 1)]


async def test_member_cap_holds_back_the_busy_member_only() -> None:
    queue = Queue(QueueLimits(total=8, per_member=2))
    a = join_all(queue, 1, 5)
    b = join_all(queue, 2, 1)
    assert running(a) == ["a1", "a2"] and running(b) == ["b1"]
    assert queue.running_for(1) == 2 and queue.waiting == 3
    queue.release(b[0])  # B's slot frees: A is still at its cap, nothing starts
    assert running(a) == ["a1", "a2"]
    queue.release(a[0])
    assert running(a) == ["a2", "a3"]


async def test_each_members_own_jobs_keep_their_order() -> None:
    queue = Queue(QueueLimits(total=1))
    a = join_all(queue, 1, 4)
    b = join_all(queue, 2, 2)
    assert drain_one_slot(queue, [*a, *b]) == ["a1", "b1", "a2", "b2", "a3", "a4"]


async def test_guild_cap_lets_other_guilds_through() -> None:
    queue = Queue(QueueLimits(total=4, per_guild=1))
    x = join_all(queue, 1, 1, guild=10) + join_all(queue, 2, 1, guild=10)
    y = join_all(queue, 3, 1, guild=20)
    dm = join_all(queue, 4, 2, guild=None)  # direct messages: no guild cap
    assert running(x) == ["a1"] and running(y) == ["c1"] and running(dm) == ["d1", "d2"]
    assert x[1].position == 1
    queue.release(x[0])
    assert running(x) == ["b1"]


async def test_capped_member_keeps_its_turn() -> None:
    """A member skipped for being at its cap is first in line when its own slot frees."""
    queue = Queue(QueueLimits(total=3, per_member=2))
    a = join_all(queue, 1, 3)  # a1, a2 run; a3 (round 2) waits at A's cap
    b = join_all(queue, 2, 4)  # b1 runs (global cap now full); b2 (round 1) waits
    assert running(a + b) == ["a1", "a2", "b1"]
    queue.release(b[0])  # B's slot: b2 (A cannot take it)
    queue.release(b[1])  # B's slot: b3, round 2, queued after a3 but A is still capped
    assert running(a + b) == ["a1", "a2", "b3"]
    queue.release(a[0])  # A's slot frees: a3 (round 2, before b4's round 3)
    assert running(a + b) == ["a2", "a3", "b3"]


async def test_raised_limits_admit_at_once() -> None:
    queue = Queue(QueueLimits(total=1))
    a = join_all(queue, 1, 3)
    assert queue.limits == QueueLimits(total=1)
    queue.limits = QueueLimits(total=3)
    assert running(a) == ["a1", "a2", "a3"]
    with pytest.raises(ValueError):
        QueueLimits(total=0)


async def test_wait_returns_once_admitted() -> None:
    queue = Queue(QueueLimits(total=1))
    first, second = join_all(queue, 1, 2)
    await queue.wait(first)
    waiter = asyncio.create_task(queue.wait(second))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    queue.release(first)
    await asyncio.wait_for(waiter, 1)
    assert second.state == "running"


async def test_withdraw_raises_in_the_waiter_and_frees_the_place() -> None:
    queue = Queue(QueueLimits(total=1))
    first, second, third = join_all(queue, 1, 3)
    waiter = asyncio.create_task(queue.wait(second))
    await asyncio.sleep(0)
    assert queue.withdraw(second, QueueCancelled())
    with pytest.raises(QueueCancelled):
        await waiter
    assert third.position == 1 and queue.waiting == 1
    assert not queue.withdraw(first, QueueCancelled())  # running: too late
    assert not queue.withdraw(second, QueueCancelled())  # already gone
    queue.release(first)
    assert third.state == "running"


async def test_wait_times_out_and_leaves_the_line() -> None:
    queue = Queue(QueueLimits(total=1))
    first, second, third = join_all(queue, 1, 3)
    with pytest.raises(TimeoutError):
        await queue.wait(second, max_wait=0.02)
    assert second.state == "gone" and third.position == 1
    queue.release(first)
    assert third.state == "running"


async def test_cancelled_waiter_leaves_the_line_or_returns_its_slot() -> None:
    queue = Queue(QueueLimits(total=1))
    first, second = join_all(queue, 1, 2)
    waiter = asyncio.create_task(queue.wait(second))
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    assert second.state == "gone" and queue.waiting == 0
    # Admitted in the same loop turn as its waiter is cancelled: the slot comes back.
    third = queue.join("a3", member=1, guild=1)
    late = asyncio.create_task(queue.wait(third))
    await asyncio.sleep(0)
    queue.release(first)
    late.cancel()
    await asyncio.gather(late, return_exceptions=True)
    assert third.state == "gone" and queue.running == 0


def drain(queue: Queue, tickets: list[Ticket[str]], finish: list[int]) -> list[Ticket[str]]:
    """Release running jobs (which one: from `finish`) until none is left; checks the caps on
    the way. Returns the jobs in the order they started, the ones admitted at once first."""
    limits = queue.limits
    started: list[Ticket[str]] = []
    choices = iter(finish)
    while True:
        started += [t for t in tickets if t.state == "running" and t not in started]
        active = [t for t in tickets if t.state == "running"]
        assert len(active) <= limits.total
        if limits.per_member is not None:
            for member in {t.member for t in active}:
                assert sum(t.member == member for t in active) <= limits.per_member
        if not active:
            return started
        queue.release(active[next(choices, 0) % len(active)])


MEMBERS = st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=30)
FINISH = st.lists(st.integers(min_value=0, max_value=10), max_size=60)


@settings(max_examples=60, deadline=None)
@given(
    jobs=MEMBERS,
    total=st.integers(min_value=1, max_value=4),
    per_member=st.integers(min_value=1, max_value=3),
    finish=FINISH,
)
def test_caps_hold_and_every_job_runs_in_its_members_order(
    jobs: list[int], total: int, per_member: int, finish: list[int]
) -> None:
    """Whatever the arrivals and the finishing order: caps never exceeded, every job runs,
    each member's own jobs in the order asked."""

    async def scenario() -> None:
        queue = Queue(QueueLimits(total=total, per_member=per_member, per_guild=total))
        tickets = [queue.join(f"{m}-{k}", member=m, guild=1) for k, m in enumerate(jobs)]
        started = drain(queue, tickets, finish)
        assert len(started) == len(tickets)
        for member in set(jobs):
            own = [t.item for t in started if t.member == member]
            assert own == [t.item for t in tickets if t.member == member]

    asyncio.run(scenario())


@settings(max_examples=80, deadline=None)
@given(jobs=MEMBERS, total=st.integers(min_value=1, max_value=4), finish=FINISH)
def test_no_member_gets_ahead_of_one_still_waiting(
    jobs: list[int], total: int, finish: list[int]
) -> None:
    """Round-robin: whenever a job leaves the line, its member has started no more jobs
    than any other member still waiting (free slots taken at once count too), whatever
    order the running jobs finish in."""

    async def scenario() -> None:
        queue = Queue(QueueLimits(total=total))
        tickets = [queue.join(f"{m}-{k}", member=m, guild=1) for k, m in enumerate(jobs)]
        choices = iter(finish)
        while active := [t for t in tickets if t.state == "running"]:
            before = {t.item for t in tickets if t.state == "waiting"}
            starts = {m: sum(t.member == m and t.state != "waiting" for t in tickets) for m in jobs}
            queue.release(active[next(choices, 0) % len(active)])
            for ticket in (t for t in tickets if t.item in before and t.state == "running"):
                waiting = {t.member for t in tickets if t.state == "waiting"}
                for other in waiting - {ticket.member}:
                    assert starts[ticket.member] <= starts[other], (ticket, starts)

    asyncio.run(scenario())


class Gate:
    """A stand-in for the pacer (bot.wisgate.pacer.Pacer): closed or open, counting starts."""

    def __init__(self) -> None:
        self.open = True
        self.room = 100  # images the window has left
        self.started = 0
        self.listeners: list[Callable[[], None]] = []

    def allows(self, running: int, cost: int) -> bool:
        return self.open and cost <= self.room

    def admitted(self, cost: int) -> None:
        self.started += 1
        self.room -= cost

    def subscribe(self, listener: Callable[[], None]) -> None:
        self.listeners.append(listener)

    def reopen(self) -> None:
        self.open = True
        for listener in self.listeners:
            listener()


async def test_a_closed_gate_holds_everyone_until_it_reopens() -> None:
    gate = Gate()
    queue = Queue(QueueLimits(total=4), gate=gate)
    a = join_all(queue, 1, 1)
    gate.open = False
    b = join_all(queue, 2, 2)
    assert running([*a, *b]) == ["a1"] and gate.started == 1
    gate.reopen()
    assert running([*a, *b]) == ["a1", "b1", "b2"] and gate.started == 3


async def test_a_requeued_job_goes_first_in_its_members_line_keeping_its_turn() -> None:
    """b1 met a rate limit: it waits again, ahead of b2 and of c1 (who came after it)."""
    gate = Gate()
    queue = Queue(QueueLimits(total=1), gate=gate)
    a = join_all(queue, 1, 1)
    b = join_all(queue, 2, 2)
    c = join_all(queue, 3, 1)
    queue.release(a[0])
    assert running(b) == ["b1"]
    gate.open = False
    queue.requeue(b[0])
    assert b[0].state == "waiting" and b[0].position == 1
    gate.reopen()
    assert drain_one_slot(queue, [*b, *c]) == ["b1", "c1", "b2"]


async def test_requeue_of_a_job_not_running_changes_nothing() -> None:
    queue = Queue(QueueLimits(total=1))
    [a1, a2] = join_all(queue, 1, 2)
    queue.requeue(a2)  # still waiting: nothing to send back
    assert (a1.state, a2.state, queue.running, queue.waiting) == ("running", "waiting", 1, 1)


async def test_a_job_that_does_not_fit_the_window_waits_and_nobody_passes_it() -> None:
    """a1 asks 3 images with 2 left in the window: b1 (1 image) waits behind it, in turn."""
    gate = Gate()
    gate.room = 2
    queue = Queue(QueueLimits(total=4), gate=gate)
    a1 = queue.join("a1", member=1, guild=1, cost=3)
    b1 = queue.join("b1", member=2, guild=1, cost=1)
    assert (a1.state, b1.state) == ("waiting", "waiting")
    gate.room = 5
    gate.reopen()
    assert (a1.state, b1.state, gate.room) == ("running", "running", 1)

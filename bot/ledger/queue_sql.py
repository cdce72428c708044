"""The fair queue toward WisGate as rows every process shares (PostgreSQL; see
migrations/postgres/0008_fleet.sql and bot/jobs/shared_queue.py for the process side).

Every change to the queue runs under one transaction-scoped advisory lock (`lock_name`), so
claims are serialised: `FOR UPDATE SKIP LOCKED` alone stops two processes admitting the same job,
not two processes each seeing the one free slot and both taking it. Inside it the rules are the
in-process queue's (bot/jobs/queue.py): caps in total, per member and per guild; start-time
fair rounds (a member's next job gets max(the oldest open round, their last round + 1)); the
earliest (round, job) whose member and guild have room starts next, and when the pacer says
no, nobody passes the job whose turn it is. Any process may admit any process's job; the
owner is woken by NOTIFY on CHANNEL (its name as the payload), and polls as a safety net.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal

from bot.ledger.locks import lock_name
from bot.ledger.store import Store, Tx

CHANNEL = "wisgate_queue"  # NOTIFY payload: the owner to wake, or '' for every claimer
_LOCK = "fair-queue"
# A claim reads at most this many waiting jobs in turn order: more than any caps admit at once.
_WINDOW = 1000
QueueState = Literal["waiting", "admitted", "cancelled"]
CancelResult = Literal["cancelled", "started", "not_yours", "unknown"]
# May one more job asking `cost` images start with `running` admitted in total? (the pacer)
GateCheck = Callable[[int, int], bool]
# A fresh GateCheck for each attempt of a claim: one that allows a job counts it against the
# next (a window's room), and an attempt rolled back and tried again starts over.
Pacing = Callable[[], GateCheck]


@dataclass(frozen=True, slots=True)
class Caps:
    """Jobs admitted at once toward WisGate: in total, per member, per guild (None: no cap)."""

    total: int
    per_member: int | None = None
    per_guild: int | None = None


@dataclass(frozen=True, slots=True)
class Admission:
    """A job a claim admitted: which, and the process that runs it."""

    job_id: int
    owner: str
    cost: int


@dataclass(frozen=True, slots=True)
class Pause:
    """The pacer's state as published for every process: seconds left of a pause (0: none),
    and the calls allowed in flight (None: nobody has limited them)."""

    seconds: float = 0.0
    call_limit: int | None = None


@dataclass(frozen=True, slots=True)
class Place:
    """One of a process's queued jobs: its state and, while waiting, its place in line."""

    job_id: int
    state: QueueState
    position: int | None


async def _notify(tx: Tx, payload: str) -> None:
    await tx.value("SELECT pg_notify(?, ?)", CHANNEL, payload)


async def enqueue(
    tx: Tx, job_id: int, owner: str, user_id: int, guild_id: int | None, cost: int
) -> int:
    """Put the job in line in its member's next fair round; that round."""
    await lock_name(tx, _LOCK)
    oldest = await tx.value("SELECT MIN(round) FROM queue")
    if oldest is None:
        oldest = await tx.value("SELECT latest_round FROM queue_state WHERE id = 1")
    last = await tx.value("SELECT MAX(round) FROM queue WHERE user_id = ?", user_id)
    turn = max(int(oldest or 0), -1 if last is None else int(last) + 1)
    await tx.run(
        "INSERT INTO queue (job_id, owner, user_id, guild_id, cost, round) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (job_id) DO NOTHING",
        job_id, owner, user_id, guild_id, cost, turn,
    )  # fmt: skip
    await _notify(tx, "")  # a claimer anywhere may admit it now
    return turn


async def claim(tx: Tx, caps: Caps, pacing: Pacing | None) -> tuple[list[Admission], Pause]:
    """Admit waiting jobs while the caps and the pacer allow, in fair turn; wake their owners.
    Also the pacer's published state."""
    await lock_name(tx, _LOCK)
    gate = None if pacing is None else pacing()
    row = await tx.one(
        "SELECT GREATEST(0, EXTRACT(EPOCH FROM paused_until - clock_timestamp()))::float8, "
        "call_limit FROM queue_state WHERE id = 1"
    )
    pause = Pause() if row is None else Pause(float(row[0] or 0.0), row[1])
    if pause.seconds > 0:
        return [], pause  # the pacer's pause, published by whichever process met the 429
    total = caps.total if pause.call_limit is None else min(caps.total, pause.call_limit)
    members: Counter[int] = Counter()
    guilds: Counter[int] = Counter()
    for user_id, guild_id in await tx.all(
        "SELECT user_id, guild_id FROM queue WHERE state = 'admitted'"
    ):
        members[user_id] += 1
        if guild_id is not None:
            guilds[guild_id] += 1
    running = sum(members.values())
    waiting = await tx.all(
        "SELECT job_id, owner, user_id, guild_id, cost, round FROM queue "
        "WHERE state = 'waiting' ORDER BY round, job_id LIMIT ?",
        _WINDOW,
    )
    admitted: list[Admission] = []
    passed: set[int] = set()  # members whose earlier job stays waiting: later ones wait too
    latest = None
    for job_id, owner, user_id, guild_id, cost, turn in waiting:
        if running >= total:
            break
        if user_id in passed:
            continue
        member_full = caps.per_member is not None and members[user_id] >= caps.per_member
        guild_full = (
            caps.per_guild is not None
            and guild_id is not None
            and guilds[guild_id] >= caps.per_guild
        )
        if member_full or guild_full:
            passed.add(user_id)
            continue
        if gate is not None and not gate(running, int(cost)):
            break  # the next in turn waits for the pacer: nobody passes it meanwhile
        await tx.run("UPDATE queue SET state = 'admitted' WHERE job_id = ?", job_id)
        admitted.append(Admission(int(job_id), str(owner), int(cost)))
        running += 1
        members[user_id] += 1
        if guild_id is not None:
            guilds[guild_id] += 1
        latest = turn if latest is None else max(latest, turn)
    if latest is not None:
        await tx.run(
            "INSERT INTO queue_state (id, latest_round) VALUES (1, ?) ON CONFLICT (id) DO UPDATE "
            "SET latest_round = GREATEST(queue_state.latest_round, excluded.latest_round)",
            latest,
        )
    for owner in sorted({a.owner for a in admitted}):
        await _notify(tx, owner)
    return admitted, pause


async def release(tx: Tx, job_id: int) -> None:
    """The job is done with WisGate (or left the line): its slot is free for the next."""
    await lock_name(tx, _LOCK)
    if await tx.run("DELETE FROM queue WHERE job_id = ?", job_id):
        await _notify(tx, "")


async def requeue(tx: Tx, job_id: int) -> None:
    """An admitted job meets a rate limit: waiting again, its round kept (first in its line)."""
    await lock_name(tx, _LOCK)
    await tx.run(
        "UPDATE queue SET state = 'waiting' WHERE job_id = ? AND state = 'admitted'", job_id
    )


async def withdraw(tx: Tx, job_id: int) -> bool:
    """Out of line if not admitted (its owner ends it); False if it was admitted meanwhile."""
    await lock_name(tx, _LOCK)
    state = await tx.value("SELECT state FROM queue WHERE job_id = ?", job_id)
    if state == "admitted":
        return False
    await tx.run("DELETE FROM queue WHERE job_id = ?", job_id)
    return True


async def cancel(tx: Tx, job_id: int, user_id: int) -> CancelResult:
    """A Cancel pressed in any process: mark a waiting job for its owner to end."""
    await lock_name(tx, _LOCK)
    row = await tx.one("SELECT owner, user_id, state FROM queue WHERE job_id = ?", job_id)
    if row is None:
        return "unknown"
    owner, asker, state = row
    if asker != user_id:
        return "not_yours"
    if state == "admitted":
        return "started"
    await tx.run("UPDATE queue SET state = 'cancelled' WHERE job_id = ?", job_id)
    await _notify(tx, str(owner))
    return "cancelled"


async def places(tx: Tx, owner: str) -> list[Place]:
    """The owner's queued jobs: state, and place in the whole line while waiting."""
    rows = await tx.all(
        "SELECT job_id, state, position FROM (SELECT job_id, owner, state, CASE WHEN "
        "state = 'waiting' THEN row_number() OVER (PARTITION BY state = 'waiting' "
        "ORDER BY round, job_id) END AS position, round FROM queue) AS line WHERE owner = ? "
        # In turn: admitted tickets start (and reach WisGate) in the order they were admitted.
        "ORDER BY round, job_id",
        owner,
    )
    return [Place(int(job), state, None if at is None else int(at)) for job, state, at in rows]


async def publish_pause(tx: Tx, seconds: float, call_limit: int) -> int | None:
    """The pacer met a rate limit: no process admits for `seconds`, and at most `call_limit`
    calls in flight (or fewer, if another process halved further); the limit now published."""
    published = await tx.value(
        "INSERT INTO queue_state (id, paused_until, call_limit) "
        "VALUES (1, clock_timestamp() + make_interval(secs => ?1), ?2) ON CONFLICT (id) DO "
        "UPDATE SET paused_until = GREATEST(COALESCE(queue_state.paused_until, now()), "
        "excluded.paused_until), call_limit = LEAST(COALESCE(queue_state.call_limit, "
        "excluded.call_limit), excluded.call_limit) RETURNING call_limit",
        float(seconds), call_limit,
    )  # fmt: skip
    return None if published is None else int(published)


async def publish_limit(tx: Tx, call_limit: int, expected: int | None) -> bool:
    """The pacer's calls allowed in flight grew back: published only if the limit is still
    `expected` (what this process last read): another process's halving since wins."""
    published = await tx.value(
        "INSERT INTO queue_state (id, call_limit) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE "
        "SET call_limit = excluded.call_limit "
        "WHERE queue_state.call_limit IS NOT DISTINCT FROM ?2::integer RETURNING call_limit",
        call_limit, expected,
    )  # fmt: skip
    return published is not None


class QueueTable:
    """The shared queue's transactions on the ledger's store, for one owner (process)."""

    def __init__(self, store: Store, owner: str) -> None:
        self.store = store
        self.owner = owner
        self.pause = Pause()  # as the last claim read it

    async def enqueue(self, job_id: int, user_id: int, guild_id: int | None, cost: int) -> int:
        """Into line; its fair round."""
        body = partial(
            enqueue, job_id=job_id, owner=self.owner, user_id=user_id, guild_id=guild_id, cost=cost
        )
        return await self.store.transaction(body)

    async def claim(self, caps: Caps, pacing: Pacing | None = None) -> list[Admission]:
        """Admit what the caps and pacer allow, any process's jobs (and read the pacer's
        published state into `pause`)."""
        admitted, self.pause = await self.store.transaction(
            partial(claim, caps=caps, pacing=pacing)
        )
        return admitted

    async def release(self, job_id: int) -> None:
        """Free the job's slot (or its place in line)."""
        await self.store.transaction(partial(release, job_id=job_id))

    async def requeue(self, job_id: int) -> None:
        """Back in line, its round kept."""
        await self.store.transaction(partial(requeue, job_id=job_id))

    async def withdraw(self, job_id: int) -> bool:
        """Out of line; False if it had been admitted."""
        return await self.store.transaction(partial(withdraw, job_id=job_id))

    async def cancel(self, job_id: int, user_id: int) -> CancelResult:
        """A member's Cancel, from any process."""
        return await self.store.transaction(partial(cancel, job_id=job_id, user_id=user_id))

    async def places(self) -> list[Place]:
        """This owner's queued jobs and their places."""
        return await self.store.transaction(partial(places, owner=self.owner), write=False)

    async def publish_pause(self, seconds: float, call_limit: int) -> int | None:
        """Share the pacer's pause with every process; the calls in flight now published."""
        body = partial(publish_pause, seconds=seconds, call_limit=call_limit)
        published: int | None = await self.store.transaction(body)
        return published

    async def publish_limit(self, call_limit: int, expected: int | None) -> bool:
        """Share the pacer's calls allowed in flight, if still `expected` there."""
        body = partial(publish_limit, call_limit=call_limit, expected=expected)
        return await self.store.transaction(body)

"""Leases instead of start-up recovery when several processes share one PostgreSQL database.

Each process has a row in `processes` (migrations/postgres/0008_fleet.sql), its heartbeat
renewed every LEASE / 4 s on the process's own connection (bot/ledger/fleet.py): a heartbeat
waiting behind a busy pool once got a live process declared dead. A process whose heartbeat is
older than LEASE is dead. Any survivor reclaims it in one transaction: it locks the dead row
(`FOR UPDATE SKIP LOCKED`: two survivors never both take it), marks it taken, and becomes the
owner of the dead process's open jobs, of its charged jobs still to deliver and of its members
still owed a notice; its queue rows go (their slots free). What to do with those jobs is the
start-up recovery's decision (bot/jobs/recovery.py): charge and deliver what kept images,
refund the rest. Jobs of an owner with no row at all (a process from before leases, or one
killed between reserving and its first heartbeat cannot exist: the row is written first) are
reclaimed the same way, by the one survivor whose insert of that owner's row wins.

A process that finds its own row taken has been declared dead while it ran (a stall longer
than the lease): its jobs are someone else's now, so it must stop.
"""

from __future__ import annotations

from functools import partial

from bot.ledger.fleet import PostgresLocks
from bot.ledger.store import Store, Tx

LEASE = 2.0  # seconds without a heartbeat after which a process is dead

_OPEN = "(status IN ('queued', 'running') OR delivery = 'pending' OR notice_owed = 1)"


async def register(tx: Tx, owner: str) -> None:
    """This process's lease, fresh."""
    await tx.run(
        "INSERT INTO processes (owner) VALUES (?) ON CONFLICT (owner) "
        "DO UPDATE SET heartbeat_at = now(), taken_by = NULL",
        owner,
    )


async def reclaim(tx: Tx, me: str, lease: float) -> list[int]:
    """Take every dead process's jobs (see the module docstring); their ids."""
    dead = [
        str(row[0])
        for row in await tx.all(
            "SELECT owner FROM processes WHERE owner <> ? AND taken_by IS NULL "
            "AND heartbeat_at < now() - make_interval(secs => ?) FOR UPDATE SKIP LOCKED",
            me, float(lease),
        )
    ]  # fmt: skip
    if dead:
        await tx.run("UPDATE processes SET taken_by = ? WHERE owner = ANY(?::text[])", me, dead)
    for (owner,) in await tx.all(
        f"SELECT DISTINCT owner FROM jobs WHERE {_OPEN} AND owner <> ? "
        "AND owner NOT IN (SELECT owner FROM processes)",
        me,
    ):
        won = await tx.run(
            "INSERT INTO processes (owner, heartbeat_at, taken_by) VALUES (?, 'epoch', ?) "
            "ON CONFLICT (owner) DO NOTHING",
            owner, me,
        )  # fmt: skip
        if won:
            dead.append(str(owner))
    if not dead:
        return []
    rows = await tx.all(
        f"UPDATE jobs SET owner = ? WHERE owner = ANY(?::text[]) AND {_OPEN} RETURNING id",
        me, dead,
    )  # fmt: skip
    await tx.run("DELETE FROM queue WHERE owner = ANY(?::text[])", dead)
    return sorted(int(row[0]) for row in rows)


async def gone(tx: Tx, owners: list[str]) -> list[str]:
    """Which of these processes are gone for good: their lease taken by a survivor."""
    # An owner with no row is not ours to judge: a bot on another database may share the
    # spool folder, and its live folder must stay.
    rows = await tx.all(
        "SELECT owner FROM processes WHERE owner = ANY(?::text[]) AND taken_by IS NOT NULL",
        owners,
    )
    taken = {str(row[0]) for row in rows}
    return [owner for owner in owners if owner in taken]


class Leases:
    """This process's lease: written at start, renewed on the fleet's connection, and the
    reclaim of the others' on the ledger's store."""

    def __init__(self, store: Store, locks: PostgresLocks, owner: str) -> None:
        self.store = store
        self.locks = locks  # on the process's own connection: never behind the pool
        self.owner = owner

    async def register(self) -> None:
        """Write this process's lease before it takes any job."""
        await self.store.transaction(partial(register, owner=self.owner))

    async def heartbeat(self) -> bool:
        """Renew the lease; False if another process took it (this one must stop)."""
        status = await self.locks.execute(
            "UPDATE processes SET heartbeat_at = now() WHERE owner = $1 AND taken_by IS NULL",
            self.owner,
        )
        return status.endswith(" 1")

    async def reclaim(self, lease: float = LEASE) -> list[int]:
        """The ids of the jobs this process took from dead ones."""
        return await self.store.transaction(partial(reclaim, me=self.owner, lease=lease))

    async def gone(self, owners: list[str]) -> list[str]:
        """Which of these other processes are gone for good (a survivor took their lease)."""
        return await self.store.transaction(partial(gone, owners=owners), write=False)

"""Row locks for databases that do not serialise writers (PostgreSQL at READ COMMITTED).

A body that reads a counter, decides, then writes it must hold that counter's row from the
read to its commit, or two processes both see room for one more and both take it (measured:
260 jobs held against a budget of 250 when today's reserve was copied as it was). Reserve
does it by writing first (each hold's upsert locks its row and returns what it held before;
a refusal rolls it back); settle and refund lock their job row, then update the counters.
Every writer takes the counters in ONE order: the member's day, the account's day, the
guild's month, the operator's day, the operator's month. So no two writers wait on each other
in a cycle; and the busiest rows (every request of a guild, of every guild) come last, so they
stay locked for the fewest statements before the commit: that time bounds PostgreSQL's
throughput. Moderators' changes lock what they read with the helpers below. On SQLite
(tx.serialised: BEGIN IMMEDIATE) these do nothing.
"""

from __future__ import annotations

from bot.ledger.store import Tx

# An upsert that changes nothing still locks the row, and makes it first if it is missing.
_MEMBER = (
    "INSERT INTO member_usage (guild_id, user_id, day) VALUES (?, ?, ?) "
    "ON CONFLICT (guild_id, user_id, day) DO UPDATE SET images_held = member_usage.images_held"
)


def for_update(tx: Tx, select: str) -> str:
    """The SELECT locking the rows it reads until commit, where writers are not serialised."""
    return select if tx.serialised else f"{select} FOR UPDATE"


async def lock_member_day(tx: Tx, scope: int, user_id: int, day: str) -> None:
    """Lock a member's counters of one day (moderators' grants and resets)."""
    if not tx.serialised:
        await tx.run(_MEMBER, scope, user_id, day)


async def lock_name(tx: Tx, name: str) -> None:
    """Serialise the transactions that take this name (an advisory lock until commit)."""
    if not tx.serialised:
        await tx.run("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", name)

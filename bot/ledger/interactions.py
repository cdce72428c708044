"""The interaction tokens of open jobs: kept, read back after a restart, wiped.

Each function runs inside a transaction opened by Ledger.transaction (reserve, settle, refund
and notices_sent call these within their own). Tokens are secrets: nothing here logs them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime

from bot.ledger.models import InteractionToken, iso


def keep(db: sqlite3.Connection, job_id: int, interaction: InteractionToken) -> None:
    """Store how to answer this job's interaction while the job is open."""
    db.execute(
        "INSERT OR REPLACE INTO interaction_tokens (job_id, application_id, token, created_at) "
        "VALUES (?, ?, ?, ?)",
        (job_id, interaction.application_id, interaction.token, iso(interaction.created_at)),
    )


def forget(db: sqlite3.Connection, job_ids: Iterable[int]) -> None:
    """Delete these jobs' tokens (the job ended, or its member was told)."""
    db.executemany("DELETE FROM interaction_tokens WHERE job_id = ?", [(i,) for i in job_ids])


def forget_before(db: sqlite3.Connection, moment: datetime) -> int:
    """Delete every token of an interaction created before `moment`; how many there were."""
    cursor = db.execute("DELETE FROM interaction_tokens WHERE created_at < ?", (iso(moment),))
    return cursor.rowcount


def load(db: sqlite3.Connection, job_ids: Iterable[int]) -> dict[int, InteractionToken]:
    """The stored tokens of these jobs, by job id (jobs without one are left out)."""
    found: dict[int, InteractionToken] = {}
    for job_id in job_ids:
        row = db.execute(
            "SELECT application_id, token, created_at FROM interaction_tokens WHERE job_id = ?",
            (job_id,),
        ).fetchone()
        if row is not None:
            found[job_id] = InteractionToken(row[0], row[1], datetime.fromisoformat(row[2]))
    return found

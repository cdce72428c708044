"""The interaction tokens of open jobs: kept, read back after a restart, wiped.

Each function runs inside a transaction opened by the ledger (reserve, settle, refund and
notices_sent call these within their own). Tokens are secrets: nothing here logs them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bot.ledger.models import InteractionToken, iso
from bot.ledger.store import Tx


async def keep(tx: Tx, job_id: int, interaction: InteractionToken) -> None:
    """Store how to answer this job's interaction while the job is open."""
    await tx.run(
        "INSERT INTO interaction_tokens (job_id, application_id, token, created_at, locale) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (job_id) DO UPDATE SET "
        "application_id = excluded.application_id, token = excluded.token, "
        "created_at = excluded.created_at, locale = excluded.locale",
        job_id, interaction.application_id, interaction.token, iso(interaction.created_at),
        interaction.locale,
    )  # fmt: skip


async def forget(tx: Tx, job_ids: Iterable[int]) -> None:
    """Delete these jobs' tokens (the job ended, or its member was told)."""
    for job_id in job_ids:  # most often one: a plain statement, no batch
        await tx.run("DELETE FROM interaction_tokens WHERE job_id = ?", job_id)


async def forget_before(tx: Tx, moment: datetime) -> int:
    """Delete every token of an interaction created before `moment`; how many there were."""
    return await tx.run("DELETE FROM interaction_tokens WHERE created_at < ?", iso(moment))


async def load(tx: Tx, job_ids: Iterable[int]) -> dict[int, InteractionToken]:
    """The stored tokens of these jobs, by job id (jobs without one are left out)."""
    found: dict[int, InteractionToken] = {}
    for job_id in job_ids:
        row = await tx.one(
            "SELECT application_id, token, created_at, locale FROM interaction_tokens "
            "WHERE job_id = ?",
            job_id,
        )
        if row is not None:
            created = datetime.fromisoformat(row[2])
            found[job_id] = InteractionToken(row[0], row[1], created, locale=row[3])
    return found

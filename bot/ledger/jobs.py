"""The ledger's job lifecycle after reserve: start, settle, refund, recovery, job records.

Like bot/ledger/quotas.py, every function runs whole inside one transaction (a Tx, on either
store). A job's row is locked before it is read where writers are not serialised
(`tx.serialised`), then its counters are updated in the order of bot/ledger/locks.py.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import orjson

from bot.core.models import JobKind, Usage
from bot.core.prices import PriceTable, to_micros
from bot.core.used import AUTO, Used
from bot.ledger import interactions
from bot.ledger.locks import for_update
from bot.ledger.models import (
    OPEN_STATUSES,
    Delivery,
    JobRecord,
    Settlement,
    UnknownJob,
    guild_of,
    iso,
)
from bot.ledger.rules import budget_alert_due, charge
from bot.ledger.store import Tx

log = logging.getLogger(__name__)

# Why recovery refunded a job (restart notices and the chaos test read it back).
RECOVERED_REASON = "the bot restarted before this finished"

_OPEN_JOB = (
    "SELECT user_id, guild_id, model, status, day, month, images_held, unit_price_micros, "
    "cost_held_micros, images_charged, cost_charged_micros, cost_actual_micros, size, quality, "
    # The guild's budget, for settle's alert, in the same round trip (none in DMs: guild 0).
    "(SELECT monthly_budget_micros FROM guild_settings AS g WHERE g.guild_id = jobs.guild_id), "
    "owner FROM jobs WHERE id = ?"
)


# The operator's day, then month, in one round trip and in reserve's order (VALUES are taken
# in order; an UPDATE ... WHERE period IN (...) would lock them in whatever order it scans).
# Reserve made both rows, so the insert never happens: each conflicts and is updated.
_MOVE_OPERATOR = (
    "INSERT INTO operator_spend (period) VALUES (?1), (?2) ON CONFLICT (period) DO UPDATE SET "
    "held_micros = operator_spend.held_micros - ?3, "
    "charged_micros = operator_spend.charged_micros + ?4"
)


def _not_ours(row: tuple[Any, ...], owner: str | None) -> bool:
    """Whether `owner` (given with leases: several processes on PostgreSQL) no longer holds the
    job: a survivor's lease reclaim (bot/ledger/leases.py) made a stalled process's jobs its
    own, and only the holder may settle or refund them."""
    return owner is not None and row[15] != owner


async def _job_row(tx: Tx, job_id: int) -> tuple[Any, ...]:
    """The job's row, locked until commit where writers are not serialised."""
    row = await tx.one(for_update(tx, _OPEN_JOB), job_id)
    if row is None:
        raise UnknownJob(f"no job {job_id}")
    return tuple(row)


async def _move(
    tx: Tx,
    row: tuple[Any, ...],
    *,
    images: int,
    charged: int,
    overrun: int,
) -> tuple[int, int | None]:
    """Release a job's holds and add its charges; return the month's charged and alert budget."""
    user_id, scope, day, month, images_held, cost_held = (
        row[0], row[1], row[4], row[5], row[6], row[8]
    )  # fmt: skip
    await tx.run(
        "UPDATE member_usage SET images_held = images_held - ?, "
        "images_charged = images_charged + ?, cost_held_micros = cost_held_micros - ?, "
        "cost_charged_micros = cost_charged_micros + ? "
        "WHERE guild_id = ? AND user_id = ? AND day = ?",
        images_held, images, cost_held, charged, scope, user_id, day,
    )  # fmt: skip
    await tx.run(
        "UPDATE account_spend SET held_micros = held_micros - ?, "
        "charged_micros = charged_micros + ? WHERE user_id = ? AND day = ?",
        cost_held, charged, user_id, day,
    )  # fmt: skip
    spend = await tx.one(
        "UPDATE guild_spend SET held_micros = held_micros - ?, "
        "charged_micros = charged_micros + ?, overrun_micros = overrun_micros + ? "
        "WHERE guild_id = ? AND month = ? RETURNING charged_micros, alert_budget_micros",
        cost_held, charged, overrun, scope, month,
    )  # fmt: skip
    assert spend is not None, "a job's guild_spend row is written by its reserve"
    await tx.run(_MOVE_OPERATOR, day, month, cost_held, charged)
    return spend[0], spend[1]


async def settle(
    tx: Tx,
    job_id: int,
    generated: int,
    usage: Usage | None,
    used: Used,
    prices: PriceTable,
    now: datetime,
    owner: str | None = None,
) -> Settlement:
    """Charge what was generated, release the rest; a job that already ended is left alone.

    The charge is the usage's cost where the answer gave one, else the list price of the size
    and quality used (unknown ones: as asked, else the model's defaults; "auto" at its
    dearest, as held), never above the hold (rules.charge). The job records the size and
    quality used where they are known. A job with images is marked for delivery ('pending'):
    delivered() records how it went, and a stop before then leaves it for the next start.
    """
    row = await _job_row(tx, job_id)
    scope, model, status, month, images_held, cost_held = (
        row[1], row[2], row[3], row[5], row[6], row[8]
    )  # fmt: skip
    if status not in OPEN_STATUSES or _not_ours(row, owner):
        return Settlement(job_id, status, row[9], row[10], row[11], already_ended=True)
    images = min(generated, images_held)
    quality, size = prices.used(model, used.quality or row[13], used.size or row[12])
    actual = prices.usage_cost_micros(model, usage)
    if actual is None:
        actual = images * to_micros(prices.unit_price(model, quality, size))
    # An overrun is recorded (jobs.cost_actual_micros, guild_spend.overrun_micros) and logged:
    # it means the price table is too low for this model and the operator should raise it.
    charged, overrun = charge(actual, cost_held)
    if overrun:
        log.warning(
            "job %d cost %d micro-USD by its usage, above its hold of %d: charging the hold; "
            "raise the %s prices in PRICES_FILE",
            job_id, actual, cost_held, model,
        )  # fmt: skip
    final = "succeeded" if images > 0 else "failed"
    tokens = (None, None, None) if usage is None else (
        usage.input_text_tokens, usage.input_image_tokens, usage.output_tokens
    )  # fmt: skip
    await tx.run(
        "UPDATE jobs SET status = ?, images_held = 0, images_charged = ?, "
        "cost_held_micros = 0, cost_charged_micros = ?, cost_actual_micros = ?, "
        "input_text_tokens = ?, input_image_tokens = ?, output_tokens = ?, error = ?, "
        "ended_at = ?, delivery = ?, size = COALESCE(?, size), quality = COALESCE(?, quality) "
        "WHERE id = ?",
        final, images, charged, actual, *tokens,
        None if images else "no image was generated", iso(now),
        "pending" if images else None, _known(size), _known(quality), job_id,
    )  # fmt: skip
    await interactions.forget(tx, [job_id])  # charged: no restart may now call it interrupted
    budget = row[14]
    # The shared counters last: other writers wait for them until this commits.
    month_charged, alerted_for = await _move(
        tx, row, images=images, charged=charged, overrun=overrun
    )
    alert = budget_alert_due(month_charged, budget, alerted_for)
    if alert:
        await tx.run(
            "UPDATE guild_spend SET alert_budget_micros = ?, alert_sent_at = ? "
            "WHERE guild_id = ? AND month = ?",
            budget, iso(now), scope, month,
        )  # fmt: skip
    return Settlement(job_id, final, images, charged, actual, alert, month_charged, budget)


def _known(setting: str | None) -> str | None:
    """A size or quality worth recording as used: "auto" tells nothing of what was made."""
    return None if setting == AUTO else setting


async def refund(
    tx: Tx,
    job_id: int,
    reason: str,
    status: str,
    now: datetime,
    owe_notice: bool = False,
    failure: str | None = None,
    owner: str | None = None,
) -> bool:
    """Release the whole hold and record why; False (and no change) if the job already ended.

    `owe_notice` marks the member as still to be told, until notices_sent clears it: a
    process stopped in between leaves it for the next start's restart notice. The job's
    interaction token goes now, or (owing a notice) with the notice: it is what tells them.
    """
    row = await _job_row(tx, job_id)
    if row[3] not in OPEN_STATUSES or _not_ours(row, owner):
        return False
    await tx.run(
        "UPDATE jobs SET status = ?, images_held = 0, cost_held_micros = 0, error = ?, "
        "failure = ?, ended_at = ?, notice_owed = ? WHERE id = ?",
        status, reason, failure or status.capitalize(), iso(now), int(owe_notice), job_id,
    )  # fmt: skip
    if not owe_notice:
        await interactions.forget(tx, [job_id])
    await _move(tx, row, images=0, charged=0, overrun=0)
    return True


async def start(tx: Tx, job_id: int, now: datetime) -> bool:
    """queued -> running; False if the job already ended (it must not run)."""
    status = (await _job_row(tx, job_id))[3]
    if status == "queued":
        await tx.run(
            "UPDATE jobs SET status = 'running', started_at = ? WHERE id = ?", iso(now), job_id
        )
    return status in OPEN_STATUSES


async def delivered(
    tx: Tx,
    job_id: int,
    sent: int,
    channel_id: int | None,
    message_id: int | None,
    now: datetime,
) -> Delivery | None:
    """Record a delivery of a charged job: `sent` images reached Discord (the first of them in
    channel_id/message_id). All of them: 'delivered'; fewer: 'waiting' for the member's
    "deliver again". Returns the new state (None for a job with no images)."""
    sql = "SELECT images_charged, images_sent, delivery FROM jobs WHERE id = ?"
    row = await tx.one(for_update(tx, sql), job_id)
    if row is None:
        raise UnknownJob(f"no job {job_id}")
    charged, before, state = row
    if state is None:
        return None
    total = min(charged, max(before, sent))
    state = "delivered" if state == "delivered" or total >= charged else "waiting"
    await tx.run(
        "UPDATE jobs SET images_sent = ?, delivery = ?, delivered_at = COALESCE(?, delivered_at), "
        "result_channel_id = COALESCE(?, result_channel_id), "
        "result_message_id = COALESCE(?, result_message_id) WHERE id = ?",
        total, state, iso(now) if sent else None,
        channel_id if message_id is not None else None, message_id, job_id,
    )  # fmt: skip
    return cast(Delivery, state)


async def others_open(tx: Tx, owner: str) -> list[JobRecord]:
    """Jobs left queued or running by another (earlier) Ledger: what recovery looks at."""
    return await _records(tx, "status IN ('queued', 'running') AND owner <> ?", owner)


async def interrupt(
    tx: Tx, job_ids: list[int], now: datetime, owner: str | None = None
) -> list[JobRecord]:
    """Refund these open jobs as 'interrupted', each owing its member a restart notice."""
    for job_id in sorted(job_ids):  # job rows locked in one order
        await refund(tx, job_id, RECOVERED_REASON, "interrupted", now, True, "Interrupted", owner)
    return [record for job_id in job_ids if (record := await load_job(tx, job_id)) is not None]


async def undelivered(tx: Tx, owner: str) -> list[JobRecord]:
    """Charged jobs of another (earlier) Ledger whose delivery a stop cut off ('pending')."""
    return await _records(tx, "delivery = 'pending' AND owner <> ?", owner)


async def undelivered_ids(tx: Tx) -> set[int]:
    """Every charged job whose images have not all reached Discord, whoever holds it."""
    rows = await tx.all("SELECT id FROM jobs WHERE delivery IN ('pending', 'waiting')")
    return {int(row[0]) for row in rows}


async def waiting(tx: Tx, scope: int, user_id: int, limit: int) -> list[JobRecord]:
    """A member's charged jobs whose images never all reached Discord, newest first."""
    where = "guild_id = ? AND user_id = ? AND delivery IN ('pending', 'waiting')"
    return await _records(tx, where, scope, user_id, limit, order="id DESC LIMIT ?")


_JOB_COLUMNS = (
    "id, user_id, guild_id, channel_id, kind, model, size, quality, params, status, "
    "images_asked, images_held, images_charged, cost_held_micros, cost_charged_micros, "
    "cost_actual_micros, error, result_channel_id, result_message_id, created_at, "
    "started_at, ended_at, delivery, images_sent, delivered_at"
)


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _record(row: Sequence[Any]) -> JobRecord:
    (job_id, user_id, scope, channel_id, kind, model, size, quality, params, status,
     asked, held, images, cost_held, charged, actual, error, result_channel, result_message,
     created, started, ended, delivery, sent, delivered_at) = row  # fmt: skip
    return JobRecord(
        id=job_id, user_id=user_id, guild_id=guild_of(scope), channel_id=channel_id,
        kind=cast(JobKind, kind), model=model, size=size, quality=quality,
        params=orjson.loads(params), status=status, images_asked=asked, images_held=held,
        images_charged=images, cost_held_micros=cost_held, cost_charged_micros=charged,
        cost_actual_micros=actual, error=error, result_channel_id=result_channel,
        result_message_id=result_message, created_at=datetime.fromisoformat(created),
        started_at=_when(started), ended_at=_when(ended), delivery=delivery, images_sent=sent,
        delivered_at=_when(delivered_at),
    )  # fmt: skip


async def load_job(tx: Tx, job_id: int) -> JobRecord | None:
    """One job by id, or None."""
    row = await tx.one(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", job_id)
    return None if row is None else _record(row)


async def by_result_message(tx: Tx, message_id: int) -> JobRecord | None:
    """The job whose images the ledger recorded in this message, or None."""
    row = await tx.one(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE result_message_id = ?", message_id)
    return None if row is None else _record(row)


async def history(
    tx: Tx, scope: int, user_id: int, limit: int, before: int | None = None
) -> list[JobRecord]:
    """A member's latest jobs in one guild (or in DMs), newest first; only those older than job
    `before` when given (pages go by id: new jobs may come while the member turns them)."""
    where = "guild_id = ? AND user_id = ?" + ("" if before is None else " AND id < ?")
    bound = () if before is None else (before,)
    return await _records(tx, where, scope, user_id, *bound, limit, order="id DESC LIMIT ?")


async def _records(tx: Tx, where: str, *args: Any, order: str = "id") -> list[JobRecord]:
    """Job records matching `where` (fixed SQL, values bound), in `order`."""
    rows = await tx.all(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {where} ORDER BY {order}", *args)
    return [_record(row) for row in rows]


async def owed_notices(tx: Tx) -> list[JobRecord]:
    """Refunded jobs whose member may not have been told: recovered ones whose restart notice
    was not sent, and ones whose process stopped between the refund and telling the member."""
    return await _records(tx, "notice_owed = 1")


async def notices_held(tx: Tx, job_ids: list[int], owner: str | None = None) -> list[int]:
    """Of these jobs, those whose member is still owed a notice and (with leases: `owner`)
    that this process still holds: the ones it may tell now. The lease is the claim: only a
    reclaim moves a job to another process, so two live processes never both hold one."""
    if not job_ids:
        return []
    marks = ", ".join("?" * len(job_ids))
    mine = "" if owner is None else " AND owner = ?"
    found = await tx.all(
        f"SELECT id FROM jobs WHERE notice_owed = 1 AND id IN ({marks}){mine} ORDER BY id",
        *job_ids, *(() if owner is None else (owner,)),
    )  # fmt: skip
    return [int(row[0]) for row in found]


async def notices_sent(tx: Tx, job_ids: list[int], owner: str | None = None) -> None:
    """The member was told about these refunds (or we tried): no later start tells them again,
    and their interaction tokens go. With leases (`owner`), only for jobs this process holds:
    one a survivor took is its to tell and mark."""
    if owner is not None:
        job_ids = await notices_held(tx, job_ids, owner)
    await tx.many("UPDATE jobs SET notice_owed = 0 WHERE id = ?", [(i,) for i in job_ids])
    await interactions.forget(tx, job_ids)

"""The ledger's job lifecycle after reserve: start, settle, refund, recovery, job records.

Like bot/ledger/quotas.py, every function runs whole inside one transaction opened by
Ledger.transaction on the connection it is given.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime
from typing import Any, cast

import orjson

from bot.core.models import JobKind, Usage
from bot.core.prices import PriceTable, to_micros
from bot.core.used import AUTO, Used
from bot.ledger import interactions
from bot.ledger.models import (
    DM_SCOPE,
    OPEN_STATUSES,
    Delivery,
    JobRecord,
    Settlement,
    UnknownJob,
    guild_of,
    iso,
)

log = logging.getLogger(__name__)

# Why recovery refunded a job (restart notices and the chaos test read it back).
RECOVERED_REASON = "the bot restarted before this finished"

_OPEN_JOB = (
    "SELECT user_id, guild_id, model, status, day, month, images_held, unit_price_micros, "
    "cost_held_micros, images_charged, cost_charged_micros, cost_actual_micros, size, quality "
    "FROM jobs WHERE id = ?"
)


def _job_row(db: sqlite3.Connection, job_id: int) -> tuple[Any, ...]:
    row = db.execute(_OPEN_JOB, (job_id,)).fetchone()
    if row is None:
        raise UnknownJob(f"no job {job_id}")
    return cast(tuple[Any, ...], row)


def _move(
    db: sqlite3.Connection,
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
    db.execute(
        "UPDATE member_usage SET images_held = images_held - ?, "
        "images_charged = images_charged + ?, cost_held_micros = cost_held_micros - ?, "
        "cost_charged_micros = cost_charged_micros + ? "
        "WHERE guild_id = ? AND user_id = ? AND day = ?",
        (images_held, images, cost_held, charged, scope, user_id, day),
    )
    spend = db.execute(
        "UPDATE guild_spend SET held_micros = held_micros - ?, "
        "charged_micros = charged_micros + ?, overrun_micros = overrun_micros + ? "
        "WHERE guild_id = ? AND month = ? RETURNING charged_micros, alert_budget_micros",
        (cost_held, charged, overrun, scope, month),
    ).fetchone()
    db.execute(
        "UPDATE account_spend SET held_micros = held_micros - ?, "
        "charged_micros = charged_micros + ? WHERE user_id = ? AND day = ?",
        (cost_held, charged, user_id, day),
    )
    db.executemany(
        "UPDATE operator_spend SET held_micros = held_micros - ?, "
        "charged_micros = charged_micros + ? WHERE period = ?",
        ((cost_held, charged, day), (cost_held, charged, month)),
    )
    return spend[0], spend[1]


def settle(
    db: sqlite3.Connection,
    job_id: int,
    generated: int,
    usage: Usage | None,
    used: Used,
    prices: PriceTable,
    now: datetime,
) -> Settlement:
    """Charge what was generated, release the rest; a job that already ended is left alone.

    The charge is the usage's cost where the answer gave one, else the list price of the size
    and quality used (unknown ones: as asked, else the model's defaults; "auto" at its
    dearest, as held). The job records the size and quality used where they are known.
    A job with images is marked for delivery ('pending'): delivered() records how it went,
    and a stop before then leaves it for the next start to deliver.
    """
    row = _job_row(db, job_id)
    scope, model, status, month, images_held, cost_held = (
        row[1], row[2], row[3], row[5], row[6], row[8]
    )  # fmt: skip
    if status not in OPEN_STATUSES:
        return Settlement(job_id, status, row[9], row[10], row[11], already_ended=True)
    images = min(generated, images_held)
    quality, size = prices.used(model, used.quality or row[13], used.size or row[12])
    actual = prices.usage_cost_micros(model, usage)
    if actual is None:
        actual = images * to_micros(prices.unit_price(model, quality, size))
    # The hold is a pre-authorisation: the guild and member are charged at most what was held,
    # so a month's charges never pass its budget even when the usage cost more than estimated.
    # The excess is recorded (jobs.cost_actual_micros, guild_spend.overrun_micros) and logged:
    # it means the price table is too low for this model and the operator should raise it.
    charged = min(actual, cost_held)
    if actual > cost_held:
        log.warning(
            "job %d cost %d micro-USD by its usage, above its hold of %d: charging the hold; "
            "raise the %s prices in PRICES_FILE",
            job_id, actual, cost_held, model,
        )  # fmt: skip
    final = "succeeded" if images > 0 else "failed"
    tokens = (None, None, None) if usage is None else (
        usage.input_text_tokens, usage.input_image_tokens, usage.output_tokens
    )  # fmt: skip
    db.execute(
        "UPDATE jobs SET status = ?, images_held = 0, images_charged = ?, "
        "cost_held_micros = 0, cost_charged_micros = ?, cost_actual_micros = ?, "
        "input_text_tokens = ?, input_image_tokens = ?, output_tokens = ?, error = ?, "
        "ended_at = ?, delivery = ?, size = COALESCE(?, size), quality = COALESCE(?, quality) "
        "WHERE id = ?",
        (final, images, charged, actual, *tokens,
         None if images else "no image was generated", iso(now),
         "pending" if images else None, _known(size), _known(quality), job_id),
    )  # fmt: skip
    month_charged, alerted_for = _move(
        db, row, images=images, charged=charged, overrun=actual - charged
    )
    interactions.forget(db, [job_id])  # charged: no restart may now call it interrupted
    budget = _budget(db, scope)
    alert = _budget_alert(db, scope, month, month_charged, budget, alerted_for, now)
    return Settlement(job_id, final, images, charged, actual, alert, month_charged, budget)


def _known(setting: str | None) -> str | None:
    """A size or quality worth recording as used: "auto" tells nothing of what was made."""
    return None if setting == AUTO else setting


def _budget(db: sqlite3.Connection, scope: int) -> int | None:
    if scope == DM_SCOPE:
        return None
    row = db.execute(
        "SELECT monthly_budget_micros FROM guild_settings WHERE guild_id = ?", (scope,)
    ).fetchone()
    return row[0] if row else None


def _budget_alert(
    db: sqlite3.Connection,
    scope: int,
    month: str,
    charged: int,
    budget: int | None,
    alerted_for: int | None,
    now: datetime,
) -> bool:
    """True once per month and budget: for the settle that brings charges to 80% of it."""
    if budget is None or charged * 5 < budget * 4:
        return False
    # Raising the budget re-arms the alert for the new figure; anything else stays quiet.
    if alerted_for is not None and alerted_for >= budget:
        return False
    db.execute(
        "UPDATE guild_spend SET alert_budget_micros = ?, alert_sent_at = ? "
        "WHERE guild_id = ? AND month = ?",
        (budget, iso(now), scope, month),
    )
    return True


def refund(
    db: sqlite3.Connection,
    job_id: int,
    reason: str,
    status: str,
    now: datetime,
    owe_notice: bool = False,
    failure: str | None = None,
) -> bool:
    """Release the whole hold and record why; False (and no change) if the job already ended.

    `owe_notice` marks the member as still to be told, until notices_sent clears it: a
    process stopped in between leaves it for the next start's restart notice. The job's
    interaction token goes now, or (owing a notice) with the notice: it is what tells them.
    """
    row = _job_row(db, job_id)
    if row[3] not in OPEN_STATUSES:
        return False
    db.execute(
        "UPDATE jobs SET status = ?, images_held = 0, cost_held_micros = 0, error = ?, "
        "failure = ?, ended_at = ?, notice_owed = ? WHERE id = ?",
        (status, reason, failure or status.capitalize(), iso(now), int(owe_notice), job_id),
    )
    _move(db, row, images=0, charged=0, overrun=0)
    if not owe_notice:
        interactions.forget(db, [job_id])
    return True


def start(db: sqlite3.Connection, job_id: int, now: datetime) -> bool:
    """queued -> running; False if the job already ended (it must not run)."""
    status = _job_row(db, job_id)[3]
    if status == "queued":
        db.execute(
            "UPDATE jobs SET status = 'running', started_at = ? WHERE id = ?", (iso(now), job_id)
        )
    return status in OPEN_STATUSES


def delivered(
    db: sqlite3.Connection,
    job_id: int,
    sent: int,
    channel_id: int | None,
    message_id: int | None,
    now: datetime,
) -> Delivery | None:
    """Record a delivery of a charged job: `sent` images reached Discord (the first of them in
    channel_id/message_id). All of them: 'delivered'; fewer: 'waiting' for the member's
    "deliver again". Returns the new state (None for a job with no images)."""
    row = db.execute(
        "SELECT images_charged, images_sent, delivery FROM jobs WHERE id = ?", (job_id,)
    ).fetchone()
    if row is None:
        raise UnknownJob(f"no job {job_id}")
    charged, before, state = row
    if state is None:
        return None
    total = min(charged, max(before, sent))
    state = "delivered" if state == "delivered" or total >= charged else "waiting"
    db.execute(
        "UPDATE jobs SET images_sent = ?, delivery = ?, delivered_at = COALESCE(?, delivered_at), "
        "result_channel_id = COALESCE(?, result_channel_id), "
        "result_message_id = COALESCE(?, result_message_id) WHERE id = ?",
        (total, state, iso(now) if sent else None,
         channel_id if message_id is not None else None, message_id, job_id),
    )  # fmt: skip
    return cast(Delivery, state)


def others_open(db: sqlite3.Connection, owner: str) -> list[JobRecord]:
    """Jobs left queued or running by another (earlier) Ledger: what recovery looks at."""
    return _records(db, "status IN ('queued', 'running') AND owner <> ?", owner)


def interrupt(db: sqlite3.Connection, job_ids: list[int], now: datetime) -> list[JobRecord]:
    """Refund these open jobs as 'interrupted', each owing its member a restart notice."""
    for job_id in job_ids:
        refund(db, job_id, RECOVERED_REASON, "interrupted", now, True, "Interrupted")
    return [record for job_id in job_ids if (record := load_job(db, job_id)) is not None]


def undelivered(db: sqlite3.Connection, owner: str) -> list[JobRecord]:
    """Charged jobs of another (earlier) Ledger whose delivery a stop cut off ('pending')."""
    return _records(db, "delivery = 'pending' AND owner <> ?", owner)


def undelivered_ids(db: sqlite3.Connection) -> set[int]:
    """Every charged job whose images have not all reached Discord, whoever holds it."""
    rows = db.execute("SELECT id FROM jobs WHERE delivery IN ('pending', 'waiting')").fetchall()
    return {int(row[0]) for row in rows}


def waiting(db: sqlite3.Connection, scope: int, user_id: int, limit: int) -> list[JobRecord]:
    """A member's charged jobs whose images never all reached Discord, newest first."""
    where = "guild_id = ? AND user_id = ? AND delivery IN ('pending', 'waiting')"
    return _records(db, where, scope, user_id, limit, order="id DESC LIMIT ?")


_JOB_COLUMNS = (
    "id, user_id, guild_id, channel_id, kind, model, size, quality, params, status, "
    "images_asked, images_held, images_charged, cost_held_micros, cost_charged_micros, "
    "cost_actual_micros, error, result_channel_id, result_message_id, created_at, "
    "started_at, ended_at, delivery, images_sent, delivered_at"
)


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _record(row: tuple[Any, ...]) -> JobRecord:
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


def load_job(db: sqlite3.Connection, job_id: int) -> JobRecord | None:
    """One job by id, or None."""
    row = db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return None if row is None else _record(row)


def by_result_message(db: sqlite3.Connection, message_id: int) -> JobRecord | None:
    """The job whose images the ledger recorded in this message, or None."""
    row = db.execute(
        f"SELECT {_JOB_COLUMNS} FROM jobs WHERE result_message_id = ?", (message_id,)
    ).fetchone()
    return None if row is None else _record(row)


def history(
    db: sqlite3.Connection, scope: int, user_id: int, limit: int, before: int | None = None
) -> list[JobRecord]:
    """A member's latest jobs in one guild (or in DMs), newest first; only those older than job
    `before` when given (pages go by id: new jobs may come while the member turns them)."""
    where = "guild_id = ? AND user_id = ?" + ("" if before is None else " AND id < ?")
    bound = () if before is None else (before,)
    return _records(db, where, scope, user_id, *bound, limit, order="id DESC LIMIT ?")


def _records(db: sqlite3.Connection, where: str, *args: Any, order: str = "id") -> list[JobRecord]:
    """Job records matching `where` (fixed SQL, values bound), in `order`."""
    rows = db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {where} ORDER BY {order}", args)
    return [_record(row) for row in rows.fetchall()]


def owed_notices(db: sqlite3.Connection) -> list[JobRecord]:
    """Refunded jobs whose member may not have been told: recovered ones whose restart notice
    was not sent, and ones whose process stopped between the refund and telling the member."""
    return _records(db, "notice_owed = 1")


def notices_sent(db: sqlite3.Connection, job_ids: list[int]) -> None:
    """The member was told about these refunds (or we tried): no later start tells them again,
    and their interaction tokens go."""
    db.executemany("UPDATE jobs SET notice_owed = 0 WHERE id = ?", [(i,) for i in job_ids])
    interactions.forget(db, job_ids)

"""The ledger's transaction bodies: plain sqlite3 code run whole inside one transaction.

Each public function here takes a sqlite3 connection on which the caller (Ledger.transaction)
has already opened the transaction, and does all its reads and writes there; nothing in
between can see or change a half-done state.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import orjson

from bot.ledger_types import (
    DM_SCOPE,
    BudgetExhausted,
    JobSpec,
    LimitSource,
    MemberBlocked,
    MemberStatus,
    QuotaExceeded,
    Reservation,
    day_key,
    guild_of,
    iso,
    month_key,
    next_day,
    next_month,
    scope_of,
)
from bot.prices import Estimate

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Policy:
    """A member's resolved limit in one guild, their block, and the guild's budget."""

    limit: int
    source: LimitSource
    blocked: bool
    block_reason: str | None
    budget_micros: int | None


@dataclass(frozen=True, slots=True)
class DayUsage:
    """A member's counters for one day; used is after any moderator reset."""

    used: int
    held: int
    granted: int


def read_policy(
    db: sqlite3.Connection,
    scope: int,
    user_id: int,
    role_ids: tuple[int, ...],
    global_default: int,
) -> Policy:
    """Resolve the limit: member override > best role limit > guild default > global default."""
    if scope == DM_SCOPE:
        return Policy(global_default, "global", False, None, None)
    member = db.execute(
        "SELECT daily_images, blocked, block_reason FROM member_policies "
        "WHERE guild_id = ? AND user_id = ?",
        (scope, user_id),
    ).fetchone()
    guild = db.execute(
        "SELECT default_daily_images, monthly_budget_micros FROM guild_settings WHERE guild_id = ?",
        (scope,),
    ).fetchone()
    override, blocked, reason = member if member else (None, 0, None)
    guild_default, budget = guild if guild else (None, None)
    best_role = None
    if override is None and role_ids:
        # json_each keeps one statement text (and one cached plan) for any number of roles.
        best_role = db.execute(
            "SELECT MAX(daily_images) FROM role_limits "
            "WHERE guild_id = ? AND role_id IN (SELECT value FROM json_each(?))",
            (scope, orjson.dumps(role_ids).decode()),
        ).fetchone()[0]
    limit, source = _resolve(override, best_role, guild_default, global_default)
    return Policy(limit, source, bool(blocked), reason, budget)


def _resolve(
    override: int | None, best_role: int | None, guild_default: int | None, global_default: int
) -> tuple[int, LimitSource]:
    if override is not None:
        return override, "member"
    if best_role is not None:
        return best_role, "role"
    if guild_default is not None:
        return guild_default, "guild"
    return global_default, "global"


def read_usage(db: sqlite3.Connection, scope: int, user_id: int, day: str) -> DayUsage:
    """A member's counters for one day (zeros when they have done nothing)."""
    row = db.execute(
        "SELECT images_charged - images_forgiven, images_held, images_granted "
        "FROM member_usage WHERE guild_id = ? AND user_id = ? AND day = ?",
        (scope, user_id, day),
    ).fetchone()
    return DayUsage(*row) if row else DayUsage(0, 0, 0)


def member_month_spend(db: sqlite3.Connection, scope: int, user_id: int, month: str) -> int:
    """A member's charges in one guild in one month, in micro-dollars."""
    row = db.execute(
        "SELECT COALESCE(SUM(cost_charged_micros), 0) FROM member_usage "
        "WHERE guild_id = ? AND user_id = ? AND day BETWEEN ? AND ?",
        (scope, user_id, f"{month}-01", f"{month}-31"),
    ).fetchone()
    return int(row[0])


def guild_month_spend(db: sqlite3.Connection, scope: int, month: str) -> tuple[int, int]:
    """A guild's (charged, held) micro-dollars in one month."""
    row = db.execute(
        "SELECT charged_micros, held_micros FROM guild_spend WHERE guild_id = ? AND month = ?",
        (scope, month),
    ).fetchone()
    return (row[0], row[1]) if row else (0, 0)


def member_status(
    db: sqlite3.Connection,
    scope: int,
    user_id: int,
    role_ids: tuple[int, ...],
    global_default: int,
    now: datetime,
) -> MemberStatus:
    """A member's view of today, as one consistent read."""
    policy = read_policy(db, scope, user_id, role_ids, global_default)
    return _status(db, scope, user_id, policy, read_usage(db, scope, user_id, day_key(now)), now)


def _status(
    db: sqlite3.Connection,
    scope: int,
    user_id: int,
    policy: Policy,
    usage: DayUsage,
    now: datetime,
) -> MemberStatus:
    month = month_key(now)
    return MemberStatus(
        user_id=user_id,
        guild_id=guild_of(scope),
        day=day_key(now),
        limit=policy.limit,
        limit_source=policy.source,
        granted=usage.granted,
        used=usage.used,
        held=usage.held,
        resets_at=next_day(now),
        month_spend_micros=member_month_spend(db, scope, user_id, month),
        guild_month_spend_micros=guild_month_spend(db, scope, month)[0],
        guild_budget_micros=policy.budget_micros,
        blocked=policy.blocked,
        block_reason=policy.block_reason,
    )


def reserve(
    db: sqlite3.Connection,
    spec: JobSpec,
    *,
    estimate: Estimate,
    params_json: str,
    owner: str,
    global_default: int,
    now: datetime,
) -> Reservation:
    """Check block, daily limit and monthly budget; hold images and cost; insert a queued job."""
    who = spec.requester
    scope, day, month = scope_of(who.guild_id), day_key(now), month_key(now)
    policy = read_policy(db, scope, who.user_id, who.role_ids, global_default)
    if policy.blocked:
        raise MemberBlocked(policy.block_reason)
    usage = read_usage(db, scope, who.user_id, day)
    allowance = policy.limit + usage.granted
    left = allowance - usage.used - usage.held
    if spec.images > left:
        raise QuotaExceeded(
            limit=allowance,
            used=usage.used + usage.held,
            remaining=max(0, left),
            asked=spec.images,
            resets_at=next_day(now),
        )
    charged, held = guild_month_spend(db, scope, month)
    cost = estimate.total_micros
    if policy.budget_micros is not None and charged + held + cost > policy.budget_micros:
        raise BudgetExhausted(
            budget_micros=policy.budget_micros,
            spent_micros=charged + held,
            needed_micros=cost,
            resets_at=next_month(now),
        )
    job_id = db.execute(
        "INSERT INTO jobs (user_id, guild_id, channel_id, kind, model, size, quality, params, "
        "owner, day, month, images_asked, images_held, unit_price_micros, cost_held_micros, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (who.user_id, scope, who.channel_id, spec.kind, spec.model, spec.size, spec.quality,
         params_json, owner, day, month, spec.images, spec.images, estimate.unit_micros,
         cost, iso(now)),
    ).lastrowid  # fmt: skip
    db.execute(
        "INSERT INTO member_usage (guild_id, user_id, day, images_held, cost_held_micros) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
        "images_held = images_held + excluded.images_held, "
        "cost_held_micros = cost_held_micros + excluded.cost_held_micros",
        (scope, who.user_id, day, spec.images, cost),
    )
    db.execute(
        "INSERT INTO guild_spend (guild_id, month, held_micros) VALUES (?, ?, ?) "
        "ON CONFLICT DO UPDATE SET held_micros = held_micros + excluded.held_micros",
        (scope, month, cost),
    )
    after = DayUsage(usage.used, usage.held + spec.images, usage.granted)
    return Reservation(
        job_id=cast(int, job_id),
        images_held=spec.images,
        cost_held_micros=cost,
        status=_status(db, scope, who.user_id, policy, after, now),
    )

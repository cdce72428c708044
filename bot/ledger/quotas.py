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

from bot.core.prices import Estimate
from bot.core.terms import BlockedTerm, find_blocked
from bot.ledger import interactions
from bot.ledger.models import (
    DM_SCOPE,
    BudgetExhausted,
    CapName,
    CapReached,
    JobSpec,
    LimitSource,
    MemberBlocked,
    MemberStatus,
    OperatorCaps,
    QuotaExceeded,
    Reservation,
    day_key,
    guild_of,
    iso,
    month_key,
    next_day,
    next_month,
    result_key,
    scope_of,
)

log = logging.getLogger(__name__)

# A member_policies row's block is in force (bound to the transaction's time): a block with a
# duration ends by itself, so every reader asks this and nothing runs when it ends.
BLOCK_IN_FORCE = "blocked = 1 AND (blocked_until IS NULL OR blocked_until > ?)"


@dataclass(frozen=True, slots=True)
class Policy:
    """A member's resolved limit in one guild, their block, and the guild's budget."""

    limit: int
    source: LimitSource
    blocked: bool
    block_reason: str | None
    budget_micros: int | None
    blocked_until: datetime | None = None  # when the block ends; None: until unblocked


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
    now: datetime,
) -> Policy:
    """Resolve the limit: member override > best role limit > guild default > global default;
    and the member's block, if it is in force at `now`."""
    if scope == DM_SCOPE:
        return Policy(global_default, "global", False, None, None)
    member = db.execute(
        f"SELECT daily_images, {BLOCK_IN_FORCE}, block_reason, blocked_until "
        "FROM member_policies WHERE guild_id = ? AND user_id = ?",
        (iso(now), scope, user_id),
    ).fetchone()
    guild = db.execute(
        "SELECT default_daily_images, monthly_budget_micros FROM guild_settings WHERE guild_id = ?",
        (scope,),
    ).fetchone()
    override, blocked, reason, until = member if member else (None, 0, None, None)
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
    if not blocked:
        return Policy(limit, source, False, None, budget)
    return Policy(limit, source, True, reason, budget, _when(until))


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


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
    caps: OperatorCaps,
    now: datetime,
) -> MemberStatus:
    """A member's view of today, as one consistent read."""
    policy = read_policy(db, scope, user_id, role_ids, global_default, now)
    usage = read_usage(db, scope, user_id, day_key(now))
    return _status(db, scope, user_id, policy, usage, caps, now)


def _status(
    db: sqlite3.Connection,
    scope: int,
    user_id: int,
    policy: Policy,
    usage: DayUsage,
    caps: OperatorCaps,
    now: datetime,
) -> MemberStatus:
    month = month_key(now)
    budget = policy.budget_micros if scope != DM_SCOPE else caps.personal_monthly_micros
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
        guild_budget_micros=budget,
        blocked=policy.blocked,
        block_reason=policy.block_reason,
        blocked_until=policy.blocked_until,
        ceiling=caps.max_daily_images,
    )


def spend(db: sqlite3.Connection, table: str, where: str, args: tuple[object, ...]) -> int:
    """Charged plus held micro-dollars of one operator_spend or account_spend row (0 if none)."""
    row = db.execute(
        f"SELECT charged_micros + held_micros FROM {table} WHERE {where}", args
    ).fetchone()
    return int(row[0]) if row else 0


def check_caps(
    db: sqlite3.Connection, user_id: int, cost: int, caps: OperatorCaps, now: datetime
) -> None:
    """Raise CapReached if `cost` more would pass one of the operator's caps."""
    day, month = day_key(now), month_key(now)
    ceilings: tuple[tuple[CapName, int | None, str, str, tuple[object, ...]], ...] = (
        ("account_daily", caps.account_daily_micros, "account_spend",
         "user_id = ? AND day = ?", (user_id, day)),
        ("operator_daily", caps.daily_micros, "operator_spend", "period = ?", (day,)),
        ("operator_monthly", caps.monthly_micros, "operator_spend", "period = ?", (month,)),
    )  # fmt: skip
    for cap, limit, table, where, args in ceilings:
        if limit is not None and spend(db, table, where, args) + cost > limit:
            monthly = cap == "operator_monthly"
            raise CapReached(
                cap,
                period=month if monthly else day,
                resets_at=next_month(now) if monthly else next_day(now),
            )


def guild_terms(db: sqlite3.Connection, scope: int) -> list[str]:
    """A guild's blocked terms, alphabetically (none outside guilds)."""
    rows = db.execute(
        "SELECT term FROM blocked_terms WHERE guild_id = ? ORDER BY term", (scope,)
    ).fetchall()
    return [row[0] for row in rows]


def check_request(
    db: sqlite3.Connection,
    spec: JobSpec,
    *,
    prompt: str | None,
    cost: int,
    caps: OperatorCaps,
    global_default: int,
    now: datetime,
) -> None:
    """check(), then the guild's blocked terms against `prompt`: all a request's refusals
    before anything is downloaded, in one read (BlockedTerm names the term)."""
    check(db, spec, cost=cost, caps=caps, global_default=global_default, now=now)
    scope = scope_of(spec.requester.guild_id)
    if prompt is not None and scope != DM_SCOPE:
        term = find_blocked(prompt, guild_terms(db, scope))
        if term is not None:
            raise BlockedTerm(term)


def check(
    db: sqlite3.Connection,
    spec: JobSpec,
    *,
    cost: int,
    caps: OperatorCaps,
    global_default: int,
    now: datetime,
) -> tuple[Policy, DayUsage]:
    """Every refusal reserve can give, read-only: block, daily images, budgets, operator caps.

    Raises MemberBlocked, QuotaExceeded, BudgetExhausted or CapReached (all BotError).
    """
    who = spec.requester
    scope, day, month = scope_of(who.guild_id), day_key(now), month_key(now)
    policy = read_policy(db, scope, who.user_id, who.role_ids, global_default, now)
    if policy.blocked:
        raise MemberBlocked(policy.block_reason, until=policy.blocked_until)
    usage = read_usage(db, scope, who.user_id, day)
    allowance = policy.limit + usage.granted
    if caps.max_daily_images is not None:
        allowance = min(allowance, caps.max_daily_images)
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
    if scope == DM_SCOPE:
        personal = caps.personal_monthly_micros
        if personal is not None and charged + held + cost > personal:
            raise CapReached("personal_monthly", period=month, resets_at=next_month(now))
    elif policy.budget_micros is not None and charged + held + cost > policy.budget_micros:
        raise BudgetExhausted(
            budget_micros=policy.budget_micros,
            spent_micros=charged + held,
            needed_micros=cost,
            resets_at=next_month(now),
        )
    check_caps(db, who.user_id, cost, caps, now)
    return policy, usage


def hold(
    db: sqlite3.Connection, *, scope: int, user_id: int, images: int, cost: int, now: datetime
) -> None:
    """Add a new job's hold to every counter its settle or refund will release."""
    day, month = day_key(now), month_key(now)
    db.execute(
        "INSERT INTO member_usage (guild_id, user_id, day, images_held, cost_held_micros) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
        "images_held = images_held + excluded.images_held, "
        "cost_held_micros = cost_held_micros + excluded.cost_held_micros",
        (scope, user_id, day, images, cost),
    )
    db.execute(
        "INSERT INTO guild_spend (guild_id, month, held_micros) VALUES (?, ?, ?) "
        "ON CONFLICT DO UPDATE SET held_micros = held_micros + excluded.held_micros",
        (scope, month, cost),
    )
    db.execute(
        "INSERT INTO account_spend (user_id, day, held_micros) VALUES (?, ?, ?) "
        "ON CONFLICT DO UPDATE SET held_micros = held_micros + excluded.held_micros",
        (user_id, day, cost),
    )
    db.executemany(
        "INSERT INTO operator_spend (period, held_micros) VALUES (?, ?) "
        "ON CONFLICT DO UPDATE SET held_micros = held_micros + excluded.held_micros",
        ((day, cost), (month, cost)),
    )


def reserve(
    db: sqlite3.Connection,
    spec: JobSpec,
    *,
    estimate: Estimate,
    params_json: str,
    owner: str,
    global_default: int,
    caps: OperatorCaps,
    now: datetime,
) -> Reservation:
    """Check everything check() does; hold images and cost; insert a queued job (and keep
    how to answer its interaction)."""
    who = spec.requester
    scope, day, month = scope_of(who.guild_id), day_key(now), month_key(now)
    cost = estimate.total_micros
    policy, usage = check(db, spec, cost=cost, caps=caps, global_default=global_default, now=now)
    job_id = db.execute(
        "INSERT INTO jobs (user_id, guild_id, channel_id, kind, model, size, quality, params, "
        "owner, day, month, images_asked, images_held, unit_price_micros, cost_held_micros, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (who.user_id, scope, who.channel_id, spec.kind, spec.model, spec.size, spec.quality,
         params_json, owner, day, month, spec.images, spec.images, estimate.unit_micros,
         cost, iso(now)),
    ).lastrowid  # fmt: skip
    if spec.interaction is not None:
        interactions.keep(db, cast(int, job_id), spec.interaction)
    hold(db, scope=scope, user_id=who.user_id, images=spec.images, cost=cost, now=now)
    after = DayUsage(usage.used, usage.held + spec.images, usage.granted)
    return Reservation(
        job_id=cast(int, job_id),
        images_held=spec.images,
        cost_held_micros=cost,
        status=_status(db, scope, who.user_id, policy, after, caps, now),
        result_key=result_key(who.user_id, now),
    )


def first_alert(db: sqlite3.Connection, cap: str, period: str, scope: int, now: datetime) -> bool:
    """Record that a cap reached was told for this period and place; False if it already was."""
    cursor = db.execute(
        "INSERT INTO cap_alerts (cap, period, guild_id, sent_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        (cap, period, scope, iso(now)),
    )
    return cursor.rowcount == 1

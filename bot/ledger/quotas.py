"""The ledger's transaction bodies for quotas: policies, usage, the checks and the hold.

Each public function takes an open transaction (bot/ledger/store.py) and does all its reads
and writes there; the decisions are bot/ledger/rules.py's. The same code runs on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import cast

from bot.core.prices import Estimate
from bot.core.terms import BlockedTerm, find_blocked
from bot.ledger import interactions
from bot.ledger.models import (
    DM_SCOPE,
    CapName,
    JobSpec,
    LedgerRefusal,
    MemberBlocked,
    MemberStatus,
    OperatorCaps,
    Reservation,
    day_key,
    guild_of,
    iso,
    month_key,
    next_day,
    result_key,
    scope_of,
)
from bot.ledger.rules import (
    DayUsage,
    Policy,
    budget_refusal,
    cap_refusal,
    quota_refusal,
    resolve_limit,
)
from bot.ledger.store import Tx

__all__ = ["BLOCK_IN_FORCE", "DayUsage", "Policy"]

log = logging.getLogger(__name__)

# A member_policies row's block is in force (bound to the transaction's time): a block with a
# duration ends by itself, so every reader asks this and nothing runs when it ends.
BLOCK_IN_FORCE = "blocked = 1 AND (blocked_until IS NULL OR blocked_until > ?)"


async def read_policy(
    tx: Tx,
    scope: int,
    user_id: int,
    role_ids: tuple[int, ...],
    global_default: int,
    now: datetime,
) -> Policy:
    """Resolve the member's limit (rules.resolve_limit) and their block, if it is in force at
    `now`, and the guild's budget."""
    if scope == DM_SCOPE:
        return Policy(global_default, "global", False, None, None)
    # One statement: the member's row, the guild's, and their best role's limit.
    best_role, roles = "NULL", None
    if role_ids:
        condition, roles = tx.any_of("role_id", role_ids)
        best_role = (
            f"(SELECT MAX(daily_images) FROM role_limits WHERE guild_id = ? AND {condition})"
        )
    row = await tx.one(
        f"SELECT m.daily_images, {BLOCK_IN_FORCE}, m.block_reason, m.blocked_until, "
        f"g.default_daily_images, g.monthly_budget_micros, {best_role} "
        "FROM (SELECT 1 AS one) AS x "
        "LEFT JOIN member_policies AS m ON m.guild_id = ? AND m.user_id = ? "
        "LEFT JOIN guild_settings AS g ON g.guild_id = ?",
        iso(now), *((scope, roles) if role_ids else ()), scope, user_id, scope,
    )  # fmt: skip
    assert row is not None
    override, blocked, reason, until, guild_default, budget, best = row
    best = None if override is not None else best
    limit, source = resolve_limit(override, best, guild_default, global_default)
    if not blocked:
        return Policy(limit, source, False, None, budget)
    return Policy(limit, source, True, reason, budget, _when(until))


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


async def read_usage(tx: Tx, scope: int, user_id: int, day: str) -> DayUsage:
    """A member's counters for one day (zeros when they have done nothing)."""
    row = await tx.one(
        "SELECT images_charged - images_forgiven, images_held, images_granted "
        "FROM member_usage WHERE guild_id = ? AND user_id = ? AND day = ?",
        scope, user_id, day,
    )  # fmt: skip
    return DayUsage(*row) if row else DayUsage(0, 0, 0)


async def member_month_spend(tx: Tx, scope: int, user_id: int, month: str) -> int:
    """A member's charges in one guild in one month, in micro-dollars."""
    spent = await tx.value(
        "SELECT COALESCE(SUM(cost_charged_micros), 0) FROM member_usage "
        "WHERE guild_id = ? AND user_id = ? AND day BETWEEN ? AND ?",
        scope, user_id, f"{month}-01", f"{month}-31",
    )  # fmt: skip
    return int(spent)


async def guild_month_spend(tx: Tx, scope: int, month: str) -> tuple[int, int]:
    """A guild's (charged, held) micro-dollars in one month."""
    row = await tx.one(
        "SELECT charged_micros, held_micros FROM guild_spend WHERE guild_id = ? AND month = ?",
        scope, month,
    )  # fmt: skip
    return (row[0], row[1]) if row else (0, 0)


async def member_status(
    tx: Tx,
    scope: int,
    user_id: int,
    role_ids: tuple[int, ...],
    global_default: int,
    caps: OperatorCaps,
    now: datetime,
) -> MemberStatus:
    """A member's view of today, as one consistent read."""
    policy = await read_policy(tx, scope, user_id, role_ids, global_default, now)
    usage = await read_usage(tx, scope, user_id, day_key(now))
    month = month_key(now)
    spent = await member_month_spend(tx, scope, user_id, month)
    guild_charged = (await guild_month_spend(tx, scope, month))[0]
    return status_of(scope, user_id, policy, usage, caps, now, spent, guild_charged)


def status_of(
    scope: int,
    user_id: int,
    policy: Policy,
    usage: DayUsage,
    caps: OperatorCaps,
    now: datetime,
    month_spend: int,
    guild_charged: int,
) -> MemberStatus:
    """The member's status from what was read."""
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
        month_spend_micros=month_spend,
        guild_month_spend_micros=guild_charged,
        guild_budget_micros=budget,
        blocked=policy.blocked,
        block_reason=policy.block_reason,
        blocked_until=policy.blocked_until,
        ceiling=caps.max_daily_images,
    )


async def check_caps(tx: Tx, user_id: int, cost: int, caps: OperatorCaps, now: datetime) -> None:
    """Raise CapReached if `cost` more would pass one of the operator's caps."""
    day, month = day_key(now), month_key(now)
    ceilings: tuple[tuple[CapName, int | None, str, str, tuple[object, ...], str], ...] = (
        ("account_daily", caps.account_daily_micros, "account_spend",
         "user_id = ? AND day = ?", (user_id, day), day),
        ("operator_daily", caps.daily_micros, "operator_spend", "period = ?", (day,), day),
        ("operator_monthly", caps.monthly_micros, "operator_spend", "period = ?", (month,), month),
    )  # fmt: skip
    for cap, limit, table, where, args, period in ceilings:
        if limit is None:
            continue
        spent = await tx.value(f"SELECT charged_micros + held_micros FROM {table} WHERE {where}",
                               *args)  # fmt: skip
        refusal = cap_refusal(cap, limit, int(spent or 0), cost, period, now)
        if refusal is not None:
            raise refusal


async def guild_terms(tx: Tx, scope: int) -> list[str]:
    """A guild's blocked terms, alphabetically (none outside guilds)."""
    rows = await tx.all("SELECT term FROM blocked_terms WHERE guild_id = ? ORDER BY term", scope)
    return [row[0] for row in rows]


async def check_request(
    tx: Tx,
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
    await check(tx, spec, cost=cost, caps=caps, global_default=global_default, now=now)
    scope = scope_of(spec.requester.guild_id)
    if prompt is not None and scope != DM_SCOPE:
        term = find_blocked(prompt, await guild_terms(tx, scope))
        if term is not None:
            raise BlockedTerm(term)


async def check(
    tx: Tx,
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
    policy = await read_policy(tx, scope, who.user_id, who.role_ids, global_default, now)
    if policy.blocked:
        raise MemberBlocked(policy.block_reason, until=policy.blocked_until)
    usage = await read_usage(tx, scope, who.user_id, day)
    refusal: LedgerRefusal | None = quota_refusal(spec.images, policy, usage, caps, now)
    if refusal is None:
        charged, held = await guild_month_spend(tx, scope, month)
        refusal = budget_refusal(scope, charged + held, cost, policy, caps, now)
    if refusal is not None:
        raise refusal
    await check_caps(tx, who.user_id, cost, caps, now)
    return policy, usage


async def _hold_member(
    tx: Tx, scope: int, user_id: int, day: str, images: int, cost: int
) -> DayUsage:
    """Add the hold to the member's day; their usage before it."""
    row = await tx.one(
        "INSERT INTO member_usage (guild_id, user_id, day, images_held, cost_held_micros) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id, user_id, day) DO UPDATE SET "
        "images_held = member_usage.images_held + excluded.images_held, "
        "cost_held_micros = member_usage.cost_held_micros + excluded.cost_held_micros "
        "RETURNING images_charged - images_forgiven, images_held, images_granted",
        scope, user_id, day, images, cost,
    )  # fmt: skip
    assert row is not None
    return DayUsage(row[0], row[1] - images, row[2])


# Each adds the hold to shared counters and answers what they charged and held after it.
_HOLD_ACCOUNT = (
    "INSERT INTO account_spend (user_id, day, held_micros) VALUES (?, ?, ?) "
    "ON CONFLICT (user_id, day) DO UPDATE SET "
    "held_micros = account_spend.held_micros + excluded.held_micros "
    "RETURNING charged_micros, held_micros"
)
_HOLD_GUILD = (
    "INSERT INTO guild_spend (guild_id, month, held_micros) VALUES (?, ?, ?) "
    "ON CONFLICT (guild_id, month) DO UPDATE SET "
    "held_micros = guild_spend.held_micros + excluded.held_micros "
    "RETURNING charged_micros, held_micros"
)
# The day's row, then the month's (VALUES are inserted in order): one round trip for both.
_HOLD_OPERATOR = (
    "INSERT INTO operator_spend (period, held_micros) VALUES (?1, ?3), (?2, ?3) "
    "ON CONFLICT (period) DO UPDATE SET "
    "held_micros = operator_spend.held_micros + excluded.held_micros "
    "RETURNING period, charged_micros, held_micros"
)
Counter = tuple[int, int]  # (charged, held) micro-dollars after the hold


async def _hold_shared(
    tx: Tx, scope: int, user_id: int, day: str, month: str, cost: int
) -> tuple[Counter, Counter, dict[str, Counter]]:
    """Hold `cost` on the account's day, the guild's month, and the operator's day and month,
    in the order of bot/ledger/locks.py: (charged, held) of each after the hold."""
    account = await tx.one(_HOLD_ACCOUNT, user_id, day, cost)
    guild = await tx.one(_HOLD_GUILD, scope, month, cost)
    assert account is not None and guild is not None
    operator = {p: (int(c), int(h)) for p, c, h in await tx.all(_HOLD_OPERATOR, day, month, cost)}
    return (int(account[0]), int(account[1])), (int(guild[0]), int(guild[1])), operator


async def reserve(
    tx: Tx,
    spec: JobSpec,
    *,
    estimate: Estimate,
    params_json: str,
    owner: str,
    global_default: int,
    caps: OperatorCaps,
    now: datetime,
) -> Reservation:
    """Refuse what check() refuses; else hold images and cost and insert a queued job (and
    keep how to answer its interaction).

    Each counter is held first and checked after, on what it held before (the rules of
    check()): the write takes the counter's row lock, so where writers are not serialised
    (PostgreSQL) no other reservation can come between this check and this hold, and a
    refusal rolls the whole transaction back. The counters go in the one order of
    bot/ledger/locks.py, the shared ones (account, guild, operator) last and the busiest last
    of all: each is locked from its hold to the commit, and other reservations wait for it.
    """
    who = spec.requester
    scope, day, month = scope_of(who.guild_id), day_key(now), month_key(now)
    cost, images = estimate.total_micros, spec.images
    policy = await read_policy(tx, scope, who.user_id, who.role_ids, global_default, now)
    if policy.blocked:
        raise MemberBlocked(policy.block_reason, until=policy.blocked_until)
    usage = await _hold_member(tx, scope, who.user_id, day, images, cost)
    refused: LedgerRefusal | None = quota_refusal(images, policy, usage, caps, now)
    if refused is not None:
        raise refused
    month_spend = await member_month_spend(tx, scope, who.user_id, month)
    job_id: int = await tx.value(
        "INSERT INTO jobs (user_id, guild_id, channel_id, kind, model, size, quality, params, "
        "owner, day, month, images_asked, images_held, unit_price_micros, cost_held_micros, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        who.user_id, scope, who.channel_id, spec.kind, spec.model, spec.size, spec.quality,
        params_json, owner, day, month, images, images, estimate.unit_micros,
        cost, iso(now),
    )  # fmt: skip
    if spec.interaction is not None:
        await interactions.keep(tx, job_id, spec.interaction)
    account, guild, operator = await _hold_shared(tx, scope, who.user_id, day, month, cost)
    # Judged on what each had spent before this hold, in check()'s order (the same refusal).
    refused = budget_refusal(scope, sum(guild) - cost, cost, policy, caps, now)
    for cap, limit, counter, period in (
        ("account_daily", caps.account_daily_micros, account, day),
        ("operator_daily", caps.daily_micros, operator[day], day),
        ("operator_monthly", caps.monthly_micros, operator[month], month),
    ):
        spent = sum(counter) - cost
        refused = refused or cap_refusal(cast(CapName, cap), limit, spent, cost, period, now)
    if refused is not None:
        raise refused
    after = DayUsage(usage.used, usage.held + images, usage.granted)
    return Reservation(
        job_id=job_id,
        images_held=images,
        cost_held_micros=cost,
        status=status_of(scope, who.user_id, policy, after, caps, now, month_spend, guild[0]),
        result_key=result_key(who.user_id, now),
    )


async def first_alert(tx: Tx, cap: str, period: str, scope: int, now: datetime) -> bool:
    """Record that a cap reached was told for this period and place; False if it already was."""
    added = await tx.run(
        "INSERT INTO cap_alerts (cap, period, guild_id, sent_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        cap, period, scope, iso(now),
    )  # fmt: skip
    return added == 1

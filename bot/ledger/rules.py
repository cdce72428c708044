"""The ledger's decisions as plain functions of what a transaction read: no SQL, no clock.

Both stores run the same transaction bodies (bot/ledger/store.py); these are the rules those
bodies apply: which limit counts, what is left, which refusal a request gets, what a settle
charges, when the budget alert is due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.ledger.models import (
    DM_SCOPE,
    BudgetExhausted,
    CapName,
    CapReached,
    LedgerRefusal,
    LimitSource,
    OperatorCaps,
    QuotaExceeded,
    month_key,
    next_day,
    next_month,
)


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


def resolve_limit(
    override: int | None, best_role: int | None, guild_default: int | None, global_default: int
) -> tuple[int, LimitSource]:
    """Member override > best role limit > guild default > global default."""
    if override is not None:
        return override, "member"
    if best_role is not None:
        return best_role, "role"
    if guild_default is not None:
        return guild_default, "guild"
    return global_default, "global"


def allowance(policy: Policy, usage: DayUsage, caps: OperatorCaps) -> int:
    """Today's images: the limit plus grants, within the operator's ceiling."""
    allowed = policy.limit + usage.granted
    return allowed if caps.max_daily_images is None else min(allowed, caps.max_daily_images)


def quota_refusal(
    images: int, policy: Policy, usage: DayUsage, caps: OperatorCaps, now: datetime
) -> QuotaExceeded | None:
    """The refusal of `images` more today, or None when they fit."""
    allowed = allowance(policy, usage, caps)
    left = allowed - usage.used - usage.held
    if images <= left:
        return None
    return QuotaExceeded(
        limit=allowed,
        used=usage.used + usage.held,
        remaining=max(0, left),
        asked=images,
        resets_at=next_day(now),
    )


def budget_refusal(
    scope: int, spent: int, cost: int, policy: Policy, caps: OperatorCaps, now: datetime
) -> LedgerRefusal | None:
    """The guild's budget (or, in DMs, the personal cap) against `spent` (charged + held)."""
    if scope == DM_SCOPE:
        personal = caps.personal_monthly_micros
        if personal is not None and spent + cost > personal:
            return CapReached("personal_monthly", period=month_key(now), resets_at=next_month(now))
        return None
    if policy.budget_micros is not None and spent + cost > policy.budget_micros:
        return BudgetExhausted(
            budget_micros=policy.budget_micros,
            spent_micros=spent,
            needed_micros=cost,
            resets_at=next_month(now),
        )
    return None


def cap_refusal(
    cap: CapName, limit: int | None, spent: int, cost: int, period: str, now: datetime
) -> CapReached | None:
    """One operator cap against what its period spent (charged + held)."""
    if limit is None or spent + cost <= limit:
        return None
    resets_at = next_month(now) if cap == "operator_monthly" else next_day(now)
    return CapReached(cap, period=period, resets_at=resets_at)


def charge(actual: int, held: int) -> tuple[int, int]:
    """What a settle charges of the usage's cost, and the overrun above the hold.

    The hold is a pre-authorisation: the guild and member are charged at most what was held,
    so a month's charges never pass its budget even when the usage cost more than estimated.
    """
    charged = min(actual, held)
    return charged, actual - charged


def budget_alert_due(charged: int, budget: int | None, alerted_for: int | None) -> bool:
    """True once per month and budget: for the settle that brings charges to 80% of it."""
    if budget is None or charged * 5 < budget * 4:
        return False
    # Raising the budget re-arms the alert for the new figure; anything else stays quiet.
    return alerted_for is None or alerted_for < budget

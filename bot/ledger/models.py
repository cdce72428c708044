"""The ledger's plain data, its member-facing errors, and UTC period arithmetic."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from bot.core.errors import BotError
from bot.core.models import JobKind

LimitSource = Literal["member", "role", "guild", "global"]
# A job is open while queued or running; every other status is final.
OPEN_STATUSES = ("queued", "running")
REFUND_STATUSES = ("failed", "cancelled", "expired", "interrupted")
DM_SCOPE = 0  # guild_id stored for direct messages and user-installed contexts
# A charged job's images: being sent (or cut off by a stop), all sent, or kept for the member.
Delivery = Literal["pending", "delivered", "waiting"]
# The operator's caps, by the names cap_alerts and the log use.
CapName = Literal["operator_daily", "operator_monthly", "account_daily", "personal_monthly"]
# How long Discord accepts an interaction's token (its webhook), from the interaction's creation.
TOKEN_LIFETIME = timedelta(minutes=15)


def scope_of(guild_id: int | None) -> int:
    """The guild key stored in the database: the guild id, or 0 for direct messages."""
    return DM_SCOPE if guild_id is None else guild_id


def guild_of(scope: int) -> int | None:
    """The inverse of scope_of."""
    return None if scope == DM_SCOPE else scope


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime (a naive one is taken to be UTC already)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def day_key(moment: datetime) -> str:
    """The image period: the UTC calendar day, 'YYYY-MM-DD'."""
    return utc(moment).date().isoformat()


def month_key(moment: datetime) -> str:
    """The budget period: the UTC calendar month, 'YYYY-MM'."""
    return utc(moment).strftime("%Y-%m")


def next_day(moment: datetime) -> datetime:
    """The next UTC midnight: when daily image limits reset."""
    return datetime.combine(utc(moment).date() + timedelta(days=1), time(), tzinfo=UTC)


def next_month(moment: datetime) -> datetime:
    """The start of the next UTC month: when guild budgets reset."""
    now = utc(moment)
    first = date(now.year + now.month // 12, now.month % 12 + 1, 1)
    return datetime.combine(first, time(), tzinfo=UTC)


def iso(moment: datetime) -> str:
    """How times are stored: ISO-8601 UTC with milliseconds."""
    return utc(moment).isoformat(timespec="milliseconds")


def result_key(user_id: int, created_at: datetime) -> str:
    """Ties a job's kept images to its row: a store outliving its database never mixes jobs."""
    return f"{user_id}:{iso(created_at)}"


def usd(micros: int) -> float:
    """Micro-dollars as USD, for display."""
    return micros / 1_000_000


@dataclass(frozen=True, slots=True)
class OperatorCaps:
    """The operator's ceiling over every scope (micro-dollars, images); None: no cap."""

    daily_micros: int | None = None
    monthly_micros: int | None = None
    account_daily_micros: int | None = None
    personal_monthly_micros: int | None = None
    max_daily_images: int | None = None


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks, and where: roles decide the limit, the channel receives restart notices."""

    user_id: int
    guild_id: int | None
    role_ids: tuple[int, ...] = ()
    channel_id: int | None = None


@dataclass(frozen=True, slots=True)
class InteractionToken:
    """How to answer a job's interaction without its process: its webhook and creation time.

    The token lets anyone answer as the bot until TOKEN_LIFETIME has passed: a secret, kept
    out of every repr (and so out of logs and error texts).
    """

    application_id: int
    token: str = field(repr=False)
    created_at: datetime  # when Discord created the interaction (its snowflake's time)
    # The asker's client language (Discord's code, `de`); an interrupted request is answered
    # in it after a restart. None: not known (kept before migration 0010).
    locale: str | None = None


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What a job will ask the API for; params (incl. the prompt) are stored as JSON."""

    requester: Requester
    kind: JobKind
    model: str
    images: int
    size: str | None
    quality: str | None
    params: Mapping[str, Any] = field(default_factory=dict)
    # Inputs that the usage-based cost includes; they enlarge the hold (see bot/core/prices.py).
    input_images: int = 0
    partial_images: int = 0
    # The deferred interaction the job answers: stored while the job is open (see reserve).
    interaction: InteractionToken | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class MemberStatus:
    """Where a member stands today in one guild (or in DMs)."""

    user_id: int
    guild_id: int | None
    day: str
    limit: int
    limit_source: LimitSource
    granted: int
    used: int
    held: int
    resets_at: datetime
    month_spend_micros: int
    guild_month_spend_micros: int
    guild_budget_micros: int | None
    blocked: bool = False
    block_reason: str | None = None
    blocked_until: datetime | None = None  # when the block ends; None: until unblocked
    ceiling: int | None = None  # the operator's MAX_DAILY_IMAGES, above every grant

    @property
    def allowance(self) -> int:
        """Today's limit plus today's grants, within the operator's ceiling."""
        allowed = self.limit + self.granted
        return allowed if self.ceiling is None else min(allowed, self.ceiling)

    @property
    def remaining(self) -> int:
        """Images the member may still ask for today."""
        if self.blocked:
            return 0
        return max(0, self.allowance - self.used - self.held)

    @property
    def month_spend_usd(self) -> float:
        """This member's charges in this guild this month."""
        return usd(self.month_spend_micros)

    @property
    def guild_month_spend_usd(self) -> float:
        """The guild's charges this month."""
        return usd(self.guild_month_spend_micros)

    @property
    def guild_budget_usd(self) -> float | None:
        """The guild's monthly budget, if it has one."""
        return None if self.guild_budget_micros is None else usd(self.guild_budget_micros)


@dataclass(frozen=True, slots=True)
class Reservation:
    """A held job: its id, what it holds, and the member's status after the hold."""

    job_id: int
    images_held: int
    cost_held_micros: int
    status: MemberStatus
    result_key: str = ""  # see result_key(): names the job's images in the results store

    @property
    def cost_held_usd(self) -> float:
        """The held estimate in USD."""
        return usd(self.cost_held_micros)


@dataclass(frozen=True, slots=True)
class Settlement:
    """What a settle charged; already_ended means it was a repeat and changed nothing."""

    job_id: int
    status: str
    images_charged: int
    cost_charged_micros: int
    cost_actual_micros: int
    budget_alert: bool = False
    guild_month_spend_micros: int = 0
    guild_budget_micros: int | None = None
    already_ended: bool = False

    @property
    def cost_charged_usd(self) -> float:
        """The charge in USD."""
        return usd(self.cost_charged_micros)


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One row of the jobs table, as later issues read it (result buttons, notices, history)."""

    id: int
    user_id: int
    guild_id: int | None
    channel_id: int | None
    kind: JobKind
    model: str
    size: str | None
    quality: str | None
    params: dict[str, Any]
    status: str
    images_asked: int
    images_held: int
    images_charged: int
    cost_held_micros: int
    cost_charged_micros: int
    cost_actual_micros: int
    error: str | None
    result_channel_id: int | None
    result_message_id: int | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    delivery: Delivery | None = None
    images_sent: int = 0
    delivered_at: datetime | None = None

    @property
    def result_key(self) -> str:
        """The key its images are kept under in the results store."""
        return result_key(self.user_id, self.created_at)

    @property
    def cost_charged_usd(self) -> float:
        """The charge in USD."""
        return usd(self.cost_charged_micros)


class UnknownJob(LookupError):
    """No job has this id (a programming error, not a member's)."""


class LedgerRefusal(BotError):
    """A request the ledger refuses; it carries data, and bot/discord/wording.py words it."""


class QuotaExceeded(LedgerRefusal):
    """The member asked for more images than are left today."""

    def __init__(
        self, *, limit: int, used: int, remaining: int, asked: int, resets_at: datetime
    ) -> None:
        self.limit, self.used, self.remaining = limit, used, remaining
        self.asked, self.resets_at = asked, resets_at
        super().__init__(f"asked for {asked} images with {remaining} of {limit} left today")


class MemberBlocked(LedgerRefusal):
    """A moderator blocked this member from generating images in this server."""

    def __init__(self, reason: str | None, *, until: datetime | None = None) -> None:
        self.reason, self.until = reason, until  # until None: until a moderator unblocks
        super().__init__("blocked by a moderator")


class BudgetExhausted(LedgerRefusal):
    """The guild's monthly budget cannot cover this request."""

    def __init__(
        self, *, budget_micros: int, spent_micros: int, needed_micros: int, resets_at: datetime
    ) -> None:
        self.budget_micros, self.spent_micros = budget_micros, spent_micros
        self.needed_micros, self.resets_at = needed_micros, resets_at
        # The member's choices whose undoing would fit (bot/ledger/holds.py); () for none.
        self.cheaper: tuple[str, ...] = ()
        super().__init__(f"the monthly budget cannot cover {needed_micros} micro-USD more")


class CapReached(LedgerRefusal):
    """One of the operator's caps cannot cover this request: refused before any charge."""

    def __init__(self, cap: CapName, *, period: str, resets_at: datetime) -> None:
        self.cap, self.period, self.resets_at = cap, period, resets_at
        super().__init__(f"the operator's cap {cap} is reached for {period}")

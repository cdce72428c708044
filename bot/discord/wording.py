"""Discord's markup, money for people, and the words for the ledger's refusals.

The ledger's refusals (bot/ledger/models.py) carry data: limits, amounts, reset times. What a
member reads about them is written here, once, with Discord's self-localising timestamps.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.errors import BotError
from bot.ledger.models import BudgetExhausted, CapName, CapReached, MemberBlocked, QuotaExceeded

_CAP_TEXTS: dict[CapName, str] = {
    "operator_daily": "The bot has reached the spending limit its owner set for today.",
    "operator_monthly": "The bot has reached the spending limit its owner set for this month.",
    "account_daily": (
        "You have reached today's spending limit for your account, which counts every server "
        "and direct message together."
    ),
    "personal_monthly": (
        "Requests outside servers that added the bot (direct messages and the app on your "
        "account) have reached this month's spending limit set by the bot's owner."
    ),
}


def discord_timestamp(moment: datetime, style: str = "R") -> str:
    """Discord's self-localising timestamp markup, e.g. <t:1700000000:R> ("in 5 hours")."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return f"<t:{int(aware.timestamp())}:{style}>"


def jump_url(guild_id: int | None, channel_id: int | None, message_id: int | None) -> str | None:
    """A link to a message, once there is one (guild None: a direct message)."""
    if channel_id is None or message_id is None:
        return None
    where = "@me" if guild_id is None else str(guild_id)
    return f"https://discord.com/channels/{where}/{channel_id}/{message_id}"


def format_usd(micros: int) -> str:
    """US$ for people: cents, or tenths of cents below a dime so small prices do not read 0."""
    return f"${micros / 1_000_000:,.2f}" if micros >= 100_000 else f"${micros / 1_000_000:.3f}"


def member_text(error: BotError) -> str:
    """What the member reads about an error: the ledger's refusals worded here, others as is."""
    if isinstance(error, QuotaExceeded):
        return quota_text(error)
    if isinstance(error, MemberBlocked):
        because = f" Reason: {error.reason}" if error.reason else ""
        ends = f" until {discord_timestamp(error.until, 'f')}" if error.until is not None else ""
        return f"A moderator has blocked you from making images in this server{ends}." + because
    if isinstance(error, BudgetExhausted):
        return budget_text(error)
    if isinstance(error, CapReached):
        resets = discord_timestamp(error.resets_at)
        return f"{_CAP_TEXTS[error.cap]} It resets {resets}. Nothing was charged."
    return error.user_message


def quota_text(error: QuotaExceeded) -> str:
    """No images left today (or fewer than asked): how many are left, and when they reset."""
    reset = f"They reset {discord_timestamp(error.resets_at)}."
    if error.limit == 0:
        return "You cannot make images here: a moderator set your images a day to 0."
    if error.remaining == 0:
        return f"You have used all {error.limit} of your images today. {reset}"
    return (
        f"You asked for {error.asked} images but have {error.remaining} of your {error.limit} "
        f"images left today: ask for {error.remaining} or fewer. {reset}"
    )


def budget_text(error: BudgetExhausted) -> str:
    """The server's monthly image budget cannot cover the request: in images' words, no
    dollars; cheaper choices only when the member made dearer ones and undoing them fits."""
    reset = f"It resets {discord_timestamp(error.resets_at)}, or a moderator can raise it."
    if not error.cheaper:
        return f"This server has reached its monthly image budget. {reset}"
    *most, last = error.cheaper
    changes = f"{', '.join(most)} and {last}" if most else last
    return (
        "What is left of this server's monthly image budget is not enough for this request; "
        f"with {changes} it fits. {reset}"
    )

"""Discord's markup, money for people, and the words for the ledger's refusals.

The ledger's refusals (bot/ledger/models.py) carry data: limits, amounts, reset times. What a
member reads about them is written here, once, with Discord's self-localising timestamps.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.errors import BadValue, BotError
from bot.discord.value_texts import bad_value_text
from bot.i18n import N_, _, ngettext
from bot.i18n.numbers import money, number
from bot.ledger.models import BudgetExhausted, CapName, CapReached, MemberBlocked, QuotaExceeded

_CAP_TEXTS: dict[CapName, str] = {
    "operator_daily": N_("The bot has reached the spending limit its owner set for today."),
    "operator_monthly": N_("The bot has reached the spending limit its owner set for this month."),
    "account_daily": N_(
        "You have reached today's spending limit for your account, which counts every server "
        "and direct message together."
    ),
    "personal_monthly": N_(
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
    """US$ for people: cents, or tenths of cents below a dime so small prices do not read 0;
    written as the language being spoken writes money (bot.i18n.numbers)."""
    return money(micros)


def member_text(error: BotError) -> str:
    """What the member reads about an error: the ledger's refusals and moderators' bad values
    worded here, others as is."""
    if isinstance(error, QuotaExceeded):
        return quota_text(error)
    if isinstance(error, MemberBlocked):
        return blocked_text(error)
    if isinstance(error, BudgetExhausted):
        return budget_text(error)
    if isinstance(error, CapReached):
        resets = discord_timestamp(error.resets_at)
        return _("{limit} It resets {when}. Nothing was charged.").format(
            limit=_(_CAP_TEXTS[error.cap]), when=resets
        )
    if isinstance(error, BadValue):
        return bad_value_text(error)
    return error.user_message


def blocked_text(error: MemberBlocked) -> str:
    """A block, with its end and the moderator's reason when there are."""
    return block_sentence(error.until, error.reason)


def block_sentence(until: datetime | None, reason: str | None, *, here: bool = False) -> str:
    """`A moderator has blocked you from making images in this server (here) until <t:…:f>.
    Reason: …`, without the end or the reason when there is none."""
    if until is not None:
        if here:
            text = _("A moderator has blocked you from making images here until {when}.")
        else:
            text = _("A moderator has blocked you from making images in this server until {when}.")
        text = text.format(when=discord_timestamp(until, "f"))
    elif here:
        text = _("A moderator has blocked you from making images here.")
    else:
        text = _("A moderator has blocked you from making images in this server.")
    if reason:
        text += " " + _("Reason: {reason}").format(reason=reason)
    return text


def quota_text(error: QuotaExceeded) -> str:
    """No images left today (or fewer than asked): how many are left, and when they reset."""
    reset = _("They reset {when}.").format(when=discord_timestamp(error.resets_at))
    if error.limit == 0:
        return _("You cannot make images here: a moderator set your images a day to 0.")
    if error.remaining == 0:
        used = ngettext(
            "You have used all {limit} of your images today.",
            "You have used all {limit} of your images today.",
            error.limit,
        )
        return f"{used.format(limit=number(error.limit))} {reset}"
    fewer = ngettext(
        "You asked for {asked} images but have {remaining} of your {limit} images left today: "
        "ask for {remaining} or fewer.",
        "You asked for {asked} images but have {remaining} of your {limit} images left today: "
        "ask for {remaining} or fewer.",
        error.remaining,
    )
    counts = {name: number(getattr(error, name)) for name in ("asked", "remaining", "limit")}
    return f"{fewer.format(**counts)} {reset}"


def budget_text(error: BudgetExhausted) -> str:
    """The server's monthly image budget cannot cover the request: in images' words, no
    dollars; cheaper choices only when the member made dearer ones and undoing them fits."""
    reset = _("It resets {when}, or a moderator can raise it.").format(
        when=discord_timestamp(error.resets_at)
    )
    if not error.cheaper:
        return _("This server has reached its monthly image budget.") + " " + reset
    *most, last = [_(change) for change in error.cheaper]  # N_ in bot/ledger/holds.py
    changes = _("{first} and {last}").format(first=", ".join(most), last=last) if most else last
    text = _(
        "What is left of this server's monthly image budget is not enough for this request; "
        "with {changes} it fits."
    )
    return f"{text.format(changes=changes)} {reset}"

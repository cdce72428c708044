"""The base of every error whose text is meant for the member who asked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NoReturn

from bot.i18n import _


class BotError(Exception):
    """An error carrying a message that is safe and useful to show a Discord member."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


def our_fault(reference: str) -> str:
    """What a member reads when something unexpected failed: `reference` finds it in the log."""
    return _(
        "Something went wrong on our side and nothing was charged. If it keeps happening, "
        "tell a moderator the reference `{reference}`."
    ).format(reference=reference)


class InvalidRequest(BotError):
    """The member's options or files cannot be sent as they are; the message says what to change."""

    def __init__(self, user_message: str, *, field: str | None = None) -> None:
        super().__init__(user_message)
        self.field = field


# The moderators' values the bot refuses, each with its bounds (bot/discord/value_texts.py).
ValueKind = Literal[
    "daily_limit",  # a member's, a role's or the server's daily limit: least..most images
    "owner_ceiling",  # a daily limit above the owner's MAX_DAILY_IMAGES: most images
    "grant",  # extra images for today: least..most
    "block_days",  # a block's length: a minute to most days
    "budget_usd",  # a monthly budget: least..most US$
    "term_empty",  # a blocked term that reads as nothing (or a lone `*`)
    "term_wildcard",  # a blocked term with `*` inside it
    "term_length",  # a blocked term longer than most characters
    "terms_full",  # a server already blocking the most terms it can (most)
    "server_only",  # quotas managed outside a server
]


class BadValue(InvalidRequest):
    """A moderator's value the bot does not take: which one and its bounds, as data. The words
    are chosen where the reply is made, in the moderator's language; the message is for logs."""

    def __init__(self, kind: ValueKind, *, least: int | None = None, most: int | None = None):
        super().__init__(f"bad value: {kind} (least {least}, most {most})", field=kind)
        self.kind, self.least, self.most = kind, least, most


def refuse(field: str, message: str) -> NoReturn:
    """Raise InvalidRequest for this option or file, with what to change."""
    raise InvalidRequest(message, field=field)


def shown(value: str, limit: int = 40) -> str:
    """A member's value echoed back: one line, no code ticks to break formatting, short."""
    text = "".join(ch if ch.isprintable() else " " for ch in value).replace("`", "'").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def or_list(items: Sequence[str]) -> str:
    """`a`, `a or b`, `a, b or c`."""
    if len(items) < 2:
        return "".join(items) or _("nothing")
    return _("{first} or {last}").format(first=", ".join(items[:-1]), last=items[-1])

"""The base of every error whose text is meant for the member who asked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

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

"""The member's language: one translation function keyed by the locale being spoken.

Texts are written in English where they are used and marked for extraction: `_("...")` where
they are made, `N_("...")` for constants translated later with `_(CONSTANT)`. The locale is
the interaction's (`interaction.locale`), or the guild's for a channel message with no
interaction: bot.discord sets it once where an interaction arrives (`speak`), and reporters and
notices with `speaking(locale)` around what they send. Nothing set means English. Translate
first, then format: `_("{count} left").format(count=number(3))`, so a catalog moves fields.

Logs stay English: never pass a log message through `_`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from bot.i18n.catalogs import translations
from bot.i18n.locales import CATALOGS, ENGLISH, resolve

_SPOKEN: ContextVar[str] = ContextVar("spoken_locale", default=ENGLISH)


def N_(message: str) -> str:  # gettext's name for the marker
    """Mark a text for extraction without translating it (translate it where it is used)."""
    return message


def spoken() -> str:
    """The Discord locale being spoken now (English when none was set or we lack it)."""
    return _SPOKEN.get()


def set_spoken(locale: str | None) -> None:
    """Speak `locale` from here to the end of the current task (an interaction's handler)."""
    _SPOKEN.set(resolve(locale))


@contextmanager
def speaking(locale: str | None) -> Iterator[str]:
    """Speak `locale` inside the block (a job's reporter, a notice to a guild's channel)."""
    token = _SPOKEN.set(resolve(locale))
    try:
        yield _SPOKEN.get()
    finally:
        _SPOKEN.reset(token)


def _(message: str) -> str:
    """`message` in the language being spoken; itself when that language lacks it."""
    return translations(_SPOKEN.get()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The form of a counted message for `count` in the language being spoken."""
    return translations(_SPOKEN.get()).ngettext(singular, plural, count)


def translate(message: str, locale: str | None) -> str:
    """`message` in a given locale (command descriptions, synced for every locale at once)."""
    return translations(resolve(locale)).gettext(message)


def every_translation(message: str) -> frozenset[str]:
    """`message` in every shipped language, English included: to recognise a text the bot
    wrote earlier in whichever language it spoke then (a result embed's field name)."""
    return frozenset(translate(message, locale) for locale in (ENGLISH, *CATALOGS))


__all__ = [
    "N_",
    "_",
    "every_translation",
    "ngettext",
    "set_spoken",
    "speaking",
    "spoken",
    "translate",
]

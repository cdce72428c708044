"""Calendar words as the language being spoken writes them (Babel, CLDR data): a month and
its year, a day of a month. Moments people act on stay Discord timestamps (`<t:…:R>`), which
every client shows in its own language and zone."""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_skeleton

from bot.i18n import spoken
from bot.i18n.locales import babel_locale


def month_year(month: str) -> str:
    """'2026-06' as 'June 2026' (Juni 2026, 2026年6月)."""
    first = datetime.strptime(month, "%Y-%m").date()
    return format_skeleton("yMMMM", first, locale=babel_locale(spoken()))


def day_of_month(day: date) -> str:
    """A day as 'June 3' (3. Juni, 6月3日)."""
    return format_skeleton("MMMMd", day, locale=babel_locale(spoken()))

"""Numbers and money as the language being spoken writes them (Babel, CLDR data)."""

from __future__ import annotations

from copy import copy
from decimal import Decimal
from functools import cache

from babel import Locale
from babel.numbers import format_currency, format_decimal

from bot.i18n import spoken
from bot.i18n.locales import babel_locale

MICROS = 1_000_000
DIME = 100_000  # below a dime money shows tenths of cents, so small prices do not read 0


@cache
def _locale(locale: str) -> Locale:
    return Locale.parse(babel_locale(locale))


def number(value: int | float, *, places: int | None = None) -> str:
    """A count or amount with the locale's digit grouping and decimal sign (12,345 / 12.345);
    with `places`, always that many decimals (`3.0`)."""
    pattern = None if places is None else "#,##0." + "0" * places if places else "#,##0"
    return format_decimal(value, format=pattern, locale=_locale(spoken()))


def money(micros: int, *, plain_zero: bool = False) -> str:
    """US$ from micro-dollars: cents, or tenths of cents below a dime, in the locale's way
    ($1,234.50 / 1.234,50 $ / US$0.042); with `plain_zero`, nothing reads $0.00."""
    locale = _locale(spoken())
    amount = Decimal(micros) / MICROS
    if micros >= DIME or (plain_zero and micros == 0):
        return format_currency(amount, "USD", locale=locale)
    pattern = copy(locale.currency_formats["standard"])
    pattern.frac_prec = (3, 3)
    return str(pattern.apply(amount, locale, currency="USD", currency_digits=False))

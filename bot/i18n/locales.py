"""Which of Discord's locales the bot speaks, and the catalog and Babel locale behind each."""

from __future__ import annotations

ENGLISH = "en-US"
# Discord's locale codes -> the folder of their catalog under bot/i18n/locales (Babel's names).
# Latin American Spanish reads the Spanish catalog: closer to the member than English.
CATALOGS: dict[str, str] = {
    "de": "de",
    "es-ES": "es",
    "es-419": "es",
    "fr": "fr",
    "pt-BR": "pt_BR",
    "ja": "ja",
    "zh-CN": "zh_CN",
}
# The catalogs that ship, in the order the README lists them.
SHIPPED: tuple[str, ...] = ("de", "es", "fr", "pt_BR", "ja", "zh_CN")


def resolve(locale: str | None) -> str:
    """The Discord locale to speak for `locale`: itself when a catalog covers it, else English
    (Discord sends locales we lack, and a channel message may have none)."""
    if locale is None:
        return ENGLISH
    return locale if locale in CATALOGS else ENGLISH


def catalog_of(locale: str) -> str | None:
    """The catalog folder for a Discord locale; None for English (the messages themselves)."""
    return CATALOGS.get(locale)


def babel_locale(locale: str) -> str:
    """The Babel locale that formats numbers and money for a Discord locale."""
    return CATALOGS.get(locale, "en_US")

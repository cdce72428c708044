"""The gettext catalogs: `.po` sources shipped in the package, compiled in memory at first use.

No build step and nothing generated in git: Babel reads the `.po` and writes the `.mo` into a
buffer that `gettext` reads. A translation whose placeholders differ from its message's is left
out (with a warning), so a slip in a catalog falls back to English instead of failing a reply.
"""

from __future__ import annotations

import gettext
import io
import logging
import string
from functools import cache
from importlib import resources

from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.i18n.locales import catalog_of

log = logging.getLogger(__name__)

DOMAIN = "messages"


def placeholders(text: str) -> set[str]:
    """The `str.format` fields of a text, with their conversion and format spec: `{limit:,}`."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        return {"<unbalanced braces>"}
    return {
        f"{name}!{conversion or ''}:{spec or ''}"
        for _literal, name, spec, conversion in parsed
        if name is not None
    }


def _forms(message: Message) -> tuple[list[str], list[str]]:
    """A message's id and string as lists of forms (one, or a plural's several)."""
    ids = message.id if isinstance(message.id, tuple | list) else [message.id]
    strings = message.string if isinstance(message.string, tuple | list) else [message.string]
    return [str(text) for text in ids], [str(text or "") for text in strings]


def usable(message: Message) -> bool:
    """A translation to use: complete, not fuzzy, every form with its message's placeholders."""
    ids, strings = _forms(message)
    if message.fuzzy or not all(strings):
        return False
    allowed = [placeholders(text) for text in ids]
    return all(placeholders(text) in allowed for text in strings)


def po_path(folder: str) -> resources.abc.Traversable:
    """Where a catalog's `.po` source lives inside the package."""
    return resources.files("bot.i18n").joinpath("locales", folder, "LC_MESSAGES", f"{DOMAIN}.po")


def read_catalog(folder: str) -> Catalog:
    """A shipped catalog as Babel reads it."""
    with po_path(folder).open("rb") as source:
        return read_po(source, locale=folder, domain=DOMAIN)


def compile_catalog(catalog: Catalog) -> gettext.GNUTranslations:
    """The usable translations of a catalog, compiled in memory."""
    kept = Catalog(locale=catalog.locale, domain=DOMAIN)
    kept.mime_headers = catalog.mime_headers
    for message in catalog:
        if not message.id:
            continue
        if usable(message):
            kept[message.id] = message
        elif all(_forms(message)[1]) and not message.fuzzy:
            log.warning("catalog %s: placeholders differ in %r", catalog.locale, message.id)
    buffer = io.BytesIO()
    write_mo(buffer, kept)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The translations for a Discord locale; English (the messages as written) when it has no
    catalog or its catalog cannot be read."""
    folder = catalog_of(locale)
    if folder is None:
        return gettext.NullTranslations()
    try:
        return compile_catalog(read_catalog(folder))
    except (OSError, ValueError) as error:
        log.error("catalog %s could not be loaded (%s); English used", folder, error)
        return gettext.NullTranslations()

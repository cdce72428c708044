"""The catalogs against the code: every member-facing text extracted is in the template (the
English catalog), every shipped language has every message, and no translation drops or renames
a placeholder; the fallbacks to English; numbers and money per locale."""

from __future__ import annotations

import gettext
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from discord.app_commands import Choice, Command, Group, locale_str
from discord.ext import commands

import cogs._options
import cogs.edit
import cogs.imagine
import cogs.queue
import cogs.quota
import cogs.quota_admin
import cogs.results
from bot.i18n import N_, _, every_translation, ngettext, speaking, translate
from bot.i18n.catalogs import compile_catalog, placeholders, read_catalog, translations
from bot.i18n.locales import CATALOGS, SHIPPED
from bot.i18n.numbers import money, number

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "bot" / "i18n" / "locales" / "messages.pot"
COGS = (cogs.edit, cogs.imagine, cogs.queue, cogs.quota, cogs.quota_admin, cogs.results)


def _id(message_id: str | tuple[str, ...]) -> str:
    return message_id[0] if isinstance(message_id, tuple) else message_id


def template() -> Catalog:
    with TEMPLATE.open("rb") as source:
        return read_po(source)


def extracted() -> set[str]:
    """What `pybabel extract -F babel.cfg .` finds in the code now."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = extract_from_dir(str(ROOT), method_map, options_map)
    return {_id(message) for _file, _line, message, _comments, _context in found}


def test_every_text_in_the_code_is_in_the_template_and_nothing_stale() -> None:
    in_code = extracted()
    in_template = {_id(m.id) for m in template() if m.id}
    missing = sorted(in_code - in_template)
    stale = sorted(in_template - in_code)
    assert not missing, f"run `pybabel extract` (README, Languages): missing {missing[:10]}"
    assert not stale, f"run `pybabel extract` (README, Languages): stale {stale[:10]}"


def _command_texts() -> set[str]:
    """The descriptions and choice names discord.py sends for every command of every cog."""
    texts: set[str] = set()

    def walk(item: Command[..., ..., ...] | Group) -> None:
        texts.add(item.description)
        if isinstance(item, Group):
            for child in item.commands:
                walk(child)  # type: ignore[arg-type]
            return
        for parameter in item.parameters:
            texts.add(parameter.description)
            for choice in parameter.choices:
                texts.add(_choice_text(choice))

    for module in COGS:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, commands.Cog):
                if value.__cog_is_app_commands_group__:
                    texts.add(value.__cog_group_description__)
                for command in value.__cog_app_commands__:
                    walk(command)
    return {text for text in texts if text and text != "…"}


def _choice_text(choice: Choice[str]) -> str:
    name = choice._locale_name or locale_str(choice.name)
    aspect = name.extras.get("aspect")
    return str(aspect) if aspect is not None else name.message


def test_every_command_text_is_extracted() -> None:
    in_template = {_id(m.id) for m in template() if m.id}
    texts = _command_texts()
    assert len(texts) > 40
    assert sorted(texts - in_template) == []


@pytest.mark.parametrize("folder", SHIPPED)
def test_each_language_translates_every_message_with_its_placeholders(folder: str) -> None:
    catalog = read_catalog(folder)
    wanted = {_id(m.id) for m in template() if m.id}
    have = {_id(m.id): m for m in catalog if m.id}
    assert sorted(wanted - set(have)) == [], f"run `pybabel update` for {folder}"
    problems = []
    for key in sorted(wanted):
        message = have[key]
        ids = list(message.id) if isinstance(message.id, tuple) else [message.id]
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(forms):
            problems.append(f"untranslated: {key!r}")
            continue
        allowed = [placeholders(text) for text in ids]
        for form in forms:
            if placeholders(form) not in allowed:
                problems.append(f"placeholders {placeholders(form)} vs {allowed}: {key!r}")
    assert problems == []


def test_a_renamed_placeholder_is_caught_and_falls_back_to_english() -> None:
    catalog = Catalog(locale="de")
    catalog.add("{count} left", "{anzahl} übrig")
    catalog.add("Hello", "Hallo")
    compiled = compile_catalog(catalog)
    assert compiled.gettext("{count} left") == "{count} left"
    assert compiled.gettext("Hello") == "Hallo"


def test_unknown_and_english_locales_and_missing_messages_read_english() -> None:
    assert translate("Make images from a description.", "de") != "Make images from a description."
    for locale in ("en-US", "en-GB", "it", "zh-TW", "", None):
        assert translate("Make images from a description.", locale) == (
            "Make images from a description."
        )
    with speaking("ja"):
        assert _("a text no catalog has") == "a text no catalog has"
        assert ngettext("{count} thing", "{count} things", 2) == "{count} things"
    assert isinstance(translations("it"), gettext.NullTranslations)


def test_the_language_spoken_is_scoped() -> None:
    with speaking("de"):
        german = _("Model")
        with speaking("fr"):
            assert _("Model") != german
        assert _("Model") == german
    assert _("Model") == "Model"
    assert N_("Model") == "Model"
    assert every_translation("Model") >= {"Model", german}


def test_numbers_and_money_follow_the_locale() -> None:
    assert (number(12345), money(1_234_500_000), money(42_000)) == ("12,345", "$1,234.50", "$0.042")
    with speaking("de"):
        assert (number(12345), money(1_234_500_000)) == ("12.345", "1.234,50\xa0$")
    with speaking("pt-BR"):
        assert money(50_000) == "US$\xa00,050"


def test_every_discord_locale_we_name_has_a_catalog() -> None:
    assert set(CATALOGS.values()) == set(SHIPPED)
    for folder in SHIPPED:
        assert (ROOT / "bot" / "i18n" / "locales" / folder / "LC_MESSAGES" / "messages.po").exists()

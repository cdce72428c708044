"""Speaking the member's language on Discord: the locale of an interaction (or a guild), and
the command tree's translator, which gives Discord every description in every shipped locale.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation as Where

from bot.i18n import set_spoken, translate
from bot.i18n.locales import CATALOGS

# Command, group and option names stay English: members type them.
_TYPED = frozenset({Where.command_name, Where.group_name, Where.parameter_name})


def speak(interaction: discord.Interaction[Any]) -> None:
    """Answer this interaction, to its end, in the member's language (their client's)."""
    set_spoken(interaction.locale.value)


class SpeaksTheirLanguage:
    """A button, menu or form (put first among its bases) that answers whoever used it in
    their language: discord.py asks `interaction_check` before the callback."""

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """Answer in the language of whoever pressed, chose or sent."""
        speak(interaction)
        return True


def guild_locale(guild: discord.Guild | None) -> str | None:
    """The language of a server's channel messages that answer no interaction."""
    return None if guild is None else guild.preferred_locale.value


class CommandTranslator(app_commands.Translator):
    """Descriptions, choices and menu names in each shipped locale; names stay English.

    A text a catalog lacks gets no localization, so Discord shows the English one.
    An aspect choice (`square (1:1)`) carries its word and ratio (cogs/_options.py).
    """

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        """The text in `locale`, or None when it would read as the English one."""
        if locale.value not in CATALOGS:
            return None
        typed = context.location in _TYPED
        if typed and not isinstance(context.data, app_commands.ContextMenu):
            return None
        aspect = string.extras.get("aspect")
        if aspect is not None:
            text = f"{translate(aspect, locale.value)} ({string.extras['ratio']})"
        else:
            text = translate(string.message, locale.value)
        return text if text != string.message else None

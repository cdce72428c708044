"""/settings' select menus: which default to change, then its value; on the member's private
message, working after restarts (registered by cogs/settings.py with `add_dynamic_items`).

Custom ids: `set:pick:<owner>` (the setting) and `set:val:<setting>:<owner>` (its value),
`<owner>` the member who opened /settings. Both the custom id and the chosen values come from
the member's client and may be forged: the presser must be the owner, the setting one of
SETTINGS, the value exactly one and one the catalogue allows for it (bot/core/member_defaults.py),
else a private refusal and nothing stored. Whatever the ids say, a press only ever changes the
presser's own defaults. Nothing here calls WisGate or costs anything.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, Self

import discord

from bot.core.errors import BotError, InvalidRequest
from bot.core.member_defaults import (
    SETTINGS,
    MemberDefaults,
    Setting,
    checked_value,
    defaults_model,
    not_fitting,
    offered,
    stored_text,
)
from bot.discord.language import SpeaksTheirLanguage
from bot.discord.replies import NO_PINGS, report_error
from bot.discord.settings_texts import (
    CLEAR,
    CLEARED,
    LABELS,
    NOT_YOURS,
    PICK_PLACEHOLDER,
    SAVED,
    VALUE_PLACEHOLDER,
    shown_value,
    summary,
)
from bot.i18n import _
from bot.ledger.settings import LedgerSettings

if TYPE_CHECKING:
    from bot.discord.client import ImageBot

log = logging.getLogger(__name__)

CLEAR_VALUE = "-"  # the value select's "No default"
MAX_OPTIONS = 25  # Discord's cap on a select's options
LABEL_MAX = 100  # Discord's cap on an option's label


def settings_of(bot: ImageBot) -> LedgerSettings:
    """The members' defaults in the bot's ledger."""
    return LedgerSettings(bot.ledger)


def settings_view(
    bot: ImageBot, owner: int, defaults: MemberDefaults, chosen: Setting
) -> tuple[str, discord.ui.View]:
    """The /settings message for `owner`: the summary, the setting picker and the value menu
    of the `chosen` setting."""
    catalogue = bot.catalogue
    model = defaults_model(catalogue, defaults).name
    text = summary(defaults, not_fitting(catalogue, defaults), model)
    view = discord.ui.View(timeout=None)
    view.add_item(PickSelect(owner, defaults, chosen))
    values = offered(catalogue, defaults, chosen)
    view.add_item(ValueSelect(owner, chosen, defaults, values))
    return text, view


class PickSelect(
    SpeaksTheirLanguage,
    discord.ui.DynamicItem[discord.ui.Select[Any]],
    template=r"set:pick:(?P<owner>\d{1,20})",
):
    """Which default to change."""

    def __init__(
        self, owner: int, defaults: MemberDefaults | None = None, chosen: Setting | None = None
    ) -> None:
        defaults = defaults or MemberDefaults()
        options = [
            discord.SelectOption(
                label=_label(f"{LABELS[name]}: {_current(defaults, name)}"),
                value=name,
                default=name == chosen,
            )
            for name in SETTINGS
        ]
        select: discord.ui.Select[Any] = discord.ui.Select(
            custom_id=f"set:pick:{owner}",
            placeholder=_(PICK_PLACEHOLDER),
            options=options,
            row=0,
        )
        super().__init__(select)
        self.owner = owner

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        """Rebuild the menu from a chosen custom id (in any process)."""
        return cls(int(match["owner"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Show the chosen setting's values."""
        try:
            _owned(interaction, self.owner)
            setting = _setting(_one(self.item.values))
            defaults = await settings_of(interaction.client).defaults(interaction.user.id)
            text, view = settings_view(interaction.client, interaction.user.id, defaults, setting)
            await interaction.response.edit_message(
                content=text, view=view, allowed_mentions=NO_PINGS
            )
        except Exception as error:
            await report_error(interaction, error)


class ValueSelect(
    SpeaksTheirLanguage,
    discord.ui.DynamicItem[discord.ui.Select[Any]],
    template=r"set:val:(?P<setting>[a-z_]{1,20}):(?P<owner>\d{1,20})",
):
    """One setting's value, or no default."""

    def __init__(
        self,
        owner: int,
        setting: str,
        defaults: MemberDefaults | None = None,
        values: list[str] | None = None,
    ) -> None:
        known = _known(setting)
        current = defaults.get(known) if defaults is not None and known is not None else None
        stored = stored_text(current) if current is not None else None
        options = [discord.SelectOption(label=_(CLEAR), value=CLEAR_VALUE, default=stored is None)]
        for value in (values or [])[: MAX_OPTIONS - 1]:
            label = shown_value(known, value) if known is not None else value
            options.append(
                discord.SelectOption(label=_label(label), value=value, default=value == stored)
            )
        label = LABELS[known] if known is not None else setting
        select: discord.ui.Select[Any] = discord.ui.Select(
            custom_id=f"set:val:{setting}:{owner}",
            placeholder=_(VALUE_PLACEHOLDER).format(setting=label),
            options=options,
            row=1,
        )
        super().__init__(select)
        self.owner, self.setting = owner, setting

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        """Rebuild the menu from a chosen custom id (in any process)."""
        return cls(int(match["owner"]), match["setting"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Check and store the chosen value, then show the defaults as they are now."""
        try:
            await self._save(interaction)
        except Exception as error:
            if not isinstance(error, BotError):
                log.debug("settings choice refused: %r", error)
            await report_error(interaction, error)

    async def _save(self, interaction: discord.Interaction[Any]) -> None:
        _owned(interaction, self.owner)
        setting = _setting(self.setting)
        choice = _one(self.item.values)
        bot: ImageBot = interaction.client
        store = settings_of(bot)
        user_id = interaction.user.id  # the presser's own defaults, whatever the ids say
        defaults = await store.defaults(user_id)
        label = LABELS[setting]
        if choice == CLEAR_VALUE:
            defaults = await store.set_default(user_id, setting, None)
            said = _(CLEARED).format(setting=label)
        else:
            value = checked_value(bot.catalogue, defaults, setting, choice)
            defaults = await store.set_default(user_id, setting, stored_text(value))
            said = _(SAVED).format(setting=label, value=shown_value(setting, value))
        log.info("member %d set their default %s", user_id, setting)
        text, view = settings_view(bot, user_id, defaults, setting)
        await interaction.response.edit_message(
            content=f"{text}\n\n{said}", view=view, allowed_mentions=NO_PINGS
        )


def _owned(interaction: discord.Interaction[Any], owner: int) -> None:
    """Only the member who opened /settings may use its menus."""
    if interaction.user.id != owner:
        raise BotError(_(NOT_YOURS))


def _known(name: str) -> Setting | None:
    """The setting of this name, if there is one."""
    return next((setting for setting in SETTINGS if setting == name), None)


def _setting(name: str) -> Setting:
    """A setting's name from a custom id or a choice, refused unless it is one."""
    setting = _known(name)
    if setting is None:
        raise InvalidRequest(_("There is no such setting: use /settings again."), field="settings")
    return setting


def _one(values: list[str]) -> str:
    """The one value a single-choice menu sends (a forged payload may send none or several)."""
    if len(values) != 1:
        raise InvalidRequest(_("Choose exactly one value."), field="settings")
    return values[0]


def _current(defaults: MemberDefaults, setting: Setting) -> str:
    value = defaults.get(setting)
    return _("not set") if value is None else shown_value(setting, value)


def _label(text: str) -> str:
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"

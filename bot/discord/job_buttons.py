"""The base of every button that carries a job id and must work after a restart."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Self

import discord

from bot.discord.language import SpeaksTheirLanguage
from bot.i18n import _


class JobButton(
    SpeaksTheirLanguage, discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"\w+:\w+:\d+"
):
    """A button whose custom id is `<area>:<action>:<job id>` and nothing else.

    Everything it needs is read back from the jobs table when pressed, so the bot registers
    each subclass with `add_dynamic_items` and a press on a message sent by an earlier process
    rebuilds the button here. Subclasses set `area`, `action`, `label`, `emoji` (and `style`)
    and their own `template` matching the custom id with a `job` group.
    """

    area: ClassVar[str] = ""
    action: ClassVar[str] = ""
    label: ClassVar[str] = ""
    emoji: ClassVar[str] = ""
    style: ClassVar[discord.ButtonStyle] = discord.ButtonStyle.secondary

    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=_(self.label),
                emoji=self.emoji,
                style=self.style,
                custom_id=f"{self.area}:{self.action}:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        """Rebuild the button from a pressed custom id (in any process)."""
        return cls(int(match["job"]))

"""Previous/Next buttons on a private answer, that only the one who asked can press: the audit
log (cogs/_quota_audit.py), the list of limits and blocks (here) and a member's /history
(cogs/_history_pages.py).

A short-lived view (it lives with the private message it sits on, at most ten minutes): it
need not survive a restart, since whoever asked can simply ask again. Each page is read anew
from the ledger, for the guild the command was used in.
"""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.discord.language import speak
from bot.discord.moderator_texts import policy_embed
from bot.discord.replies import report_error
from bot.i18n import N_, _
from bot.ledger.admin import LedgerAdmin

log = logging.getLogger(__name__)

PAGE_SIZE = 10
LIFETIME = 600.0  # seconds; under the 15-minute interaction token that edits the message


class Pager(discord.ui.View):
    """Pages of something one member asked for; subclasses read and draw a page."""

    command = "/quota-admin"  # named in the refusal to anyone else pressing the buttons
    # The refusal to anyone else pressing the buttons (translated when sent).
    not_yours = N_("These buttons belong to the moderator who asked. Run `{command}` yourself.")

    def __init__(self, *, owner_id: int, buttons: str, timeout: float = LIFETIME) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id
        self.index = 0  # the page shown, from 0
        self.has_next = False
        self.message: discord.InteractionMessage | None = None
        self.previous_page.custom_id = f"{buttons}:previous"
        self.next_page.custom_id = f"{buttons}:next"
        self.previous_page.label = _("Previous")  # made while the asker's language is spoken
        self.next_page.label = _("Next")

    async def page(self) -> tuple[discord.Embed, bool]:
        """Read and draw the page at self.index; True when there is a next one."""
        raise NotImplementedError

    def turned(self, step: int) -> None:
        """The page moved by `step` (subclasses keep their own place too)."""
        self.index += step

    async def render(self) -> discord.Embed:
        """Read the current page and set the buttons to match it."""
        embed, self.has_next = await self.page()
        self.previous_page.disabled = self.index == 0
        self.next_page.disabled = not self.has_next
        embed.set_footer(text=_("Page {number}").format(number=self.index + 1))
        return embed

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """Only the one who ran the command may turn its pages (in their language)."""
        speak(interaction)
        if interaction.user.id == self.owner_id:
            return True
        text = _(self.not_yours).format(command=self.command)
        await interaction.response.send_message(text, ephemeral=True)
        return False

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous_page(
        self, interaction: discord.Interaction[Any], _button: discord.ui.Button[Pager]
    ) -> None:
        """The page before."""
        if self.index > 0:
            self.turned(-1)
        await self._show(interaction)

    @discord.ui.button(label="Next")
    async def next_page(
        self, interaction: discord.Interaction[Any], _button: discord.ui.Button[Pager]
    ) -> None:
        """The page after."""
        if self.has_next:
            self.turned(+1)
        await self._show(interaction)

    async def _show(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer()  # acknowledge the click before reading
        embed = await self.render()
        await interaction.edit_original_response(embed=embed, view=self)

    async def on_error(
        self,
        interaction: discord.Interaction[Any],
        error: Exception,
        _item: discord.ui.Item[Any],
        /,
    ) -> None:
        """Same private error handling as every command."""
        await report_error(interaction, error)

    async def on_timeout(self) -> None:
        """Take the buttons away once nobody can use them any more."""
        if self.message is None:
            return
        try:
            await self.message.edit(view=None)
        except discord.HTTPException as error:
            log.debug("could not remove the page buttons: %s", error.status)


class KeysetPager(Pager):
    """Pages found by id, newest first: the list grows while it is read, so offsets would
    shift; each page remembers where it started (its `before` id; None: the newest page)."""

    def __init__(self, *, owner_id: int, buttons: str, timeout: float = LIFETIME) -> None:
        super().__init__(owner_id=owner_id, buttons=buttons, timeout=timeout)
        self.trail: list[int | None] = [None]  # the `before` of every page on the way here
        self.next_before: int | None = None  # where the next page starts, once read

    def turned(self, step: int) -> None:
        """Forward: remember where the next page starts; back: forget the last one."""
        if step > 0 and self.next_before is not None:
            self.trail.append(self.next_before)
        elif step < 0 and len(self.trail) > 1:
            self.trail.pop()
        self.index = len(self.trail) - 1


class PolicyPager(Pager):
    """The guild's member limits, role limits and blocks in force, ten to a page."""

    command = "/quota-admin list"

    def __init__(self, admin: LedgerAdmin, *, guild_id: int, owner_id: int) -> None:
        super().__init__(owner_id=owner_id, buttons="quota-list")
        self.admin = admin
        self.guild_id = guild_id

    async def page(self) -> tuple[discord.Embed, bool]:
        """Read the page at self.index (its offset) and draw it."""
        found = await self.admin.policies(
            self.guild_id, limit=PAGE_SIZE, offset=self.index * PAGE_SIZE
        )
        return policy_embed(found, first=self.index == 0), found.has_more

"""The audit log pager: Previous/Next buttons that only the moderator who asked can press.

A short-lived view (it lives with the private message it sits on, at most ten minutes): it
need not survive a restart, since the moderator can simply ask again.
"""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.discord.quota_texts import audit_line
from bot.discord.replies import report_error
from bot.ledger.admin import LedgerAdmin

log = logging.getLogger(__name__)

PAGE_SIZE = 10
LIFETIME = 600.0  # seconds; under the 15-minute interaction token that edits the message
NOT_YOURS = "These buttons belong to the moderator who asked. Run `/quota-admin audit` yourself."


class AuditPager(discord.ui.View):
    """Pages of one guild's audit log, newest first, optionally about one member."""

    def __init__(
        self,
        admin: LedgerAdmin,
        *,
        guild_id: int,
        owner_id: int,
        member_id: int | None,
        bot_default: int,
        timeout: float = LIFETIME,
    ) -> None:
        super().__init__(timeout=timeout)
        self.admin = admin
        self.guild_id = guild_id
        self.owner_id = owner_id
        self.member_id = member_id
        self.bot_default = bot_default
        # The before_id of every page on the way here (None: the newest page).
        self.trail: list[int | None] = [None]
        self.next_before: int | None = None
        self.message: discord.InteractionMessage | None = None

    async def render(self) -> discord.Embed:
        """Read the current page and set the buttons to match it."""
        page = await self.admin.audit_log(
            self.guild_id,
            target_user_id=self.member_id,
            limit=PAGE_SIZE,
            before_id=self.trail[-1],
        )
        self.next_before = page.next_before_id
        self.previous_page.disabled = len(self.trail) == 1
        self.next_page.disabled = page.next_before_id is None
        about = f" about <@{self.member_id}>" if self.member_id is not None else ""
        lines = [audit_line(entry, bot_default=self.bot_default) for entry in page.entries]
        if not lines:
            lines = ["No quota changes recorded yet."]
        header = f"Changes{about}, newest first:"
        embed = discord.Embed(title="Quota audit log", description="\n".join([header, *lines]))
        embed.set_footer(text=f"Page {len(self.trail)}")
        return embed

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """Only the moderator who ran the command may turn its pages."""
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(NOT_YOURS, ephemeral=True)
        return False

    @discord.ui.button(
        label="Previous", custom_id="quota-audit:previous", style=discord.ButtonStyle.secondary
    )
    async def previous_page(
        self, interaction: discord.Interaction[Any], _button: discord.ui.Button[AuditPager]
    ) -> None:
        """Newer entries."""
        if len(self.trail) > 1:
            self.trail.pop()
        await self._show(interaction)

    @discord.ui.button(label="Next", custom_id="quota-audit:next")
    async def next_page(
        self, interaction: discord.Interaction[Any], _button: discord.ui.Button[AuditPager]
    ) -> None:
        """Older entries."""
        if self.next_before is not None:
            self.trail.append(self.next_before)
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
            log.debug("could not remove the audit buttons: %s", error.status)

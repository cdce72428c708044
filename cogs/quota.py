"""/quota and /history: members see where they stand, privately, in the place they ask.

In a server both show that server only; in direct messages, the member's DM allowance and
DM requests. Nothing of one server is ever read while answering in another.
"""

from __future__ import annotations

from discord import Interaction, app_commands
from discord.ext import commands

from bot.client import ImageBot
from bot.ledger import Requester
from bot.permissions import role_ids
from cogs.quota_texts import acknowledge, answer, dm_status_text, history_embed, status_text

HISTORY_SIZE = 10


class Quota(commands.Cog):
    """The members' quota commands."""

    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot

    @app_commands.command(name="quota")
    async def quota(self, interaction: Interaction[ImageBot]) -> None:
        """See how many images you can still make today, and when that resets."""
        await acknowledge(interaction)
        requester = Requester(
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            role_ids=role_ids(interaction.user),
        )
        status = await self.bot.ledger.status(requester)
        text = status_text(status) if interaction.guild_id is not None else dm_status_text(status)
        await answer(interaction, text)

    @app_commands.command(name="history")
    async def history(self, interaction: Interaction[ImageBot]) -> None:
        """See your last 10 image requests here: status, images, cost and a link."""
        await acknowledge(interaction)
        records = await self.bot.ledger.history(
            interaction.guild_id, interaction.user.id, HISTORY_SIZE
        )
        where = "in this server" if interaction.guild_id is not None else "in direct messages"
        await answer(interaction, embed=history_embed(records, where=where))


async def setup(bot: ImageBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Quota(bot))

"""/quota and /history: members see where they stand, privately, in the place they ask.

In a server that added the bot both show that server only. In direct messages, private
channels and servers without the bot (the app installed by the member), they show the
member's personal allowance and requests. Nothing of one server is ever read while answering
in another.
"""

from __future__ import annotations

import asyncio

from discord import Interaction, app_commands
from discord.ext import commands

from bot.discord.client import ImageBot
from bot.discord.permissions import role_ids
from bot.discord.quota_texts import acknowledge, answer, dm_status_text, history_embed, status_text
from bot.discord.redelivery import deliver_again_view
from bot.discord.servers import quota_guild_id
from bot.ledger.facade import Requester

HISTORY_SIZE = 10
FOREIGN_GUILD_NOTE = (
    "This server has not added the bot, so your personal allowance applies here, the same "
    "as in direct messages."
)


def _in_foreign_guild(interaction: Interaction[ImageBot]) -> bool:
    return interaction.guild_id is not None and quota_guild_id(interaction) is None


class Quota(commands.Cog):
    """The members' quota commands."""

    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot

    @app_commands.command(name="quota")
    @app_commands.allowed_installs(guilds=True, users=True)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    async def quota(self, interaction: Interaction[ImageBot]) -> None:
        """See how many images you can still make today, and when that resets."""
        await acknowledge(interaction)
        guild_id = quota_guild_id(interaction)
        requester = Requester(
            user_id=interaction.user.id,
            guild_id=guild_id,
            role_ids=role_ids(interaction.user) if guild_id is not None else (),
        )
        status = await self.bot.ledger.status(requester)
        text = status_text(status) if guild_id is not None else dm_status_text(status)
        if _in_foreign_guild(interaction):
            text = f"{FOREIGN_GUILD_NOTE}\n{text}"
        await answer(interaction, text)

    @app_commands.command(name="history")
    @app_commands.allowed_installs(guilds=True, users=True)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    async def history(self, interaction: Interaction[ImageBot]) -> None:
        """See your last 10 image requests here, and get images that could not be delivered."""
        await acknowledge(interaction)
        guild_id = quota_guild_id(interaction)
        records = await self.bot.ledger.history(guild_id, interaction.user.id, HISTORY_SIZE)
        if guild_id is not None:
            where = "in this server"
        elif _in_foreign_guild(interaction):
            where = "with your personal allowance"
        else:
            where = "in direct messages"
        waiting = [
            record.id
            for record in await self.bot.ledger.waiting(guild_id, interaction.user.id)
            if record.delivery == "waiting"
            and await asyncio.to_thread(self.bot.results.has, record.id, record.result_key)
        ]
        embed = history_embed(records, where=where)
        await answer(interaction, embed=embed, view=deliver_again_view(waiting))


async def setup(bot: ImageBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Quota(bot))

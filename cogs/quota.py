"""/quota and /history: members see where they stand, privately, in the place they ask.

In a server that added the bot both show that server only. In direct messages, private
channels and servers without the bot (the app installed by the member), they show the
member's images and requests there. Nothing of one server is ever read while answering in
another. Members read images; only moderators read dollars (the server's monthly budget).
"""

from __future__ import annotations

from discord import Interaction, app_commands
from discord.ext import commands

from bot.discord.client import ImageBot
from bot.discord.permissions import NotModerator, require_moderator, role_ids
from bot.discord.quota_texts import acknowledge, answer, dm_status_text, member_status_text
from bot.discord.servers import quota_guild_id
from bot.i18n import N_, _
from bot.ledger.facade import Requester
from cogs._history_pages import HistoryPager

FOREIGN_GUILD_NOTE = N_(
    "This server has not added the bot, so the images you make here count with those you "
    "make in direct messages."
)


def _in_foreign_guild(interaction: Interaction[ImageBot]) -> bool:
    return interaction.guild_id is not None and quota_guild_id(interaction) is None


async def _moderator(interaction: Interaction[ImageBot]) -> bool:
    """Does the member moderate this server (and so may read its budget in dollars)?"""
    try:
        return await require_moderator(interaction)
    except NotModerator:
        return False


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
        if guild_id is None:
            text = dm_status_text(status)
        else:
            text = member_status_text(status, budget=await _moderator(interaction))
        if _in_foreign_guild(interaction):
            text = f"{_(FOREIGN_GUILD_NOTE)}\n{text}"
        await answer(interaction, text)

    @app_commands.command(name="history")
    @app_commands.allowed_installs(guilds=True, users=True)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    async def history(self, interaction: Interaction[ImageBot]) -> None:
        """See your image requests here, and get images that could not be delivered."""
        await acknowledge(interaction)
        guild_id = quota_guild_id(interaction)
        if guild_id is not None:
            where = _("in this server")
        elif _in_foreign_guild(interaction):
            where = _("outside servers with the bot")
        else:
            where = _("in direct messages")
        pager = HistoryPager(self.bot, guild_id=guild_id, owner_id=interaction.user.id, where=where)
        embed = await pager.render()
        pager.message = await answer(interaction, embed=embed, view=pager)


async def setup(bot: ImageBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Quota(bot))

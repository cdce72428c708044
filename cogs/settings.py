"""/settings: each member's defaults for /imagine and /edit, shown and changed with select
menus on a private message (bot/discord/settings_menu.py)."""

from __future__ import annotations

from discord import Interaction, app_commands
from discord.ext import commands

from bot.discord.client import ImageBot
from bot.discord.replies import NO_PINGS
from bot.discord.settings_menu import PickSelect, ValueSelect, settings_of, settings_view


class Settings(commands.Cog):
    """The /settings command and its menus."""

    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        """Listen for the menus, including those on messages sent before a restart."""
        self.bot.add_dynamic_items(PickSelect, ValueSelect)

    async def cog_unload(self) -> None:
        """Stop listening (a reload registers them again)."""
        self.bot.remove_dynamic_items(PickSelect, ValueSelect)

    @app_commands.command(name="settings")
    @app_commands.allowed_installs(guilds=True, users=True)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    async def settings(self, interaction: Interaction[ImageBot]) -> None:
        """Your defaults for /imagine and /edit: model, size, quality, count and more."""
        user_id = interaction.user.id
        defaults = await settings_of(self.bot).defaults(user_id)
        text, view = settings_view(self.bot, user_id, defaults, "model")
        await interaction.response.send_message(
            text, view=view, ephemeral=True, allowed_mentions=NO_PINGS
        )


async def setup(bot: ImageBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Settings(bot))

"""The result buttons (Re-roll, Edit, Details, Delete), the actions (Vary, Remix, Upscale, Zoom
out, Pan, and the image numbers) and /history's Deliver again: registered so they work after
restarts.

discord.py routes a pressed button to a DynamicItem class whose template matches its custom
id, whatever process sent the message; bot/discord/result_buttons.py holds the classes and
their logic.
"""

from __future__ import annotations

from discord.ext import commands

from bot.discord.action_buttons import ActionButton, PickButton
from bot.discord.client import ImageBot
from bot.discord.redelivery import DeliverAgainButton
from bot.discord.result_buttons import RESULT_BUTTONS

ACTION_BUTTONS = (ActionButton, PickButton)


class Results(commands.Cog):
    """Registers the result buttons while loaded."""

    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        """Listen for presses of every result button, including those on old messages."""
        self.bot.add_dynamic_items(*RESULT_BUTTONS, *ACTION_BUTTONS, DeliverAgainButton)

    async def cog_unload(self) -> None:
        """Stop listening (a reload registers them again)."""
        self.bot.remove_dynamic_items(*RESULT_BUTTONS, *ACTION_BUTTONS, DeliverAgainButton)


async def setup(bot: ImageBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Results(bot))

"""The fair queue's Discord side: the Cancel button on queued jobs.

Registered as a dynamic item, so presses on messages sent by an earlier process still
arrive (and are answered: that job was refunded by the restart). The queue's caps come
from the settings through bot/app.py.
"""

from __future__ import annotations

from discord.ext import commands

from bot.discord.client import ImageBot
from bot.discord.queue_buttons import CancelButton


class Queue(commands.Cog):
    """Registers the Cancel button while loaded."""

    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        """Listen for Cancel presses."""
        self.bot.add_dynamic_items(CancelButton)

    async def cog_unload(self) -> None:
        """Stop listening (a reload registers it again)."""
        self.bot.remove_dynamic_items(CancelButton)


async def setup(bot: ImageBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Queue(bot))

"""The fair queue's Discord side: the Cancel button, and the queue settings applied.

The runner is built before the bot's settings reach a cog; loading this extension (in
setup_hook, before any job) gives it MAX_JOBS_PER_MEMBER, MAX_JOBS_PER_GUILD and
MAX_QUEUE_WAIT, and registers the Cancel button so presses on messages sent by an earlier
process still arrive.
"""

from __future__ import annotations

from discord.ext import commands

from bot.client import ImageBot
from bot.queue import QueueLimits
from bot.queue_buttons import CancelButton


class Queue(commands.Cog):
    """Applies the queue settings and registers the Cancel button while loaded."""

    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        """Configure the runner's caps and wait limit; listen for Cancel presses."""
        settings = self.bot.settings
        self.bot.runner.configure(
            QueueLimits(
                total=settings.max_concurrent_jobs,
                per_member=settings.max_jobs_per_member,
                per_guild=settings.max_jobs_per_guild,
            ),
            max_queue_wait=settings.max_queue_wait,
        )
        self.bot.add_dynamic_items(CancelButton)

    async def cog_unload(self) -> None:
        """Stop listening (a reload registers it again)."""
        self.bot.remove_dynamic_items(CancelButton)


async def setup(bot: ImageBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Queue(bot))

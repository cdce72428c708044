"""ImageBot: the discord.py bot holding our resources; one error handler for every command."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.catalogue import Catalogue
from bot.config import Settings
from bot.ledger import Ledger
from bot.memory import freeze_startup_objects
from bot.notices import send_restart_notices
from bot.replies import report_error
from bot.runner import Runner
from bot.wisgate import WisGateClient

log = logging.getLogger(__name__)

# Loaded by name so that bot/ never imports cogs/.
EXTENSIONS: tuple[str, ...] = (
    "cogs.imagine",
    "cogs.edit",
    "cogs.quota",
    "cogs.quota_admin",
    "cogs.results",
    "cogs.queue",
)


class ImageTree(app_commands.CommandTree["ImageBot"]):
    """Command tree whose single on_error turns our errors into private messages."""

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        """Tell the member what went wrong, privately (see bot.replies.report_error)."""
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        await report_error(interaction, cause)


class ImageBot(commands.Bot):
    """The bot: Discord wiring around the catalogue, the WisGate client, the ledger and runner."""

    def __init__(
        self,
        *,
        settings: Settings,
        session: aiohttp.ClientSession,
        catalogue: Catalogue,
        wisgate: WisGateClient,
        ledger: Ledger,
        runner: Runner,
        sync_globally: bool = False,
        freeze_on_ready: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            tree_cls=ImageTree,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.settings = settings
        self.session = session  # ours (WisGate, attachment downloads); discord.py has its own
        self.catalogue = catalogue
        self.wisgate = wisgate
        self.ledger = ledger
        self.runner = runner
        self.sync_globally = sync_globally
        # `python -m bot` freezes start-up objects once connected (bot.memory); tests do not,
        # as freezing would keep every earlier test's leftovers for the whole session.
        self.freeze_on_ready = freeze_on_ready
        self.startup_frozen = asyncio.Event()  # set once that freeze is done
        self.notice_task: asyncio.Task[None] | None = None

    async def setup_hook(self) -> None:
        """Refund what a previous process left open, load the cogs, sync where configured."""
        # Before taking any job: refund jobs left queued or running by a process that is gone.
        await self.ledger.recover()
        # Tell their members, and those of refunds an earlier process could not report.
        owed = await self.ledger.owed_notices()
        if owed:
            # Sent once connected: tells each member their request was refunded.
            self.notice_task = asyncio.create_task(
                send_restart_notices(self, owed), name="restart-notices"
            )
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.settings.dev_guild_id is not None:
            guild = discord.Object(id=self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to the dev guild", len(synced))
        if self.sync_globally:
            synced = await self.tree.sync()
            log.info("synced %d commands globally (may take up to an hour to show)", len(synced))

    async def on_ready(self) -> None:
        """Connected with the cache built: freeze what start-up made, the first time only."""
        if self.freeze_on_ready:
            self.freeze_on_ready = False
            log.info("froze %d start-up objects", freeze_startup_objects())
            self.startup_frozen.set()

    async def close(self) -> None:
        """Stop taking jobs, let the runner settle or refund what is in flight, then disconnect."""
        await self.runner.close()
        if self.notice_task is not None and not self.notice_task.done():
            self.notice_task.cancel()
        await super().close()

"""ImageBot: the discord.py bot holding our resources; one error handler for every command.

Built by bot/app.py, which hands it every resource and the parts that reach up to it: the
runner (made with the bot's notices as its events), the reporter for an interaction, and
what to do at start-up (recovery). So nothing here imports the modules that use the bot.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.config import Settings
from bot.core.catalogue import Catalogue
from bot.discord.language import CommandTranslator, speak
from bot.discord.notices import Notices
from bot.discord.replies import report_error
from bot.discord.servers import GuildNotAllowed, guild_allowed, refuse_unlisted_guild
from bot.discord.shards import IDENTIFY_SPACING, IdentifyPacer, ShardPlan, hold_shards, sync_once
from bot.images.intake import IntakeLimits
from bot.images.memory import freeze_startup_objects
from bot.images.store import ResultStore
from bot.jobs.job import JobEvents, Reporter
from bot.jobs.runner import Runner
from bot.ledger.admin import LedgerAdmin
from bot.ledger.facade import Ledger
from bot.ledger.fleet import FleetLocks, LocalLocks
from bot.ledger.moderation import LedgerModeration
from bot.wisgate.client import WisGateClient

log = logging.getLogger(__name__)

RunnerFactory = Callable[[JobEvents], Runner]
ReporterFactory = Callable[[discord.Interaction[Any]], Reporter]
StartUp = Callable[["ImageBot"], Awaitable[None]]

CAP_ALERT_GRACE = 5.0  # seconds a cap alert still going out may take when the bot closes

# Loaded by name so that bot/ never imports cogs/.
EXTENSIONS: tuple[str, ...] = (
    "cogs.imagine",
    "cogs.edit",
    "cogs.quota",
    "cogs.quota_admin",
    "cogs.results",
    "cogs.queue",
    "cogs.settings",
)


class ImageTree(app_commands.CommandTree["ImageBot"]):
    """Command tree whose single on_error turns our errors into private messages."""

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """Serve only the servers the operator allows (ALLOWED_GUILDS), saying so privately;
        answer every command, to its end, in the member's language."""
        speak(interaction)
        try:
            refuse_unlisted_guild(self.client.settings.allowed_guilds, interaction)
        except GuildNotAllowed as error:
            if interaction.type is not discord.InteractionType.autocomplete:
                await report_error(interaction, error)
            return False
        return True

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        """Tell the member what went wrong, privately (see bot.discord.replies.report_error)."""
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
        admin: LedgerAdmin,
        moderation: LedgerModeration,
        results: ResultStore,
        intake: IntakeLimits,
        make_runner: RunnerFactory,
        reporter_for: ReporterFactory,
        start_up: StartUp | None = None,
        sync_globally: bool = False,
        freeze_on_ready: bool = False,
        shards: ShardPlan | None = None,
        locks: FleetLocks | None = None,
        identify_spacing: float = IDENTIFY_SPACING,
        **options: Any,
    ) -> None:
        # A slash-command bot never joins voice: discord.py's warnings that voice libraries
        # are missing would only send owners after packages they do not need.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        if shards is not None:  # an AutoShardedBot (ShardedImageBot) on these shards
            options.update(shard_count=shards.count, shard_ids=list(shards.ids))
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
        self.admin = admin  # moderators' changes and reads (built once, here)
        self.moderation = moderation  # blocked terms and rejection reports
        self.results = results  # generated images, kept for re-delivery
        self.intake = intake  # bounds on members' uploads before their jobs are held
        self.notices = Notices(self, ledger, moderation)
        self.runner = make_runner(self.notices)  # tells the notices how each job ended
        self.reporter_for = reporter_for  # how a job speaks to the member who asked
        self._start_up = start_up
        self.sync_globally = sync_globally
        # `python -m bot` freezes start-up objects once connected (bot.images.memory); tests do not,
        # as freezing would keep every earlier test's leftovers for the whole session.
        self.freeze_on_ready = freeze_on_ready
        self.startup_frozen = asyncio.Event()  # set once that freeze is done
        self.background: set[asyncio.Task[None]] = set()  # re-deliveries, store sweeps
        # Shared with the other processes on the database (bot/discord/shards.py).
        self.shard_plan = shards
        self.locks: FleetLocks = locks or LocalLocks()
        self._identify: IdentifyPacer | None = None
        if shards is not None or self.locks.shared:
            self._identify = IdentifyPacer(self.locks, identify_spacing)

    async def login(self, token: str) -> None:
        """Take this process's shards first (a standby waits here until their holder is
        gone), then log in, which runs setup_hook: nothing runs before the shards are ours."""
        if self.locks.shared and not self.sync_globally:
            await hold_shards(self.locks, self.shard_plan or ShardPlan(1, (0,)))
        await super().login(token)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Keep Discord's identify pace across every process on the database."""
        if self._identify is None:
            await super().before_identify_hook(shard_id, initial=initial)
        else:
            await self._identify.before_identify(self, shard_id)

    async def setup_hook(self) -> None:
        """End what a previous process left open, load the cogs, sync where configured."""
        if self._start_up is not None and not self.sync_globally:
            # Never for `python -m bot sync` (bot/app.py gives it none either): it may run
            # beside a live bot, whose jobs are not ours to end.
            await self._start_up(self)
        # Descriptions and choices in every shipped language (bot/i18n), sent with each sync.
        await self.tree.set_translator(CommandTranslator())
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.settings.dev_guild_id is not None and await sync_once(self.locks):
            guild = discord.Object(id=self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to the dev guild", len(synced))
        if self.sync_globally:
            synced = await self.tree.sync()
            log.info("synced %d commands globally (may take up to an hour to show)", len(synced))

    def in_background(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run `work` beside the bot until it ends or the bot closes."""
        task = asyncio.create_task(work, name=name)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    async def on_guild_join(self, guild: discord.Guild) -> None:
        """A server added the bot: leave it if the operator serves only others (and says so)."""
        await self._leave_if_unlisted(guild)

    async def _leave_if_unlisted(self, guild: discord.Guild) -> None:
        if guild_allowed(self.settings.allowed_guilds, guild.id):
            return
        if not self.settings.leave_other_guilds:
            log.info("guild %d is not in ALLOWED_GUILDS: its requests are refused", guild.id)
            return
        log.warning("leaving guild %d: not in ALLOWED_GUILDS", guild.id)
        try:
            await guild.leave()
        except discord.HTTPException as error:
            log.warning("could not leave guild %d: %s", guild.id, error.status)

    async def on_ready(self) -> None:
        """Connected with the cache built: leave unlisted servers (if told to); freeze what
        start-up made, the first time only."""
        for guild in list(self.guilds):
            await self._leave_if_unlisted(guild)
        if self.freeze_on_ready:
            self.freeze_on_ready = False
            log.info("froze %d start-up objects", freeze_startup_objects())
            self.startup_frozen.set()

    async def close(self) -> None:
        """Stop taking jobs, let the runner settle or refund what is in flight, then disconnect."""
        await self.runner.close()
        restart = self.notices.restart_task
        if restart is not None and not restart.done():
            restart.cancel()
        # A cap alert is recorded as sent before it is posted (once per period and server):
        # cancelled in discord.py's retries it would never go out, so it gets a short grace.
        alerts = {task for task in self.background if task.get_name() == "cap-alert"}
        if alerts:
            await asyncio.wait(alerts, timeout=CAP_ALERT_GRACE)
        for task in list(self.background):
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        if self._identify is not None:
            await self._identify.close()
        await super().close()


class ShardedImageBot(ImageBot, commands.AutoShardedBot):
    """The bot on the shards SHARD_COUNT and SHARD_IDS name (one gateway session each)."""

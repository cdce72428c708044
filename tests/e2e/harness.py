"""Start the production ImageBot (bot.app.build_bot) against fake Discord and WisGate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bot.app import build_bot
from bot.config import Settings, load_settings
from bot.discord.client import ImageBot
from tests.e2e import backend
from tests.fakes.discord import FakeDiscord, FakeGuild, FakeInteraction, FakeMessage, FakeUser
from tests.fakes.wisgate import TEST_API_KEY, FakeWisGate
from tests.secrets_guard import DISCORD_TOKEN, find_secrets

MIB = 1024 * 1024
Running = tuple[ImageBot, asyncio.Task[None]]  # a connected bot and its gateway task


@dataclass
class World:
    """Everything an end-to-end test touches."""

    discord: FakeDiscord
    wisgate: FakeWisGate
    bot: ImageBot
    guild: FakeGuild
    alice: FakeUser
    bob: FakeUser
    settings: Settings
    connection: asyncio.Task[None]
    handles: list[FakeInteraction] = field(default_factory=list)
    # Set by running_bot: what restart() uses to stop this bot and start another.
    start_bot: Callable[[], AbstractAsyncContextManager[Running]] | None = None
    bot_stack: AsyncExitStack = field(default_factory=AsyncExitStack)

    async def restart(self) -> None:
        """Stop the bot as a process exit would, then start a new one on the same database.

        The old bot closes its runner (refunding jobs in flight: call idle() first unless
        that is the point), gateway, database and HTTP session; the new one is built by the
        same wiring, with the same settings, against the same fake Discord and WisGate.
        """
        assert self.start_bot is not None, "restart() needs a World made by running_bot"
        await self.bot_stack.aclose()
        self.bot_stack = AsyncExitStack()
        self.bot, self.connection = await self.bot_stack.enter_async_context(self.start_bot())

    async def slash(
        self, name: str, options: dict[str, Any] | None = None, **kw: Any
    ) -> FakeInteraction:
        """Inject a slash command as alice (unless user= says otherwise) and wait for its ack."""
        kw.setdefault("user", self.alice)
        handle = await self.discord.inject_slash(name, options or {}, **kw)
        self.handles.append(handle)
        await self.discord.wait_acknowledged(handle, within=3.0)
        return handle

    async def idle(self, within: float = 20.0) -> None:
        """Wait until every command handler has returned and every job is settled or refunded."""

        def quiet() -> bool:
            # discord.py runs command handlers and modal/button callbacks in named tasks.
            names = [task.get_name() for task in asyncio.all_tasks()]
            busy = [n for n in names if n == "CommandTree-invoker" or n.startswith("discord-ui-")]
            acked = all(handle.acknowledged for handle in self.handles)
            return acked and not busy and self.bot.runner.in_flight == 0

        await self.discord.wait_for(quiet, within=within, what="commands and jobs to end")
        self.assert_alive()

    def assert_alive(self) -> None:
        """The bot's gateway connection task must still be running."""
        if self.connection.done():
            raise AssertionError(f"bot connection ended: {self.connection.exception()!r}")

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Read the bot's database directly (a second connection, as an operator would)."""
        return backend.rows(self.settings.database_path, self.settings.postgres_url, sql, *args)

    def visible(self, handle: FakeInteraction, user: FakeUser) -> list[FakeMessage]:
        """The interaction's messages that `user` can see."""
        return [m for m in self.discord.messages_for(handle) if m.visible_to(user.id)]


def assert_acknowledged_first(fake: FakeDiscord, handle: FakeInteraction) -> None:
    """Its acknowledgement (refusal or defer) was the first request for it, within 3 s."""
    first = fake.first_request_for(handle)
    assert first is not None, f"interaction {handle.id} got no request"
    assert "/callback" in first.path, f"first request for {handle.name} was {first}"
    assert handle.ack_latency is not None and handle.ack_latency < 3.0, handle.ack_latency


def assert_no_secrets(fake: FakeDiscord, database: Path, url: str | None = None) -> None:
    """No token or key in anything the bot sent Discord, nor in any row of its database."""
    sent = [
        f"{request.method} {request.path} {request.query} {request.json}"
        for request in fake.requests
    ]
    leaks = [text[:300] for text in sent if find_secrets(text)]
    assert not leaks, f"a secret was sent to Discord: {leaks}"
    rows = backend.database_leaks(database, url)
    assert not rows, f"a secret was stored: {rows}"


def public_texts(world: World, handle: FakeInteraction) -> list[str]:
    """Everything about this interaction that other members (bob) can read."""
    return [
        m.content + " ".join(str(e) for e in m.embeds)
        for m in world.discord.messages_for(handle)
        if m.visible_to(world.bob.id) and not m.loading
    ]


@asynccontextmanager
async def running_bot(
    tmp_path: Path,
    *,
    upload_limit: int | None = None,
    wisgate_noisy: bool = False,
    wisgate_options: dict[str, Any] | None = None,
    setup: Callable[[FakeDiscord, FakeGuild], None] | None = None,
    wisgate_setup: Callable[[FakeWisGate], None] | None = None,
    **settings: Any,
) -> AsyncIterator[World]:
    """The production bot, connected and synced to a fake guild, with alice and bob in it."""
    async with (
        FakeDiscord(token=DISCORD_TOKEN) as discord_fake,
        FakeWisGate(api_key=TEST_API_KEY, noisy=wisgate_noisy) as wisgate_fake,
    ):
        guild = discord_fake.add_guild("Test", upload_limit=upload_limit)
        alice = discord_fake.add_user("alice")
        bob = discord_fake.add_user("bob")
        guild.add_member(alice)
        guild.add_member(bob)
        if setup is not None:
            setup(discord_fake, guild)
        if wisgate_setup is not None:
            wisgate_setup(wisgate_fake)  # before the bot starts: it reads the model listing
        defaults: dict[str, Any] = {
            "discord_token": DISCORD_TOKEN,
            "wisgate_api_key": TEST_API_KEY,
            "wisgate_base_url": wisgate_fake.base_url,
            "database_path": tmp_path / "bot.sqlite3",
            "database_url": await backend.database_url(tmp_path),  # --backend=postgres
            "dev_guild_id": guild.id,
        }
        config = load_settings(_env_file=None, **{**defaults, **settings})
        options = {"backoff_base": 0.001, "backoff_cap": 0.01, **(wisgate_options or {})}
        start = partial(connected_bot, discord_fake, config, options)
        bots = AsyncExitStack()
        bot, connection = await bots.enter_async_context(start())
        world = World(discord_fake, wisgate_fake, bot, guild, alice, bob, config, connection)
        world.start_bot, world.bot_stack = start, bots
        try:
            yield world
            world.assert_alive()
            for handle in world.handles:
                assert_acknowledged_first(discord_fake, handle)
            assert discord_fake.violations == [], discord_fake.describe()
            assert discord_fake.unhandled == [], discord_fake.describe()
            assert_no_secrets(discord_fake, config.database_path, config.postgres_url)
        finally:
            await world.bot_stack.aclose()


@asynccontextmanager
async def connected_bot(
    discord_fake: FakeDiscord | None, config: Settings, wisgate_options: dict[str, Any]
) -> AsyncIterator[Running]:
    """The production bot (build_bot), logged in and ready; closed and disconnected on exit.

    `discord_fake` (None when the fake runs in another process) explains a failed start.
    """
    async with build_bot(config, wisgate_options=wisgate_options, guild_ready_timeout=0.05) as bot:
        await bot.login(DISCORD_TOKEN)
        connection = asyncio.create_task(bot.connect())
        ready = asyncio.create_task(bot.wait_until_ready())
        await asyncio.wait({connection, ready}, timeout=10, return_when="FIRST_COMPLETED")
        if not ready.done():
            ready.cancel()
            seen = discord_fake.describe() if discord_fake is not None else ""
            raise AssertionError(f"bot never became ready: {seen}")
        try:
            yield bot, connection
        finally:
            await bot.close()
            await asyncio.wait({connection}, timeout=10)

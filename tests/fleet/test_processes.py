"""Several bot processes on one PostgreSQL database (issue 19), each the production bot in a
process of its own (tests/chaos/bot_process.py) against the fakes here: commands registered
once when three shard processes start together, each shard's guild served by its process, and
a hot standby taking the shards over when the active process is SIGKILLed, its job refunded
and its member told by the survivor, nothing charged twice.

Each process gets its own DATABASE_PATH folder (though they may share one: each spools in a
subfolder of its own, tests/fleet/test_spool.py) and the one RESULTS_DIR.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from tests.chaos.bot_process import BotProcess
from tests.chaos.driver import bot_env
from tests.fakes.discord import FakeDiscord, FakeGuild, FakeInteraction
from tests.fakes.wisgate import TEST_API_KEY, FakeWisGate
from tests.postgres import PostgresServer
from tests.secrets_guard import DISCORD_TOKEN


@dataclass
class Fleet:
    """The fakes, the guilds (one per shard), the database and a way to make processes."""

    discord: FakeDiscord
    wisgate: FakeWisGate
    guilds: list[FakeGuild]
    url: str
    folder: Path
    stack: AsyncExitStack

    def process(self, name: str, *, home: str | None = None, **env: str) -> BotProcess:
        """A bot process (not started) on the shared database, with these settings too; its
        DATABASE_PATH in the folder `home` (another process's too), else in one of its own."""
        folder = self.folder / (home or name)
        folder.mkdir(exist_ok=home is not None)
        settings = bot_env(self.discord, self.wisgate, self.guilds[0], folder / "bot.sqlite3")
        settings.update(DATABASE_URL=self.url, RESULTS_DIR=str(self.folder / "results"), **env)
        bot = BotProcess(settings, self.folder / f"{name}.log")
        self.stack.push_async_callback(bot.close)
        return bot

    async def rows(self, sql: str) -> list[tuple[object, ...]]:
        """Read the shared database as an operator would."""
        conn = await asyncpg.connect(self.url)
        try:
            return [tuple(row) for row in await conn.fetch(sql)]
        finally:
            await conn.close()


@asynccontextmanager
async def fleet(
    server: PostgresServer, folder: Path, shards: int, **fake: int
) -> AsyncIterator[Fleet]:
    """Fresh fakes (a guild on each shard) and database; every process killed at the end."""
    url = await server.new_database()
    async with (
        FakeDiscord(token=DISCORD_TOKEN, patch=False, shards=shards, **fake) as discord,
        FakeWisGate(api_key=TEST_API_KEY, noisy=False, latency=0.05) as wisgate,
        AsyncExitStack() as stack,
    ):
        guilds = [discord.add_guild(f"Shard {n}", shard=n) for n in range(shards)]
        for guild in guilds:
            guild.add_member("alice")
        yield Fleet(discord, wisgate, guilds, url, folder, stack)


def command_syncs(fake: FakeDiscord) -> int:
    """Bulk registrations of commands (guild or global) the fake answered."""
    return sum(1 for r in fake.requests if r.method == "PUT" and r.path.endswith("/commands"))


async def quota_answered(fleet: Fleet, guild: FakeGuild) -> FakeInteraction:
    """A member's /quota in this guild, answered (by whichever process holds its shard)."""
    member = next(m.user for m in guild.members.values() if m.user.username == "alice")
    handle = await fleet.discord.inject_slash("quota", {}, user=member, guild_id=guild.id)
    await fleet.discord.wait_acknowledged(handle, within=5.0)
    return handle


async def test_three_shard_processes_starting_together_register_commands_once(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    async with fleet(postgres_server, tmp_path, 3, max_concurrency=3) as world:
        bots = [world.process(f"shard{n}", SHARD_COUNT="3", SHARD_IDS=str(n)) for n in range(3)]
        await asyncio.gather(*(bot.start() for bot in bots))
        assert world.discord.gateway.shards_connected() == {0, 1, 2}
        assert command_syncs(world.discord) == 1
        identified = sorted((s, c) for s, c, _ in world.discord.gateway.identified)
        assert identified == [(0, 3), (1, 3), (2, 3)]
        await world.process("sync").sync()  # `python -m bot sync`: everywhere, for the others
        for guild in world.guilds:  # each process answers its own shard's guild
            await quota_answered(world, guild)
        assert await world.rows("SELECT count(*) FROM processes") == [(3,)]
        codes = await asyncio.gather(*(bot.stop() for bot in bots))
        assert codes == [0, 0, 0]


async def test_a_standby_takes_the_shards_over_when_the_active_process_dies(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    async with fleet(postgres_server, tmp_path, 1) as world:
        active = world.process("active", SHARD_COUNT="1")
        await active.start()
        standby = world.process("standby", SHARD_COUNT="1")
        waiting = asyncio.create_task(standby.start())
        await asyncio.sleep(1.5)
        assert not waiting.done(), "the standby connected beside the active process"
        assert world.discord.gateway.identifies == 1
        # A job the active process is running when it dies.
        world.wisgate.fail("slow", delay=30.0, prompt_contains="doomed")
        guild = world.guilds[0]
        alice = next(m.user for m in guild.members.values() if m.user.username == "alice")
        doomed = await world.discord.inject_slash(
            "imagine", {"prompt": "doomed teapot", "model": "gpt-image-1"}, user=alice
        )
        await world.discord.wait_for(
            lambda: len(world.wisgate.requests) >= 1,
            within=10,
            what=str([m.content for m in world.discord.messages_for(doomed)]),
        )
        killed = time.monotonic()
        await active.kill()
        await asyncio.wait_for(waiting, 15)
        took_over = time.monotonic() - killed
        assert took_over < 5.0, f"the standby took {took_over:.1f} s"
        await quota_answered(world, guild)
        # The survivor's lease reclaim refunds the dead process's job and tells the member.
        await world.discord.wait_for(
            lambda: any("charged" in (m.content or "") for m in world.discord.messages_for(doomed)),
            within=15,
            what="the member told of the refund",
        )
        rows = await world.rows("SELECT status, cost_charged_micros, owner FROM jobs")
        assert [(status, charged) for status, charged, _ in rows] == [("interrupted", 0)]
        assert await standby.stop() == 0

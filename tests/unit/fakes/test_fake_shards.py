"""The fake Discord's shards, as a sharded discord.py client sees them: GET /gateway/bot's
recommendation, each IDENTIFY's guilds, guild events on their shard, DMs on shard 0, and the
newest connected session of a shard taking its events (a standby that took over)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import discord

from tests.fakes.discord import FakeDiscord

TOKEN = "fake-token"


class Recorder(discord.AutoShardedClient):
    """A sharded client that identifies its shards without discord.py's 5 s pauses."""

    def __init__(self, shard_ids: list[int], count: int) -> None:
        super().__init__(
            intents=discord.Intents.default(),
            shard_ids=shard_ids,
            shard_count=count,
            guild_ready_timeout=0.05,
        )

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """No 5 s pause between a process's shards in a test."""


@asynccontextmanager
async def connected(fake: FakeDiscord, shard_ids: list[int], count: int) -> AsyncIterator[Recorder]:
    """A sharded client on these shards, ready; closed on exit."""
    client = Recorder(shard_ids, count)
    await client.login(TOKEN)
    task = asyncio.create_task(client.connect())
    try:
        await asyncio.wait_for(client.wait_until_ready(), 10)
        yield client
    finally:
        await client.close()
        await asyncio.wait({task}, timeout=5)


async def test_gateway_bot_recommends_the_shards_and_concurrency() -> None:
    async with FakeDiscord(shards=3, max_concurrency=2):
        client = discord.Client(intents=discord.Intents.default())
        await client.login(TOKEN)
        try:
            count, _, limits = await client.http.get_bot_gateway()
        finally:
            await client.close()
    assert count == 3 and limits["max_concurrency"] == 2


async def test_each_shard_gets_its_guilds_and_dms_go_to_shard_0() -> None:
    async with FakeDiscord(shards=2) as fake:
        first = fake.add_guild("Zero", shard=0)
        second = fake.add_guild("One", shard=1)
        alice = fake.add_user("alice")
        first.add_member(alice)
        second.add_member(alice)
        async with connected(fake, [0, 1], 2) as client:
            assert {g.id: g.shard_id for g in client.guilds} == {first.id: 0, second.id: 1}
            assert sorted((shard, count) for shard, count, _ in fake.gateway.identified) == [
                (0, 2),
                (1, 2),
            ]
            assert fake.gateway.session_for(second.id).shard == [1, 2]
            assert fake.gateway.session_for(None).shard == [0, 2]
            assert fake.gateway.shards_connected() == {0, 1}


async def test_a_process_with_one_shard_sees_only_that_shards_guilds() -> None:
    async with FakeDiscord(shards=2) as fake:
        fake.add_guild("Zero", shard=0)
        other = fake.add_guild("One", shard=1)
        async with connected(fake, [1], 2) as client:
            assert [guild.id for guild in client.guilds] == [other.id]


async def test_the_newest_connected_session_of_a_shard_gets_its_events() -> None:
    async with FakeDiscord(shards=1) as fake:
        guild = fake.add_guild("Only")
        async with connected(fake, [0], 1):
            old = fake.gateway.session_for(guild.id)
            async with connected(fake, [0], 1):
                new = fake.gateway.session_for(guild.id)
                assert new is not old and new.connected
            # The newer one closed: the older, still connected, gets the events again.
            await fake.wait_for(lambda: not new.connected)
            assert fake.gateway.session_for(guild.id) is old

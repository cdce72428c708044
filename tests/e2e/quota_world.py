"""Helpers for the quota end-to-end tests: moderators, private replies, a second 'process'."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import discord

from bot.core.prices import default_prices
from bot.ledger.facade import JobSpec, Ledger
from bot.ledger.opener import open_store
from tests.e2e import backend as e2e_backend
from tests.e2e.harness import World
from tests.fakes.discord import (
    FakeChannel,
    FakeDiscord,
    FakeGuild,
    FakeInteraction,
    FakeRole,
    FakeUser,
)

MANAGE_GUILD = discord.Permissions(manage_guild=True).value


class Staff:
    """The `setup=` for running_bot: an admin (Manage Server), a helper (a plain role), a log."""

    admins: FakeRole
    helpers: FakeRole
    admin: FakeUser
    helper: FakeUser
    log: FakeChannel

    def __call__(self, fake: FakeDiscord, guild: FakeGuild) -> None:
        """Create the roles, people and channels before the bot connects (GUILD_CREATE)."""
        self.admins = guild.add_role("Admins", MANAGE_GUILD)
        self.helpers = guild.add_role("Helpers")
        self.admin = fake.add_user("admin")
        guild.add_member(self.admin, roles=[self.admins])
        self.helper = fake.add_user("helper")
        guild.add_member(self.helper, roles=[self.helpers])
        self.log = guild.add_channel("mod-log")


def private_reply(world: World, handle: FakeInteraction) -> str:
    """The one message the invoker sees for this interaction: private, its text and embeds."""
    shown = [m for m in world.discord.messages_for(handle) if not m.deleted and not m.loading]
    assert len(shown) == 1, [m.content for m in shown]
    [message] = shown
    assert message.ephemeral, message.content
    other = world.alice if handle.user.id == world.bob.id else world.bob
    assert message.visible_to(handle.user.id) and not message.visible_to(other.id)
    parts = [message.content, *(str(e.get("description", "")) for e in message.embeds)]
    return "\n".join(part for part in parts if part)


async def ask(world: World, name: str, options: dict[str, Any] | None = None, **where: Any) -> str:
    """Run a command to its end and return the private reply's text."""
    handle = await world.slash(name, options, **where)
    await world.idle()
    return private_reply(world, handle)


def log_texts(world: World, channel: FakeChannel) -> list[str]:
    """What the bot posted in a channel."""
    return [
        m.content
        for m in world.discord.channel_messages(channel.id)
        if m.author.id == world.discord.bot_user.id and not m.deleted
    ]


def audit_actions(world: World) -> list[tuple[Any, ...]]:
    """(action, target_id, old, new, actor) for every audit row, oldest first."""
    return world.rows(
        "SELECT action, target_id, old_value, new_value, actor_id FROM audit_log ORDER BY id"
    )


def write_open_jobs(database: Path, jobs: Sequence[tuple[JobSpec, bool]]) -> list[int]:
    """Leave jobs open in the bot's database (`database`, or the test's PostgreSQL database)
    as another process would: reserved, some started.

    Runs on its own thread and event loop with its own Ledger owner, so the bot that starts
    next sees them as another (dead) process's jobs. Returns their ids.
    """

    async def leave() -> list[int]:
        url = await e2e_backend.database_url(database.parent)
        async with open_store(database, url) as store:
            ledger = Ledger(
                store, default_daily_images=20, prices=default_prices(), owner="gone-process"
            )
            ids = []
            for spec, start in jobs:
                reservation = await ledger.reserve(spec)
                if start:
                    assert await ledger.start(reservation.job_id)
                ids.append(reservation.job_id)
            return ids

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, leave()).result(timeout=30)

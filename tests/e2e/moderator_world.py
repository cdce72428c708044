"""Helpers for the moderators' tools tests: two servers with staff, and a month of jobs."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import discord

from bot.config import Settings
from bot.core.prices import default_prices
from bot.ledger.facade import JobSpec, Ledger, Requester
from bot.ledger.opener import open_store
from tests.e2e.harness import World
from tests.e2e.quota_world import MANAGE_GUILD, Staff
from tests.fakes.discord import FakeDiscord, FakeGuild, FakeUser


class Moderated(Staff):
    """Staff, eight more members of the first guild, and a second guild with its own admin
    (alice is a member of both)."""

    crowd: list[FakeUser]
    other: FakeGuild
    other_admin: FakeUser

    def __call__(self, fake: FakeDiscord, guild: FakeGuild) -> None:
        """Add the people and the second guild before the bot connects."""
        super().__call__(fake, guild)
        self.crowd = [fake.add_user(f"member{n}") for n in range(8)]
        for user in self.crowd:
            guild.add_member(user)
        self.other = fake.add_guild("Other")
        admins = self.other.add_role("Admins", MANAGE_GUILD)
        self.other_admin = fake.add_user("other-admin")
        self.other.add_member(self.other_admin, roles=[admins])
        alice = next(m.user for m in guild.members.values() if m.user.username == "alice")
        self.other.add_member(alice)

    async def serve_other(self, world: World) -> dict[str, Any]:
        """Sync the commands to the second guild; where to run them there as its admin."""
        other = discord.Object(self.other.id)
        world.bot.tree.copy_global_to(guild=other)
        await world.bot.tree.sync(guild=other)
        return {"guild_id": other.id, "channel_id": self.other.channels[0].id}


def write_jobs(settings: Settings, jobs: list[tuple[JobSpec, datetime, int]]) -> list[int]:
    """Jobs another process made on other days: reserved at their time, then charged.

    Its own thread, event loop, Ledger and clock, on the bot's database.
    """

    async def write() -> list[int]:
        moment = [datetime.now(UTC)]
        async with open_store(settings.database_path, settings.postgres_url) as store:
            ledger = Ledger(
                store,
                default_daily_images=50,
                prices=default_prices(),
                clock=lambda: moment[0],
                owner="another-process",
            )
            ids = []
            for spec, when, images in jobs:
                moment[0] = when
                reservation = await ledger.reserve(spec)
                await ledger.start(reservation.job_id)
                await ledger.settle(reservation.job_id, images, None)
                await ledger.delivered(reservation.job_id, images)
                ids.append(reservation.job_id)
            return ids

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, write()).result(timeout=30)


def earlier_days(now: datetime) -> list[int]:
    """Days of this month up to today, for jobs of the past (only today on the 1st)."""
    return sorted({1, max(1, now.day // 2), max(1, now.day - 1)})


async def a_month_of_jobs(world: World, staff: Moderated) -> str:
    """Jobs today through the bot, and on earlier days of this month from another process;
    returns the month ('YYYY-MM')."""
    for who in (world.alice, world.alice, world.bob):
        await world.slash("imagine", {"prompt": f"a lantern for {who.username}"}, user=who)
        await world.idle()
    now = datetime.now(UTC)
    days = earlier_days(now)
    earlier = [
        (world.bob, 2, "high"),
        (world.alice, 1, "low"),
        (staff.crowd[0], 3, "medium"),
    ]
    jobs = [
        (
            JobSpec(
                Requester(person.id, world.guild.id, channel_id=world.guild.channels[0].id),
                "generate", "gpt-image-1", images, "1024x1024", quality, {"prompt": "before"},
            ),
            now.replace(day=days[index % len(days)], hour=0, minute=index),
            images,
        )
        for index, (person, images, quality) in enumerate(earlier)
    ]  # fmt: skip
    write_jobs(world.settings, jobs)
    return now.strftime("%Y-%m")

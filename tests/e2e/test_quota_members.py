"""Members and quotas end to end: /quota, /history, refusals at the limit, blocks, DMs, guilds."""

from __future__ import annotations

import re
from pathlib import Path

import discord

from tests.e2e.harness import World, public_texts, running_bot
from tests.e2e.quota_world import MANAGE_GUILD, Staff, ask, log_texts
from tests.fakes.discord import FakeDiscord, FakeGuild, FakeUser
from tests.fakes.images import make_image

W = 256
RESET = re.compile(r"<t:\d+:R>")


async def refused(world: World, name: str, options: dict[str, object], **kw: object) -> str:
    """Run a request that must be refused privately, with nothing sent to WisGate or held."""
    before = len(world.wisgate.requests)
    handle = await world.slash(name, options, **kw)
    await world.idle()
    assert len(world.wisgate.requests) == before
    assert public_texts(world, handle) == []
    held = world.rows("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')")
    assert held == [(0,)]
    assert world.rows("SELECT COALESCE(SUM(images_held), 0) FROM member_usage") == [(0,)]
    assert world.rows("SELECT COALESCE(SUM(held_micros), 0) FROM guild_spend") == [(0,)]
    texts = [m.content for m in world.visible(handle, world.alice) if m.ephemeral]
    assert len(texts) == 1, texts
    return texts[0]


async def made(world: World, prompt: str = "a lamp", **options: object) -> None:
    """alice asks for images and gets them."""
    before = world.rows("SELECT COUNT(*) FROM jobs WHERE status = 'succeeded'")[0][0]
    await world.slash("imagine", {"prompt": prompt, **options})
    await world.idle()
    assert world.rows("SELECT COUNT(*) FROM jobs WHERE status = 'succeeded'") == [(before + 1,)]


async def test_limit_grant_block_and_unblock(tmp_path: Path) -> None:
    staff = Staff()
    async with running_bot(tmp_path, setup=staff, daily_image_limit=1) as world:

        async def mod(name: str, options: dict[str, object]) -> str:
            return await ask(world, f"quota-admin {name}", options, user=staff.admin)

        await made(world)
        text = await refused(world, "imagine", {"prompt": "one more"})
        assert text.startswith("You have used all 1 of your images today. They reset <t:")
        upload = ("cat.png", make_image(W, W), "image/png", W, W)
        text = await refused(world, "edit", {"prompt": "a hat"}, attachments=[upload])
        assert "used all 1 of your images today" in text and RESET.search(text)
        assert len(world.wisgate.requests) == 1

        await mod("grant", {"member": world.alice, "images": 2})
        text = await refused(world, "imagine", {"prompt": "three", "count": 3})
        assert text.startswith(
            "You asked for 3 images but have 2 of your 3 images left today: ask for 2 or fewer."
        )
        await made(world, count=1)

        await mod("block", {"member": world.alice, "reason": "posting spam"})
        text = await refused(world, "imagine", {"prompt": "blocked?"})
        assert text == (
            "A moderator has blocked you from making images in this server. Reason: posting spam"
        )
        quota = await ask(world, "quota")
        assert quota.startswith(
            "A moderator has blocked you from making images here. Reason: posting spam\n"
        )

        await mod("unblock", {"member": world.alice})
        await made(world, count=1)
        assert len(world.wisgate.requests) == 3
        assert world.rows("SELECT SUM(images_charged) FROM member_usage") == [(3,)]


async def test_quota_and_history_show_where_the_member_stands(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        text = await ask(world, "quota")
        assert text.startswith("You have used 0 of your 20 images today: **20 left**. They reset")
        assert RESET.search(text)
        assert text.endswith("\nYour 20 images a day: the bot's default.")
        assert "None yet." in await ask(world, "history")

        handle = await world.slash("imagine", {"prompt": "a *bold* fox @everyone", "count": 2})
        await world.idle()
        [result] = [m for m in world.discord.messages_for(handle) if not m.deleted]
        world.wisgate.fail("moderation_blocked")
        await world.slash("imagine", {"prompt": "refused upstream"})
        await world.idle()

        # Members count images, under one name; dollars are for moderators.
        text = await ask(world, "quota")
        assert text.startswith("You have used 2 of your 20 images today: **18 left**.")
        for word in ("$", "quota", "allowance", "limit", "spend"):
            assert word not in text, word

        history = await ask(world, "history")
        lines = history.split("\n")
        assert lines[0].startswith("**#2** <t:")
        assert lines[0].endswith("/imagine · failed, refunded · 0 images")
        assert lines[1] == "> refused upstream"
        link = (
            f"[open](https://discord.com/channels/{world.guild.id}/{result.channel_id}/{result.id})"
        )
        assert lines[2].startswith("**#1** <t:") and lines[2].endswith(
            f"· delivered · 2 images · {link}"
        )
        assert lines[3] == "> a \\*bold\\* fox @\u200beveryone"
        assert "$" not in history


async def test_direct_messages_show_the_dm_allowance_only(tmp_path: Path) -> None:
    async with running_bot(tmp_path, daily_image_limit=3) as world:
        await world.bot.tree.sync()  # global commands: what Discord offers in DMs
        await made(world, prompt="in the server")
        text = await ask(world, "quota", in_dm=True)
        assert text.startswith(
            "In direct messages you have used 0 of your 3 images today: **3 left**."
        )
        assert RESET.search(text)
        assert "None yet." in await ask(world, "history", in_dm=True)

        await world.slash("imagine", {"prompt": "in a DM"}, in_dm=True)
        await world.idle()
        history = await ask(world, "history", in_dm=True)
        assert "> in a DM" in history and "in the server" not in history
        assert "you have used 1 of your 3 images today: **2 left**" in await ask(
            world, "quota", in_dm=True
        )
        assert "in a DM" not in await ask(world, "history")


class TwoGuilds(Staff):
    """Staff in the first guild, and a second guild with its own admin; alice is in both."""

    other: FakeGuild
    other_admin: FakeUser

    def __call__(self, fake: FakeDiscord, guild: FakeGuild) -> None:
        """Add the second guild before the bot connects."""
        super().__call__(fake, guild)
        self.other = fake.add_guild("Other")
        admins = self.other.add_role("Admins", MANAGE_GUILD)
        self.other_admin = fake.add_user("other-admin")
        self.other.add_member(self.other_admin, roles=[admins])
        alice = next(m.user for m in guild.members.values() if m.user.username == "alice")
        self.other.add_member(alice)


async def test_nothing_of_one_server_shows_in_another(tmp_path: Path) -> None:
    setup = TwoGuilds()
    async with running_bot(tmp_path, setup=setup) as world:
        other = discord.Object(setup.other.id)
        world.bot.tree.copy_global_to(guild=other)
        await world.bot.tree.sync(guild=other)
        there: dict[str, object] = {"guild_id": other.id, "channel_id": setup.other.channels[0].id}
        mod_there = {**there, "user": setup.other_admin}
        alice, admin = world.alice, setup.admin

        # The first server: images, a grant, a budget, a log channel, a block.
        await made(world, prompt="first server secret")
        await ask(world, "quota-admin grant", {"member": alice, "images": 4}, user=admin)
        await ask(world, "quota-admin budget", {"usd": 5}, user=admin)
        await ask(world, "quota-admin settings", {"log_channel": setup.log}, user=admin)
        await ask(world, "quota-admin block", {"member": alice, "reason": "here only"}, user=admin)

        # The second server knows none of it.
        text = await ask(world, "quota", **there)
        assert text.startswith("You have used 0 of your 20 images today: **20 left**.")
        assert "$" not in text
        assert "None yet." in await ask(world, "history", **there)
        text = await ask(world, "quota-admin show", {"member": alice}, **mod_there)
        assert text.startswith(f"<@{alice.id}> can make **20 images** more today.")
        assert "here only" not in text and "extra" not in text
        assert "No quota changes recorded yet." in await ask(
            world, "quota-admin audit", **mod_there
        )
        text = await ask(world, "quota-admin top", **mod_there)
        assert text == "Nobody has made images here today.\nThis month the server has spent $0.00."
        text = await ask(world, "quota-admin settings", **mod_there)
        assert (
            "Log channel: none" in text and "Monthly budget: none; spent this month: $0.00" in text
        )

        # Blocked in the first server, alice still makes images in the second.
        await world.slash("imagine", {"prompt": "second server"}, **there)
        await world.idle()
        history = await ask(world, "history", **there)
        assert "> second server" in history and "first server secret" not in history
        assert "second server" not in await ask(world, "history")
        assert "blocked" in await ask(world, "quota")
        assert len(log_texts(world, setup.log)) == 2  # the settings and the block, nothing else

"""The commands everywhere: DMs, private channels and servers without the bot (user installs).

Outside servers that installed the bot, members spend their personal allowance (ledger scope
0, the global default): a server's limits, blocks and terms never follow them there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.harness import World, running_bot
from tests.e2e.quota_world import MANAGE_GUILD, Staff, ask, private_reply
from tests.fakes.discord import FakeGuild, FakeInteraction, FakeMessage
from tests.fakes.discord.options import OptionBuilder

EVERYWHERE = {"contexts": [0, 1, 2], "integration_types": [0, 1]}


async def slash_as_user_app(
    world: World, guild: FakeGuild, name: str, options: dict[str, Any], **where: Any
) -> FakeInteraction:
    """A slash command in a server that has not added the bot, through alice's own install.

    Discord then sends guild_id (context 0) but authorises the app by the user alone:
    authorizing_integration_owners is {"1": user id}, with no "0" (guild) entry. The fake has
    no switch for that yet, so this builds the interaction with its injector's parts.
    """
    fake = world.discord
    inject = fake._inject
    place = inject.where(user=world.alice, guild_id=guild.id, **where)
    top, *path = name.split()
    command = inject.command(top, place, 1)
    builder = OptionBuilder(place.guild, lambda u: inject.attachment(place.channel.id, u))
    data = inject.command_data(command, 1)
    data["options"] = builder.build(command, path, options, ())
    owners = {"authorizing_integration_owners": {"1": str(world.alice.id)}}
    handle = await inject.dispatch(2, place, data, extra=owners, name=name)
    world.handles.append(handle)
    await fake.wait_acknowledged(handle, within=3.0)
    return handle


def delivered(world: World, handle: FakeInteraction) -> FakeMessage:
    shown = [m for m in world.discord.messages_for(handle) if not m.deleted]
    [message] = [m for m in shown if m.attachments]
    assert not message.loading and len(message.attachments) == 1, message
    # Anything else is the member's own note of the images left today, private.
    assert all(m.ephemeral and "today" in m.content for m in shown if m is not message)
    return message


def personal_charges(world: World) -> list[tuple[Any, ...]]:
    return world.rows(
        "SELECT guild_id, user_id, images_charged FROM member_usage WHERE images_charged > 0"
    )


async def test_commands_are_offered_everywhere_but_quota_admin(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        await world.bot.tree.sync()
        commands = {c["name"]: c for c in world.discord.global_commands}
        offered = ("imagine", "imagine-file", "edit", "edit-file", "quota", "history")
        for name in (*offered, "Edit images"):
            registered = {key: commands[name].get(key) for key in EVERYWHERE}
            assert registered == EVERYWHERE, name
        admin = commands["quota-admin"]
        assert (admin["contexts"], admin["integration_types"]) == ([0], [0])


async def test_imagine_in_a_dm_charges_the_personal_allowance(tmp_path: Path) -> None:
    staff = Staff()
    async with running_bot(tmp_path, setup=staff, daily_image_limit=2) as world:
        await world.bot.tree.sync()  # global commands: what Discord offers in DMs
        await ask(world, "quota-admin default", {"images": 0}, user=staff.admin)
        refused = await world.slash("imagine", {"prompt": "in the server"})
        await world.idle()
        assert private_reply(world, refused).startswith("You cannot make images here")

        handle = await world.slash("imagine", {"prompt": "a moth at a lamp"}, in_dm=True)
        await world.idle()
        assert delivered(world, handle).guild_id is None
        assert world.rows("SELECT guild_id, status FROM jobs") == [(0, "succeeded")]
        assert personal_charges(world) == [(0, world.alice.id, 1)]
        text = await ask(world, "quota", in_dm=True)
        assert "you have used 1 of your 2 images today: **1 left**" in text


async def test_user_install_in_a_private_channel_delivers_by_dm_when_the_token_dies(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as world:
        await world.bot.tree.sync()
        world.wisgate.fail("slow", delay=0.8)
        handle = await world.slash("imagine", {"prompt": "a kite"}, in_dm=True, context=2)
        await world.discord.wait_for(lambda: len(world.wisgate.requests) == 1)
        world.discord.expire_token(handle)  # the interaction route is gone when images arrive
        await world.idle()
        dms = [m for m in world.discord.dm_messages(world.alice.id) if m.interaction_id is None]
        [dm] = [m for m in dms if m.attachments]
        assert dm.content == "Here are the images you asked for." and len(dm.attachments) == 1
        assert world.rows("SELECT guild_id, status, images_charged FROM jobs") == [
            (0, "succeeded", 1)
        ]
        assert personal_charges(world) == [(0, world.alice.id, 1)]


async def test_user_install_in_a_server_without_the_bot_uses_the_personal_scope(
    tmp_path: Path,
) -> None:
    staff = Staff()
    async with running_bot(tmp_path, setup=staff, daily_image_limit=3) as world:
        await world.bot.tree.sync()
        # The bot's own server is strict; the other server never added the bot.
        await ask(world, "quota-admin default", {"images": 0}, user=staff.admin)
        await ask(world, "quota-admin terms add", {"term": "moth"}, user=staff.admin)
        elsewhere = world.discord.add_guild("Elsewhere")  # not announced: the bot is not in it

        handle = await slash_as_user_app(world, elsewhere, "imagine", {"prompt": "a moth"})
        await world.idle()
        assert delivered(world, handle).channel_id == elsewhere.channels[0].id
        rows = world.rows("SELECT guild_id, channel_id, status FROM jobs")
        assert rows == [(0, elsewhere.channels[0].id, "succeeded")]  # channel kept: notices
        assert personal_charges(world) == [(0, world.alice.id, 1)]

        quota = await slash_as_user_app(world, elsewhere, "quota", {})
        await world.idle()
        text = private_reply(world, quota)
        assert text.startswith("This server has not added the bot, so the images you make here")
        assert "you have used 1 of your 3 images today: **2 left**" in text
        history = await slash_as_user_app(world, elsewhere, "history", {})
        await world.idle()
        assert "> a moth" in private_reply(world, history)

        # Its moderators have nothing to manage here, whatever their permissions.
        admin = await slash_as_user_app(
            world, elsewhere, "quota-admin top", {}, member_permissions=MANAGE_GUILD
        )
        await world.idle()
        assert private_reply(world, admin).startswith("This server has not added the bot")


async def test_user_install_in_a_server_without_the_bot_never_posts_in_its_channel(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as world:
        await world.bot.tree.sync()
        elsewhere = world.discord.add_guild("Elsewhere")
        world.wisgate.fail("slow", delay=0.8)
        handle = await slash_as_user_app(world, elsewhere, "imagine", {"prompt": "a kite"})
        await world.discord.wait_for(lambda: len(world.wisgate.requests) == 1)
        world.discord.expire_token(handle)
        await world.idle()
        channel = elsewhere.channels[0].id
        posted = [
            m
            for m in world.discord.channel_messages(channel)
            if m.interaction_id is None and m.author.id == world.discord.bot_user.id
        ]
        assert posted == []
        [dm] = [m for m in world.discord.dm_messages(world.alice.id) if m.attachments]
        assert dm.content == "Here are the images you asked for."
        assert personal_charges(world) == [(0, world.alice.id, 1)]

"""/quota-admin end to end: every subcommand's reply, its audit row, and who may use them."""

from __future__ import annotations

import json
from pathlib import Path

import discord
import pytest

from tests.e2e.harness import running_bot
from tests.e2e.quota_world import MANAGE_GUILD, Staff, ask, audit_actions, log_texts
from tests.fakes.discord import FakeMessage


async def test_every_change_states_old_and_new_and_leaves_an_audit_row(tmp_path: Path) -> None:
    staff = Staff()
    async with running_bot(tmp_path, setup=staff) as world:
        alice, bob, helpers = world.alice.id, world.bob.id, staff.helpers.id

        async def mod(name: str, options: dict[str, object] | None = None) -> str:
            return await ask(world, f"quota-admin {name}", options, user=staff.admin)

        text = await mod("limit", {"member": world.alice, "images": 50})
        assert text == f"<@{alice}>'s daily limit: no override → 50 images"
        text = await mod("limit", {"member": world.alice})
        assert text.startswith(f"<@{alice}>'s daily limit: 50 images → no override\n")
        assert "Their limit is now 20 images a day (the bot default)." in text

        text = await mod("role-limit", {"role": staff.helpers, "images": 30})
        assert text == f"Daily limit for <@&{helpers}>: none → 30 images"
        text = await mod("role-limit", {"role": staff.helpers})
        assert text == f"Daily limit for <@&{helpers}>: 30 images → none"

        text = await mod("default", {"images": 10})
        assert text == "Server default daily limit: the bot default (20 images) → 10 images"

        await world.slash("imagine", {"prompt": "a kettle"})
        await world.idle()
        text = await mod("grant", {"member": world.alice, "images": 5})
        assert text.startswith(f"<@{alice}>'s extra images today: 0 → 5\n")
        assert "They can make 14 images more today (resets <t:" in text
        text = await mod("reset", {"member": world.alice})
        assert text.startswith(f"<@{alice}>'s images used today: 1 → 0\n")
        assert "They can make 15 images more today" in text

        text = await mod("block", {"member": world.bob, "reason": "spam @everyone"})
        assert text.startswith(f"<@{bob}>: not blocked → blocked (spam @\u200beveryone)")
        text = await mod("unblock", {"member": world.bob})
        assert text == f"<@{bob}>: blocked (spam @\u200beveryone) → not blocked"
        text = await mod("unblock", {"member": world.bob})
        assert text.endswith("not blocked → not blocked\nThey were not blocked: nothing changed.")

        text = await mod("budget", {"usd": 25})
        assert text.startswith("Monthly image budget: none → $25.00\nSpent this month: $0.0")
        text = await mod("budget", {"usd": 0})
        assert text.startswith("Monthly image budget: $25.00 → none\n")

        text = await mod("top")
        assert text.startswith(f"**Top members today** (UTC day):\n1. <@{alice}>: 1 image, $0.")
        text = await mod("show", {"member": world.alice})
        assert text.startswith(f"<@{alice}> can make **15 images** more today.\n")
        assert "Used today: 0 of 15; resets <t:" in text
        assert "Daily limit: 10 images (the server default), plus 5 extra today." in text
        assert "Their spend here this month: $0." in text

        text = await mod("settings")
        assert "Moderator role: none" in text and "Log channel: none" in text
        assert "Server default daily limit: 10 images" in text and "Monthly budget: none" in text
        text = await mod("settings", {"moderator_role": staff.helpers, "log_channel": staff.log})
        assert (
            text == f"Moderator role: none → <@&{helpers}>\nLog channel: none → <#{staff.log.id}>"
        )
        text = await mod("settings", {"clear": "both"})
        assert (
            text == f"Moderator role: <@&{helpers}> → none\nLog channel: <#{staff.log.id}> → none"
        )

        rows = audit_actions(world)
        assert [row[0] for row in rows] == [
            "member_limit", "member_limit", "role_limit", "role_limit", "guild_default",
            "grant", "reset_usage", "block", "unblock", "unblock", "budget", "budget",
            "moderator_role", "log_channel", "moderator_role", "log_channel",
        ]  # fmt: skip
        assert {row[4] for row in rows} == {staff.admin.id}
        assert [json.loads(v) for v in rows[0][2:4]] == [None, 50]
        assert [json.loads(v) for v in rows[5][2:4]] == [0, 5]

        # The change that set the log channel was announced there; nothing after it was cleared.
        [announced] = log_texts(world, staff.log)
        assert announced.startswith(f"Quota change by <@{staff.admin.id}>:\nModerator role:")


async def test_settings_refuse_everyone_and_contradictions(tmp_path: Path) -> None:
    staff = Staff()
    async with running_bot(tmp_path, setup=staff) as world:
        everyone = world.guild.everyone
        text = await ask(
            world, "quota-admin settings", {"moderator_role": everyone}, user=staff.admin
        )
        assert text == "Choose a role other than @everyone as the moderator role."
        text = await ask(
            world,
            "quota-admin settings",
            {"log_channel": staff.log, "clear": "log_channel"},
            user=staff.admin,
        )
        assert text == "Either choose a log channel or clear it, not both."
        assert audit_actions(world) == []


def _buttons(message: FakeMessage) -> dict[str, dict[str, object]]:
    rows = message.components
    return {c["label"]: c for row in rows for c in row["components"]}


async def test_audit_pages_with_buttons_only_the_asker_can_press(tmp_path: Path) -> None:
    staff = Staff()
    async with running_bot(tmp_path, setup=staff) as world:
        for _ in range(23):  # with the block below, 24 changes: pages of 10, 10 and 4
            await ask(
                world, "quota-admin grant", {"member": world.alice, "images": 1}, user=staff.admin
            )
        await ask(
            world, "quota-admin block", {"member": world.bob, "reason": "x"}, user=staff.admin
        )
        handle = await world.slash("quota-admin audit", user=staff.admin)
        await world.idle()
        [message] = world.discord.messages_for(handle)
        description = message.embeds[0]["description"]
        assert description.count("\n`#") == 10 and "`#24`" in description and "`#15`" in description
        assert (
            f"by <@{staff.admin.id}>: <@{world.bob.id}>: not blocked → blocked (x)" in description
        )
        assert _buttons(message)["Previous"].get("disabled") is True
        assert not _buttons(message)["Next"].get("disabled")

        # Someone else pressing the buttons is turned away and the page does not move.
        click = await world.discord.inject_component(message, "quota-audit:next", user=world.bob)
        await world.discord.wait_acknowledged(click)
        await world.idle()
        [refusal] = world.discord.messages_for(click)
        assert refusal.ephemeral and "belong to the moderator who asked" in refusal.content
        assert message.embeds[0]["footer"]["text"] == "Page 1"

        pages = []
        for custom_id in ("next", "next", "previous"):
            click = await world.discord.inject_component(message, f"quota-audit:{custom_id}")
            await world.discord.wait_acknowledged(click)
            await world.idle()
            pages.append(message.embeds[0]["description"])
        assert "`#14`" in pages[0] and "`#5`" in pages[0] and "`#4`" not in pages[0]
        assert pages[1].count("\n`#") == 4 and "`#1`" in pages[1]
        assert pages[2] == pages[0]
        assert message.embeds[0]["footer"]["text"] == "Page 2"

        # Only one member's changes.
        text = await ask(world, "quota-admin audit", {"member": world.bob}, user=staff.admin)
        assert text.count("\n`#") == 1 and f"Changes about <@{world.bob.id}>" in text


async def test_members_without_permission_are_refused_and_nothing_changes(tmp_path: Path) -> None:
    staff = Staff()
    async with running_bot(tmp_path, setup=staff) as world:
        [group] = [
            c for c in world.discord.guild_commands(world.guild.id) if c["name"] == "quota-admin"
        ]
        assert group["default_member_permissions"] == str(MANAGE_GUILD)
        assert group.get("contexts") == [0]
        with pytest.raises(PermissionError):  # Discord would not even show it to bob
            await world.discord.inject_slash("quota-admin top", user=world.bob)

        attempts: list[tuple[str, dict[str, object]]] = [
            ("grant", {"member": world.bob, "images": 50}),
            ("limit", {"member": world.bob, "images": 1000}),
            ("unblock", {"member": world.bob}),
            ("budget", {"usd": 1000}),
            ("settings", {"moderator_role": staff.helpers}),
            ("show", {"member": world.alice}),
            ("audit", {}),
        ]
        for name, options in attempts:
            for who in (world.bob, staff.helper):
                text = await ask(
                    world, f"quota-admin {name}", options, user=who, check_permissions=False
                )
                assert text.startswith("Only moderators can change image quotas here"), text
        assert audit_actions(world) == []
        assert world.rows("SELECT COUNT(*) FROM member_policies") == [(0,)]
        assert world.rows("SELECT COUNT(*) FROM member_usage") == [(0,)]
        assert world.rows("SELECT COUNT(*) FROM guild_settings") == [(0,)]

        # A server that gives the integration to @everyone by mistake still keeps bob out.
        text = await ask(
            world,
            "quota-admin grant",
            {"member": world.bob, "images": 5},
            user=world.bob,
            member_permissions=discord.Permissions(use_application_commands=True).value,
            check_permissions=False,
        )
        assert text.startswith("Only moderators")

        # In direct messages the group does not exist for Discord, and our check says why.
        await world.bot.tree.sync()
        with pytest.raises(PermissionError):
            await world.discord.inject_slash("quota-admin top", user=world.alice, in_dm=True)
        text = await ask(
            world, "quota-admin top", user=world.alice, in_dm=True, check_permissions=False
        )
        assert text == "Quotas can only be managed inside a server."
        assert audit_actions(world) == []


async def test_the_moderator_role_lets_members_in_without_manage_server(tmp_path: Path) -> None:
    staff = Staff()
    async with running_bot(tmp_path, setup=staff) as world:
        grant = {"member": world.alice, "images": 2}

        async def as_helper() -> str:
            return await ask(
                world, "quota-admin grant", grant, user=staff.helper, check_permissions=False
            )

        assert (await as_helper()).startswith("Only moderators")
        text = await ask(
            world, "quota-admin settings", {"moderator_role": staff.helpers}, user=staff.admin
        )
        assert text == f"Moderator role: none → <@&{staff.helpers.id}>"
        assert (await as_helper()).startswith(f"<@{world.alice.id}>'s extra images today: 0 → 2")
        await ask(world, "quota-admin settings", {"clear": "moderator_role"}, user=staff.admin)
        assert (await as_helper()).startswith("Only moderators")
        assert [(row[0], row[4]) for row in audit_actions(world)] == [
            ("moderator_role", staff.admin.id),
            ("grant", staff.helper.id),
            ("moderator_role", staff.admin.id),
        ]


async def test_changes_are_announced_in_the_log_channel(tmp_path: Path) -> None:
    staff = Staff()
    async with running_bot(tmp_path, setup=staff) as world:
        await ask(world, "quota-admin settings", {"log_channel": staff.log}, user=staff.admin)
        await ask(
            world,
            "quota-admin block",
            {"member": world.bob, "reason": "flooding"},
            user=staff.admin,
        )
        texts = log_texts(world, staff.log)
        assert texts == [
            f"Quota change by <@{staff.admin.id}>:\nLog channel: none → <#{staff.log.id}>",
            f"Quota change by <@{staff.admin.id}>:\n<@{world.bob.id}>: not blocked → blocked "
            "(flooding)",
        ]
        sent = [r for r in world.discord.requests if r.path.endswith(f"/{staff.log.id}/messages")]
        assert all(r.json["allowed_mentions"] == {"parse": []} for r in sent)

        # A log channel the bot cannot write to: the moderator is told.
        locked = world.guild.add_channel("locked", bot_permissions=0)
        await world.discord.announce_guild(world.guild)
        await world.discord.wait_for(lambda: world.bot.get_channel(locked.id) is not None)
        handle = await world.slash(
            "quota-admin settings", {"log_channel": locked}, user=staff.admin
        )
        await world.idle()
        texts = [m.content for m in world.visible(handle, staff.admin) if not m.deleted]
        assert texts == [
            f"Log channel: <#{staff.log.id}> → <#{locked.id}>",
            f"I could not post in <#{locked.id}>: give me Send Messages there.",
        ]

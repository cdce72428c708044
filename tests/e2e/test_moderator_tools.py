"""Moderators' tools end to end: top by day or month, the list of limits and blocks, opening a
job, blocks with a duration, the month's picture, and the log told once of a refused key."""

from __future__ import annotations

import io
import json
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import bot.discord.month_report
from bot.discord.quota_texts import money
from bot.images.chart import BAR, DAILY_PLOT, daily_geometry
from tests.e2e.harness import running_bot
from tests.e2e.moderator_world import Moderated, a_month_of_jobs, earlier_days
from tests.e2e.quota_world import ask, audit_actions, log_texts, private_reply
from tests.fakes.discord import FakeMessage

NOT_A_MODERATOR = "Only moderators can change image quotas here"


async def test_top_by_month_adds_up_to_the_ledgers_totals(tmp_path: Path) -> None:
    staff = Moderated()
    async with running_bot(tmp_path, setup=staff) as world:
        month = await a_month_of_jobs(world, staff)
        text = await ask(world, "quota-admin top", {"period": "month"}, user=staff.admin)
        lines = text.split("\n")
        assert lines[0].startswith("**Top members this month** (") and "UTC" in lines[0]

        per_member = world.rows(
            "SELECT user_id, SUM(images_charged), SUM(cost_charged_micros) FROM jobs "
            "WHERE guild_id = ? AND month = ? GROUP BY user_id "
            "ORDER BY 2 DESC, 3 DESC, user_id",
            world.guild.id,
            month,
        )
        assert len(per_member) == 3
        ranked = [
            f"{rank}. <@{user}>: {images} image{'s' if images > 1 else ''}, {money(micros)}"
            for rank, (user, images, micros) in enumerate(per_member, start=1)
        ]
        assert lines[1:4] == ranked
        [(images, micros)] = world.rows(
            "SELECT SUM(images_charged), SUM(cost_charged_micros) FROM jobs "
            "WHERE guild_id = ? AND month = ?",
            world.guild.id,
            month,
        )
        assert images == 9  # three today, six on earlier days
        assert lines[4] == f"In all this month: {images} images, {money(micros)} by 3 members."
        assert lines[5] == f"This month the server has spent {money(micros)}."

        today = await ask(world, "quota-admin top", user=staff.admin)
        day_rows = world.rows(
            "SELECT user_id, SUM(images_charged) FROM jobs WHERE guild_id = ? AND day = ? "
            "GROUP BY user_id ORDER BY 2 DESC, SUM(cost_charged_micros) DESC, user_id",
            world.guild.id,
            datetime.now(UTC).date().isoformat(),
        )
        assert today.startswith("**Top members today** (UTC day):\n")
        assert re.findall(r"<@(\d+)>: (\d+) image", today) == [
            (str(user), str(count)) for user, count in day_rows
        ]


def bar_pixels(image: Image.Image, x: int) -> int:
    return sum(1 for y in range(DAILY_PLOT.top, DAILY_PLOT.bottom) if image.getpixel((x, y)) == BAR)


async def test_the_report_pictures_the_ledgers_daily_totals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn_on: list[threading.Thread] = []
    draw = bot.discord.month_report.draw

    def watched(*args: Any) -> Any:
        drawn_on.append(threading.current_thread())
        return draw(*args)

    monkeypatch.setattr(bot.discord.month_report, "draw", watched)
    staff = Moderated()
    async with running_bot(tmp_path, setup=staff) as world:
        month = await a_month_of_jobs(world, staff)
        await ask(world, "quota-admin budget", {"usd": 3}, user=staff.admin)
        handle = await world.slash("quota-admin report", user=staff.admin)
        await world.idle()
        [message] = [m for m in world.discord.messages_for(handle) if not m.deleted]
        assert message.ephemeral and not message.visible_to(world.bob.id)
        [picture] = message.attachments
        assert picture.filename == f"spend-{month}.png"
        [embed] = message.embeds
        assert embed["title"].startswith("Image spend in ")
        assert "of the $3.00 budget" in embed["description"]
        assert drawn_on and drawn_on[0] is not threading.main_thread()  # off the event loop

        by_day = dict(
            world.rows(
                "SELECT CAST(substr(day, 9) AS INTEGER), SUM(cost_charged_micros) FROM jobs "
                "WHERE guild_id = ? AND month = ? GROUP BY day",
                world.guild.id,
                month,
            )
        )
        assert set(earlier_days(datetime.now(UTC))) <= set(by_day)
        year, number = (int(part) for part in month.split("-"))
        days = (datetime(year + number // 12, number % 12 + 1, 1) - timedelta(days=1)).day
        daily = [by_day.get(day, 0) for day in range(1, days + 1)]
        geometry = daily_geometry(daily, 3_000_000)

        image = Image.open(io.BytesIO(picture.data))
        assert image.format == "PNG"
        image = image.convert("RGB")
        slot = DAILY_PLOT.width / days
        per_pixel = geometry.scale_micros / DAILY_PLOT.height
        for day, spent in enumerate(daily, start=1):
            measured = bar_pixels(image, DAILY_PLOT.left + int((day - 1) * slot + slot / 2))
            if not spent:
                assert measured == 0, day
                continue
            # The bar's height in pixels, read back as money, is the ledger's total that day.
            assert abs(measured * per_pixel - spent) <= per_pixel, (day, measured, spent)


async def test_the_list_pages_this_servers_limits_and_blocks_only(tmp_path: Path) -> None:
    staff = Moderated()
    async with running_bot(tmp_path, setup=staff) as world:
        there = await staff.serve_other(world)
        mod = {"user": staff.admin}
        for images, person in enumerate(staff.crowd, start=1):
            await ask(world, "quota-admin limit", {"member": person, "images": images}, **mod)
        await ask(world, "quota-admin role-limit", {"role": staff.helpers, "images": 30}, **mod)
        await ask(
            world, "quota-admin block", {"member": world.bob, "reason": "flood", "duration": "1d"},
            **mod,
        )  # fmt: skip
        await ask(world, "quota-admin block", {"member": staff.helper, "reason": "rude"}, **mod)
        # The other server's own limit and block on alice.
        mod_there = {**there, "user": staff.other_admin}
        await ask(world, "quota-admin limit", {"member": world.alice, "images": 2}, **mod_there)
        await ask(
            world, "quota-admin block", {"member": world.alice, "reason": "elsewhere"}, **mod_there
        )

        handle = await world.slash("quota-admin list", user=staff.admin)
        await world.idle()
        [message] = world.discord.messages_for(handle)
        first = message.embeds[0]["description"]
        assert first.startswith("Member limits: 8 · role limits: 1 · blocks in force: 2\n")
        lines = first.split("\n")
        for images, person in enumerate(staff.crowd, start=1):
            assert f"<@{person.id}>: {images} image{'s' if images > 1 else ''} a day" in lines
        assert f"<@&{staff.helpers.id}>: 30 images a day" in lines
        assert re.search(
            rf"\n<@{world.bob.id}>: until <t:\d+:f> \(<t:\d+:R>\), by <@{staff.admin.id}> "
            r"<t:\d+:d> — flood$",
            first,
        )  # ten to a page: the eight limits, the role's, the first block
        assert f"<@{world.alice.id}>" not in first and "rude" not in first
        assert _buttons(message)["Previous"].get("disabled") is True

        click = await world.discord.inject_component(message, "quota-list:next", user=world.bob)
        await world.discord.wait_acknowledged(click)
        await world.idle()
        [refusal] = world.discord.messages_for(click)
        assert refusal.ephemeral and "`/quota-admin list` yourself" in refusal.content
        assert message.embeds[0]["footer"]["text"] == "Page 1"

        click = await world.discord.inject_component(message, "quota-list:next")
        await world.discord.wait_acknowledged(click)
        await world.idle()
        second = message.embeds[0]["description"]
        assert message.embeds[0]["footer"]["text"] == "Page 2"
        assert second.split("\n")[1:] == [
            "",
            "**Blocks**",
            f"<@{staff.helper.id}>: until unblocked, by <@{staff.admin.id}> "
            + re.findall(r"<t:\d+:d>", second)[0]
            + " — rude",
        ]
        assert "elsewhere" not in first + second
        assert _buttons(message)["Next"].get("disabled") is True
        assert not _buttons(message)["Previous"].get("disabled")

        elsewhere = await ask(world, "quota-admin list", **mod_there)
        assert elsewhere.startswith("Member limits: 1 · role limits: 0 · blocks in force: 1")
        assert f"<@{world.alice.id}>: 2 images a day" in elsewhere and "elsewhere" in elsewhere
        assert "flood" not in elsewhere and "rude" not in elsewhere


def _buttons(message: FakeMessage) -> dict[str, dict[str, object]]:
    return {c["label"]: c for row in message.components for c in row["components"]}


async def test_a_job_opens_in_its_own_server_only(tmp_path: Path) -> None:
    staff = Moderated()
    async with running_bot(tmp_path, setup=staff) as world:
        there = await staff.serve_other(world)
        await world.bot.tree.sync()  # global commands: /imagine in direct messages
        await world.slash("imagine", {"prompt": "a **red** kite @everyone"})
        await world.slash("imagine", {"prompt": "the other server's secret"}, **there)
        await world.slash("imagine", {"prompt": "a direct message secret"}, in_dm=True)
        await world.idle()
        ids = dict(world.rows("SELECT json_extract(params, '$.prompt'), id FROM jobs"))
        here, other, in_dm = (
            ids["a **red** kite @everyone"],
            ids["the other server's secret"],
            ids["a direct message secret"],
        )

        text = await ask(world, "quota-admin job", {"id": here}, user=staff.admin)
        [(cost,)] = world.rows("SELECT cost_charged_micros FROM jobs WHERE id = ?", here)
        assert f"Member: <@{world.alice.id}> in <#{world.guild.channels[0].id}>" in text
        assert "Outcome: delivered" in text and "Images: 1 asked, 1 made, 1 delivered" in text
        assert f"Cost: {money(cost)} charged" in text and "Times: asked <t:" in text
        assert text.endswith(">>> a \\*\\*red\\*\\* kite @\u200beveryone")
        assert "Result: [open the message](https://discord.com/channels/" in text

        for job_id in (other, in_dm, 999_999):
            reply = await ask(world, "quota-admin job", {"id": job_id}, user=staff.admin)
            assert reply == "There is no such job in this server."
        reply = await ask(world, "quota-admin job", {"id": here}, **there, user=staff.other_admin)
        assert reply == "There is no such job in this server."
        mine_there = await ask(
            world, "quota-admin job", {"id": other}, **there, user=staff.other_admin
        )
        assert "the other server's secret" in mine_there and "kite" not in mine_there


async def test_a_timed_block_says_until_when_and_ends_by_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staff = Moderated()
    async with running_bot(tmp_path, setup=staff) as world:
        await ask(world, "quota-admin settings", {"log_channel": staff.log}, user=staff.admin)
        before = datetime.now(UTC)
        options = {"member": world.alice, "reason": "cool off", "duration": "1h"}
        text = await ask(world, "quota-admin block", options, user=staff.admin)
        after = datetime.now(UTC)
        match = re.fullmatch(rf"<@{world.alice.id}>: not blocked → blocked until <t:(\d+):f> "
                             r"\(cool off\)", text)  # fmt: skip
        assert match is not None, text
        ends = int(match.group(1))
        assert int((before + timedelta(hours=1)).timestamp()) <= ends
        assert ends <= int((after + timedelta(hours=1)).timestamp())
        assert log_texts(world, staff.log)[-1].endswith(text)

        [row] = [row for row in audit_actions(world) if row[0] == "block"]
        value = json.loads(row[3])
        assert value["reason"] == "cool off"
        assert int(datetime.fromisoformat(value["until"]).timestamp()) == ends

        shown = await ask(world, "quota-admin show", {"member": world.alice}, user=staff.admin)
        assert shown.startswith(
            f"<@{world.alice.id}> is blocked from making images here until <t:{ends}:f>. "
            "Reason: cool off"
        )
        refused = await world.slash("imagine", {"prompt": "a kettle"})
        await world.idle()
        assert refused.ack_type == 4  # refused before the defer, privately
        assert f"until <t:{ends}:f>" in private_reply(world, refused)
        assert world.rows("SELECT COUNT(*) FROM jobs") == [(0,)]

        # An hour and a minute later (the ledger's clock), the block has ended by itself.
        monkeypatch.setattr(
            world.bot.ledger, "_clock", lambda: datetime.now(UTC) + timedelta(minutes=61)
        )
        made = await world.slash("imagine", {"prompt": "a kettle, later"})
        await world.idle()
        assert made.ack_type == 5
        assert world.rows("SELECT status, images_charged FROM jobs") == [("succeeded", 1)]
        shown = await ask(world, "quota-admin show", {"member": world.alice}, user=staff.admin)
        assert "blocked" not in shown


async def test_members_are_refused_the_new_commands(tmp_path: Path) -> None:
    staff = Moderated()
    async with running_bot(tmp_path, setup=staff) as world:
        await world.slash("imagine", {"prompt": "a private matter"})
        await world.idle()
        [(job_id,)] = world.rows("SELECT id FROM jobs")
        attempts: list[tuple[str, dict[str, object]]] = [
            ("top", {"period": "month"}),
            ("list", {}),
            ("job", {"id": job_id}),
            ("report", {}),
            ("block", {"member": world.alice, "reason": "x", "duration": "7d"}),
        ]
        for name, options in attempts:
            for who in (world.bob, staff.helper):
                handle = await world.slash(
                    f"quota-admin {name}", options, user=who, check_permissions=False
                )
                await world.idle()
                assert private_reply(world, handle).startswith(NOT_A_MODERATOR), name
                shown = [m for m in world.discord.messages_for(handle) if not m.deleted]
                assert all(not m.attachments and not m.embeds for m in shown)
        assert audit_actions(world) == []
        assert world.rows("SELECT COUNT(*) FROM member_policies") == [(0,)]


async def test_a_refused_key_is_told_to_the_log_channel_once(tmp_path: Path) -> None:
    staff = Moderated()
    async with running_bot(tmp_path, setup=staff) as world:
        await ask(world, "quota-admin settings", {"log_channel": staff.log}, user=staff.admin)
        world.wisgate.api_key = "sk-a-key-the-owner-rotated-elsewhere"  # ours is refused now
        for who in (world.alice, world.bob):
            handle = await world.slash("imagine", {"prompt": "a locked door"}, user=who)
            await world.idle()
            assert "cannot sign in to the image service" in private_reply(world, handle)
        rows = world.rows("SELECT status, failure, images_charged, cost_charged_micros FROM jobs")
        assert rows == [("failed", "AuthenticationFailed", 0, 0)] * 2
        alerts = [t for t in log_texts(world, staff.log) if "refused the bot's API key" in t]
        assert len(alerts) == 1, log_texts(world, staff.log)
        assert alerts[0].startswith("**Image service:** the bot's WisGate account refused")

        [(first,)] = world.rows("SELECT MIN(id) FROM jobs")
        text = await ask(world, "quota-admin job", {"id": first}, user=staff.admin)
        assert "Outcome: failed, refunded" in text and "Failure: AuthenticationFailed" in text
        assert "Cost: $0.00 charged" in text
        # running_bot's exit checks that no key reached Discord, the database or the logs.

"""The owner's bill, end to end: what was generated is charged, and kept for the member.

The attacks an earlier review reproduced, each now closed: making every delivery route fail
to get images free; uploads that cost memory before the checks that could refuse them; a
server that raises its own limits to spend the operator's money; file names that reach other
members' results.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import World, running_bot
from tests.e2e.quota_world import Staff, ask, log_texts, private_reply
from tests.e2e.test_everywhere import slash_as_user_app
from tests.e2e.test_results import as_sent_before
from tests.fakes.discord import FakeGuild, FakeInteraction, FakeMessage
from tests.fakes.images import make_bomb, make_image

CHEAP = {"model": "dall-e-2", "size": "256x256"}  # $0.016 an image at list price


def job_rows(world: World) -> list[tuple[Any, ...]]:
    return world.rows(
        "SELECT status, images_charged, images_sent, delivery, cost_charged_micros > 0 "
        "FROM jobs ORDER BY id"
    )


def history_button(world: World, handle: FakeInteraction) -> tuple[FakeMessage, str]:
    """The /history answer and the custom id of its one Deliver again button."""
    [message] = [m for m in world.discord.messages_for(handle) if not m.deleted]
    ids = [c["custom_id"] for row in message.components for c in row["components"]]
    [custom_id] = [i for i in ids if i.startswith("history:deliver:")]
    return message, custom_id


async def press_as_user_app(
    world: World, guild: FakeGuild, message: FakeMessage, custom_id: str
) -> FakeInteraction:
    """A button press in a server without the bot, through alice's own install."""
    inject = world.discord._inject
    place = inject.where(user=world.alice, guild_id=guild.id, channel_id=message.channel_id)
    data = {"custom_id": custom_id, "component_type": 2}
    extra = {
        "message": message.payload(),
        "authorizing_integration_owners": {"1": str(world.alice.id)},
    }
    handle = await inject.dispatch(
        3, place, data, extra=extra, custom_id=custom_id, source_message=message
    )
    world.handles.append(handle)
    await world.discord.wait_acknowledged(handle, within=3.0)
    return handle


async def test_failing_every_delivery_route_still_charges_and_keeps_the_images(
    tmp_path: Path,
) -> None:
    """The user-install attack: own server, DMs closed, the reply gone while it generates."""
    async with running_bot(tmp_path, daily_image_limit=1, streaming_previews="on") as world:
        await world.bot.tree.sync()
        mine = world.discord.add_guild("Mine")  # never added the bot: no channel route
        world.alice.dms_open = False
        world.wisgate.fail("slow", delay=0.5)
        first = await slash_as_user_app(world, mine, "imagine", {"prompt": "free art"})
        await world.discord.wait_for(lambda: len(world.wisgate.requests) == 1)
        assert first.original is not None
        first.original.deleted = True  # the member deletes the bot's reply...
        world.discord.expire_token(first)  # ...and the token dies with it
        await world.idle()
        # Generated, so charged: the member's one image today is spent, and kept for them.
        assert job_rows(world) == [("succeeded", 1, 0, "waiting", True)]
        [(job_id,)] = world.rows("SELECT id FROM jobs")
        record = await world.bot.ledger.job(job_id)
        assert record is not None and world.bot.results.has(job_id, record.result_key)

        for attempt in range(2):  # asking again is refused at once: nothing more is made
            again = await slash_as_user_app(world, mine, "imagine", {"prompt": f"more {attempt}"})
            await world.idle()
            assert again.ack_type == 4
            assert "used all 1 of your images today" in private_reply(world, again)
        assert len(world.wisgate.requests) == 1

        # Where the member can be reached, /history offers the images again.
        world.alice.dms_open = True
        history = await slash_as_user_app(world, mine, "history", {})
        await world.idle()
        message, custom_id = history_button(world, history)
        assert custom_id == f"history:deliver:{job_id}"
        press = await press_as_user_app(world, mine, message, custom_id)
        await world.idle()
        [delivered] = [m for m in world.discord.messages_for(press) if m.attachments]
        assert [a.filename for a in delivered.attachments] == [f"imagine-{job_id}-1.png"]
        assert job_rows(world) == [("succeeded", 1, 1, "delivered", True)]
        assert len(world.wisgate.requests) == 1  # delivered from the store, not made again


async def test_a_private_job_with_dms_closed_and_the_token_gone_waits_for_the_member(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as world:
        world.alice.dms_open = False
        world.wisgate.fail("slow", delay=0.5)
        handle = await world.slash("imagine", {"prompt": "a secret", "private": True})
        world.discord.expire_token(handle)
        await world.idle()
        assert job_rows(world) == [("succeeded", 1, 0, "waiting", True)]
        channel = world.discord.channel_messages(handle.channel_id)
        assert [m for m in channel if m.kind == "channel"] == []  # never public

        # Another member cannot have it delivered; the owner can, privately.
        history = await world.slash("history")
        await world.idle()
        message, custom_id = history_button(world, history)
        refused = await world.discord.inject_component(message, custom_id, user=world.bob)
        world.handles.append(refused)
        await world.idle()
        assert "Only the member who asked" in private_reply(world, refused)
        press = await world.discord.inject_component(message, custom_id)
        world.handles.append(press)
        await world.idle()
        [delivered] = [m for m in world.discord.messages_for(press) if m.attachments]
        assert delivered.ephemeral and delivered.visible_to(world.alice.id)
        assert job_rows(world) == [("succeeded", 1, 1, "delivered", True)]
        # Pressed again: already delivered, nothing sent twice.
        again = await world.discord.inject_component(message, custom_id)
        world.handles.append(again)
        await world.idle()
        assert "already delivered" in private_reply(world, again)


async def test_a_deleted_reply_gets_the_images_as_a_new_message(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        world.wisgate.fail("slow", delay=0.5)
        handle = await world.slash("imagine", {"prompt": "a lighthouse"})
        await world.discord.wait_for(lambda: len(world.wisgate.requests) == 1)
        assert handle.original is not None
        handle.original.deleted = True
        await world.idle()
        [message] = [m for m in world.discord.messages_for(handle) if m.attachments]
        assert message.kind == "followup" and not message.ephemeral
        assert job_rows(world) == [("succeeded", 1, 1, "delivered", True)]


# -- memory and downloads: nothing before the checks, bounded after them ---------------------

BOMB_SIDE = 9456  # a 1-bit PNG of ~90 KB that decodes to 89 Mpx
EDITS = 8
FILES_PER_EDIT = 4


def bombs(side: int, *, rgba: bool = False, declared: bool = False) -> list[Any]:
    """Attachments of one /edit: PNG bombs, their size declared by Discord or not."""
    data = make_bomb(side, rgba=rgba)
    dims = (side, side) if declared else (None, None)
    return [(f"bomb{k}.png", data, "image/png", *dims) for k in range(FILES_PER_EDIT)]


async def parallel_edits(world: World, files: list[Any]) -> list[FakeInteraction]:
    """EDITS /edit commands at once from alice, each with `files` (image, image2...)."""
    options = {"prompt": "make it pop"}
    return list(
        await asyncio.gather(
            *(world.slash("edit", options, attachments=files) for _ in range(EDITS))
        )
    )


def peak_rss_reset() -> None:
    """Start measuring the process's peak resident memory from now (Linux)."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mib() -> float:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status)[1]) / 1024  # type: ignore[index]


def rss_mib() -> float:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status)[1]) / 1024  # type: ignore[index]


async def test_a_blocked_member_costs_no_download_and_no_decode(tmp_path: Path) -> None:
    staff = Staff()
    async with running_bot(tmp_path, setup=staff) as world:
        await ask(world, "quota-admin block", {"member": world.alice, "reason": "spam"},
                  user=staff.admin)  # fmt: skip
        handles = await parallel_edits(world, bombs(BOMB_SIDE))
        await world.idle()
        for handle in handles:
            assert handle.ack_type == 4  # refused at once, before any defer
            assert "blocked you" in private_reply(world, handle)
        assert world.discord.downloads == []
        assert world.bot.intake.peak == 0  # no byte admitted: nothing decoded
        assert world.wisgate.requests == [] and world.rows("SELECT COUNT(*) FROM jobs") == [(0,)]


async def test_bombs_declared_by_discord_are_refused_before_any_download(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        handles = await parallel_edits(world, bombs(BOMB_SIDE, declared=True))
        await world.idle()
        for handle in handles:
            assert handle.ack_type == 4
            assert "9456x9456" in private_reply(world, handle)
        assert world.discord.downloads == [] and world.wisgate.requests == []


async def test_undeclared_bombs_are_refused_from_their_header_without_decoding(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as world:
        peak_rss_reset()
        before = rss_mib()
        handles = await parallel_edits(world, bombs(BOMB_SIDE))
        await world.idle(within=60)
        grew = peak_rss_mib() - before
        for handle in handles:
            assert "9456x9456" in private_reply(world, handle)
        assert world.wisgate.requests == [] and world.rows("SELECT COUNT(*) FROM jobs") == [(0,)]
        # One decode of one bomb alone would be 89 MiB; 32 at once, 2.8 GiB.
        print(f"peak RSS growth for {EDITS} x {FILES_PER_EDIT} undeclared bombs: {grew:.0f} MiB")
        assert grew < 48, grew


# Two decodes at a time (bot/images/intake.py), each of at most 25 Mpx x 4 bytes: 2 x 96 MiB,
# plus room for the rest of the process's work. Unbounded, 32 of these decoded at once would
# take ~3 GiB.
ALLOWED_PEAK_MIB = 2 * 96 + 64


async def test_decodes_of_large_uploads_are_bounded(tmp_path: Path) -> None:
    """A member allowed to upload 24-megapixel images, eight /edits of four at once."""
    async with running_bot(tmp_path, account_daily_usd="off", max_retries=0) as world:
        world.wisgate.fail("server_error", EDITS)  # the fake never decodes them itself
        files = bombs(4900, rgba=True)  # 93 KB each, 96 MiB decoded
        peak_rss_reset()
        before = rss_mib()
        handles = await parallel_edits(world, files)
        await world.idle(within=120)
        grew = peak_rss_mib() - before
        print(f"peak RSS growth for {EDITS} x {FILES_PER_EDIT} 24 Mpx uploads: {grew:.0f} MiB")
        assert len(world.wisgate.requests) == EDITS  # all were checked and sent
        assert all("nothing was charged" in private_reply(world, h).lower() for h in handles)
        assert grew < ALLOWED_PEAK_MIB, grew


# -- the operator's ceiling -------------------------------------------------------------------


async def test_a_server_that_lifts_its_own_limits_stops_at_the_operators_cap(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    staff = Staff()
    settings = {"operator_daily_usd": "0.05", "max_daily_images": "off"}
    async with running_bot(tmp_path, setup=staff, **settings) as world:
        await ask(world, "quota-admin settings", {"log_channel": staff.log}, user=staff.admin)
        await ask(world, "quota-admin default", {"images": 100000}, user=staff.admin)
        caplog.set_level(logging.WARNING, logger="bot.discord.gate")
        made = 0
        for _ in range(10):
            handle = await world.slash("imagine", {"prompt": "a pebble", **CHEAP})
            await world.idle()
            if handle.ack_type == 4:
                break
            made += 1
        assert made == 3  # $0.048 of $0.05: the fourth image would pass the cap
        assert "spending limit its owner set for today" in private_reply(world, handle)
        for who in (world.alice, world.bob):  # everyone now, not only the member who hit it
            refused = await world.slash("imagine", {"prompt": "one more", **CHEAP}, user=who)
            await world.idle()
            assert refused.ack_type == 4 and "Nothing was charged" in private_reply(world, refused)
        await world.discord.wait_for(  # the alert goes out beside the refusal, not before it
            lambda: any("Spending cap" in t for t in log_texts(world, staff.log)),
            within=10,
            what="the cap's alert in the log channel",
        )
        alerts = [t for t in log_texts(world, staff.log) if "Spending cap" in t]
        assert len(alerts) == 1 and "OPERATOR_DAILY_USD" in alerts[0]
        told = [r for r in caplog.records if "operator cap operator_daily" in r.getMessage()]
        assert len(told) == 1
        assert world.rows("SELECT SUM(cost_charged_micros) FROM jobs") == [(48_000,)]


TWO_CENTS_A_DAY = {"operator_daily_usd": "0.02", "max_daily_images": "off"}


async def over_the_cap_while_the_log_channel_fails(
    world: World, staff: Staff, failures: int
) -> FakeInteraction:
    """Spend most of the owner's $0.02 day, have the log channel answer 502 `failures` times,
    and ask once more: refused at the cap (the refusal; its alert may still be going out)."""
    await ask(world, "quota-admin settings", {"log_channel": staff.log}, user=staff.admin)
    await world.slash("imagine", {"prompt": "a pebble", **CHEAP})  # $0.016 of $0.02
    await world.idle()
    world.discord.fail_next("POST", rf"^/channels/{staff.log.id}/messages$", 502, count=failures)
    return await world.slash("imagine", {"prompt": "one more", **CHEAP})


async def test_a_cap_refusal_is_not_held_up_by_its_alert_to_the_log_channel(
    tmp_path: Path,
) -> None:
    """The first refusal at a cap also alerts the log channel; that channel answering 502
    (discord.py tries again after 1 s, then 3 s) must not keep the member's refusal past
    Discord's 3 s to answer an interaction (found by the chaos run on PostgreSQL)."""
    staff = Staff()
    async with running_bot(tmp_path, setup=staff, **TWO_CENTS_A_DAY) as world:
        refused = await over_the_cap_while_the_log_channel_fails(world, staff, failures=2)
        await world.idle()
        assert refused.ack_type == 4 and "Nothing was charged" in private_reply(world, refused)
        await world.discord.wait_for(
            lambda: any("Spending cap" in t for t in log_texts(world, staff.log)),
            within=10,
            what="the cap's alert in the log channel, once Discord took it",
        )


async def test_a_cap_alert_still_going_out_is_not_lost_to_a_clean_shutdown(
    tmp_path: Path,
) -> None:
    """The alert is recorded as sent before it is posted: a stop while discord.py waits to try
    the log channel again (it answered 502) lets it finish, else no process would ever post it."""
    staff = Staff()
    async with running_bot(tmp_path, setup=staff, **TWO_CENTS_A_DAY) as world:
        refused = await over_the_cap_while_the_log_channel_fails(world, staff, failures=1)
        assert refused.ack_type == 4 and "Nothing was charged" in private_reply(world, refused)
        await world.restart()  # at once: the alert is in discord.py's 1 s wait
        assert any("Spending cap" in t for t in log_texts(world, staff.log))


async def test_moderators_cannot_set_limits_above_the_owners_ceiling(tmp_path: Path) -> None:
    staff = Staff()
    async with running_bot(tmp_path, setup=staff, max_daily_images=50) as world:
        text = await ask(world, "quota-admin default", {"images": 100000}, user=staff.admin)
        assert "caps daily limits at 50 images" in text
        await ask(world, "quota-admin default", {"images": 50}, user=staff.admin)
        await ask(world, "quota-admin grant", {"member": world.alice, "images": 500},
                  user=staff.admin)  # fmt: skip
        quota = await ask(world, "quota")
        # The grant is capped by the ceiling too.
        assert "used 0 of your 50 images today" in quota
        assert "allows at most 50 images a day" in quota


async def test_personal_use_has_its_own_monthly_budget(tmp_path: Path) -> None:
    async with running_bot(tmp_path, personal_monthly_usd="0.02") as world:
        await world.bot.tree.sync()
        ok = await world.slash("imagine", {"prompt": "a pebble", **CHEAP}, in_dm=True)
        await world.idle()
        assert ok.ack_type == 5
        refused = await world.slash("imagine", {"prompt": "another", **CHEAP}, in_dm=True)
        await world.idle()
        assert refused.ack_type == 4
        assert "direct messages and the app on your account" in private_reply(world, refused)
        assert len(world.wisgate.requests) == 1


async def test_an_account_has_one_daily_cap_across_servers_and_dms(tmp_path: Path) -> None:
    async with running_bot(tmp_path, account_daily_usd="0.02") as world:
        await world.bot.tree.sync()
        await world.slash("imagine", {"prompt": "in the server", **CHEAP})
        await world.idle()
        refused = await world.slash("imagine", {"prompt": "in a DM", **CHEAP}, in_dm=True)
        await world.idle()
        assert "spending limit for your account" in private_reply(world, refused)
        other = await world.slash("imagine", {"prompt": "bob's", **CHEAP}, user=world.bob)
        await world.idle()
        assert other.ack_type == 5  # another account is not affected
        assert len(world.wisgate.requests) == 2


async def test_servers_outside_allowed_guilds_are_refused_and_can_be_left(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path, allowed_guilds="1", leave_other_guilds=True) as world:
        await world.bot.tree.sync()
        handle = await world.slash("imagine", {"prompt": "a cat"})
        await world.idle()
        assert handle.ack_type == 4
        assert "not available in this server" in private_reply(world, handle)
        quota = await world.slash("quota")
        await world.idle()
        assert "not available in this server" in private_reply(world, quota)
        assert world.guild.id in world.discord.state.left_guilds
        dm = await world.slash("imagine", {"prompt": "a cat"}, in_dm=True)
        await world.idle()
        assert dm.ack_type == 5  # direct messages are the member's own: still served
        assert len(world.wisgate.requests) == 1


# -- results by record, never by name ---------------------------------------------------------


async def test_a_file_named_like_another_jobs_result_fetches_nothing(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        secret = await world.slash("imagine", {"prompt": "bob's secret"}, user=world.bob)
        await world.idle()
        [(bob_job,)] = world.rows("SELECT id FROM jobs")
        trick = (f"imagine-{bob_job}-1.png", make_image(64, 64), "image/png", 64, 64)
        edit = await world.slash("edit", {"prompt": "a hat"}, attachments=[trick])
        await world.idle()
        [result] = [m for m in world.discord.messages_for(edit) if m.attachments]
        # An edit of uploads offers no Re-roll (they are not kept); a message sent before that
        # rule still carries one, and its press must find nothing by the file's name.
        assert f"result:reroll:{bob_job + 1}" not in str(result.components)
        as_sent_before(result, bob_job + 1)
        reroll = await world.discord.inject_component(result, f"result:reroll:{bob_job + 1}")
        world.handles.append(reroll)
        await world.idle()
        assert "keep no copy of the images uploaded" in private_reply(world, reroll)
        fetched = [
            r for r in world.discord.requests if r.method == "GET" and "/messages/" in r.path
        ]
        assert fetched == []  # bob's message was never looked up
        assert len(world.wisgate.requests) == 2  # bob's image and alice's edit, no re-roll
        assert secret.ack_type == 5


async def test_queued_inputs_wait_on_disk_and_arrive_intact(tmp_path: Path) -> None:
    async with running_bot(tmp_path, input_memory_mb=0, max_concurrent_jobs=1) as world:
        world.wisgate.fail("slow", delay=0.6)
        spool = tmp_path / "spool"
        sides = (64, 80)
        pictures = [make_image(side, side, "png") for side in sides]
        for n, (side, data) in enumerate(zip(sides, pictures, strict=True)):
            upload = (f"in{n}.png", data, "image/png", side, side)
            await world.slash("edit", {"prompt": f"edit {n}"}, attachments=[upload])
        await world.discord.wait_for(lambda: spool.exists() and any(spool.iterdir()))
        await world.idle()
        sent = [bytes(request.files[0].data) for request in world.wisgate.requests]
        # Read back from disk byte for byte. In either order: the two requests are reserved
        # concurrently, and on PostgreSQL (a pool of connections) the second may queue first.
        assert sorted(sent) == sorted(pictures)
        # Nothing left (on PostgreSQL each process spools in a folder of its own while it runs).
        assert [path for path in spool.rglob("*") if path.is_file()] == []


async def test_the_edit_menu_on_a_result_uses_it_by_record(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        handle = await world.slash("imagine", {"prompt": "a harbour", "count": 2})
        await world.idle()
        [result] = [m for m in world.discord.messages_for(handle) if m.attachments]
        [(job_id,)] = world.rows("SELECT id FROM jobs")
        menu = await world.discord.inject_context_menu("Edit images", target=result)
        world.handles.append(menu)
        await world.discord.wait_acknowledged(menu)
        assert menu.modal is not None
        submit = await world.discord.inject_modal_submit(
            menu.modal["custom_id"], {"prompt": "at night"}, parent=menu
        )
        world.handles.append(submit)
        await world.idle()
        assert world.discord.downloads == []  # both images came from the results store
        [(sources,)] = world.rows("SELECT params ->> '$.sources' FROM jobs WHERE kind = 'edit'")
        assert sources == f"[[{job_id},0],[{job_id},1]]"


async def test_the_member_is_told_where_their_waiting_images_are(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        # Every upload is refused (too large for this channel, say); plain messages go.
        world.discord.fail_next("*", r".*", 413, code=40005, uploads_only=True, count=20)
        handle = await world.slash("imagine", {"prompt": "a mountain"})
        await world.idle()
        assert job_rows(world) == [("succeeded", 1, 0, "waiting", True)]
        [(job_id,)] = world.rows("SELECT id FROM jobs")
        # In place of the "Generating..." message, which must not hang there forever.
        [told] = [m for m in world.discord.messages_for(handle) if not m.deleted]
        assert not told.loading and "Deliver again" in told.content
        assert f"request #{job_id} are ready" in told.content

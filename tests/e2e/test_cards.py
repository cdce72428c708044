"""Cards, Details, prices and the words members read, end to end (issue 17, items 4 to 6).

A public card carries no personal numbers and no dollars; Details shows dollars to moderators
only; an unset option is held and charged at what the API uses; members read images, and a
budget refusal says what it is and when it ends.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bot.discord.wording import format_usd
from tests.e2e.harness import public_texts, running_bot
from tests.e2e.quota_world import Staff, ask, private_reply
from tests.e2e.test_results import button_ids, job_ids, press, result_of, shown_to
from tests.fakes.images import make_image

RESET = re.compile(r"<t:\d+:R>")


def fields_of(embed: dict[str, Any]) -> dict[str, str]:
    return {field["name"]: field["value"] for field in embed.get("fields", [])}


async def test_a_public_card_has_no_count_left_nor_dollars_and_the_member_hears_it_privately(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path, daily_image_limit=4) as world:
        options = {"prompt": "a paper boat", "model": "gpt-image-1", "quality": "low"}
        handle = await world.slash("imagine", {**options, "size": "1024x1024"})
        await world.idle()
        result = result_of(world, handle)
        [embed] = result.embeds
        fields = fields_of(embed)
        assert set(fields) == {"Model", "Size", "Quality", "Time"}
        assert (fields["Model"], fields["Size"], fields["Quality"]) == (
            "gpt-image-1",
            "1024×1024",
            "low",
        )
        seen_by_others = " ".join(public_texts(world, handle))
        assert "$" not in seen_by_others and "today" not in seen_by_others
        assert "3" not in " ".join(fields[name] for name in ("Model", "Size", "Quality"))
        # The count is the requester's alone: an ephemeral note, once few are left.
        [note] = [m for m in world.visible(handle, world.alice) if m.ephemeral]
        assert note.content == "You can make 3 more images today."
        assert not note.visible_to(world.bob.id)

        # A private result is the member's alone: its card may say it.
        private = await world.slash("imagine", {**options, "private": True})
        await world.idle()
        [card] = result_of(world, private).embeds
        assert fields_of(card)["Left today"] == "2 images"
        assert [
            m for m in world.discord.messages_for(private) if m.ephemeral and not m.embeds
        ] == []


async def test_details_show_dollars_to_moderators_only_and_a_command_to_make_it_again(
    tmp_path: Path,
) -> None:
    staff = Staff()
    async with running_bot(tmp_path, setup=staff) as world:
        options = {"prompt": "a fox", "model": "gpt-image-2", "aspect": "wide", "count": 2}
        handle = await world.slash("imagine", {**options, "quality": "high", "format": "png"})
        await world.idle()
        result = result_of(world, handle)
        [job_id] = job_ids(world)
        [(cost, size)] = world.rows("SELECT cost_charged_micros, size FROM jobs")
        assert cost > 0 and size == "1536x864"  # the size made, not the aspect asked

        answers = {}
        for who in (world.alice, world.bob, staff.admin):
            details = await press(world, result, "details", job_id, user=who)
            await world.idle()
            answers[who.username] = shown_to(world, details)
        for member in ("alice", "bob"):
            answer = answers[member]
            assert "Cost" not in fields_of(answer.embeds[0]) and "$" not in str(answer.embeds)
        moderator = fields_of(answers["admin"].embeds[0])
        assert moderator["Cost"] == format_usd(cost)
        line = answers["bob"].content.split("\n")[2]
        assert line == (
            "/imagine prompt:a fox model:gpt-image-2 size:1536x864 quality:high count:2 format:png"
        )


async def test_buttons_are_offered_only_where_they_can_work(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        upload = ("cat.png", make_image(64, 64, "png"), "image/png", 64, 64)
        uploaded = await world.slash("edit", {"prompt": "add a hat"}, attachments=[upload])
        await world.idle()
        [job_id] = job_ids(world)
        assert button_ids(result_of(world, uploaded)) == [
            f"result:{action}:{job_id}" for action in ("edit", "details", "delete")
        ]
        # With no model left that edits, Edit is not offered either.
        world.bot.catalogue.mark_unavailable("gpt-image-2")
        world.bot.catalogue.mark_unavailable("gpt-image-1")
        world.bot.catalogue.mark_unavailable("dall-e-2")
        handle = await world.slash("imagine", {"prompt": "a moth", "model": "dall-e-3"})
        await world.idle()
        [_, new_id] = job_ids(world)
        assert button_ids(result_of(world, handle)) == [
            f"result:{action}:{new_id}" for action in ("reroll", "details", "delete")
        ]


async def test_default_dalle3_is_held_and_charged_at_its_list_price(tmp_path: Path) -> None:
    staff = Staff()
    async with running_bot(tmp_path, setup=staff) as world:
        # $0.05 a month: a standard square fits; the dearest dall-e-3 image ($0.12) would not.
        await ask(world, "quota-admin budget", {"usd": 0.05}, user=staff.admin)
        world.wisgate.fail("slow", delay=0.5)
        handle = await world.slash("imagine", {"prompt": "a lighthouse", "model": "dall-e-3"})
        await world.discord.wait_for(lambda: len(world.wisgate.requests) == 1)
        held = world.rows("SELECT status, cost_held_micros, unit_price_micros FROM jobs")
        assert held == [("running", 40_000, 40_000)]
        assert world.rows("SELECT held_micros FROM guild_spend") == [(40_000,)]
        await world.idle()
        [request] = world.wisgate.requests
        assert request.json is not None and "quality" not in request.json  # nothing was asked
        assert "size" not in request.json
        rows = world.rows(
            "SELECT status, cost_held_micros, cost_charged_micros, size, quality FROM jobs"
        )
        assert rows == [("succeeded", 0, 40_000, "1024x1024", "standard")]
        assert world.rows("SELECT held_micros, charged_micros FROM guild_spend") == [(0, 40_000)]
        fields = fields_of(result_of(world, handle).embeds[0])
        assert (fields["Size"], fields["Quality"]) == ("1024×1024", "standard")


async def test_a_budget_refusal_says_the_budget_is_reached_or_what_would_fit(
    tmp_path: Path,
) -> None:
    staff = Staff()
    async with running_bot(tmp_path, setup=staff) as world:
        await ask(world, "quota-admin budget", {"usd": 0.05}, user=staff.admin)
        # gpt-image-2 left to pick its quality is held at its dearest: the member chose
        # nothing, so nothing to suggest.
        handle = await world.slash("imagine", {"prompt": "a kite"})
        await world.idle()
        text = private_reply(world, handle)
        assert text.startswith("This server has reached its monthly image budget. It resets <t:")
        assert text.endswith(", or a moderator can raise it.") and RESET.search(text)
        assert "fewer" not in text and "$" not in text
        # Dearer choices the member made, whose undoing fits: named, and only those.
        options = {"prompt": "a kite", "model": "gpt-image-1", "quality": "high", "count": 2}
        handle = await world.slash("imagine", {**options, "size": "1536x1024"})
        await world.idle()
        text = private_reply(world, handle)
        assert (
            "is not enough for this request; with fewer images, a lower quality and a smaller "
            "size it fits. It resets <t:"
        ) in text
        assert "$" not in text
        assert world.rows("SELECT COUNT(*) FROM jobs") == [(0,)]


async def test_quota_shows_a_member_images_and_a_moderator_the_budget(tmp_path: Path) -> None:
    staff = Staff()
    async with running_bot(tmp_path, setup=staff) as world:
        await ask(world, "quota-admin budget", {"usd": 5}, user=staff.admin)
        await world.slash("imagine", {"prompt": "a pear", "model": "dall-e-3"})
        await world.idle()
        member = await ask(world, "quota")
        assert member.startswith("You have used 1 of your 20 images today: **19 left**.")
        assert "$" not in member and "budget" not in member
        moderator = await ask(world, "quota", user=staff.admin)
        assert moderator.endswith(
            "This server has spent $0.040 of its $5.00 monthly image budget this month."
        )


async def test_history_gives_no_dead_link_for_a_private_result(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        await world.slash("imagine", {"prompt": "a secret garden", "private": True})
        await world.idle()
        history = await ask(world, "history")
        first = history.split("\n")[0]
        assert first.endswith("· delivered · 1 image · private") and "http" not in history

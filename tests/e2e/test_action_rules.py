"""The rules around the actions on a result (issue 20): who may press, what a refusal costs
(nothing, and it is the first, private answer), refunds, the upload limit after an upscale, where
the image comes from once the store let it go, Re-roll of an action, and the lineage shown.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from tests.e2e.harness import MIB, running_bot
from tests.e2e.quota_world import Staff, ask, private_reply
from tests.e2e.test_actions import (
    PROMPT,
    action_id,
    assert_outpainted,
    edit_request,
    images_used,
    imagine,
    made_by,
    press,
    sent,
)
from tests.e2e.test_results import all_button_ids, job_ids, result_of, shown_to
from tests.fakes.discord import FakeDiscord, FakeGuild


async def test_an_upstream_failure_refunds_the_presser(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        result, job_id = await imagine(world, size="1024x1024")
        world.wisgate.fail("moderation_blocked")
        await press(world, result, action_id("zoom_2", job_id), user=world.bob)
        await world.idle()
        assert edit_request(world).fields["size"] == "2048x2048"  # it was asked, and refused
        [(status, charged)] = world.rows(
            "SELECT status, images_charged FROM jobs WHERE id > ?", job_id
        )
        assert (status, charged) == ("failed", 0)
        assert images_used(world, world.bob) == 0 and images_used(world, world.alice) == 1


async def test_over_the_limit_the_refusal_comes_first_and_nothing_is_held(tmp_path: Path) -> None:
    staff = Staff()
    async with running_bot(tmp_path, setup=staff) as world:
        result, job_id = await imagine(world, size="1024x1024")
        await ask(world, "quota-admin limit", {"member": world.bob, "images": 1}, user=staff.admin)
        await press(world, result, action_id("pan_left", job_id), user=world.bob)
        await world.idle()
        jobs, calls = len(job_ids(world)), len(world.wisgate.requests)
        for action in ("upscale", "remix"):
            refused = await press(world, result, action_id(action, job_id), user=world.bob)
            await world.idle()
            if action == "remix":  # the form comes first; its submission is refused
                assert refused.modal is not None
                refused = await world.discord.inject_modal_submit(
                    refused.modal["custom_id"], {"prompt": "a new prompt"}, parent=refused
                )
                world.handles.append(refused)
                await world.idle()
            assert refused.ack_type == 4 and refused.defer_ephemeral is None  # not deferred
            assert "of your images today" in private_reply(world, refused)
        assert (len(job_ids(world)), len(world.wisgate.requests)) == (jobs, calls)
        assert images_used(world, world.bob) == 1


async def test_a_private_result_is_its_owners_alone(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        result, job_id = await imagine(world, size="1024x1024", private=True)
        assert result.ephemeral
        # Discord shows bob nothing to press; were a press to come, the bot refuses it anyway.
        refused = await press(world, result, action_id("zoom_2", job_id), user=world.bob)
        await world.idle()
        assert "private to the member who asked" in shown_to(world, refused).content
        assert len(job_ids(world)) == 1 and len(world.wisgate.requests) == 1

        mine = await press(world, result, action_id("zoom_2", job_id))
        assert mine.defer_ephemeral is True
        await world.idle()
        made = result_of(world, mine)
        assert made.ephemeral and not made.visible_to(world.bob.id)


async def test_a_button_naming_another_job_than_its_message_is_refused(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        result, _ = await imagine(world, size="1024x1024")
        _, other_id = await imagine(world, size="1024x1024", private=True)
        # A message whose button names another job (Discord only sends ids on the message).
        forged = action_id("vary_subtle", other_id)
        result.components[1]["components"][0]["custom_id"] = forged
        refused = await press(world, result, forged, user=world.bob)
        await world.idle()
        assert "does not belong to this message" in shown_to(world, refused).content
        assert len(job_ids(world)) == 2 and len(world.wisgate.requests) == 2


async def test_a_picker_answers_only_in_the_results_channel(tmp_path: Path) -> None:
    def other_channel(fake: FakeDiscord, guild: FakeGuild) -> None:
        guild.add_channel("elsewhere")

    async with running_bot(tmp_path, setup=other_channel) as world:
        result, job_id = await imagine(world, size="1024x1024", count=2)
        picker = shown_to(world, await press(world, result, f"act:pick:{job_id}:1"))
        elsewhere = world.guild.channel("elsewhere").id
        moved = await world.discord.inject_component(
            picker, action_id("zoom_2", job_id, 1), channel_id=elsewhere
        )
        world.handles.append(moved)
        await world.idle()
        assert "does not belong to this message" in shown_to(world, moved).content
        assert len(job_ids(world)) == 1 and len(world.wisgate.requests) == 1


async def test_an_upscaled_4k_result_fits_the_upload_limit(tmp_path: Path) -> None:
    limit = 3 * MIB
    async with running_bot(tmp_path, upload_limit=limit, wisgate_noisy=True) as world:
        result, job_id = await imagine(world, model="gpt-image-2", size="1536x864")
        handle = await press(world, result, action_id("upscale", job_id))
        await world.idle(within=60)
        request = edit_request(world)
        assert request.fields["size"] == "3840x2160"
        # Asked for a lossy format sized to the limit (an explicit format would stay).
        assert request.fields["output_format"] in ("jpeg", "webp")
        assert int(request.fields["output_compression"]) < 100
        [message] = [m for m in world.discord.messages_for(handle) if not m.deleted]
        [attachment] = message.attachments
        assert len(attachment.data) <= limit - 64 * 1024
        with Image.open(io.BytesIO(attachment.data)) as image:
            assert image.width / image.height == 3840 / 2160
        assert world.rows("SELECT status FROM jobs WHERE id > ?", job_id) == [("succeeded",)]


async def test_once_the_store_let_go_the_recorded_message_gives_the_image(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        result, job_id = await imagine(world, size="1024x1024", count=3)
        images = [attachment.data for attachment in result.attachments]
        await world.bot.results.remove(job_id)  # expired, or the folder was lost
        picker = shown_to(world, await press(world, result, f"act:pick:{job_id}:2"))
        await press(world, picker, action_id("zoom_1.5", job_id, 2))
        await world.idle()
        # The picker holds no image: the one the ledger recorded for image 3, by its name.
        assert_outpainted(edit_request(world), images[2], "1536x1536", (256, 256))
        fetched = [r.path for r in world.discord.requests if r.method == "GET"]
        assert f"/channels/{result.channel_id}/messages/{result.id}" in fetched
        assert len(world.discord.downloads) == 1


async def test_reroll_of_an_action_runs_it_again_on_the_same_image(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        result, job_id = await imagine(world, size="1024x1024")
        zoomed, zoom_id = await made_by(world, result, action_id("zoom_2", job_id))
        first = edit_request(world)
        assert f"result:reroll:{zoom_id}" in all_button_ids(zoomed)

        await world.restart()

        await press(world, zoomed, f"result:reroll:{zoom_id}", user=world.bob)
        await world.idle()
        again = edit_request(world)
        assert again.fields == first.fields
        assert sent(again, "image") == sent(first, "image")
        assert sent(again, "mask") == sent(first, "mask")
        rows = world.rows("SELECT user_id, params ->> '$.parent', params ->> '$.action' FROM jobs")
        assert rows[-1] == (world.bob.id, job_id, "zoom_2")  # made from the same image


async def test_details_show_the_chain_and_history_the_actions(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        result, job_id = await imagine(world, size="1024x1024")
        varied, vary_id = await made_by(world, result, action_id("vary_subtle", job_id))
        zoomed, zoom_id = await made_by(world, varied, action_id("zoom_2", vary_id))

        details = await press(world, zoomed, f"result:details:{zoom_id}")
        await world.idle()
        answer = shown_to(world, details)
        fields = {field["name"]: field["value"] for field in answer.embeds[0]["fields"]}
        assert fields["Made from"].split("\n") == [
            f'**#{job_id}** · Imagine · 1024x1024 · "{PROMPT}"',
            f'**#{vary_id}** · Vary (subtle) of #{job_id}, image 1 · 1024x1024 · "{PROMPT}"',
            f'**#{zoom_id}** (this) · Zoom out 2x of #{vary_id}, image 1 · 2048x2048 · "{PROMPT}"',
        ]
        assert "Made with **Zoom out 2x**" in answer.content

        history = await world.slash("history")
        await world.idle()
        text = private_reply(world, history)
        assert f"Zoom out 2x of #{vary_id}, image 1" in text
        assert f"Vary (subtle) of #{job_id}, image 1" in text
        assert "Make a subtle variation" not in text  # the member's words, not the instruction

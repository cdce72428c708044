"""The actions on a result end to end (issue 20): Vary, Upscale, Zoom out, Pan and Remix, each an
edit of the chosen result image, pressed on messages sent before the bot restarted.

What WisGate receives is checked against numbers written here, not computed by the bot's
geometry: the size, the image (the result's bytes, or a canvas holding its pixels exactly),
the mask pixel by pixel, the prompt; and the ledger: the presser charged once, the requester
never, a refund on an upstream failure, nothing held for a refusal.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops

from tests.e2e.harness import World, running_bot
from tests.e2e.test_results import all_button_ids, button_ids, job_ids, result_of, shown_to
from tests.fakes.discord import FakeInteraction, FakeMessage, FakeUser
from tests.fakes.wisgate import RecordedRequest

PROMPT = "a lighthouse on a cliff at dusk"
# For a 1024x1024 gpt-image-2 result: the size asked, and where the original sits on the canvas
# (left, top) for the outpainting actions; None where the image goes as it is.
EXPECTED: dict[str, tuple[str, tuple[int, int] | None]] = {
    "vary_subtle": ("1024x1024", None),
    "vary_strong": ("1024x1024", None),
    "upscale": ("2880x2880", None),  # 8,294,400 pixels: gpt-image-2's most, square
    "zoom_1.5": ("1536x1536", (256, 256)),
    "zoom_2": ("2048x2048", (512, 512)),
    "pan_left": ("1536x1024", (512, 0)),
    "pan_right": ("1536x1024", (0, 0)),
    "pan_up": ("1024x1536", (0, 512)),
    "pan_down": ("1024x1536", (0, 0)),
}
INSTRUCTIONS = {
    "vary_subtle": "Make a subtle variation",
    "vary_strong": "Make a strong variation",
    "upscale": "Redraw this image at a higher resolution",
}


def action_id(action: str, job_id: int, index: int = 0) -> str:
    """The custom id of an action button."""
    return f"act:{action}:{job_id}:{index}"


async def press(
    world: World, message: FakeMessage, custom_id: str, user: FakeUser | None = None
) -> FakeInteraction:
    """Press a button of `message` (as the member who asked, unless `user`); wait for its ack."""
    where: dict[str, Any] = {} if user is None else {"user": user}
    handle = await world.discord.inject_component(message, custom_id, **where)
    world.handles.append(handle)
    await world.discord.wait_acknowledged(handle, within=3.0)
    return handle


async def made_by(
    world: World, message: FakeMessage, custom_id: str, user: FakeUser | None = None
) -> tuple[FakeMessage, int]:
    """Press an action and let its job run: the result it made, and its job id."""
    handle = await press(world, message, custom_id, user)
    await world.idle()
    return result_of(world, handle), job_ids(world)[-1]


async def imagine(world: World, **options: Any) -> tuple[FakeMessage, int]:
    """Alice's /imagine result and its job id."""
    handle = await world.slash("imagine", {"prompt": PROMPT, **options})
    await world.idle()
    return result_of(world, handle), job_ids(world)[-1]


def edit_request(world: World) -> RecordedRequest:
    """The last call WisGate got: it must be an edit."""
    request = world.wisgate.requests[-1]
    assert request.path == "/v1/images/edits", request.path
    return request


def sent(request: RecordedRequest, field: str) -> bytes:
    """The one file sent in this multipart field."""
    [part] = [part for part in request.files if part.field == field]
    return part.data


def opened(data: bytes) -> Image.Image:
    """Decoded pixels, RGBA."""
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGBA")


def assert_outpainted(
    request: RecordedRequest,
    original: bytes,
    size: str,
    at: tuple[int, int],
    placed: tuple[int, int] | None = None,
) -> None:
    """The canvas holds the original's pixels exactly at `at` (or, shrunk to `placed`, only
    somewhere there), transparent elsewhere; the mask is transparent exactly outside the
    original (every pixel compared)."""
    width, height = map(int, size.split("x"))
    canvas, mask = opened(sent(request, "image")), opened(sent(request, "mask"))
    source = opened(original)
    assert canvas.size == mask.size == (width, height)
    placed = placed or source.size
    box = (at[0], at[1], at[0] + placed[0], at[1] + placed[1])
    if placed == source.size:
        assert ImageChops.difference(canvas.crop(box), source).getbbox() is None  # same pixels
    expected_alpha = Image.new("L", (width, height), 0)
    expected_alpha.paste(255, box)
    assert mask.getchannel("A").tobytes() == expected_alpha.tobytes()
    assert canvas.getchannel("A").tobytes() == expected_alpha.tobytes()


def images_used(world: World, user: FakeUser) -> int:
    """The images charged to a member today, from the ledger."""
    rows = world.rows("SELECT sum(images_charged) FROM member_usage WHERE user_id = ?", user.id)
    return int(rows[0][0] or 0)


async def test_every_action_edits_the_result_and_the_presser_pays(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        result, job_id = await imagine(world, model="gpt-image-2", size="1024x1024")
        original = result.attachments[0].data
        # One image: its actions under Re-roll, Edit, Details and Delete, persistent.
        assert all_button_ids(result)[len(button_ids(result)) :] == [
            action_id(name, job_id)
            for name in ("vary_subtle", "vary_strong", "remix", "upscale", "zoom_1.5",
                         "zoom_2", "pan_left", "pan_right", "pan_up", "pan_down")
        ]  # fmt: skip
        assert max(len(row["components"]) for row in result.components) <= 5
        assert len(result.components) <= 5

        await world.restart()

        for count, (action, (size, at)) in enumerate(EXPECTED.items(), start=1):
            handle = await press(world, result, action_id(action, job_id), user=world.bob)
            assert handle.ack_type == 5 and handle.defer_ephemeral is False
            await world.idle()
            request = edit_request(world)
            assert request.fields["model"] == "gpt-image-2"
            assert request.fields["size"] == size, action
            prompt = request.fields["prompt"]
            if action in INSTRUCTIONS:
                assert prompt.startswith(INSTRUCTIONS[action]) and prompt.endswith("\n\n" + PROMPT)
            else:
                assert prompt == PROMPT
            if at is None:
                assert sent(request, "image") == original
                assert [part.field for part in request.files] == ["image"]
            else:
                assert_outpainted(request, original, size, at)
                assert request.fields["background"] == "opaque"
            new_id = job_ids(world)[-1]
            row = world.rows(
                "SELECT user_id, kind, status, images_charged, params ->> '$.parent', "
                "params ->> '$.action', params ->> '$.sources' FROM jobs WHERE id = ?",
                new_id,
            )
            lineage = (job_id, action, f"[[{job_id},0]]")
            assert row == [(world.bob.id, "edit", "succeeded", 1, *lineage)]
            made = result_of(world, handle)
            assert made.visible_to(world.alice.id)  # public, as the result it came from
            assert images_used(world, world.bob) == count
            assert images_used(world, world.alice) == 1  # the requester never pays for it
        # Nothing was downloaded: every image came from the results store, by record.
        assert world.discord.downloads == []


async def test_remix_asks_for_the_prompt_prefilled_and_edits_with_the_new_one(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as world:
        result, job_id = await imagine(world, model="gpt-image-1", size="1536x1024")
        await world.restart()
        button = await press(world, result, action_id("remix", job_id))
        assert button.ack_type == 9 and button.modal is not None
        [label] = button.modal["components"]  # a Label around the input (type 18)
        field = label["component"]
        assert label["type"] == 18 and field["type"] == 4
        assert field["value"] == PROMPT  # prefilled
        submit = await world.discord.inject_modal_submit(
            button.modal["custom_id"], {"prompt": "the same lighthouse in a snowstorm"},
            parent=button,
        )  # fmt: skip
        world.handles.append(submit)
        await world.discord.wait_acknowledged(submit, within=3.0)
        await world.idle()
        request = edit_request(world)
        assert request.fields["prompt"] == "the same lighthouse in a snowstorm"
        assert request.fields["size"] == "1536x1024" and request.fields["model"] == "gpt-image-1"
        assert sent(request, "image") == result.attachments[0].data
        assert world.rows("SELECT params ->> '$.action' FROM jobs WHERE id = ?", 2) == [("remix",)]


async def test_subtle_asks_high_fidelity_where_the_model_takes_it(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        result, job_id = await imagine(world, model="gpt-image-1", size="1024x1024")
        await press(world, result, action_id("vary_subtle", job_id))
        await world.idle()
        assert edit_request(world).fields["input_fidelity"] == "high"
        # gpt-image-1 has no larger square: no Upscale; pans widen to its 1536x1024.
        assert action_id("upscale", job_id) not in all_button_ids(result)
        await press(world, result, action_id("pan_right", job_id))
        await world.idle()
        request = edit_request(world)
        assert request.fields["size"] == "1536x1024"
        assert_outpainted(request, result.attachments[0].data, "1536x1024", (0, 0))


async def test_with_four_images_acting_on_image_3_sends_image_3(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        result, job_id = await imagine(world, model="gpt-image-2", size="1024x1024", count=4)
        images = [attachment.data for attachment in result.attachments]
        assert len(set(images)) == 4  # four different pictures
        # Ten actions for each of four images would not fit: a number per image instead.
        picks = [f"act:pick:{job_id}:{index}" for index in range(4)]
        assert all_button_ids(result)[len(button_ids(result)) :] == picks

        await world.restart()

        pick = await press(world, result, picks[2], user=world.bob)
        assert pick.ack_type == 4  # answered at once, privately: nothing charged yet
        picker = shown_to(world, pick)
        assert not picker.visible_to(world.alice.id) and "Image 3" in picker.embeds[0]["title"]
        assert action_id("zoom_2", job_id, 2) in all_button_ids(picker)

        await world.restart()  # the picker's buttons outlive a restart too

        vary = await press(world, picker, action_id("vary_strong", job_id, 2), user=world.bob)
        await world.idle()
        assert sent(edit_request(world), "image") == images[2]
        assert result_of(world, vary).visible_to(world.alice.id)  # public, like the result
        await press(world, picker, action_id("zoom_2", job_id, 2), user=world.bob)
        await world.idle()
        assert_outpainted(edit_request(world), images[2], "2048x2048", (512, 512))
        sources = world.rows("SELECT params ->> '$.sources' FROM jobs WHERE id > ?", job_id)
        assert sources == [(f"[[{job_id},2]]",)] * 2
        assert images_used(world, world.bob) == 2 and images_used(world, world.alice) == 4


async def test_what_a_model_cannot_do_is_not_offered(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        # dall-e-2 edits square PNGs of its three sizes: no pan, and 1024 is its largest.
        result, job_id = await imagine(world, model="dall-e-2", size="1024x1024")
        shown = all_button_ids(result)[len(button_ids(result)) :]
        assert shown == [
            action_id(name, job_id)
            for name in ("vary_subtle", "vary_strong", "remix", "zoom_1.5", "zoom_2")
        ]
        await press(world, result, action_id("zoom_2", job_id))
        await world.idle()
        request = edit_request(world)
        assert request.fields["model"] == "dall-e-2" and request.fields["size"] == "1024x1024"
        # The original, shrunk to half, in the middle of its one size.
        assert_outpainted(request, result.attachments[0].data, "1024x1024", (256, 256), (512, 512))
        assert "background" not in request.fields  # dall-e-2 takes none


async def test_a_model_that_cannot_edit_is_served_by_one_that_can(tmp_path: Path) -> None:
    models = {"enabled_models": ("dall-e-3", "dall-e-2"), "default_model": "dall-e-3"}
    async with running_bot(tmp_path, **models) as world:
        # dall-e-3 edits nothing; dall-e-2 edits squares: it can zoom and pan up or down a
        # 1792x1024 result on its 1024x1024 canvas, but not send the wide picture as it is.
        result, job_id = await imagine(world, model="dall-e-3", size="1792x1024")
        shown = all_button_ids(result)[len(button_ids(result)) :]
        assert shown == [
            action_id(name, job_id) for name in ("zoom_1.5", "zoom_2", "pan_up", "pan_down")
        ]
        await press(world, result, action_id("pan_up", job_id))
        await world.idle()
        request = edit_request(world)
        assert (request.fields["model"], request.fields["size"]) == ("dall-e-2", "1024x1024")
        assert request.fields["prompt"] == PROMPT
        # The whole width, shrunk to 1024x585, at the bottom: new sky above.
        original = result.attachments[0].data
        assert_outpainted(request, original, "1024x1024", (0, 439), (1024, 585))

"""Result buttons end to end, pressed on messages sent before the bot was stopped and restarted.

Each test delivers a result with one production bot, stops it (runner, gateway, database,
HTTP session), starts a new one on the same database against the same fake Discord and
WisGate, and only then presses the old message's buttons.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.harness import World, running_bot
from tests.e2e.quota_world import Staff
from tests.fakes.discord import FakeInteraction, FakeMessage, FakeUser
from tests.fakes.discord.inject import walk_components
from tests.fakes.images import make_image

ACTIONS = ("reroll", "edit", "details", "delete")
# Longer than the Details embed shows (3,000), shorter than Discord's option limit (6,000).
LONG_PROMPT = "a lighthouse at dusk" + ", gulls wheeling over the rocks" * 150


def results_of(world: World, handle: FakeInteraction) -> list[FakeMessage]:
    """The messages holding images that this interaction delivered (not deleted)."""
    return [m for m in world.discord.messages_for(handle) if m.attachments and not m.deleted]


def result_of(world: World, handle: FakeInteraction) -> FakeMessage:
    """The first message of a delivery: the one carrying the buttons."""
    return results_of(world, handle)[0]


def button_ids(message: FakeMessage) -> list[str]:
    """The custom ids of a message's result buttons (Re-roll, Edit, Details, Delete), in order;
    the actions below them are tests/e2e/test_actions.py's."""
    return [cid for cid in all_button_ids(message) if cid.startswith("result:")]


def all_button_ids(message: FakeMessage) -> list[str]:
    """The custom ids of every button of a message, in order."""
    return [c["custom_id"] for c in walk_components(message.components) if c.get("type") == 2]


def as_sent_before(message: FakeMessage, job_id: int) -> FakeMessage:
    """The message as an earlier release sent it, with a Re-roll button whatever the job."""
    button = {"type": 2, "style": 2, "label": "Re-roll", "custom_id": f"result:reroll:{job_id}"}
    message.components[0]["components"].insert(0, button)
    return message


def job_ids(world: World) -> list[int]:
    """Every job's id, oldest first."""
    return [row[0] for row in world.rows("SELECT id FROM jobs ORDER BY id")]


async def press(
    world: World, message: FakeMessage, action: str, job_id: int, user: FakeUser | None = None
) -> FakeInteraction:
    """Press a result button (as the member who asked, unless `user`), and wait for its ack."""
    where: dict[str, Any] = {} if user is None else {"user": user}
    handle = await world.discord.inject_component(message, f"result:{action}:{job_id}", **where)
    world.handles.append(handle)
    await world.discord.wait_acknowledged(handle, within=3.0)
    return handle


async def submit_edit(world: World, button: FakeInteraction, values: dict[str, str]) -> None:
    """Answer the Edit button's modal and let the edit job run."""
    assert button.ack_type == 9 and button.modal is not None
    submit = await world.discord.inject_modal_submit(
        button.modal["custom_id"], values, parent=button
    )
    world.handles.append(submit)
    await world.discord.wait_acknowledged(submit, within=3.0)
    await world.idle()


def shown_to(world: World, handle: FakeInteraction) -> FakeMessage:
    """The one private message a button press left (refusal or answer)."""
    shown = [m for m in world.discord.messages_for(handle) if not m.deleted and not m.loading]
    assert len(shown) == 1, [(m.content, m.embeds) for m in shown]
    [message] = shown
    assert message.ephemeral and message.visible_to(handle.user.id)
    return message


async def test_every_button_works_after_a_restart(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        options = {"prompt": LONG_PROMPT, "model": "gpt-image-1", "size": "1024x1536", "count": 2}
        handle = await world.slash("imagine", {**options, "quality": "low"})
        await world.idle()
        result = result_of(world, handle)
        [job_id] = job_ids(world)
        assert button_ids(result) == [f"result:{action}:{job_id}" for action in ACTIONS]

        await world.restart()

        # Details: private, with the whole prompt (attached: it is longer than the embed).
        details = await press(world, result, "details", job_id)
        await world.idle()
        answer = shown_to(world, details)
        assert not answer.visible_to(world.bob.id)
        [embed] = answer.embeds
        assert str(job_id) in embed["title"] and embed["description"].startswith("a lighthouse")
        fields = {field["name"]: field["value"] for field in embed["fields"]}
        [(cost,)] = world.rows("SELECT cost_charged_micros FROM jobs WHERE id = ?", job_id)
        assert cost > 0 and "Cost" not in fields  # members count images; dollars: moderators
        assert fields["Size"] == "1024x1536" and fields["Quality"] == "low"
        # Too long to type: the line to make it again takes the attached prompt file.
        assert answer.content.split("\n")[1:] == [
            "```",
            "/imagine-file prompt_file:prompt-1.txt model:gpt-image-1 size:1024x1536 "
            "quality:low count:2 format:png",
            "```",
        ]
        [prompt_file] = answer.attachments
        assert prompt_file.data.decode() == LONG_PROMPT

        # Re-roll: a new job with the same parameters, charged as usual, public like the first.
        reroll = await press(world, result, "reroll", job_id)
        assert reroll.defer_ephemeral is False
        await world.idle()
        first, again = world.wisgate.requests
        assert again.path == first.path == "/v1/images/generations"
        assert again.json == first.json and again.json is not None
        assert again.json["prompt"] == LONG_PROMPT and again.json["n"] == 2
        rows = world.rows("SELECT user_id, status, images_charged, cost_charged_micros FROM jobs")
        assert rows == [(world.alice.id, "succeeded", 2, cost)] * 2
        assert world.rows("SELECT sum(images_charged) FROM member_usage") == [(4,)]
        [_, new_id] = job_ids(world)
        rerolled = result_of(world, reroll)
        assert rerolled.visible_to(world.bob.id) and len(rerolled.attachments) == 2
        assert button_ids(rerolled) == [f"result:{action}:{new_id}" for action in ACTIONS]

        # Edit: the chosen result image goes to /images/edits with the new prompt.
        edit = await press(world, result, "edit", job_id)
        await submit_edit(world, edit, {"prompt": "make it snow", "image": "2"})
        request = world.wisgate.requests[2]
        assert request.path == "/v1/images/edits"
        assert request.fields["prompt"] == "make it snow"
        assert request.fields["model"] == "gpt-image-1" and request.fields["size"] == "1024x1536"
        [part] = request.files
        assert (part.filename, part.data) == (
            result.attachments[1].filename,
            result.attachments[1].data,
        )
        assert world.rows("SELECT kind, status FROM jobs ORDER BY id DESC LIMIT 1") == [
            ("edit", "succeeded")
        ]

        # Delete by another member: refused privately, nothing deleted.
        refused = await press(world, result, "delete", job_id, user=world.bob)
        await world.idle()
        assert not result.deleted
        note = shown_to(world, refused)
        assert "Only the member who asked" in note.content and not note.visible_to(world.alice.id)

        # Delete by the member who asked: the message goes.
        await press(world, result, "delete", job_id)
        await world.idle()
        assert result.deleted and not rerolled.deleted


async def test_private_results_keep_their_buttons_private(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        handle = await world.slash("imagine", {"prompt": "a secret garden", "private": True})
        await world.idle()
        result = result_of(world, handle)
        [job_id] = job_ids(world)
        assert result.ephemeral and button_ids(result)[0] == f"result:reroll:{job_id}"

        await world.restart()

        reroll = await press(world, result, "reroll", job_id)
        assert reroll.defer_ephemeral is True
        await world.idle()
        rerolled = result_of(world, reroll)
        assert rerolled.ephemeral and not rerolled.visible_to(world.bob.id)
        first, again = world.wisgate.requests
        assert again.json == first.json
        assert world.rows("SELECT status FROM jobs") == [("succeeded",)] * 2

        details = await press(world, result, "details", job_id)
        await world.idle()
        assert "a secret garden" in shown_to(world, details).embeds[0]["description"]

        # An ephemeral message can only be deleted through the pressing interaction itself.
        delete = await press(world, result, "delete", job_id)
        await world.idle()
        assert delete.ack_type == 6 and result.deleted
        assert [m for m in world.discord.messages_for(delete) if m is not result] == []


async def edited_result(
    world: World, prompt: str, change: str
) -> tuple[FakeMessage, int, FakeMessage, int]:
    """An /imagine result, and its edit made with the Edit button: (message, job id) each."""
    handle = await world.slash("imagine", {"prompt": prompt, "model": "gpt-image-1"})
    await world.idle()
    source = result_of(world, handle)
    [source_id] = job_ids(world)
    edit = await press(world, source, "edit", source_id)
    await submit_edit(world, edit, {"prompt": change})
    [_, edit_id] = job_ids(world)
    [edit_submit] = [h for h in world.handles if h.modal is None and h.type == 5]
    return source, source_id, result_of(world, edit_submit), edit_id


async def test_reroll_of_an_edit_finds_a_result_input_again_but_not_an_upload(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as world:
        source, source_id, edited, edit_id = await edited_result(
            world, "a quiet harbour", "add a full moon"
        )

        await world.restart()

        reroll = await press(world, edited, "reroll", edit_id)
        await world.idle()
        first_edit, again = world.wisgate.requests[1:]
        assert again.path == first_edit.path == "/v1/images/edits"
        assert again.fields == first_edit.fields and again.fields["prompt"] == "add a full moon"
        assert [p.data for p in again.files] == [source.attachments[0].data]
        assert result_of(world, reroll).attachments
        # Both read the source from the results store, by record: nothing was downloaded.
        assert world.discord.downloads == []
        [(sources,)] = world.rows("SELECT params ->> '$.sources' FROM jobs WHERE id = ?", edit_id)
        assert sources == f"[[{source_id},0]]"

        # An edit of an uploaded file: the upload is not kept, so re-roll explains, for free.
        upload = ("cat.png", make_image(64, 64, "png"), "image/png", 64, 64)
        uploaded = await world.slash("edit", {"prompt": "add a hat"}, attachments=[upload])
        await world.idle()
        upload_id = job_ids(world)[-1]
        calls, jobs = len(world.wisgate.requests), len(job_ids(world))
        # No Re-roll is offered where it can never work; the edit made from a result has one.
        assert button_ids(result_of(world, uploaded)) == [
            f"result:{action}:{upload_id}" for action in ("edit", "details", "delete")
        ]
        assert button_ids(edited)[0] == f"result:reroll:{edit_id}"
        # A message sent before that rule still carries one: pressing it explains, for free.
        old_message = as_sent_before(result_of(world, uploaded), upload_id)
        refused = await press(world, old_message, "reroll", upload_id)
        await world.idle()
        assert "I keep no copy of the images uploaded" in shown_to(world, refused).content
        assert (len(world.wisgate.requests), len(job_ids(world))) == (calls, jobs)


async def test_a_moderator_may_delete_a_members_result_with_all_its_parts(tmp_path: Path) -> None:
    staff = Staff()
    # Room for a few of the fake's small PNGs a message: five images take several messages.
    async with running_bot(tmp_path, setup=staff, upload_limit=86 * 1024) as world:
        options = {"prompt": "a crowded market", "count": 5, "format": "png"}
        handle = await world.slash("imagine", options)
        await world.idle()
        parts = results_of(world, handle)
        result, *rest = parts
        assert rest and len(button_ids(result)) == 4
        assert all(all_button_ids(part) == [] for part in rest)  # buttons on the first only
        [job_id] = job_ids(world)

        await world.restart()

        # A plain role is no moderator until /quota-admin settings names it.
        refused = await press(world, result, "delete", job_id, user=staff.helper)
        await world.idle()
        assert "Only the member who asked" in shown_to(world, refused).content
        assert not result.deleted
        await press(world, result, "delete", job_id, user=staff.admin)
        await world.idle()
        assert all(part.deleted for part in parts)


async def test_an_image_number_in_other_digits_is_refused_for_free(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        handle = await world.slash("imagine", {"prompt": "a quiet harbour", "count": 2})
        await world.idle()
        result = result_of(world, handle)
        [job_id] = job_ids(world)
        # Unicode digits pass str.isdigit(): "²" then broke int(), "٢" and "２" read as 2.
        for number in ("²", "٢", "２"):
            edit = await press(world, result, "edit", job_id)
            await submit_edit(world, edit, {"prompt": "make it snow", "image": number})
            refusal = shown_to(world, world.handles[-1])
            assert "Choose an image number from 1 to 2" in refusal.content
        assert job_ids(world) == [job_id] and len(world.wisgate.requests) == 1


async def test_a_source_the_store_lost_is_fetched_from_its_recorded_message(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as world:
        source, source_id, edited, edit_id = await edited_result(world, "a red kite", "add clouds")
        await world.bot.results.remove(source_id)  # expired, or the folder was lost

        reroll = await press(world, edited, "reroll", edit_id)
        await world.idle()
        again = world.wisgate.requests[-1]
        assert [p.data for p in again.files] == [source.attachments[0].data]
        assert result_of(world, reroll).attachments
        fetched = [r.path for r in world.discord.requests if r.method == "GET"]
        assert f"/channels/{source.channel_id}/messages/{source.id}" in fetched

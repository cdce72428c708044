"""/edit and the Edit images menu end to end: files in, multipart to WisGate, images back."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import running_bot
from tests.fakes.images import make_image, make_mask

W = 256


def upload(name: str, fmt: str = "png", seed: int = 0) -> tuple[str, bytes, str, int, int]:
    """An attachment as the fake Discord takes it."""
    return (name, make_image(W, W, fmt, seed=seed), f"image/{fmt}", W, W)


async def test_edit_one_image(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        handle = await world.slash("edit", {"prompt": "add a hat"}, attachments=[upload("cat.png")])
        await world.idle()
        [request] = world.wisgate.requests
        assert request.path == "/v1/images/edits"
        [part] = request.files
        assert (part.field, part.filename, part.content_type) == ("image", "cat.png", "image/png")
        assert part.data == make_image(W, W, "png")
        [message] = [m for m in world.discord.messages_for(handle) if not m.deleted]
        assert [a.filename.split("-")[0] for a in message.attachments] == ["edit"]
        assert world.rows("SELECT kind, status, images_charged FROM jobs") == [
            ("edit", "succeeded", 1)
        ]


async def test_edit_four_images_of_mixed_formats(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        files = [upload("a.png"), upload("b.jpg", "jpeg", 1), upload("c.webp", "webp", 2)]
        files.append(upload("d.png", seed=3))
        await world.slash("edit", {"prompt": "put them in one room", "count": 2}, attachments=files)
        await world.idle()
        [request] = world.wisgate.requests
        assert [p.field for p in request.files] == ["image[]"] * 4
        assert [p.content_type for p in request.files] == [
            "image/png",
            "image/jpeg",
            "image/webp",
            "image/png",
        ]
        assert world.rows("SELECT images_charged FROM jobs") == [(2,)]


async def test_edit_with_a_mask(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        mask = ("mask.png", make_mask(W, W), "image/png", W, W)
        await world.slash(
            "edit",
            {"prompt": "a window here", "mask": mask, "model": "gpt-image-1"},
            attachments=[upload("room.png")],
        )
        await world.idle()
        [request] = world.wisgate.requests
        assert [(p.field, p.filename) for p in request.files] == [
            ("image", "room.png"),
            ("mask", "mask.png"),
        ]
        assert request.fields["model"] == "gpt-image-1"


async def test_context_menu_edits_all_sixteen_images(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        files = [upload(f"ref{k}.png", seed=k) for k in range(16)]
        menu = await world.discord.inject_context_menu(
            "Edit images", attachments=files, user=world.alice
        )
        world.handles.append(menu)
        await world.discord.wait_acknowledged(menu)
        assert menu.ack_type == 9 and menu.modal is not None  # the prompt modal
        submit = await world.discord.inject_modal_submit(
            menu.modal["custom_id"], {"prompt": "a collage of all of these"}, parent=menu
        )
        world.handles.append(submit)
        await world.discord.wait_acknowledged(submit)
        await world.idle()
        [request] = world.wisgate.requests
        assert len(request.files) == 16
        assert [p.filename for p in request.files] == [f"ref{k}.png" for k in range(16)]
        assert request.fields["prompt"] == "a collage of all of these"
        [message] = [m for m in world.discord.messages_for(submit) if not m.deleted]
        assert len(message.attachments) == 1 and not message.ephemeral


async def test_context_menu_on_a_message_without_images(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        menu = await world.discord.inject_context_menu(
            "Edit images", content="just text", user=world.alice
        )
        world.handles.append(menu)
        await world.idle()
        [reply] = world.discord.messages_for(menu)
        assert reply.ephemeral and "no PNG, JPEG or WebP images" in reply.content
        assert world.wisgate.requests == []


async def test_private_edit_is_seen_only_by_the_member(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        options = {"prompt": "add a hat", "private": True, "count": 2}
        handle = await world.slash("edit", options, attachments=[upload("c.png")])
        assert handle.defer_ephemeral is True
        await world.idle()
        messages = [m for m in world.discord.messages_for(handle) if not m.deleted]
        assert messages and all(m.ephemeral for m in messages)
        assert sum(len(m.attachments) for m in messages) == 2
        assert world.visible(handle, world.bob) == []


async def test_edit_takes_aspect_count_and_format(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        options = {"prompt": "make it tall", "model": "gpt-image-1", "aspect": "portrait"}
        handle = await world.slash(
            "edit", {**options, "count": 2, "format": "webp"}, attachments=[upload("c.png")]
        )
        await world.idle()
        [request] = world.wisgate.requests
        fields = {name: request.fields[name] for name in ("size", "n", "output_format")}
        assert fields == {"size": "1024x1536", "n": "2", "output_format": "webp"}
        world.wisgate.rules.check_edit(request.fields, request.files)  # its rules accept it
        [message] = [m for m in world.discord.messages_for(handle) if not m.deleted]
        assert [a.filename.rsplit(".", 1)[1] for a in message.attachments] == ["webp"] * 2
        refused = await world.slash(
            "edit", {"prompt": "wider", "model": "dall-e-2", "aspect": "wide"},
            attachments=[upload("d.png")],
        )  # fmt: skip
        await world.idle()
        assert refused.ack_type == 4 and len(world.wisgate.requests) == 1

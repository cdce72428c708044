"""Delivery end to end: upload limits, splitting, re-encoding, fallbacks, status and previews."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from tests.e2e.harness import MIB, running_bot


async def test_large_output_is_split_over_messages_under_the_limit(tmp_path: Path) -> None:
    async with running_bot(tmp_path, wisgate_noisy=True, upload_limit=10 * MIB) as world:
        handle = await world.slash(
            "imagine",
            {"prompt": "ten detailed maps", "size": "1536x1024", "count": 10, "format": "png"},
        )
        await world.idle(within=60)
        messages = [m for m in world.discord.messages_for(handle) if not m.deleted]
        assert len(messages) >= 2
        for message in messages:
            assert len(message.attachments) <= 10
            assert sum(len(a.data) for a in message.attachments) <= 10 * MIB
            assert not message.ephemeral
        names = [a.filename for m in messages for a in m.attachments]
        assert len(names) == 10 and len(set(names)) == 10
        assert all(name.endswith(".png") for name in names)  # they fitted: not re-encoded
        assert world.rows("SELECT images_charged FROM jobs") == [(10,)]


async def test_an_image_over_the_limit_alone_is_reencoded(tmp_path: Path) -> None:
    async with running_bot(tmp_path, wisgate_noisy=True, upload_limit=10 * MIB) as world:
        handle = await world.slash(
            "imagine",
            {"prompt": "a huge panorama", "size": "3840x2160", "format": "png"},
        )
        await world.idle(within=60)
        [message] = [m for m in world.discord.messages_for(handle) if not m.deleted]
        [attachment] = message.attachments
        assert len(attachment.data) < 10 * MIB
        assert attachment.filename.endswith(".jpg")
        with Image.open(io.BytesIO(attachment.data)) as image:
            assert image.format == "JPEG" and image.size == (3840, 2160)
        assert world.rows("SELECT images_charged FROM jobs") == [(1,)]


async def test_expired_token_falls_back_to_the_channel(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        world.wisgate.fail("slow", delay=0.5)
        handle = await world.slash("imagine", {"prompt": "a late delivery", "count": 2})
        world.discord.expire_token(handle)
        await world.idle()
        channel = world.discord.channel_messages(handle.channel_id)
        delivered = [m for m in channel if m.kind == "channel" and m.attachments]
        assert len(delivered) == 1 and len(delivered[0].attachments) == 2
        assert f"<@{world.alice.id}>" in delivered[0].content
        assert world.rows("SELECT status, images_charged FROM jobs") == [("succeeded", 2)]


async def test_private_job_with_expired_token_goes_by_dm_not_the_channel(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        world.wisgate.fail("slow", delay=0.5)
        handle = await world.slash("imagine", {"prompt": "a secret", "private": True})
        world.discord.expire_token(handle)
        await world.idle()
        channel = world.discord.channel_messages(handle.channel_id)
        assert [m for m in channel if m.kind == "channel"] == []
        [dm] = world.discord.dm_messages(world.alice.id)
        assert len(dm.attachments) == 1
        assert world.rows("SELECT images_charged FROM jobs") == [(1,)]


async def test_status_line_while_generating(tmp_path: Path) -> None:
    async with running_bot(tmp_path, streaming_previews="off") as world:
        world.wisgate.fail("slow", delay=6.0)
        handle = await world.slash("imagine", {"prompt": "a slow sunrise"})
        await world.discord.wait_for(
            lambda: handle.original is not None and "Generating" in handle.original.content,
            within=8,
        )
        await world.idle()
        edits = [
            r
            for r in world.discord.requests_for(handle)
            if r.method == "PATCH" and "@original" in r.path
        ]
        # One status edit (after ~5 s), then the delivery itself: never faster than every 5 s.
        assert len(edits) == 2
        defer = world.discord.first_request_for(handle)
        assert edits[0].at - defer.at >= 4.9
        assert "Generating" in edits[0].json["content"]


async def test_streamed_partial_images_show_as_previews_then_the_result(tmp_path: Path) -> None:
    async with running_bot(tmp_path, streaming_previews="on") as world:
        world.wisgate.fail("slow", delay=0.3)
        handle = await world.slash("imagine", {"prompt": "a sketch coming to life"})
        await world.idle()
        [call] = world.wisgate.requests
        assert call.json is not None and call.json["stream"] is True
        assert call.json["partial_images"] >= 2
        edits = [
            r
            for r in world.discord.requests_for(handle)
            if r.method == "PATCH" and "@original" in r.path
        ]
        names = [[a.filename for a in r.files] for r in edits]
        # The first partial shows at once; the second came within 5 s of it, so it is skipped
        # (one edit per 5 s at most); then the final image replaces the preview.
        assert len(edits) == 2, names
        assert names[0] == ["preview-0.png"] and "preview" in edits[0].json["content"]
        assert len(names[1]) == 1 and names[1][0].startswith("imagine-")
        [message] = [m for m in world.discord.messages_for(handle) if not m.deleted]
        assert [a.filename for a in message.attachments] == names[1]
        assert world.rows("SELECT status, images_charged FROM jobs") == [("succeeded", 1)]

"""Bad input end to end: a private message saying what to change, no API call, no charge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import World, public_texts, running_bot
from tests.fakes.discord import FakeInteraction
from tests.fakes.images import make_bomb, make_image, make_mask

PNG = make_image(64, 64, "png")
BIG_PNG = make_image(1024, 1024, "png")

# (command, options, attachments, words the member must read)
REFUSED_AT_ONCE: list[tuple[str, dict[str, Any], list[Any], str]] = [
    ("imagine", {"prompt": "x" * 1001, "model": "dall-e-2"}, [], "at most 1,000"),
    ("imagine", {"prompt": "x" * 4001, "model": "dall-e-3"}, [], "at most 4,000"),
    ("imagine", {"prompt": "a cat", "model": "dall-e-3", "count": 2}, [], "count to 1"),
    ("imagine", {"prompt": "a cat", "model": "dall-e-3", "size": "512x512"}, [], "512x512"),
    ("imagine", {"prompt": "a cat", "model": "gpt-image-2", "size": "1000x1000"}, [], "16"),
    ("imagine", {"prompt": "a cat", "model": "gpt-image-2", "size": "3856x1296"}, [], "3840"),
    ("imagine", {"prompt": "a cat", "model": "gpt-image-1", "quality": "hd"}, [], "hd"),
    ("imagine", {"prompt": "a cat", "model": "gpt-image-1", "style": "vivid"}, [], "dall-e-3"),
    ("imagine", {"prompt": "a cat", "model": "dall-e-2", "background": "transparent"}, [], "GPT"),
    (
        "imagine",
        {
            "prompt": "a cat",
            "model": "gpt-image-1",
            "background": "transparent",
            "format": "jpeg",
        },
        [],
        "set format to png or webp",
    ),
    ("imagine", {"prompt": "a cat", "model": "dall-e-2", "format": "png"}, [], "format only"),
    (
        "imagine",
        {"prompt": "a cat", "model": "dall-e-2", "aspect": "wide"},
        [],
        "dall-e-2 cannot make wide images (its only shape is square): set aspect to square, or "
        "choose a model that makes them: gpt-image-2, gpt-image-1 or dall-e-3.",
    ),
    (
        "imagine",
        {"prompt": "a cat", "aspect": "wide", "size": "1536x864"},
        [],
        "Choose aspect or size, not both",
    ),
    (
        "imagine",
        {"prompt": "a cat", "model": "gpt-image-1", "size": "21:9"},
        [],
        "gpt-image-1 cannot make 21:9 images (the closest it makes is 1536x1024)",
    ),
    ("edit", {"prompt": "hat", "model": "dall-e-3"}, [("a.png", PNG, "image/png", 64, 64)], "edit"),
    ("edit", {"prompt": "hat"}, [("notes.txt", b"hello", "text/plain", None, None)], "PNG"),
    (
        "edit",
        {"prompt": "hat", "model": "dall-e-2"},
        [("a.jpg", make_image(64, 64, "jpeg"), "image/jpeg", 64, 64)],
        "PNG",
    ),
    (
        "edit",
        {"prompt": "hat", "model": "dall-e-2"},
        [("a.png", make_image(64, 32, "png"), "image/png", 64, 32)],
        "square",
    ),
]


async def expect_private_refusal(world: World, handle: FakeInteraction, words: str) -> str:
    """The member alone reads a message with `words`; nothing was asked of WisGate or charged."""
    await world.idle()
    mine = [m for m in world.discord.messages_for(handle) if m.visible_to(world.alice.id)]
    texts = [m.content for m in mine if m.ephemeral and not m.deleted]
    assert any(words.lower() in text.lower() for text in texts), (texts, words)
    assert public_texts(world, handle) == []
    assert world.wisgate.requests == []
    assert world.rows("SELECT COUNT(*) FROM jobs") == [(0,)]
    return texts[-1]


@pytest.mark.parametrize(("command", "options", "files", "words"), REFUSED_AT_ONCE)
async def test_refused_before_any_work(
    tmp_path: Path, command: str, options: dict[str, Any], files: list[Any], words: str
) -> None:
    async with running_bot(tmp_path) as world:
        handle = await world.slash(command, options, attachments=files)
        assert handle.ack_type == 4  # answered at once, not deferred
        await expect_private_refusal(world, handle, words)


async def test_bytes_that_are_not_an_image_are_refused_after_the_defer(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        fake_png = ("cat.png", b"GIF89a not really a png", "image/png", 64, 64)
        handle = await world.slash("edit", {"prompt": "a hat"}, attachments=[fake_png])
        assert handle.ack_type == 5 and handle.defer_ephemeral is False
        text = await expect_private_refusal(world, handle, "cat.png")
        assert "PNG, JPEG or WebP" in text or "not an image" in text.lower()
        # The public loading message was resolved and then removed, never left "thinking".
        assert all(m.deleted or m.ephemeral for m in world.discord.messages_for(handle))


async def test_mask_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        handle = await world.slash(
            "edit",
            {"prompt": "a hat", "mask": ("mask.png", make_mask(512, 512), "image/png", 512, 512)},
            attachments=[("photo.png", BIG_PNG, "image/png", 1024, 1024)],
        )
        await expect_private_refusal(world, handle, "same")


async def test_prompt_of_only_spaces_is_refused(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        handle = await world.slash("imagine", {"prompt": "   "})
        await expect_private_refusal(world, handle, "prompt")


async def test_a_decompression_bomb_is_refused_from_discords_declaration(tmp_path: Path) -> None:
    bomb = make_bomb(13_500)  # ~25 KB that would decode to 182 million pixels
    assert len(bomb) < 100_000
    async with running_bot(tmp_path) as world:
        handle = await world.slash(
            "edit",
            {"prompt": "a hat"},
            attachments=[("tiny.png", bomb, "image/png", 13_500, 13_500)],
        )
        assert handle.ack_type == 4  # refused before the defer: nothing downloaded
        text = await expect_private_refusal(world, handle, "at most 25,000,000")
        assert "tiny.png is 13500x13500" in text and "scale it down" in text
        assert world.discord.downloads == []


@pytest.mark.parametrize(("side", "words"), [(9456, "9456x9456"), (13_500, "too many pixels")])
async def test_an_undeclared_bomb_is_refused_from_its_header(
    tmp_path: Path, side: int, words: str
) -> None:
    async with running_bot(tmp_path) as world:
        handle = await world.slash(
            "edit",
            {"prompt": "a hat"},
            attachments=[("tiny.png", make_bomb(side), "image/png", None, None)],
        )
        text = await expect_private_refusal(world, handle, words)
        assert "tiny.png" in text and "at most 25,000,000" in text

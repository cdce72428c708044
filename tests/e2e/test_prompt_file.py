"""Long prompts from a .txt attachment (/imagine-file, /edit-file): intact to WisGate, or refused
privately for free."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import World, public_texts, running_bot
from tests.e2e.quota_world import private_reply
from tests.fakes.images import make_image

TEXT = "text/plain"  # Discord adds "; charset=utf-8", which the fake CDN cannot serve


def long_prompt(characters: int) -> str:
    """A prompt of exactly `characters` characters, not all ASCII, with line breaks."""
    line = "A lighthouse on a cliff at dusk, gulls wheeling — Möwen über dem Meer.\n"
    text = (line * (characters // len(line) + 1))[:characters]
    return text[:-1] + "."  # no trailing whitespace: the prompt is sent exactly as written


def nothing_charged(world: World) -> None:
    assert world.rows("SELECT COUNT(*) FROM jobs") == [(0,)]
    assert world.rows("SELECT COUNT(*) FROM member_usage") == [(0,)]
    assert world.wisgate.requests == []


async def test_a_10000_character_prompt_file_reaches_wisgate_intact(tmp_path: Path) -> None:
    prompt = long_prompt(10_000)
    assert len(prompt) == 10_000
    data = b"\xef\xbb\xbf" + prompt.encode()  # with a byte-order mark, as Notepad saves it
    async with running_bot(tmp_path) as world:
        handle = await world.slash(
            "imagine-file",
            {"model": "gpt-image-2", "prompt_file": ("prompt.txt", data, TEXT)},
        )
        await world.idle()
        [request] = world.wisgate.requests
        assert request.json is not None and request.json["prompt"] == prompt
        [(status, params)] = world.rows("SELECT status, json_extract(params, '$.prompt') FROM jobs")
        assert (status, params) == ("succeeded", prompt)
        [message] = [m for m in world.discord.messages_for(handle) if not m.deleted]
        assert len(message.attachments) == 1 and not message.ephemeral
        # The embed quotes the start of the prompt; Discord's limits hold (checked by the fake).
        assert message.embeds[0]["description"].startswith("A lighthouse on a cliff")


async def test_edit_takes_its_prompt_from_a_file(tmp_path: Path) -> None:
    prompt = long_prompt(7_000)
    async with running_bot(tmp_path) as world:
        await world.slash(
            "edit-file",
            {"prompt_file": ("edit.txt", prompt.encode(), None)},  # no declared type is fine
            attachments=[("in.png", make_image(256, 256), "image/png", 256, 256)],
        )
        await world.idle()
        [request] = world.wisgate.requests
        assert request.fields["prompt"] == prompt
        assert world.rows("SELECT status FROM jobs") == [("succeeded",)]


BAD_FILES: list[tuple[str, dict[str, Any], str]] = [
    (
        "not UTF-8",
        {"prompt_file": ("latin.txt", "Café au lait, crème brûlée".encode("latin-1"), TEXT)},
        "`latin.txt` is not UTF-8 text: save it with UTF-8 encoding",
    ),
    (
        "empty",
        {"prompt_file": ("empty.txt", b" \n\t\n", TEXT)},
        "`empty.txt` is empty: write the prompt in it.",
    ),
    (
        "too long for dall-e-3",
        {"model": "dall-e-3", "prompt_file": ("long.txt", b"x" * 4_500, TEXT)},
        "`long.txt` holds 4,500 characters but dall-e-3 takes at most 4,000: shorten it by 500.",
    ),
    (
        "wrong type",
        {"prompt_file": ("prompt.pdf", b"%PDF-1.7 a lighthouse", "application/pdf")},
        "`prompt.pdf` is not a plain-text file (application/pdf): save the prompt as a UTF-8 "
        ".txt file",
    ),
    (
        "binary",
        {"prompt_file": ("nul.txt", b"a lighthouse\x00\x00\x01", TEXT)},
        "`nul.txt` does not look like text",
    ),
    (
        "declared too big",
        {"prompt_file": ("huge.txt", b"y" * 200_000, TEXT)},
        "`huge.txt` is 200.0 kB, too big for a prompt: gpt-image-2 takes at most 32,000 "
        "characters (a file of up to 128.0 kB). Shorten it.",
    ),
]


@pytest.mark.parametrize(
    ("options", "words"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES]
)
async def test_bad_prompt_files_are_refused_privately_with_no_request(
    tmp_path: Path, options: dict[str, Any], words: str
) -> None:
    async with running_bot(tmp_path) as world:
        handle = await world.slash("imagine-file", options)
        await world.idle()
        assert words in private_reply(world, handle)
        assert public_texts(world, handle) == []
        nothing_charged(world)


async def test_type_and_size_are_refused_before_the_download(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        for upload in [
            ("prompt.pdf", b"%PDF-1.7", "application/pdf"),
            ("huge.txt", b"y" * 200_000, TEXT),
        ]:
            handle = await world.slash("imagine-file", {"prompt_file": upload})
            await world.idle()
            assert handle.ack_type == 4  # refused in the first response: nothing deferred
        assert world.discord.downloads == []
        nothing_charged(world)


@pytest.mark.parametrize(
    ("command", "options", "problem"),
    [
        (
            "imagine",
            {"prompt": "a cat", "prompt_file": ("p.txt", b"a dog", TEXT)},
            "options ['prompt_file'] are not declared",
        ),
        (
            "imagine-file",
            {"prompt": "a cat", "prompt_file": ("p.txt", b"a dog", TEXT)},
            "options ['prompt'] are not declared",
        ),
        ("imagine", {"model": "gpt-image-1"}, "required options missing: ['prompt']"),
        ("imagine-file", {"model": "gpt-image-1"}, "required options missing: ['prompt_file']"),
        ("edit", {}, "required options missing: ['image', 'prompt']"),
        ("edit-file", {}, "required options missing: ['image', 'prompt_file']"),
    ],
    ids=["both on imagine", "both on imagine-file", "neither", "no file", "edit", "edit-file"],
)
async def test_exactly_one_of_prompt_and_prompt_file_is_all_discord_can_send(
    tmp_path: Path, command: str, options: dict[str, Any], problem: str
) -> None:
    async with running_bot(tmp_path) as world:
        # The fake builds interactions from the registered schema, as Discord's client does:
        # what the schema forbids cannot be sent at all.
        with pytest.raises(ValueError, match=re.escape(problem)):
            await world.slash(command, options)
        nothing_charged(world)


async def test_each_command_requires_its_prompt_and_lists_required_options_first(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as world:
        commands = {c["name"]: c for c in world.discord.guild_commands(world.guild.id)}
        expected = {
            "imagine": ["prompt"],
            "imagine-file": ["prompt_file"],
            "edit": ["image", "prompt"],
            "edit-file": ["image", "prompt_file"],
        }
        for name, required in expected.items():
            options = commands[name]["options"]
            assert [o["name"] for o in options if o.get("required")] == required, name
            flags = [o.get("required", False) for o in options]
            assert flags == sorted(flags, reverse=True), name  # required ones first
            names = {o["name"] for o in options}
            assert names & {"prompt", "prompt_file"} == {required[-1]}, name
        by_name = {o["name"]: o for o in commands["imagine"]["options"]}
        assert by_name["prompt"]["type"] == 3 and by_name["prompt"]["max_length"] == 6000
        assert commands["imagine-file"]["options"][0]["type"] == 11  # an attachment

"""/imagine end to end: the production bot against fake Discord and fake WisGate."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.e2e.harness import World, running_bot
from tests.e2e.quota_world import private_reply
from tests.fakes.discord import FakeInteraction
from tests.fakes.wisgate import FakeWisGate, RecordedRequest

BUILT_IN = ("gpt-image-2", "gpt-image-1", "dall-e-3", "dall-e-2")


@pytest.mark.parametrize("model", BUILT_IN)
async def test_imagine_delivers_images_on_every_model(tmp_path: Path, model: str) -> None:
    async with running_bot(tmp_path) as world:
        n = 1 if model == "dall-e-3" else 2
        handle = await world.slash(
            "imagine", {"prompt": "a red fox in snow", "model": model, "count": n}
        )
        await world.idle()
        first = world.discord.first_request_for(handle)
        assert first.json["type"] == 5  # the defer was the first request for it
        assert handle.ack_latency is not None and handle.ack_latency < 3.0
        [message] = [m for m in world.discord.messages_for(handle) if not m.deleted]
        assert not message.ephemeral and not message.loading
        assert len(message.attachments) == n
        for k, attachment in enumerate(message.attachments, start=1):
            assert attachment.filename.startswith("imagine-") and f"-{k}." in attachment.filename
            Image.open(io.BytesIO(attachment.data)).verify()
        embed = message.embeds[0]
        assert "a red fox in snow" in embed["description"]
        [request] = world.wisgate.requests
        assert request.json["model"] == model
        rows = world.rows("SELECT status, images_charged FROM jobs")
        assert rows == [("succeeded", n)]


# -- the options as members see them (issue 17, item 2) ---------------------------------------

FLARE = "gpt-image-2.5-flare"  # a model from the operator's file, as in test_models.py
FLARE_FILE = f'[models."{FLARE}"]\nlike = "gpt-image-2"\ntransparent = true\n'
WIDE = {"gpt-image-2": "1536x864", "gpt-image-1": "1536x1024", "dall-e-3": "1792x1024"}
WIDE[FLARE] = "1536x864"


def with_flare(tmp_path: Path) -> dict[str, Any]:
    """running_bot's arguments for a bot that also offers FLARE (described by a models file)."""
    models = tmp_path / "models.toml"
    models.write_text(FLARE_FILE, encoding="utf-8")

    def serve(fake: FakeWisGate) -> None:
        fake.add_model(FLARE, like="gpt-image-2", transparent=True)

    return {"models_file": models, "wisgate_setup": serve}


def accepted_upstream(world: World, request: RecordedRequest) -> dict[str, Any]:
    """The body WisGate received, checked again by the fake's own per-model rules."""
    assert request.json is not None
    world.wisgate.rules.check_generation(request.json)  # raises RuleViolation if refused
    return request.json


def delivered_sizes(world: World, handle: FakeInteraction) -> list[tuple[int, int]]:
    """The pixel sizes of the images the member received."""
    shown = [m for m in world.discord.messages_for(handle) if not m.deleted]
    return [Image.open(io.BytesIO(a.data)).size for m in shown for a in m.attachments]


async def test_the_synced_commands_require_the_prompt_and_use_plain_names(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as world:
        registered = {c["name"]: c for c in world.discord.guild_commands(world.guild.id)}
        imagine = {o["name"]: o for o in registered["imagine"]["options"]}
        assert imagine["prompt"]["required"] is True  # Discord opens the prompt field at once
        assert list(imagine) == [
            "prompt", "model", "aspect", "size", "quality", "count", "background", "format",
            "style", "private",
        ]  # fmt: skip
        aspects = [(c["name"], c["value"]) for c in imagine["aspect"]["choices"]]
        assert aspects == [
            ("square (1:1)", "square"), ("portrait (2:3)", "portrait"),
            ("landscape (3:2)", "landscape"), ("wide (16:9)", "wide"), ("tall (9:16)", "tall"),
        ]  # fmt: skip
        assert [c["value"] for c in imagine["format"]["choices"]] == ["png", "jpeg", "webp"]
        for name in ("imagine", "imagine-file", "edit", "edit-file"):
            options = registered[name]["options"]
            names = {o["name"] for o in options}
            assert {"count", "format", "aspect"} <= names and not {"n", "output_format"} & names
            for option in options:  # described (discord.py's default is "…"), in 100 characters
                assert 10 <= len(option["description"]) <= 100, (name, option["name"])
        with pytest.raises(ValueError, match=r"required options missing: \['prompt'\]"):
            await world.slash("imagine", {"model": "gpt-image-2"})  # Discord cannot send it
        assert world.wisgate.requests == []


async def test_aspect_wide_gives_every_model_a_size_it_accepts(tmp_path: Path) -> None:
    async with running_bot(tmp_path, **with_flare(tmp_path)) as world:
        available = world.bot.catalogue.available
        assert sorted(available) == sorted([*WIDE, "dall-e-2"])
        for model in available:
            if model == "dall-e-2":
                continue
            before = len(world.wisgate.requests)
            handle = await world.slash(
                "imagine", {"prompt": "a long beach", "model": model, "aspect": "wide"}
            )
            await world.idle()
            [request] = world.wisgate.requests[before:]
            body = accepted_upstream(world, request)
            assert (body["model"], body["size"]) == (model, WIDE[model])
            width, height = (int(side) for side in WIDE[model].split("x"))
            assert delivered_sizes(world, handle) == [(width, height)]
        assert world.rows("SELECT status, size FROM jobs ORDER BY id") == [
            ("succeeded", WIDE[model]) for model in available if model != "dall-e-2"
        ]
        refused = await world.slash(
            "imagine", {"prompt": "a long beach", "model": "dall-e-2", "aspect": "wide"}
        )
        await world.idle()
        assert refused.ack_type == 4  # answered at once, privately: nothing held or sent
        assert private_reply(world, refused) == (
            "dall-e-2 cannot make wide images (its only shape is square): set aspect to "
            f"square, or choose a model that makes them: gpt-image-2, gpt-image-1, dall-e-3 or "
            f"{FLARE}."
        )
        assert len(world.wisgate.requests) == len(WIDE)


async def test_a_typed_ratio_works_where_the_model_can_and_is_refused_where_not(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as world:
        handle = await world.slash(
            "imagine", {"prompt": "a city skyline", "model": "gpt-image-2", "size": "16:9"}
        )
        await world.idle()
        [request] = world.wisgate.requests
        assert accepted_upstream(world, request)["size"] == "1536x864"
        assert delivered_sizes(world, handle) == [(1536, 864)]

        refused = await world.slash(
            "imagine", {"prompt": "a city skyline", "model": "dall-e-2", "size": "16:9"}
        )
        await world.idle()
        assert refused.ack_type == 4
        assert private_reply(world, refused) == (
            "dall-e-2 cannot make 16:9 images (the closest it makes is 1024x1024): set size to "
            "1024x1024, or choose a model that makes them: gpt-image-2, gpt-image-1 or dall-e-3."
        )
        assert len(world.wisgate.requests) == 1
        assert world.rows("SELECT size, status FROM jobs") == [("1536x864", "succeeded")]


async def test_count_and_format_reach_wisgate_under_the_apis_names(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        handle = await world.slash(
            "imagine",
            {"prompt": "three teacups", "model": "gpt-image-1", "count": 3, "format": "jpeg"},
        )
        await world.idle()
        [request] = world.wisgate.requests
        body = accepted_upstream(world, request)
        assert (body["n"], body["output_format"]) == (3, "jpeg")
        [message] = [m for m in world.discord.messages_for(handle) if not m.deleted]
        assert [a.filename.rsplit(".", 1)[1] for a in message.attachments] == ["jpg"] * 3
        # Inside, the ledger keeps the API's names too.
        params = "json_extract(params, '$.n'), json_extract(params, '$.output_format')"
        assert world.rows(f"SELECT {params}, images_charged FROM jobs") == [(3, "jpeg", 3)]


async def autocomplete(
    world: World, command: str, focused: str, typed: str = "", **options: Any
) -> list[str]:
    """The values an option's autocomplete offers while the member types `typed`."""
    handle = await world.discord.inject_autocomplete(command, focused, typed, options)
    await world.discord.wait_for(lambda: handle.choices is not None)
    return [choice["value"] for choice in handle.choices or []]


async def test_quality_and_size_suggestions_follow_the_chosen_model(tmp_path: Path) -> None:
    async with running_bot(tmp_path, default_model="gpt-image-1") as world:
        for command in ("imagine", "imagine-file", "edit"):
            gpt = ["auto", "low", "medium", "high"]
            assert await autocomplete(world, command, "quality") == gpt  # the default model's
            assert await autocomplete(world, command, "quality", model="dall-e-2") == ["standard"]
        assert await autocomplete(world, "imagine", "quality", model="dall-e-3") == [
            "standard",
            "hd",
        ]
        assert await autocomplete(world, "imagine", "quality", "h", model="dall-e-3") == ["hd"]
        assert await autocomplete(world, "imagine", "size", "16:9", model="dall-e-3") == [
            "1792x1024"
        ]
        assert await autocomplete(world, "imagine", "size", "16:9", model="gpt-image-2") == [
            "1536x864"
        ]
        assert await autocomplete(world, "imagine", "size", "16:9", model="dall-e-2") == []
        # Only models that edit are offered to the edit commands; every model to the others.
        editors, everyone = ["gpt-image-2", "gpt-image-1", "dall-e-2"], list(BUILT_IN)
        for command, models in [
            ("edit", editors),
            ("edit-file", editors),
            ("imagine", everyone),
            ("imagine-file", everyone),
        ]:
            assert await autocomplete(world, command, "model") == models, command

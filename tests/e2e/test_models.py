"""Models as data, end to end: offered as WisGate lists them, added by a file, dropped and
brought back as the gateway says."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.jobs.gateway import read_listing
from tests.e2e.harness import World, running_bot
from tests.e2e.quota_world import private_reply
from tests.fakes.images import make_image
from tests.fakes.wisgate import FakeWisGate

FLARE = "gpt-image-2.5-flare"
FLARE_FILE = f"""
[models."{FLARE}"]
like = "gpt-image-2"
description = "edits, transparent backgrounds, any size"
transparent = true
"""


async def choices(world: World, command: str = "imagine", typed: str = "") -> list[dict[str, str]]:
    """What the `model` option's autocomplete offers: name (label) and value of each."""
    handle = await world.discord.inject_autocomplete(command, "model", typed)
    await world.discord.wait_for(lambda: handle.choices is not None)
    return list(handle.choices or [])


async def offered(world: World, command: str = "imagine", typed: str = "") -> list[str]:
    """The model names the `model` option's autocomplete offers."""
    return [choice["value"] for choice in await choices(world, command, typed)]


async def refresh_listing(world: World) -> None:
    """What the bot does every few hours: read WisGate's listing into the catalogue."""
    world.bot.catalogue.update_listing(await read_listing(world.bot.wisgate))


def serve_two(fake: FakeWisGate) -> None:
    fake.serve("gpt-image-1", "dall-e-2")


async def test_models_the_gateway_does_not_list_are_neither_offered_nor_taken(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path, wisgate_setup=serve_two, default_model="gpt-image-1") as w:
        assert await offered(w) == ["gpt-image-1", "dall-e-2"]
        assert await offered(w, "edit") == ["gpt-image-1", "dall-e-2"]
        [first, _] = await choices(w)
        assert first["name"].startswith("gpt-image-1: edits up to 16 images")
        refused = await w.slash("imagine", {"prompt": "a cat", "model": "gpt-image-2"})
        await w.idle()
        assert refused.ack_type == 4  # before the defer: nothing held, nothing sent
        assert "Model gpt-image-2 is not available here: choose gpt-image-1 or dall-e-2" in (
            private_reply(w, refused)
        )
        assert w.wisgate.requests == [] and len(w.wisgate.listings) == 1


async def test_the_first_available_model_serves_when_the_default_is_not(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.core.catalogue")
    async with running_bot(tmp_path, wisgate_setup=serve_two) as world:  # default gpt-image-2
        await world.slash("imagine", {"prompt": "a cat"})
        await world.idle()
        [call] = world.wisgate.requests
        assert call.json is not None and call.json["model"] == "gpt-image-1"
        assert any("gpt-image-1 serves instead" in r.getMessage() for r in caplog.records)


async def test_without_a_usable_listing_the_configured_models_stand(tmp_path: Path) -> None:
    def unusable(fake: FakeWisGate) -> None:
        fake.models_listing = "missing"

    async with running_bot(tmp_path, wisgate_setup=unusable) as world:
        assert await offered(world) == ["gpt-image-2", "gpt-image-1", "dall-e-3", "dall-e-2"]
        assert world.bot.catalogue.listed is None


async def test_a_model_from_a_models_file_generates_and_edits(tmp_path: Path) -> None:
    models = tmp_path / "models.toml"
    models.write_text(FLARE_FILE, encoding="utf-8")

    def flare(fake: FakeWisGate) -> None:
        fake.add_model(FLARE, like="gpt-image-2", transparent=True)

    async with running_bot(tmp_path, models_file=models, wisgate_setup=flare) as world:
        assert FLARE in await offered(world, typed="flare")
        made = await world.slash(
            "imagine", {"prompt": "a glass marble", "model": FLARE, "background": "transparent"}
        )
        await world.idle()
        upload = ("marble.png", make_image(64, 64, alpha=True), "image/png", 64, 64)
        edited = await world.slash("edit", {"prompt": "add a crack", "model": FLARE},
                                   attachments=[upload])  # fmt: skip
        await world.idle()
        first, second = world.wisgate.requests
        assert first.json is not None and first.json["model"] == FLARE
        assert first.json["background"] == "transparent"
        assert second.fields["model"] == FLARE
        for handle in (made, edited):
            assert [m for m in world.discord.messages_for(handle) if m.attachments]
        assert world.rows("SELECT model, status FROM jobs") == [(FLARE, "succeeded")] * 2
        # gpt-image-2 itself cannot: refused before the defer, naming who can.
        refused = await world.slash(
            "imagine", {"prompt": "a marble", "model": "gpt-image-2", "background": "transparent"}
        )
        await world.idle()
        assert refused.ack_type == 4
        assert f"choose gpt-image-1 or {FLARE} for one" in private_reply(world, refused)


async def test_model_not_found_drops_the_model_until_a_listing_brings_it_back(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as world:
        world.wisgate.withdraw("gpt-image-1")  # listed at start, gone since
        lost = await world.slash("imagine", {"prompt": "a kite", "model": "gpt-image-1"})
        await world.idle()
        text = private_reply(world, lost)
        assert "does not offer this model" in text and "nothing was charged" in text
        assert "Models you can use now: gpt-image-2, dall-e-3 or dall-e-2." in text
        assert world.rows("SELECT status, failure FROM jobs") == [("failed", "UnknownModel")]
        assert "gpt-image-1" not in await offered(world)

        again = await world.slash("imagine", {"prompt": "a kite", "model": "gpt-image-1"})
        await world.idle()
        assert again.ack_type == 4 and "not available here" in private_reply(world, again)
        assert len(world.wisgate.requests) == 1  # the refused one never reached WisGate

        await refresh_listing(world)  # still not listed: still unavailable
        assert "gpt-image-1" not in await offered(world)
        world.wisgate.serve("gpt-image-2", "gpt-image-1", "dall-e-3", "dall-e-2")
        await refresh_listing(world)
        assert "gpt-image-1" in await offered(world)
        back = await world.slash("imagine", {"prompt": "a kite", "model": "gpt-image-1"})
        await world.idle()
        assert back.ack_type == 5
        assert world.rows("SELECT status FROM jobs ORDER BY id DESC LIMIT 1") == [("succeeded",)]


async def test_a_listed_model_without_a_profile_is_named_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def newer(fake: FakeWisGate) -> None:
        fake.add_model("gpt-image-2.6-ember", like="gpt-image-2")

    caplog.set_level(logging.INFO, logger="bot.core.catalogue")
    async with running_bot(tmp_path, wisgate_setup=newer) as world:
        await refresh_listing(world)
        named = [r for r in caplog.records if "gpt-image-2.6-ember" in r.getMessage()]
        assert len(named) == 1 and "add it to MODELS_FILE" in named[0].getMessage()
        assert "gpt-image-2.6-ember" not in await offered(world)

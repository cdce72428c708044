"""/settings end to end: each member's defaults shown and changed with select menus on a
private message, applied to /imagine and /edit where an option is left unset, skipped (and
said) where they no longer fit, never winning over an option given; the menus refuse another
member and forged values, storing nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.harness import World, running_bot
from tests.e2e.quota_world import private_reply
from tests.fakes.discord import FakeInteraction, FakeMessage, FakeUser
from tests.fakes.discord.inject import walk_components
from tests.fakes.images import make_image


def menu_ids(message: FakeMessage) -> list[str]:
    """The custom ids of the message's select menus, in order."""
    return [str(c["custom_id"]) for c in walk_components(message.components) if c["type"] == 3]


def menu_values(message: FakeMessage, custom_id: str) -> list[str]:
    """The values a select menu of the message offers."""
    [menu] = [c for c in walk_components(message.components) if c.get("custom_id") == custom_id]
    return [str(option["value"]) for option in menu["options"]]


async def open_settings(world: World, user: FakeUser | None = None) -> FakeMessage:
    """/settings as `user` (alice); its private message."""
    handle = await world.slash("settings", user=user or world.alice)
    await world.idle()
    private_reply(world, handle)  # one private message, no one else sees it
    [message] = world.discord.messages_for(handle)
    return message


async def choose(
    world: World, message: FakeMessage, custom_id: str, values: list[str], user: FakeUser
) -> FakeInteraction:
    """Choose `values` in the message's menu `custom_id` as `user`; wait for the answer."""
    handle = await world.discord.inject_component(message, custom_id, values=values, user=user)
    world.handles.append(handle)
    await world.discord.wait_acknowledged(handle, within=3.0)
    await world.idle()
    return handle


async def set_default(world: World, message: FakeMessage, setting: str, value: str) -> None:
    """Pick the setting, then its value, as alice: both answered by updating the message."""
    owner = world.alice.id
    picked = await choose(world, message, f"set:pick:{owner}", [setting], world.alice)
    assert picked.ack_type == 7, picked.ack_type
    chosen = await choose(world, message, f"set:val:{setting}:{owner}", [value], world.alice)
    assert chosen.ack_type == 7, world.discord.messages_for(chosen)


def stored(world: World, user: FakeUser) -> dict[str, str]:
    """The member's defaults as the ledger keeps them."""
    found = world.rows("SELECT name, value FROM member_settings WHERE user_id = ?", user.id)
    return {str(name): str(value) for name, value in found}


async def imagine(world: World, **options: Any) -> dict[str, Any]:
    """/imagine as alice, run to its end; the JSON WisGate received."""
    before = len(world.wisgate.requests)
    await world.slash("imagine", {"prompt": "a lighthouse", **options})
    await world.idle()
    assert len(world.wisgate.requests) == before + 1
    body: dict[str, Any] = world.wisgate.requests[-1].json or {}
    return body


def alice_private_notes(world: World) -> list[str]:
    """Every private followup alice got (the notes that come with results)."""
    return [
        m.content
        for handle in world.handles
        for m in world.discord.messages_for(handle)
        if m.ephemeral and m.kind == "followup" and m.visible_to(world.alice.id)
    ]


async def test_settings_shows_stores_and_applies_the_defaults(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        message = await open_settings(world)
        owner = world.alice.id
        assert "model: not set" in message.content and "count: not set" in message.content
        assert menu_ids(message) == [f"set:pick:{owner}", f"set:val:model:{owner}"]
        assert menu_values(message, f"set:val:model:{owner}")[0] == "-"  # no default
        await set_default(world, message, "model", "gpt-image-1")
        await set_default(world, message, "size", "1536x1024")
        await set_default(world, message, "quality", "high")
        await set_default(world, message, "n", "2")
        assert "quality: `high`" in message.content and "Saved" in message.content
        assert stored(world, world.alice) == {
            "model": "gpt-image-1", "size": "1536x1024", "quality": "high", "n": "2",
        }  # fmt: skip

        body = await imagine(world)  # no options: every default applies
        assert (body["model"], body["size"], body["quality"], body["n"]) == (
            "gpt-image-1", "1536x1024", "high", 2,
        )  # fmt: skip
        body = await imagine(world, size="1024x1024", count=1)  # options given win
        assert (body["model"], body["size"], body["quality"]) == (
            "gpt-image-1", "1024x1024", "high",
        )  # fmt: skip
        assert "n" not in body
        assert alice_private_notes(world) == []  # nothing was skipped

        # The menus of a message sent before a restart still work.
        await world.restart()
        await set_default(world, message, "quality", "low")
        assert stored(world, world.alice)["quality"] == "low"

        # A later /settings shows them; clearing one deletes it.
        again = await open_settings(world)
        assert "size: `1536x1024`" in again.content
        await set_default(world, again, "size", "-")
        assert "size" not in stored(world, world.alice)
        body = await imagine(world)
        assert "size" not in body  # the model's own default


async def test_a_default_that_no_longer_fits_is_skipped_said_and_kept(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        message = await open_settings(world)
        await set_default(world, message, "model", "dall-e-3")
        await set_default(world, message, "size", "1792x1024")
        await set_default(world, message, "quality", "hd")
        kept = stored(world, world.alice)

        # An explicit model the size does not fit: the size and quality are skipped, said.
        body = await imagine(world, model="gpt-image-1")
        assert body["model"] == "gpt-image-1"
        assert "size" not in body and "quality" not in body  # the profile's defaults
        [note] = alice_private_notes(world)
        assert "Your default size 1792x1024 does not fit gpt-image-1: skipped" in note
        assert "Your default quality hd does not fit gpt-image-1" in note
        assert stored(world, world.alice) == kept  # never changed in storage

        # The default model gone from the gateway: skipped for the bot's default, said.
        world.bot.catalogue.mark_unavailable("dall-e-3")
        body = await imagine(world)
        assert body["model"] == "gpt-image-2" and "quality" not in body
        assert body["size"] == "1792x1024"  # gpt-image-2 makes that size freely
        notes = alice_private_notes(world)
        assert "Your default model dall-e-3 is not available now: skipped" in notes[-1]
        assert stored(world, world.alice) == kept
        shown = await open_settings(world)
        assert "model: `dall-e-3` — not available now: skipped" in shown.content


async def test_edit_takes_the_defaults_it_has_options_for(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        message = await open_settings(world)
        await set_default(world, message, "model", "gpt-image-1")
        await set_default(world, message, "output_format", "webp")
        await set_default(world, message, "private", "1")
        handle = await world.slash(
            "edit", {"prompt": "add a hat"}, attachments=[("cat.png", make_image(64, 64))]
        )
        await world.idle()
        [request] = world.wisgate.requests
        assert request.fields["model"] == "gpt-image-1"
        assert request.fields["output_format"] == "webp"
        assert handle.defer_ephemeral  # private by default


async def test_only_the_owner_may_use_the_menus(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        message = await open_settings(world)
        owner = world.alice.id
        refused = await choose(world, message, f"set:val:model:{owner}", ["dall-e-3"], world.bob)
        assert "another member's settings" in private_reply(world, refused)
        picked = await choose(world, message, f"set:pick:{owner}", ["size"], world.bob)
        assert "another member's settings" in private_reply(world, picked)
        assert stored(world, world.alice) == {} and stored(world, world.bob) == {}
        assert f"set:val:model:{owner}" in menu_ids(message)  # the menu did not change


async def test_forged_choices_are_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        message = await open_settings(world)
        owner = world.alice.id
        model_menu = f"set:val:model:{owner}"
        cases = [
            (model_menu, ["gpt-9"], "not available"),  # not in the catalogue
            (model_menu, ["dall-e-3", "dall-e-2"], "exactly one"),
            (model_menu, [], "exactly one"),
        ]
        for custom_id, values, said in cases:
            handle = await choose(world, message, custom_id, values, world.alice)
            assert said in private_reply(world, handle), (values, private_reply(world, handle))
        await set_default(world, message, "model", "dall-e-3")
        await choose(world, message, f"set:pick:{owner}", ["size"], world.alice)
        size_menu = f"set:val:size:{owner}"
        assert menu_values(message, size_menu) == ["-", "1024x1024", "1792x1024", "1024x1792"]
        for value in ("1536x1024", "256x256", "x" * 80):
            handle = await choose(world, message, size_menu, [value], world.alice)
            assert "dall-e-3" in private_reply(world, handle) or "cannot" in private_reply(
                world, handle
            )
        await choose(world, message, f"set:pick:{owner}", ["n"], world.alice)
        handle = await choose(world, message, f"set:val:n:{owner}", ["11"], world.alice)
        assert "dall-e-3 makes one image at a time" in private_reply(world, handle)
        await choose(world, message, f"set:pick:{owner}", ["private"], world.alice)
        handle = await choose(world, message, f"set:val:private:{owner}", ["yes"], world.alice)
        assert "on or off" in private_reply(world, handle)
        handle = await choose(world, message, f"set:pick:{owner}", ["background"], world.alice)
        assert "no such setting" in private_reply(world, handle)
        assert stored(world, world.alice) == {"model": "dall-e-3"}
        assert world.wisgate.requests == []  # nothing here calls WisGate

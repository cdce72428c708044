"""/history pages end to end: Previous and Next, pressed only by the member who asked, read only
that member's jobs in that place."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.ledger.facade import JobSpec, Requester
from tests.e2e.harness import World, running_bot
from tests.e2e.moderator_world import write_jobs
from tests.fakes.discord import FakeInteraction, FakeMessage, FakeUser

NUMBERS = re.compile(r"\*\*#(\d+)\*\*")


def jobs_of(world: World, who: FakeUser, count: int, guild_id: int | None) -> list[int]:
    """`count` charged, delivered jobs of `who` (written as another process would)."""
    now = datetime.now(UTC)
    channel = world.guild.channels[0].id
    specs = [
        (
            JobSpec(
                Requester(who.id, guild_id, channel_id=channel),
                "generate", "dall-e-2", 1, "256x256", None, {"prompt": f"{who.username} {n}"},
            ),
            now - timedelta(minutes=count - n),
            1,
        )
        for n in range(count)
    ]  # fmt: skip
    return write_jobs(world.settings, specs)


def page(message: FakeMessage) -> tuple[list[int], str]:
    """The job numbers the page lists, and its footer."""
    [embed] = message.embeds
    numbers = [int(n) for n in NUMBERS.findall(embed.get("description", ""))]
    return numbers, embed["footer"]["text"]


def buttons(message: FakeMessage) -> dict[str, bool]:
    """The page buttons by label: True when they can be pressed."""
    found = [c for row in message.components for c in row["components"]]
    return {c["label"]: not c.get("disabled") for c in found if c["label"] in ("Previous", "Next")}


async def turn(world: World, message: FakeMessage, way: str, user: FakeUser) -> FakeInteraction:
    click = await world.discord.inject_component(message, f"history-page:{way}", user=user)
    world.handles.append(click)
    await world.discord.wait_acknowledged(click)
    await world.idle()
    return click


async def test_history_pages_turn_for_the_member_who_asked_and_nobody_else(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as world:
        mine = jobs_of(world, world.alice, 12, world.guild.id)
        jobs_of(world, world.alice, 2, None)  # in direct messages: another place
        bobs = jobs_of(world, world.bob, 3, world.guild.id)
        handle = await world.slash("history")
        await world.idle()
        [message] = world.discord.messages_for(handle)
        assert message.ephemeral and not message.visible_to(world.bob.id)
        newest_first = mine[::-1]
        assert page(message) == (newest_first[:10], "Page 1")
        assert buttons(message) == {"Previous": False, "Next": True}

        # Another member's press is refused and the page does not move.
        refused = await turn(world, message, "next", world.bob)
        [note] = world.discord.messages_for(refused)
        assert note.ephemeral and "belong to the member who asked" in note.content
        assert "Run `/history` yourself" in note.content
        assert page(message) == (newest_first[:10], "Page 1")

        await turn(world, message, "next", world.alice)
        assert page(message) == (newest_first[10:], "Page 2")
        assert buttons(message) == {"Previous": True, "Next": False}
        assert "(older)" in message.embeds[0]["title"]
        await turn(world, message, "next", world.alice)  # past the last page: it stays
        assert page(message) == (newest_first[10:], "Page 2")
        await turn(world, message, "previous", world.alice)
        assert page(message) == (newest_first[:10], "Page 1")

        # Nothing of bob's nor of alice's direct messages ever shows on her pages.
        assert not set(bobs) & set(page(message)[0])
        theirs = await world.slash("history", user=world.bob)
        await world.idle()
        [bob_page] = world.discord.messages_for(theirs)
        assert page(bob_page) == (bobs[::-1], "Page 1")
        assert buttons(bob_page) == {"Previous": False, "Next": False}

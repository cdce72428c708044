"""Refusals the database can decide are the interaction's first answer, private, with no public
message at any point: over the daily limit, blocked, over the server's budget, a blocked term.

The checks run before the defer (bot/discord/gate.py), in one read-only transaction, so the
channel never sees even the "thinking..." of a request that was never going to run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.e2e.harness import World, running_bot
from tests.e2e.quota_world import Staff, ask, private_reply

Arrange = Callable[[World, Staff], Awaitable[None]]


async def over_the_limit(world: World, staff: Staff) -> None:
    await ask(world, "quota-admin limit", {"member": world.alice, "images": 1}, user=staff.admin)
    await world.slash("imagine", {"prompt": "the one image of today"})
    await world.idle()


async def blocked(world: World, staff: Staff) -> None:
    await ask(world, "quota-admin block", {"member": world.alice, "reason": "spam"},
              user=staff.admin)  # fmt: skip


async def over_the_budget(world: World, staff: Staff) -> None:
    await ask(world, "quota-admin budget", {"usd": 0.01}, user=staff.admin)


async def a_blocked_term(world: World, staff: Staff) -> None:
    await ask(world, "quota-admin terms add", {"term": "lighthouse"}, user=staff.admin)


CASES: list[tuple[Arrange, str]] = [
    (over_the_limit, "of your images today"),
    (blocked, "blocked you"),
    (over_the_budget, "budget"),
    (a_blocked_term, "`lighthouse`"),
]


@pytest.mark.parametrize(("arrange", "words"), CASES, ids=[c[0].__name__ for c in CASES])
@pytest.mark.parametrize("private", [False, True])
async def test_the_refusal_is_the_first_answer_and_only_the_member_sees_it(
    tmp_path: Path, arrange: Arrange, words: str, private: bool
) -> None:
    staff = Staff()
    async with running_bot(tmp_path, setup=staff) as world:
        await arrange(world, staff)
        jobs_before = world.rows("SELECT COUNT(*) FROM jobs")
        calls_before = len(world.wisgate.requests)
        handle = await world.slash("imagine", {"prompt": "a lighthouse", "private": private})
        await world.idle()
        assert handle.ack_type == 4, handle.ack_type  # answered, not deferred
        assert handle.defer_ephemeral is None
        assert words in private_reply(world, handle)
        every = world.discord.messages_for(handle)  # deleted ones included
        assert every and all(message.ephemeral for message in every)
        channel = world.discord.channel_messages(handle.channel_id)
        assert not [m for m in channel if m.interaction_id == handle.id and not m.ephemeral]
        assert world.rows("SELECT COUNT(*) FROM jobs") == jobs_before
        assert len(world.wisgate.requests) == calls_before

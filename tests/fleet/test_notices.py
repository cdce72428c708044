"""Owed notices are sent once across processes (issue 19): when a shard process dies with jobs
in flight, two survivors both reclaim every lease period, and exactly one takes its jobs and
tells each member, once, on the member's own request; nobody is told twice or by both.

Whole bot processes on one PostgreSQL (tests/fleet/test_processes.py's `fleet`); the fake
Discord counts what every process sent.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.e2e.test_setup import hold_images
from tests.fakes.discord import FakeInteraction
from tests.fleet.test_processes import Fleet, fleet
from tests.postgres import PostgresServer

MEMBERS = 4


def told(world: Fleet) -> list[tuple[int | None, str]]:
    """Every message telling of a restart's refund: (the interaction it answers, its text)."""
    return [
        (m.interaction_id, m.content)
        for m in world.discord.state.messages.values()
        if "restarted before" in (m.content or "")
    ]


async def test_two_survivors_tell_each_member_of_a_dead_process_once(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    async with fleet(postgres_server, tmp_path, 3, max_concurrency=3) as world:
        bots = [world.process(f"shard{n}", SHARD_COUNT="3", SHARD_IDS=str(n)) for n in range(3)]
        for bot in bots:
            await bot.start()
        hold_images(world.wisgate)  # the jobs stay in flight until their process dies
        guild = world.guilds[0]
        asked: list[FakeInteraction] = []
        for n in range(MEMBERS):
            member = guild.add_member(f"member{n}").user
            asked.append(
                await world.discord.inject_slash(
                    "imagine", {"prompt": f"lighthouse {n}"}, user=member
                )
            )
        await world.discord.wait_for(
            lambda: len(world.wisgate.requests) == MEMBERS, within=15, what="every job running"
        )

        await bots[0].kill()  # shard 0's process, with the four jobs
        await world.discord.wait_for(
            lambda: len(told(world)) >= MEMBERS, within=20, what="the members told of refunds"
        )
        # Two more rounds of both survivors' reclaim and notices: nothing more is sent.
        await asyncio.sleep(5.0)

        sent = told(world)
        assert sorted(interaction for interaction, _ in sent) == sorted(h.id for h in asked)
        rows = await world.rows("SELECT status, cost_charged_micros, notice_owed, owner FROM jobs")
        assert [(status, charged, owed) for status, charged, owed, _ in rows] == [
            ("interrupted", 0, 0)
        ] * MEMBERS
        owners = {owner for *_, owner in rows}
        assert len(owners) == 1, f"the jobs were split between survivors: {owners}"
        logs = [(tmp_path / f"shard{n}.log").read_text() for n in (1, 2)]
        tellers = [log for log in logs if "interrupted by the restart on the request" in log]
        assert len(tellers) == 1, "both survivors told members"

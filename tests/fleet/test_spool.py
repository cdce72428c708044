"""Processes of one machine sharing DATABASE_PATH's folder on one PostgreSQL (issue 19): each
spools members' queued uploads in a subfolder of its own, so a process starting beside a live
one clears only its own, and the live one's queued edit still runs with its image."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_edit import upload
from tests.e2e.test_setup import hold_images
from tests.fleet.test_processes import fleet
from tests.postgres import PostgresServer


async def test_a_process_starting_beside_a_live_one_leaves_its_spooled_inputs(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    async with fleet(postgres_server, tmp_path, 2, max_concurrency=2) as world:
        settings = {"SHARD_COUNT": "2", "MAX_CONCURRENT_JOBS": "1", "INPUT_MEMORY_MB": "0"}
        first = world.process("first", SHARD_IDS="0", **settings)
        await first.start()
        release = hold_images(world.wisgate)
        guild = world.guilds[0]
        alice = next(m.user for m in guild.members.values() if m.user.username == "alice")
        await world.discord.inject_slash("imagine", {"prompt": "a lighthouse"}, user=alice)
        await world.discord.wait_for(
            lambda: len(world.wisgate.requests) == 1, within=15, what="the first job at WisGate"
        )
        image = upload("cat.png")
        edit = await world.discord.inject_slash(
            "edit", {"prompt": "add a hat"}, attachments=[image], user=alice
        )
        spool = world.folder / "first" / "spool"
        await world.discord.wait_for(
            lambda: any(spool.glob("**/*.bin")), within=15, what="the edit's input spooled"
        )
        spooled = sorted(spool.glob("**/*.bin"))

        second = world.process("second", home="first", SHARD_IDS="1", **settings)
        await second.start()  # its start-up step has run: it clears its own spool
        assert sorted(spool.glob("**/*.bin")) == spooled, "the live process's inputs were deleted"

        release.set()
        await world.discord.wait_for(
            lambda: any(r.path.endswith("/edits") for r in world.wisgate.requests),
            within=15,
            what=str([m.content for m in world.discord.messages_for(edit)]),
        )
        sent = next(r for r in world.wisgate.requests if r.path.endswith("/edits"))
        assert [part.data for part in sent.files] == [image[1]]
        await world.discord.wait_for(
            lambda: not any(spool.glob("**/*.bin")), within=10, what="the spooled input removed"
        )
        assert await first.stop() == 0
        assert await second.stop() == 0
        assert await world.rows("SELECT status FROM jobs ORDER BY id") == [
            ("succeeded",),
            ("succeeded",),
        ]

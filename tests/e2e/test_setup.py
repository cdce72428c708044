"""Starting and syncing as an owner does (issue 17, item 1): a refused token is one paragraph
and no traceback, a refused WisGate key one log line; `check`, `sync` and a start that fails
never touch the jobs of a bot already running on the same database.

The real `python -m bot` runs in a process of its own (tests/e2e/commands.py), pointed at the
loopback fakes by DISCORD_API_URL and WISGATE_BASE_URL.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from tests.e2e.commands import finish, run_command, start_command
from tests.e2e.harness import World, running_bot
from tests.e2e.test_check import WRONG_KEY, WRONG_TOKEN, assert_readable, fake_env, fakes
from tests.fakes.images import make_image
from tests.fakes.wisgate import TEST_API_KEY, FakeWisGate
from tests.secrets_guard import DISCORD_TOKEN

W = 256


async def test_a_wrong_token_stops_the_start_in_one_paragraph(tmp_path: Path) -> None:
    async with fakes() as (discord_fake, wisgate_fake):
        env = {**fake_env(discord_fake, wisgate_fake, tmp_path), "DISCORD_TOKEN": WRONG_TOKEN}
        done = await run_command(tmp_path, env=env)
        connected = discord_fake.gateway.identifies
    assert done.code == 1, done.text
    assert_readable(done, WRONG_TOKEN)
    [paragraph] = [line for line in done.err.splitlines() if "DISCORD_TOKEN" in line]
    assert paragraph.startswith("The bot did not start. Discord refused DISCORD_TOKEN")
    assert "Developer Portal" in paragraph and "Reset Token" in paragraph and ".env" in paragraph
    # A first start: the new database's migrations are logged, then the paragraph. No more.
    assert len(done.err.splitlines()) <= 12, done.err
    assert "voice will NOT be supported" not in done.err  # discord.py's noise, not ours
    assert not connected


async def test_a_refused_wisgate_key_starts_with_one_line_and_a_reset_token_stops_it(
    tmp_path: Path,
) -> None:
    """The bot starts: it has results to deliver and refunds to tell whatever the key, and a
    member's request is refused and refunded. Its log says once what is wrong and what to do.
    A token reset while it runs (Discord closes with 4004) ends it in one paragraph too."""
    async with fakes() as (discord_fake, wisgate_fake):
        env = {**fake_env(discord_fake, wisgate_fake, tmp_path), "WISGATE_API_KEY": WRONG_KEY}
        process = await start_command(tmp_path, env=env)
        try:
            await discord_fake.wait_until_connected(within=30)
            await discord_fake.drop_connection(4004, resumable=False)
        except BaseException:
            process.kill()
            await finish(process, 5)
            raise
        done = await finish(process, 30)
    assert done.code == 1, done.text
    assert_readable(done, WRONG_KEY)
    [line] = [line for line in done.err.splitlines() if "WISGATE_API_KEY" in line]
    assert " ERROR " in line and "refused WISGATE_API_KEY" in line and "python -m bot check" in line
    assert [line for line in done.err.splitlines() if " ERROR " in line] == [line]
    [paragraph] = [line for line in done.err.splitlines() if "DISCORD_TOKEN" in line]
    assert paragraph.startswith("The bot stopped. Discord refused DISCORD_TOKEN")


def hold_images(fake: FakeWisGate) -> asyncio.Event:
    """Hold every image call at the fake until the returned event is set (listings pass)."""
    release = asyncio.Event()
    gate = fake._gate

    async def held(request: Any, record: Any, *, faults: bool = True) -> Any:
        if faults:  # image calls; the model listing passes faults=False
            await release.wait()
        return await gate(request, record, faults=faults)

    fake._gate = held  # type: ignore[method-assign]
    return release


def statuses(world: World) -> list[str]:
    """Every job's status, oldest first."""
    return [row[0] for row in world.rows("SELECT status FROM jobs ORDER BY id")]


async def test_check_sync_and_a_failed_start_leave_a_live_bots_jobs_alone(tmp_path: Path) -> None:
    """A live bot runs one job (held at WisGate) and queues another, its input on disk. Beside
    it, on the same database: `check`, `python -m bot` with a wrong token, `sync`. Then both
    jobs finish succeeded and charged, and nobody is told of a restart."""
    holder: dict[str, asyncio.Event] = {}

    def hold(fake: FakeWisGate) -> None:
        holder["release"] = hold_images(fake)

    settings = {"max_concurrent_jobs": 1, "input_memory_mb": 0, "wisgate_setup": hold}
    async with running_bot(tmp_path, **settings) as world:
        running = await world.slash("imagine", {"prompt": "a lighthouse"})
        image = ("cat.png", make_image(W, W, "png"), "image/png", W, W)
        queued = await world.slash("edit", {"prompt": "add a hat"}, attachments=[image])
        spool = tmp_path / "spool"
        await world.discord.wait_for(
            lambda: statuses(world) == ["running", "queued"] and any(spool.glob("**/*.*")),
            within=10,
            what="one job running, one queued with its input spooled",
        )
        spooled = sorted(spool.glob("**/*.*"))
        owner = tmp_path / "owner"
        owner.mkdir()
        env = {
            "DISCORD_TOKEN": DISCORD_TOKEN,
            "WISGATE_API_KEY": TEST_API_KEY,
            "DISCORD_API_URL": world.discord.api_url,
            "WISGATE_BASE_URL": world.wisgate.base_url,
            "DATABASE_PATH": str(world.settings.database_path),
        }
        commands: list[tuple[tuple[str, ...], dict[str, str], int]] = [
            (("check",), env, 0),
            ((), {**env, "DISCORD_TOKEN": WRONG_TOKEN}, 1),
            (("sync",), env, 0),
        ]
        for args, command_env, code in commands:
            done = await run_command(owner, *args, env=command_env)
            what = f"python -m bot {' '.join(args)}"
            assert done.code == code, f"{what}: {done.text}"
            assert_readable(done, WRONG_TOKEN)
            assert statuses(world) == ["running", "queued"], f"{what} touched the jobs"
            assert sorted(spool.glob("**/*.*")) == spooled, f"{what} removed spooled inputs"
        assert world.discord.global_commands, "sync registered no command"
        holder["release"].set()
        await world.idle(within=30)
        assert world.rows("SELECT status, images_charged, notice_owed FROM jobs ORDER BY id") == [
            ("succeeded", 1, 0),
            ("succeeded", 1, 0),
        ]
        for handle in (running, queued):
            delivered = [m for m in world.discord.messages_for(handle) if m.attachments]
            assert delivered, f"{handle.name} was not delivered"
        told = [m.content for m in world.discord.state.messages.values()]
        assert not [text for text in told if "restarted" in text], told


async def test_sync_registers_the_commands_and_creates_no_database(tmp_path: Path) -> None:
    async with fakes() as (discord_fake, wisgate_fake):
        done = await run_command(
            tmp_path, "sync", env=fake_env(discord_fake, wisgate_fake, tmp_path)
        )
        registered = {command["name"] for command in discord_fake.global_commands}
    assert done.code == 0, done.text
    assert_readable(done)
    assert {"imagine", "edit", "quota", "quota-admin"} <= registered, registered
    assert f"synced {len(registered)} commands globally" in done.err
    assert "migration" not in done.err and not (tmp_path / "data").exists()
    assert not wisgate_fake.listings and not wisgate_fake.requests  # no start-up step ran


async def test_an_unusable_database_stops_the_start_in_one_paragraph(tmp_path: Path) -> None:
    (tmp_path / "data" / "bot.sqlite3").mkdir(parents=True)  # a folder where the file goes
    async with fakes() as (discord_fake, wisgate_fake):
        done = await run_command(tmp_path, env=fake_env(discord_fake, wisgate_fake, tmp_path))
        assert not discord_fake.requests  # it stopped before logging in
    assert done.code == 1, done.text
    assert_readable(done)
    [paragraph] = done.err.splitlines()
    assert paragraph.startswith("The bot did not start: its database cannot be used.")
    assert "DATABASE_PATH" in paragraph and "python -m bot check" in paragraph


async def test_sigterm_lets_the_job_in_flight_finish_then_stops_cleanly(tmp_path: Path) -> None:
    """`docker stop` sends SIGTERM: the bot takes no new job, gives the one WisGate is making
    its grace (the images are paid for upstream), delivers and charges it, and ends with exit
    0; nobody is owed a restart notice."""
    async with fakes() as (discord_fake, wisgate_fake):
        release = hold_images(wisgate_fake)
        alice = discord_fake.add_user("alice")
        [guild] = discord_fake.state.guilds.values()
        guild.add_member(alice)
        env = {**fake_env(discord_fake, wisgate_fake, tmp_path), "DEV_GUILD_ID": str(guild.id)}
        process = await start_command(tmp_path, env=env)
        try:
            await discord_fake.wait_until_connected(within=30)
            handle = await discord_fake.inject_slash("imagine", {"prompt": "a kite"}, user=alice)
            await discord_fake.wait_for(
                lambda: len(wisgate_fake.requests) == 1, within=30, what="the job at WisGate"
            )
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            assert process.returncode is None  # still draining: the job is being made
            release.set()
            done = await finish(process, 30)
        except BaseException:
            release.set()
            if process.returncode is None:
                process.kill()
                await finish(process, 5)
            raise
        delivered = [m for m in discord_fake.messages_for(handle) if m.attachments]
    assert done.code == 0, done.text
    assert_readable(done)
    assert "waiting up to 30 s for 1 job(s) in flight" in done.err
    assert delivered, "the job in flight was not delivered"
    database = sqlite3.connect(tmp_path / "data" / "bot.sqlite3")
    with closing(database):
        rows = database.execute("SELECT status, images_charged, notice_owed FROM jobs").fetchall()
    assert rows == [("succeeded", 1, 0)], rows

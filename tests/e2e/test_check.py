"""`python -m bot check` as an owner runs it: every bad input one readable line, exit code 1;
a good setup prints the invite link; the database it checks is neither created nor changed.

The real command runs in a process of its own (tests/e2e/commands.py), pointed at the loopback
fakes by DISCORD_API_URL and WISGATE_BASE_URL.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import discord
import pytest
import yarl

from bot.config import load_settings
from bot.ledger.database import POSTGRES_MIGRATIONS, discover_migrations, open_database
from tests.e2e.commands import Finished, run_command
from tests.fakes.discord import FakeDiscord
from tests.fakes.wisgate import TEST_API_KEY, FakeWisGate
from tests.postgres import PostgresServer
from tests.secrets_guard import DISCORD_TOKEN, find_secrets

WRONG_TOKEN = "discord-token-never-printed"
WRONG_KEY = "sk-wrong-key-also-secret"
CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens on loopback
# What the bot's code does in channels on its own (bot/discord/invite.py says which code).
NEEDED = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
)


@asynccontextmanager
async def fakes() -> AsyncIterator[tuple[FakeDiscord, FakeWisGate]]:
    """Discord (accepting DISCORD_TOKEN only) and WisGate, for a child process to use."""
    async with (
        FakeDiscord(token=DISCORD_TOKEN, patch=False) as discord_fake,
        FakeWisGate(api_key=TEST_API_KEY, noisy=False) as wisgate_fake,
    ):
        discord_fake.add_guild("Test")
        yield discord_fake, wisgate_fake


def fake_env(discord_fake: FakeDiscord, wisgate_fake: FakeWisGate, folder: Path) -> dict[str, str]:
    """A good setup against the fakes, its database in `folder`/data."""
    return {
        "DISCORD_TOKEN": DISCORD_TOKEN,
        "WISGATE_API_KEY": TEST_API_KEY,
        "DISCORD_API_URL": discord_fake.api_url,
        "WISGATE_BASE_URL": wisgate_fake.base_url,
        "DATABASE_PATH": str(folder / "data" / "bot.sqlite3"),
    }


def assert_readable(done: Finished, *secrets: str) -> None:
    """No traceback and no secret (the test's own and `secrets`) in anything printed."""
    assert "Traceback" not in done.text, done.text
    leaked = find_secrets(done.text, (DISCORD_TOKEN, TEST_API_KEY, *secrets))
    assert not leaked, f"printed a secret: {done.text}"


def invite_link(done: Finished) -> yarl.URL:
    """The one link on check's `invite:` lines."""
    lines = done.out.splitlines()
    [link] = [line.split(" ", 1)[1] for line in lines if line.startswith("invite: https:")]
    return yarl.URL(link)


def failed_lines(done: Finished) -> list[str]:
    """The check's FAILED lines."""
    return [line for line in done.out.splitlines() if ": FAILED: " in line]


async def test_a_good_setup_prints_the_invite_link_and_creates_nothing(tmp_path: Path) -> None:
    async with fakes() as (discord_fake, wisgate_fake):
        env = fake_env(discord_fake, wisgate_fake, tmp_path)
        done = await run_command(tmp_path, "check", env=env)
        asked = [(request.method, request.path) for request in discord_fake.requests]
        guild = next(iter(discord_fake.state.guilds))
        private = await run_command(tmp_path, "check", env={**env, "ALLOWED_GUILDS": str(guild)})
    assert done.code == 0, done.text
    assert_readable(done)
    # It asks what login asks, and nothing else: it registers, sends and changes nothing.
    assert asked == [("GET", "/users/@me"), ("GET", "/oauth2/applications/@me")]
    app_id = discord_fake.application_id
    assert f"discord: ok (DISCORD_TOKEN logs in as ImageBot, application {app_id})" in done.out
    url = invite_link(done)
    assert (url.scheme, url.host, url.path) == ("https", "discord.com", "/oauth2/authorize")
    assert url.query["client_id"] == str(app_id)
    assert url.query["scope"].split() == ["bot", "applications.commands"]
    assert discord.Permissions(int(url.query["permissions"])) == NEEDED
    assert (
        "these permissions: View Channels, Send Messages, Send Messages in Threads, Embed Links, "
        "Attach Files, Read Message History" in done.out
    )
    assert "discord: note: Public Bot is on" in done.out  # the fake's application is public
    assert "database: ok (" in done.out and "is created at the first start" in done.out
    assert not (tmp_path / "data").exists(), "check created the database it checked"
    assert "wisgate: ok" in done.out and "models: 4 available" in done.out
    # Serving only listed servers, a public bot costs nothing: no note.
    assert private.code == 0 and "Public Bot" not in private.out, private.text


async def test_a_wrong_token_is_one_line_naming_discord_token(tmp_path: Path) -> None:
    async with fakes() as (discord_fake, wisgate_fake):
        env = {**fake_env(discord_fake, wisgate_fake, tmp_path), "DISCORD_TOKEN": WRONG_TOKEN}
        done = await run_command(tmp_path, "check", env=env)
    assert done.code == 1, done.text
    assert_readable(done, WRONG_TOKEN)
    [line] = failed_lines(done)
    assert line.startswith("discord: FAILED: Discord refused DISCORD_TOKEN (401 Unauthorized)")
    assert "Reset Token" in line and ".env" in line
    assert "invite:" not in done.out
    # The other steps still ran: one run names every problem.
    assert "database: ok" in done.out and "wisgate: ok" in done.out


def _folder_as_database(folder: Path) -> dict[str, str]:
    (folder / "db.sqlite3").mkdir()
    return {"DATABASE_PATH": str(folder / "db.sqlite3")}


def _file_in_the_way(folder: Path) -> dict[str, str]:
    (folder / "notes.txt").write_text("not a folder")
    return {"DATABASE_PATH": str(folder / "notes.txt" / "bot.sqlite3")}


def _not_a_database(folder: Path) -> dict[str, str]:
    (folder / "bot.sqlite3").write_bytes(b"these are not the bytes of an SQLite database" * 100)
    return {"DATABASE_PATH": str(folder / "bot.sqlite3")}


def _newer_database(folder: Path) -> dict[str, str]:
    with sqlite3.connect(folder / "bot.sqlite3") as conn:
        conn.execute("PRAGMA user_version = 999")
    return {"DATABASE_PATH": str(folder / "bot.sqlite3")}


def _bad_models_file(folder: Path) -> dict[str, str]:
    (folder / "models.toml").write_text('[models."gpt-image-2"\nsizes = 3\n')
    return {"MODELS_FILE": str(folder / "models.toml")}


Case = tuple[str, Callable[[Path], dict[str, str]], str, tuple[str, ...]]
# (what, the bad input, the line's start, words it must contain)
BAD_INPUTS: list[Case] = [
    (
        "Discord unreachable",
        lambda _: {"DISCORD_API_URL": f"{CLOSED}/api/v10"},
        "discord: FAILED: Discord could not be reached at http://127.0.0.1:9/api/v10",
        ("DISCORD_API_URL",),
    ),
    ("wrong WisGate key", lambda _: {"WISGATE_API_KEY": WRONG_KEY}, "wisgate: FAILED: ",
     ("refused the key", "WISGATE_API_KEY")),
    ("WisGate unreachable", lambda _: {"WISGATE_BASE_URL": f"{CLOSED}/v1"}, "wisgate: FAILED: ",
     ("could not be reached", "WISGATE_BASE_URL")),
    ("database path is a folder", _folder_as_database, "database: FAILED: ",
     ("is a folder", "DATABASE_PATH")),
    ("a file where its folder goes", _file_in_the_way, "database: FAILED: ",
     ("notes.txt is a file", "DATABASE_PATH")),
    ("not an SQLite file", _not_a_database, "database: FAILED: ",
     ("cannot be read as an SQLite database",)),
    ("database of a newer release", _newer_database, "database: FAILED: ",
     ("schema version 999", "upgrade the bot")),
    ("MODELS_FILE not TOML", _bad_models_file, "settings: FAILED: MODELS_FILE ",
     ("is not valid TOML",)),
    ("MODELS_FILE missing", lambda f: {"MODELS_FILE": str(f / "none.toml")},
     "settings: FAILED: MODELS_FILE ", ("cannot be read",)),
]  # fmt: skip


async def test_every_bad_input_is_one_readable_line(tmp_path: Path) -> None:
    async with fakes() as (discord_fake, wisgate_fake):

        async def run(number: int, case: Case) -> Finished:
            folder = tmp_path / str(number)
            folder.mkdir()
            env = {**fake_env(discord_fake, wisgate_fake, folder), **case[1](folder)}
            return await run_command(folder, "check", env=env)

        results = await asyncio.gather(*(run(n, case) for n, case in enumerate(BAD_INPUTS)))
    wrong = []
    for (what, _, start, words), done in zip(BAD_INPUTS, results, strict=True):
        lines = failed_lines(done)
        ok = done.code == 1 and len(lines) == 1 and lines[0].startswith(start)
        if not (ok and all(word in lines[0] for word in words)):
            wrong.append(f"{what}: exit {done.code}\n{done.text}")
        assert_readable(done, WRONG_KEY)
    assert not wrong, "\n\n".join(wrong)


async def test_a_dns_failure_names_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """DNS fails here by a resolver that answers as a failing one does: no lookup leaves."""
    from bot.cli.check import run_check

    looked_up: list[object] = []

    async def no_such_name(host: object, *args: object, **kwargs: object) -> object:
        looked_up.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", no_such_name)
    async with fakes() as (_, wisgate_fake):
        settings = load_settings(
            _env_file=None,
            discord_token=DISCORD_TOKEN,
            wisgate_api_key=TEST_API_KEY,
            wisgate_base_url=wisgate_fake.base_url,  # an address: no name to look up
            database_path=tmp_path / "bot.sqlite3",
        )
        assert await run_check(settings) == 1
    assert looked_up == ["discord.com"]
    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if "FAILED" in line]
    assert line == (
        "discord: FAILED: Discord could not be reached at https://discord.com/api/v10 (DNS "
        "cannot find discord.com: Name or service not known). Check this machine's network "
        "connection and DNS, then try again."
    )


async def test_an_older_database_is_checked_on_a_copy_and_left_as_it_is(tmp_path: Path) -> None:
    migrations = discover_migrations()
    older = tmp_path / "older"
    older.mkdir()
    for _, script in migrations[:-1]:
        (older / script.name).write_text(script.read_text(encoding="utf-8"), encoding="utf-8")
    path = tmp_path / "bot.sqlite3"
    async with open_database(path, migrations=older):
        pass
    before = path.read_bytes()
    async with fakes() as (discord_fake, wisgate_fake):
        env = {**fake_env(discord_fake, wisgate_fake, tmp_path), "DATABASE_PATH": str(path)}
        done = await run_command(tmp_path, "check", env=env)
    assert done.code == 0, done.text
    latest = migrations[-1][0]
    assert f"schema version {latest - 1}; the next start applies 1 migration(s)" in done.out
    assert path.read_bytes() == before, "check changed the database"


async def test_check_and_models_say_what_the_gateway_serves(tmp_path: Path) -> None:
    async with fakes() as (discord_fake, wisgate_fake):
        wisgate_fake.serve("gpt-image-1", "dall-e-2", "gpt-image-3")
        env = fake_env(discord_fake, wisgate_fake, tmp_path)
        done = await run_command(tmp_path, "check", env=env)
        assert [r.path for r in wisgate_fake.listings] == ["/v1/models"]
        assert not wisgate_fake.requests  # one listing, no image call
        assert done.code == 0, done.text
        assert "models: 2 available (gpt-image-1, dall-e-2)" in done.out
        assert "models: note: gpt-image-2: enabled yes, listed no, available no" in done.out
        assert "gpt-image-3: listed by WisGate, no profile (add it to MODELS_FILE" in done.out
        models = await run_command(tmp_path, "models", env=env)
        assert models.code == 0, models.text
        lines = models.out.splitlines()
        assert lines[0].startswith("gpt-image-2: enabled yes, listed no, available no; n 1-10,")
        assert "free sizes to 3840px" in lines[0] and "tokens $5/$8/$30 per M" in lines[0]
        assert lines[2].startswith("dall-e-3: enabled yes, listed no") and "styles" in lines[2]
        wisgate_fake.models_listing = "missing"  # a gateway without the route: only the list
        done = await run_command(tmp_path, "check", env=env)
        assert done.code == 0 and "models: WisGate gave no usable model list" in done.out, done.text


async def test_check_reads_a_postgresql_database_and_never_prints_its_password(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    secret = "pa55word-never-printed"  # the test server trusts loopback: any password passes
    empty = await postgres_server.new_database(template="template0")  # never migrated
    migrated = await postgres_server.new_database()
    latest = discover_migrations(POSTGRES_MIGRATIONS)[-1][0]
    urls = {
        "empty": empty.replace("postgres@", f"postgres:{secret}@"),
        "migrated": migrated.replace("postgres@", f"postgres:{secret}@"),
        "closed": f"postgresql://bot:{secret}@127.0.0.1:9/ledger",
    }
    async with fakes() as (discord_fake, wisgate_fake):
        env = fake_env(discord_fake, wisgate_fake, tmp_path)
        done = {
            name: await run_command(tmp_path, "check", env={**env, "DATABASE_URL": url})
            for name, url in urls.items()
        }
    for finished in done.values():
        assert_readable(finished, secret)
    shown = empty.replace("postgres@", "postgres:***@")
    assert done["empty"].code == 0, done["empty"].text
    assert (
        f"database: ok (PostgreSQL at {shown}, empty: the first start builds schema version "
        f"{latest})" in done["empty"].out
    )
    assert done["migrated"].code == 0, done["migrated"].text
    shown = migrated.replace("postgres@", "postgres:***@")
    assert f"database: ok (PostgreSQL at {shown}, schema version {latest})" in done["migrated"].out
    assert done["closed"].code == 1
    [line] = failed_lines(done["closed"])
    assert line.startswith("database: FAILED: PostgreSQL at postgresql://bot:***@127.0.0.1:9/")
    assert not (tmp_path / "data").exists()
    conn = await asyncpg.connect(empty)
    try:  # check created nothing there either, not even the schema_version table
        tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        assert await conn.fetchval(tables) == 0
    finally:
        await conn.close()

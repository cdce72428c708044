"""Requests cut off by a SIGKILL: the next start answers their "thinking..." messages.

A real bot process (tests/e2e/logged_bot.py: production logging at DEBUG) takes jobs that
WisGate answers slowly and is SIGKILLed while they run; a new process on the same database
refunds them (bot/jobs/recovery.py) and, with the interaction tokens the ledger kept while
they were open, tells the member privately on each request's own message
(bot/discord/interrupted.py). A token too old to use is never sent to Discord and is deleted:
then the member hears from the channel's restart notice, as before. The fake Discord lives in
this process, so it holds the interactions across the kill.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.ledger.models import iso
from tests.chaos.bot_process import API_VAR, GATEWAY_VAR
from tests.e2e import backend
from tests.e2e.logged_bot import LoggedBotProcess
from tests.fakes.discord import FakeDiscord, FakeGuild, FakeInteraction, FakeMessage, FakeUser
from tests.fakes.wisgate import TEST_API_KEY, FakeWisGate
from tests.secrets_guard import DISCORD_TOKEN, find_secrets

OPTIONS = {"model": "gpt-image-1", "size": "1024x1024", "quality": "low", "count": 1}
EXPLAINED = ("interrupted by the restart", "nothing was charged")
CHANNEL_NOTICE = "The bot restarted before your"


@dataclass
class Scene:
    """The fakes, a guild with alice and bob, and the bot process."""

    discord: FakeDiscord
    wisgate: FakeWisGate
    guild: FakeGuild
    alice: FakeUser
    bob: FakeUser
    bot: LoggedBotProcess
    database: Path
    url: str | None  # --backend=postgres: the bot's database
    log: Path

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Read (or change) the bot's database from this process, while the bot writes too."""
        return backend.rows(self.database, self.url, sql, *args)

    async def imagine(self, prompt: str, **options: Any) -> FakeInteraction:
        """alice's /imagine, acknowledged."""
        handle = await self.discord.inject_slash(
            "imagine", {**OPTIONS, "prompt": prompt, **options}, user=self.alice
        )
        await self.discord.wait_acknowledged(handle, within=5.0)
        return handle

    async def kill_while_running(self, jobs: int) -> None:
        """SIGKILL the bot once `jobs` jobs run and each kept its interaction's token."""

        def ready() -> bool:
            running = self.rows("SELECT COUNT(*) FROM jobs WHERE status = 'running'")[0][0]
            kept = self.rows("SELECT COUNT(*) FROM interaction_tokens")[0][0]
            return bool(running == kept == jobs)

        await until(ready, what=f"{jobs} running jobs with their tokens")
        await self.bot.kill()

    async def restart(self) -> int:
        """Start a new process, wait for its restart notices; the index of its first request."""
        first = len(self.discord.requests)
        logged = len(self.log.read_text()) if self.log.exists() else 0
        await self.bot.start()
        await self.bot.notices_sent()
        if self.url is not None:
            # On PostgreSQL a new process takes a dead one's jobs only once its lease has run
            # out (bot/discord/takeover.py), then tells their members.
            def told() -> bool:
                since = self.log.read_text()[logged:]
                took = since.find("took ")
                return took >= 0 and "restart notices:" in since[took:]

            await until(told, what="the killed process's jobs taken over and told")
        return first


async def until(predicate: Callable[[], bool], *, what: str, within: float = 20.0) -> None:
    """Poll `predicate` (e.g. the database) until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        assert loop.time() < deadline, f"no {what} within {within} s"
        await asyncio.sleep(0.02)


@asynccontextmanager
async def scene(tmp_path: Path) -> AsyncIterator[Scene]:
    """A started bot process against both fakes; afterwards, the fake saw nothing amiss."""
    async with (
        FakeDiscord(token=DISCORD_TOKEN, patch=False) as fake,
        FakeWisGate(api_key=TEST_API_KEY, noisy=False) as api,
    ):
        guild = fake.add_guild("Test")
        alice, bob = fake.add_user("alice"), fake.add_user("bob")
        guild.add_member(alice)
        guild.add_member(bob)
        database = tmp_path / "bot.sqlite3"
        url = await backend.database_url(tmp_path)
        env = {
            "DISCORD_TOKEN": DISCORD_TOKEN,
            "WISGATE_API_KEY": TEST_API_KEY,
            "WISGATE_BASE_URL": api.base_url,
            "DATABASE_PATH": str(database),
            **({"DATABASE_URL": url} if url else {}),
            "DEV_GUILD_ID": str(guild.id),
            "ENABLED_MODELS": "gpt-image-1",
            "DEFAULT_MODEL": "gpt-image-1",
            "STREAMING_PREVIEWS": "off",
            API_VAR: fake.api_url,
            GATEWAY_VAR: fake.gateway.url,
        }
        log = tmp_path / "bot.log"
        bot = LoggedBotProcess(env, log)
        try:
            await bot.start()
            await bot.notices_sent()
            yield Scene(fake, api, guild, alice, bob, bot, database, url, log)
            assert await bot.stop() == 0, log.read_text()[-3000:]
        finally:
            await bot.close()
        assert fake.violations == [], fake.describe()
        assert fake.unhandled == [], fake.describe()
        assert not backend.database_leaks(database, url)


def shown_to(messages: list[FakeMessage], user: FakeUser) -> list[FakeMessage]:
    """The messages `user` can read (not deleted; ephemeral ones only by their member)."""
    return [m for m in messages if m.visible_to(user.id)]


def webhook_calls(scene: Scene, handle: FakeInteraction, first: int) -> list[tuple[str, str]]:
    """(method, path with the token cut out) of the requests for `handle` from index `first`."""
    return [
        (r.method, r.path.replace(handle.token, "TOKEN"))
        for r in scene.discord.requests_for(handle)
        if r.index >= first
    ]


async def test_a_killed_jobs_thinking_message_is_resolved_privately_by_the_next_start(
    tmp_path: Path,
) -> None:
    async with scene(tmp_path) as world:
        world.wisgate.fail("slow", times=2, delay=120)  # both jobs run until the kill
        public = await world.imagine("a lighthouse in a storm")
        private = await world.imagine("a secret garden", private=True)
        await world.kill_while_running(2)
        first = await world.restart()

        # The public request: resolved, explained to alice alone, then deleted.
        app = world.discord.state.application_id
        hook = f"/webhooks/{app}/TOKEN"
        assert webhook_calls(world, public, first) == [
            ("PATCH", f"{hook}/messages/@original"),
            ("POST", hook),
            ("DELETE", f"{hook}/messages/@original"),
        ]
        messages = world.discord.messages_for(public)
        assert not any(m.loading for m in messages)
        assert shown_to(messages, world.bob) == []
        [told] = shown_to(messages, world.alice)
        assert told.ephemeral and all(words in told.content for words in EXPLAINED), told
        # The private request: its own "thinking..." message now says it.
        assert webhook_calls(world, private, first) == [("PATCH", f"{hook}/messages/@original")]
        [answer] = world.discord.messages_for(private)
        assert answer.ephemeral and not answer.loading and not answer.deleted
        assert all(words in answer.content for words in EXPLAINED), answer
        assert shown_to([answer], world.bob) == []
        # Told there, so no notice in the channel or by DM as well.
        channel = world.guild.channels[0].id
        messages = world.discord.channel_messages(channel)
        assert [m for m in messages if m.interaction_id is None] == []
        assert world.discord.dm_messages(world.alice.id) == []

        # Refunded; the tokens are gone; nothing owed.
        ends = "SELECT status, failure, images_charged, cost_charged_micros, notice_owed FROM jobs"
        assert world.rows(ends) == [("interrupted", "Interrupted", 0, 0, 0)] * 2
        assert world.rows(
            "SELECT SUM(images_held), SUM(images_charged), SUM(cost_held_micros) FROM member_usage"
        ) == [(0, 0, 0)]
        assert world.rows("SELECT COUNT(*) FROM interaction_tokens") == [(0,)]

    # The tokens went through DEBUG logging (discord.py logs every webhook URL) and never
    # showed: bot/logs.py redacted them.
    log = world.log.read_text(errors="replace")
    assert "/webhooks/" in log and "[redacted]" in log
    assert find_secrets(log, (public.token, private.token)) == []
    assert find_secrets(log) == []


async def test_a_token_past_its_life_is_never_used_and_the_channel_notice_tells_them(
    tmp_path: Path,
) -> None:
    async with scene(tmp_path) as world:
        world.wisgate.fail("slow", times=2, delay=120)
        expired = await world.imagine("a lighthouse in a storm")
        too_close = await world.imagine("a ship in a bottle")
        await world.kill_while_running(2)
        # Time passes while the bot is down: one token past Discord's 15 minutes, one within
        # the bot's 30 s margin of it. (The fake would still take both: the bot must not try.)
        now = datetime.now(UTC)
        ages = {expired.token: timedelta(minutes=16), too_close.token: timedelta(seconds=885)}
        for token, age in ages.items():
            world.rows(
                "UPDATE interaction_tokens SET created_at = ? WHERE token = ?",
                iso(now - age),
                token,
            )
        first = await world.restart()

        for handle in (expired, too_close):
            assert webhook_calls(world, handle, first) == []
        log = world.log.read_text(errors="replace")
        assert "deleted 1 interaction token(s) past their life" in log  # at start-up
        # Told as before the tokens were kept: one restart notice in the channel for both.
        channel = world.guild.channels[0].id
        notices = [
            m.content
            for m in world.discord.channel_messages(channel)
            if CHANNEL_NOTICE in m.content
        ]
        assert notices and notices[0].startswith(f"<@{world.alice.id}> ")
        assert "your 2 image requests" in notices[0]
        assert world.rows("SELECT status, notice_owed FROM jobs") == [("interrupted", 0)] * 2
        assert world.rows("SELECT COUNT(*) FROM interaction_tokens") == [(0,)]
    assert find_secrets(world.log.read_text(errors="replace"), ages) == []


async def test_an_interrupted_request_is_answered_in_its_members_language(
    tmp_path: Path,
) -> None:
    """The locale each member asked in is kept with the job's token (migration 0010): after the
    kill, a German member reads German, one whose language has no catalog English, and a token
    kept without a locale (as before 0010) the server's preferred language (Japanese here)."""
    async with scene(tmp_path) as world:
        carol = world.discord.add_user("carol")
        world.guild.add_member(carol)
        world.guild.locale = "ja"  # the restarted process reads it when the guild arrives
        world.wisgate.fail("slow", times=3, delay=120)

        async def ask(user: FakeUser, locale: str) -> FakeInteraction:
            options = {**OPTIONS, "prompt": f"{user.username}'s lighthouse", "private": True}
            handle = await world.discord.inject_slash("imagine", options, user=user, locale=locale)
            await world.discord.wait_acknowledged(handle, within=5.0)
            return handle

        german = await ask(world.alice, "de")
        italian = await ask(world.bob, "it")
        older = await ask(carol, "fr")
        await world.kill_while_running(3)
        kept = "SELECT token, locale FROM interaction_tokens"
        assert dict(world.rows(kept)) == {
            german.token: "de",
            italian.token: "it",
            older.token: "fr",
        }
        world.rows("UPDATE interaction_tokens SET locale = NULL WHERE token = ?", older.token)
        await world.restart()

        def answer(handle: FakeInteraction) -> str:
            [message] = world.discord.messages_for(handle)
            assert message.ephemeral and not message.loading and not message.deleted
            return message.content

        assert answer(german).startswith("Der Bot wurde neu gestartet, bevor diese "), answer(
            german
        )
        assert "nichts berechnet" in answer(german)
        assert all(words in answer(italian) for words in EXPLAINED), answer(italian)
        assert answer(older).startswith("この "), answer(older)
        assert "返金" in answer(older)
        assert world.rows("SELECT COUNT(*) FROM interaction_tokens") == [(0,)]

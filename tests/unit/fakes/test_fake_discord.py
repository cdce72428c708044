"""The loopback fake Discord, proven against a real discord.py bot defined here."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from discord.http import Route

from tests.fakes.discord import FakeDiscord, FakeGuild, FakeUser
from tests.fakes.discord.http import FaultRule
from tests.fakes.discord.model import RecordedRequest, UploadedFile
from tests.fakes.images import make_image

MODELS = ("gpt-image-1", "gpt-image-2", "dall-e-2", "dall-e-3")


class AnswerModal(discord.ui.Modal, title="Answer"):
    """A one-field modal."""

    answer: discord.ui.TextInput[AnswerModal] = discord.ui.TextInput(
        label="Answer", custom_id="answer"
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Echo the answer, ephemerally."""
        await interaction.response.send_message(f"got {self.answer.value}", ephemeral=True)


class ConfirmView(discord.ui.View):
    """One button that edits its message."""

    @discord.ui.button(label="OK", custom_id="ok")
    async def ok(
        self, interaction: discord.Interaction, button: discord.ui.Button[ConfirmView]
    ) -> None:
        """Update the message in place (callback type 7)."""
        await interaction.response.edit_message(content="confirmed", view=None)


class ProbeBot(commands.Bot):
    """A minimal slash bot; `held` keeps interactions for the test to drive by hand."""

    def __init__(self) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            guild_ready_timeout=0.05,
        )
        self.held: dict[str, discord.Interaction] = {}
        self.errors: list[Exception] = []
        self.gate = asyncio.Event()
        self.seen: list[tuple[bool, str, bool]] = []

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """No 5 s pause before re-identifying: the fake has no identify rate limit."""

    async def setup_hook(self) -> None:
        """Register the commands."""
        for command in _commands(self):
            self.tree.add_command(command)


def _commands(
    bot: ProbeBot,
) -> list[app_commands.Command[Any, ..., Any] | app_commands.ContextMenu]:
    @app_commands.command()
    async def render(interaction: discord.Interaction, prompt: str, private: bool = False) -> None:
        """Defer, then send a generated image as the followup."""
        await interaction.response.defer(ephemeral=private, thinking=True)
        picture = discord.File(io.BytesIO(make_image(32, 24)), "render.png")
        await interaction.followup.send(f"here: {prompt}", file=picture)

    @app_commands.command()
    async def secret(interaction: discord.Interaction) -> None:
        """Answer ephemerally at once."""
        user_type = type(interaction.user).__name__
        bot.seen.append(
            (interaction.guild is None, user_type, interaction.permissions.manage_guild)
        )
        await interaction.response.send_message("only you", ephemeral=True)

    @app_commands.command()
    async def refuse(interaction: discord.Interaction, properly: bool = False) -> None:
        """A refusal after a public defer: the wrong way, or edit + ephemeral followup + delete."""
        await interaction.response.defer()
        if properly:
            await interaction.edit_original_response(content="Request refused.")
        await interaction.followup.send("quota exhausted", ephemeral=True)
        if properly:
            await interaction.delete_original_response()

    @app_commands.command()
    async def form(interaction: discord.Interaction) -> None:
        """Show a modal."""
        await interaction.response.send_modal(AnswerModal(custom_id="answer-form"))

    @app_commands.command()
    async def pick(interaction: discord.Interaction, model: str) -> None:
        """Pick a model (autocompleted)."""
        await interaction.response.send_message(model)

    @pick.autocomplete("model")
    async def pick_model(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=m, value=m) for m in MODELS if current in m]

    @app_commands.command()
    async def hold(interaction: discord.Interaction, private: bool = False) -> None:
        """Defer and leave the rest to the test."""
        await interaction.response.defer(ephemeral=private)
        bot.held["hold"] = interaction

    @app_commands.command()
    async def late(interaction: discord.Interaction) -> None:
        """Defer only when the test opens the gate."""
        await bot.gate.wait()
        try:
            await interaction.response.defer()
        except discord.HTTPException as exc:
            bot.errors.append(exc)

    @app_commands.command()
    async def upload(interaction: discord.Interaction, image: discord.Attachment) -> None:
        """Describe an uploaded file after reading its bytes."""
        await interaction.response.defer()
        digest = hashlib.sha256(await image.read()).hexdigest()[:12]
        shape = f"{image.content_type} {image.width}x{image.height}"
        await interaction.followup.send(f"{image.filename} {image.size} {shape} {digest}")

    @app_commands.command()
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def modonly(interaction: discord.Interaction) -> None:
        """For moderators: Discord shows it to nobody else."""
        await interaction.response.send_message("ok", ephemeral=True)

    @app_commands.command()
    async def buttons(interaction: discord.Interaction) -> None:
        """A message with a button."""
        await interaction.response.send_message("confirm?", view=ConfirmView())

    @app_commands.context_menu(name="Count images")
    async def count_images(interaction: discord.Interaction, message: discord.Message) -> None:
        first = await message.attachments[0].read() if message.attachments else b""
        text = f"{len(message.attachments)} images, first {len(first)} bytes"
        await interaction.response.send_message(text, ephemeral=True)

    return [render, secret, refuse, form, pick, hold, late, upload, modonly, buttons, count_images]


@dataclass
class Env:
    """A running fake with a connected bot."""

    fake: FakeDiscord
    bot: ProbeBot
    guild: FakeGuild
    alice: FakeUser
    task: asyncio.Task[None]
    # Tests that send bad bodies on purpose say how many; all others must send none.
    expected_violations: int = 0


async def _ready(bot: ProbeBot, task: asyncio.Task[None]) -> None:
    """Wait for on_ready, failing at once if the connect task dies."""
    ready = asyncio.create_task(bot.wait_until_ready())
    done, _ = await asyncio.wait({ready, task}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        raise AssertionError(
            f"bot never became ready: {task.exception() if task.done() else 'timeout'}"
        )


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    """A fake with one guild and a connected ProbeBot whose commands are synced."""
    async with FakeDiscord() as fake:
        guild = fake.add_guild("Test", channels=("general", "images"))
        alice = fake.add_user("alice")
        guild.add_member(alice)
        bot = ProbeBot()
        task: asyncio.Task[None] | None = None
        try:
            await bot.login("fake-token")
            task = asyncio.create_task(bot.connect())
            await _ready(bot, task)
            bot.tree.copy_global_to(guild=discord.Object(guild.id))
            await bot.tree.sync(guild=discord.Object(guild.id))
            await bot.tree.sync()
            running = Env(fake, bot, guild, alice, task)
            yield running
            assert not task.done(), f"the bot's connect task died: {task.exception()}"
            assert len(fake.violations) == running.expected_violations, fake.describe()
            assert fake.unhandled == [], fake.describe()
            for interaction in fake.state.interactions.values():
                sent = fake.requests_for(interaction)
                assert not sent or sent[0].path.endswith("/callback"), fake.describe()
        finally:
            await bot.close()
            if task is not None:
                await asyncio.wait_for(task, 5)


def _held(env: Env) -> discord.Interaction:
    return env.bot.held["hold"]


async def test_ready_and_guild_create_build_the_cache(env: Env) -> None:
    bot, fake, guild = env.bot, env.fake, env.guild
    assert bot.user is not None and bot.user.id == fake.bot_user.id
    assert bot.application_id == fake.application_id
    cached = bot.get_guild(guild.id)
    assert cached is not None and cached.name == "Test"
    assert [c.name for c in cached.text_channels] == ["general", "images"]
    assert cached.me is not None and cached.me.id == fake.bot_user.id
    identify = next(frame for frame in fake.gateway.received if frame["op"] == 2)
    assert identify["d"]["intents"] == discord.Intents.default().value
    assert "token" not in identify["d"]
    assert fake.gateway.identifies == 1
    later = fake.add_guild("Later")
    await fake.announce_guild(later)
    await fake.wait_for(lambda: bot.get_guild(later.id) is not None)


async def test_command_sync_is_recorded(env: Env) -> None:
    fake, guild = env.fake, env.guild
    registered = {c["name"]: c for c in fake.guild_commands(guild.id)}
    assert {"render", "secret", "form", "pick", "Count images"} <= set(registered)
    assert registered["Count images"]["type"] == 3
    assert registered["pick"]["options"][0]["autocomplete"] is True
    assert {c["name"] for c in fake.global_commands} == set(registered)
    puts = [r for r in fake.requests if r.method == "PUT" and r.path.endswith("/commands")]
    assert [r.status for r in puts] == [200, 200]
    assert puts[0].path == f"/applications/{fake.application_id}/guilds/{guild.id}/commands"
    assert fake.violations == [] and fake.unhandled == []


async def test_defer_then_followup_with_file(env: Env) -> None:
    fake = env.fake
    handle = await fake.inject_slash("render", {"prompt": "a cat"}, user=env.alice)
    await fake.wait_for(lambda: bool(handle.original and handle.original.attachments))
    first, second = fake.requests_for(handle)
    assert first.path == f"/interactions/{handle.id}/{handle.token}/callback"
    assert first.json == {"type": 5} and first.query == {"with_response": "1"}
    assert second.method == "POST" and second.query["wait"] == "1"
    assert second.json["content"] == "here: a cat"
    assert [(f.field, f.filename) for f in second.files] == [("files[0]", "render.png")]
    # The first followup after the defer resolves the loading message itself.
    [message] = fake.messages_for(handle)
    assert message.id == int(second.response["id"]) and not message.loading
    assert not message.ephemeral and message.content == "here: a cat"
    [attachment] = message.attachments
    assert attachment.data == make_image(32, 24)
    assert (attachment.content_type, attachment.width, attachment.height) == ("image/png", 32, 24)
    assert handle.ack_latency is not None and handle.ack_latency < 1.0
    assert fake.violations == []


async def test_ephemeral_defer_makes_the_first_followup_ephemeral(env: Env) -> None:
    fake = env.fake
    handle = await fake.inject_slash("render", {"prompt": "x", "private": True})
    await fake.wait_for(lambda: bool(handle.original and not handle.original.loading))
    assert fake.first_request_for(handle).json == {"type": 5, "data": {"flags": 64}}
    [message] = fake.messages_for(handle)
    assert message.ephemeral and message.requested_ephemeral is False


async def test_ephemeral_response(env: Env) -> None:
    fake = env.fake
    handle = await fake.inject_slash("secret", user=env.alice)
    await fake.wait_acknowledged(handle)
    assert fake.first_request_for(handle).json["data"]["flags"] == 64
    [message] = fake.messages_for(handle)
    assert message.ephemeral and message.content == "only you"
    assert message.visible_to(env.alice.id) and not message.visible_to(fake.owner.id)
    assert fake.channel_messages(handle.channel_id) == [message]


async def test_first_followup_after_public_defer_is_public_whatever_its_flags(env: Env) -> None:
    fake = env.fake
    handle = await fake.inject_slash("refuse")
    await fake.wait_for(lambda: len(fake.requests_for(handle)) == 2)
    followup = fake.requests_for(handle)[1]
    assert followup.json["flags"] == 64  # the bot asked for ephemeral...
    [message] = fake.messages_for(handle)
    assert not message.ephemeral and message.requested_ephemeral  # ...and everyone saw it.


async def test_refusal_done_properly_stays_private(env: Env) -> None:
    fake = env.fake
    handle = await fake.inject_slash("refuse", {"properly": True})
    await fake.wait_for(lambda: len(fake.requests_for(handle)) == 4)
    methods = [(r.method, r.path.rsplit("/", 1)[-1], r.status) for r in fake.requests_for(handle)]
    assert methods == [
        ("POST", "callback", 200),
        ("PATCH", "@original", 200),
        ("POST", handle.token, 200),
        ("DELETE", "@original", 204),
    ]
    original, followup = fake.messages_for(handle)
    assert original.deleted and not original.ephemeral and original.content == "Request refused."
    assert followup.ephemeral and followup.content == "quota exhausted" and not followup.deleted


async def test_modal_round_trip(env: Env) -> None:
    fake = env.fake
    shown = await fake.inject_slash("form", user=env.alice)
    await fake.wait_acknowledged(shown)
    assert shown.ack_type == 9 and shown.modal is not None
    assert shown.modal["custom_id"] == "answer-form"
    submitted = await fake.inject_modal_submit("answer-form", {"answer": "42"})
    await fake.wait_acknowledged(submitted)
    [message] = fake.messages_for(submitted)
    assert message.content == "got 42" and message.ephemeral
    assert submitted.user is env.alice
    with pytest.raises(ValueError, match="no inputs"):
        await fake.inject_modal_submit("answer-form", {"answer": "1", "other": "2"})


async def test_autocomplete_answers_choices(env: Env) -> None:
    fake = env.fake
    handle = await fake.inject_autocomplete("pick", "model", "gpt")
    await fake.wait_acknowledged(handle)
    assert handle.ack_type == 8
    assert handle.choices == [
        {"name": "gpt-image-1", "value": "gpt-image-1"},
        {"name": "gpt-image-2", "value": "gpt-image-2"},
    ]
    assert fake.messages_for(handle) == []


async def test_button_click_updates_the_message(env: Env) -> None:
    fake = env.fake
    handle = await fake.inject_slash("buttons")
    await fake.wait_acknowledged(handle)
    message = handle.original
    assert message is not None and message.components[0]["components"][0]["custom_id"] == "ok"
    click = await fake.inject_component(message, "ok")
    await fake.wait_acknowledged(click)
    assert click.ack_type == 7
    assert message.content == "confirmed" and message.components == [] and message.edits == 1


async def test_attachment_is_downloaded_with_attachment_read(env: Env) -> None:
    fake = env.fake
    png = make_image(40, 30)
    handle = await fake.inject_slash("upload", attachments=[("cat.png", png, "image/png", 40, 30)])
    await fake.wait_for(lambda: bool(handle.original and not handle.original.loading))
    digest = hashlib.sha256(png).hexdigest()[:12]
    assert handle.original is not None
    assert handle.original.content == f"cat.png {len(png)} image/png 40x30 {digest}"
    [(downloaded, _)] = fake.downloads
    assert downloaded is handle.attachments[0] and downloaded.downloads == 1
    resolved = handle.payload["data"]["resolved"]["attachments"][str(downloaded.id)]
    assert resolved["url"].startswith(fake.state.base_url + "/ephemeral-attachments/")
    assert {"id", "filename", "size", "url", "proxy_url", "content_type", "width", "height"} <= set(
        resolved
    )


async def test_message_context_menu_sees_the_target_attachments(env: Env) -> None:
    fake = env.fake
    uploads = [
        ("a.png", make_image(8, 8), "image/png", 8, 8),
        ("b.png", make_image(9, 9), "image/png", 9, 9),
    ]
    handle = await fake.inject_context_menu("Count images", attachments=uploads)
    await fake.wait_acknowledged(handle)
    assert handle.original is not None
    assert handle.original.content == f"2 images, first {len(uploads[0][1])} bytes"
    assert len(fake.downloads) == 1


async def test_dm_interaction(env: Env) -> None:
    fake, bot = env.fake, env.bot
    handle = await fake.inject_slash("secret", user=env.alice, in_dm=True)
    await fake.wait_acknowledged(handle)
    assert "member" not in handle.payload and handle.payload["context"] == 1
    assert bot.seen == [(True, "User", False)]
    assert [m.content for m in fake.dm_messages(env.alice.id)] == ["only you"]


async def test_unregistered_commands_and_options_are_refused(env: Env) -> None:
    with pytest.raises(LookupError, match="not registered"):
        await env.fake.inject_slash("nope")
    with pytest.raises(ValueError, match="not declared"):
        await env.fake.inject_slash("render", {"prompt": "x", "colour": "red"})
    with pytest.raises(ValueError, match="required"):
        await env.fake.inject_slash("render")


async def test_file_count_size_and_length_limits(env: Env) -> None:
    fake, bot = env.fake, env.bot
    handle = await fake.inject_slash("hold", attachment_size_limit=4096)
    await fake.wait_for(lambda: "hold" in bot.held)
    interaction = _held(env)
    # discord.py itself sends 11 files: the body breaks the schema (attachments maxItems 10).
    eleven = [discord.File(io.BytesIO(b"x"), f"{i}.txt") for i in range(11)]
    with pytest.raises(discord.HTTPException) as caught:
        await interaction.followup.send(files=eleven)
    assert (caught.value.status, caught.value.code) == (400, 50035)
    # Without the attachments list the schema passes and the file-count limit answers.
    route = Route(
        "POST",
        "/webhooks/{webhook_id}/{webhook_token}",
        webhook_id=fake.application_id,
        webhook_token=handle.token,
    )
    form: list[dict[str, Any]] = [{"name": "payload_json", "value": json.dumps({"content": "x"})}]
    form += [{"name": f"files[{i}]", "value": b"x", "filename": f"{i}.txt"} for i in range(11)]
    with pytest.raises(discord.HTTPException) as caught:
        await bot.http.request(route, form=form, params={"wait": 1})
    assert (caught.value.status, caught.value.code) == (400, 50035)
    assert "10 or fewer" in str(caught.value)
    big = discord.File(io.BytesIO(b"x" * 4097), "big.bin")
    with pytest.raises(discord.HTTPException) as caught:
        await interaction.followup.send(file=big)
    assert (caught.value.status, caught.value.code) == (413, 40005)
    with pytest.raises(discord.HTTPException) as caught:
        await interaction.followup.send("x" * 2001)
    assert caught.value.code == 50035
    with pytest.raises(discord.HTTPException) as caught:
        await interaction.followup.send(embed=discord.Embed(description="x" * 4097))
    assert caught.value.code == 50035
    assert [v.operation for v in fake.violations] == ["execute_webhook"] * 3
    env.expected_violations = 3
    await interaction.followup.send(
        "x" * 2000, file=discord.File(io.BytesIO(b"x" * 4096), "ok.bin")
    )
    assert handle.original is not None and handle.original.attachments[0].size == 4096


async def test_channel_limits_use_the_guild_limit(env: Env) -> None:
    fake, bot = env.fake, env.bot
    channel = bot.get_channel(env.guild.channel("general").id)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send("x" * 2001)  # the schema allows 4000 here; Discord's limit is 2000
    assert caught.value.code == 50035 and fake.violations == []
    too_big = discord.File(io.BytesIO(b"\0" * (10 * 1024 * 1024 + 1)), "big.bin")
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send(file=too_big)
    assert (caught.value.status, caught.value.code) == (413, 40005)
    sent = await channel.send("fits", file=discord.File(io.BytesIO(make_image(16, 16)), "x.png"))
    [stored] = fake.channel_messages(channel.id)
    assert stored.id == sent.id and sent.attachments[0].url == stored.attachments[0].url
    assert await sent.attachments[0].read() == make_image(16, 16)
    edited = await sent.edit(content="edited", attachments=[])
    assert edited.content == "edited" and stored.attachments == [] and stored.edits == 1
    assert (await channel.fetch_message(sent.id)).content == "edited"
    assert [m.id async for m in channel.history(limit=5)] == [sent.id]
    await sent.delete()
    assert stored.deleted
    with pytest.raises(discord.NotFound):
        await channel.fetch_message(sent.id)


async def test_acknowledging_twice_and_too_late(env: Env) -> None:
    fake, bot = env.fake, env.bot
    handle = await fake.inject_slash("hold")
    await fake.wait_for(lambda: "hold" in bot.held)
    route = Route(
        "POST",
        "/interactions/{interaction_id}/{token}/callback",
        interaction_id=handle.id,
        token=handle.token,
    )
    with pytest.raises(discord.HTTPException) as caught:
        await bot.http.request(route, json={"type": 5})
    assert (caught.value.status, caught.value.code) == (400, 40060)
    late = await fake.inject_slash("late")
    await fake.wait_for(lambda: late.id in fake.state.interactions)
    fake.advance_time(3.5)
    bot.gate.set()
    await fake.wait_for(lambda: bool(bot.errors))
    [error] = bot.errors
    assert isinstance(error, discord.NotFound) and error.code == 10062
    assert not late.acknowledged


async def test_rate_limits_are_retried_by_discord_py(env: Env) -> None:
    fake = env.fake
    rule = fake.fail_next("POST", r"^/webhooks/", 429, retry_after=0.05)
    handle = await fake.inject_slash("render", {"prompt": "again"})
    done = await fake.wait_for_request("POST", r"^/webhooks/", interaction=handle, status=200)
    assert [r.status for r in fake.requests_for(handle)] == [200, 429, 200]
    [hit] = rule.hits
    assert hit.response == {
        "message": "You are being rate limited.",
        "retry_after": 0.05,
        "global": False,
    }
    assert rule.count == 0 and done.files[0].filename == "render.png"
    # A global 429 on the bot's own HTTP client (channel messages) is retried too.
    fake.fail_next("POST", r"^/channels/\d+/messages$", 429, retry_after=0.05, is_global=True)
    channel = env.bot.get_channel(env.guild.channel("general").id)
    assert isinstance(channel, discord.TextChannel)
    await channel.send("after the global limit")
    sends = [r.status for r in fake.requests if r.path.endswith("/messages")]
    assert sends == [429, 200]


def test_an_uploads_only_fault_lets_requests_without_files_pass() -> None:
    rule = FaultRule("*", re.compile(r"^/webhooks/"), 413, 40005, uploads_only=True)
    edit = RecordedRequest(0, "PATCH", "/webhooks/1/t/messages/@original", {}, {}, [], 0.0, {})
    upload = replace(edit, files=[UploadedFile("files[0]", "a.png", "image/png", b"x")])
    assert not rule.matches(edit) and rule.matches(upload)


async def test_server_error_is_retried(env: Env) -> None:
    fake = env.fake
    fake.fail_next("POST", r"^/webhooks/", 500)
    handle = await fake.inject_slash("render", {"prompt": "again"})
    await fake.wait_for(lambda: bool(handle.original and not handle.original.loading), within=5)
    assert [r.status for r in fake.requests_for(handle)] == [200, 500, 200]


async def test_expired_token_surfaces_as_not_found(env: Env) -> None:
    fake, bot = env.fake, env.bot
    handle = await fake.inject_slash("hold")
    await fake.wait_for(lambda: "hold" in bot.held)
    original = await _held(env).original_response()
    assert handle.original is not None and original.id == handle.original.id
    fake.expire_token(handle)
    with pytest.raises(discord.NotFound) as caught:
        await _held(env).followup.send("too late")
    assert caught.value.code == 10015
    with pytest.raises(discord.NotFound):
        await _held(env).edit_original_response(content="too late")
    # The same after the 15-minute lifetime on the fake's clock.
    bot.held.clear()
    await fake.inject_slash("hold")
    await fake.wait_for(lambda: "hold" in bot.held)
    fake.advance_time(15 * 60 + 1)
    with pytest.raises(discord.NotFound):
        await _held(env).followup.send("too late")


async def test_schema_violations_are_rejected_and_recorded(env: Env) -> None:
    fake, bot = env.fake, env.bot
    channel_id = env.guild.channel("general").id
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
    with pytest.raises(discord.HTTPException) as caught:
        await bot.http.request(route, json={"content": 5, "embeds": [{"color": "red"}]})
    assert (caught.value.status, caught.value.code) == (400, 50035)
    [violation] = fake.violations
    env.expected_violations = 1
    assert violation.operation == "create_message"
    assert any(e.startswith("content:") for e in violation.errors)
    assert fake.channel_messages(channel_id) == []


async def _post_messages(fake: FakeDiscord, *bodies: dict[str, Any]) -> list[int]:
    url = f"{fake.api_url}/channels/{fake.add_guild('Later').channel('general').id}/messages"
    async with aiohttp.ClientSession() as session:
        statuses = []
        for body in bodies:
            async with session.post(url, json=body) as response:
                statuses.append(response.status)
        return statuses


async def test_schema_check_later_answers_first_and_checks_on_demand() -> None:
    async with FakeDiscord(schema_check="later") as fake:  # as bench/burst.py runs it
        bad = {"content": "hi", "embeds": [{"color": "red"}]}
        assert await _post_messages(fake, bad, {"content": "fine"}) == [200, 200]
        assert fake.violations == []  # answered unchecked
        [violation] = fake.check_schemas_later()
        assert violation.operation == "create_message" and violation.request.json == bad
        assert any(e.startswith("embeds/0/color:") for e in violation.errors), violation.errors
        assert fake.check_schemas_later() == []  # each body is checked once
        assert fake.violations == [violation]


async def test_schema_check_later_still_checks_when_the_fake_is_left() -> None:
    with pytest.raises(AssertionError, match="create_message"):
        async with FakeDiscord(schema_check="later") as fake:
            await _post_messages(fake, {"content": 5})


async def test_dms_and_channel_permissions(env: Env) -> None:
    fake, bot = env.fake, env.bot
    user = await bot.fetch_user(env.alice.id)
    await user.send("hello")
    assert [m.content for m in fake.dm_messages(env.alice.id)] == ["hello"]
    env.alice.dms_open = False
    with pytest.raises(discord.Forbidden) as caught:
        await user.send("again")
    assert caught.value.code == 50007
    muted = env.guild.add_channel("muted", bot_permissions=0)
    with pytest.raises(discord.Forbidden) as caught:
        await bot.http.send_message(muted.id, params=discord.http.handle_message_parameters("hi"))
    assert caught.value.code == 50013
    member = await bot.get_guild(env.guild.id).fetch_member(env.alice.id)  # type: ignore[union-attr]
    assert member.id == env.alice.id


async def test_gateway_resume_replays_missed_events(env: Env) -> None:
    fake = env.fake
    await fake.drop_connection()
    handle = await fake.inject_slash("secret")  # sent while the socket is down: replayed
    await fake.wait_acknowledged(handle)
    assert fake.gateway.resumes == 1 and fake.gateway.identifies == 1
    assert fake.gateway.replayed == 1
    await fake.request_reconnect()  # op 7: discord.py closes and resumes
    await fake.wait_for(lambda: fake.gateway.resumes == 2)
    await fake.drop_connection(resumable=False)
    await fake.wait_for(lambda: fake.gateway.identifies == 2)
    again = await fake.inject_slash("secret")
    await fake.wait_acknowledged(again)
    assert [f["op"] for f in fake.gateway.received].count(6) == 3  # the last RESUME was refused


async def test_member_permissions_follow_roles_or_the_override(env: Env) -> None:
    fake, bot, guild = env.fake, env.bot, env.guild
    mods = guild.add_role("Moderator", discord.Permissions(manage_guild=True).value)
    first = await fake.inject_slash("secret", user=env.alice, roles=[mods])
    second = await fake.inject_slash("secret", user=env.alice)
    third = await fake.inject_slash("secret", user=env.alice, member_permissions=0)
    for handle in (first, second, third):
        await fake.wait_acknowledged(handle)
    assert [manage for _, _, manage in bot.seen] == [True, False, False]
    assert first.payload["member"]["roles"] == [str(mods.id)]
    # Discord only delivers commands a member may see (default_member_permissions, contexts).
    with pytest.raises(PermissionError, match="needs permissions"):
        await fake.inject_slash("modonly", user=env.alice)
    with pytest.raises(PermissionError, match="context 1"):
        await fake.inject_slash("modonly", user=env.alice, in_dm=True)
    allowed = await fake.inject_slash("modonly", user=env.alice, roles=[mods])
    forced = await fake.inject_slash("modonly", user=env.alice, check_permissions=False)
    for handle in (allowed, forced):
        await fake.wait_acknowledged(handle)


async def test_wrong_token_is_refused_and_patches_are_restored() -> None:
    base = Route.BASE
    async with FakeDiscord(token="right") as fake:
        assert fake.api_url == Route.BASE
        bot = ProbeBot()
        try:
            with pytest.raises(discord.LoginFailure):
                await bot.login("wrong")
        finally:
            await bot.close()
        assert [r.status for r in fake.requests] == [401]
    assert base == Route.BASE

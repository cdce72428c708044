"""A loopback fake Discord (REST under /api/v10 + gateway websocket) for discord.py bots.

    async with FakeDiscord() as fake:        # 127.0.0.1:<random port>; patches discord.py's
        guild = fake.add_guild("Test")       # Route.BASE + DEFAULT_GATEWAY until exit
        mods = guild.add_role("Moderator", discord.Permissions(manage_guild=True).value)
        alice = fake.add_user("alice"); guild.add_member(alice, roles=[mods])
        bot = MyBot(..., guild_ready_timeout=0.05); await bot.login("any-token")
        task = asyncio.create_task(bot.connect()); await bot.wait_until_ready()
        await bot.tree.sync(guild=discord.Object(guild.id))     # inject_* needs registered commands
        handle = await fake.inject_slash("imagine", {"prompt": "a cat"}, user=alice,
                                         attachments=[("a.png", png, "image/png", 64, 64)])
        await fake.wait_for(lambda: bool(handle.original and not handle.original.loading))
        assert fake.first_request_for(handle).json["type"] == 5    # the defer came first
        assert fake.violations == [] and fake.unhandled == []
        ... await bot.close(); await task

FakeDiscord(callback_window=3.0, token_lifetime=900.0, token=None (else REST/IDENTIFY must use
it), heartbeat_interval=41.25, patch=True, schema_check="inline"). `patch_discord()` is the patch
as a context manager. `schema_check="later"` (benches) answers bodies unchecked (the check costs
~8 ms of Python per message body); `check_schemas_later()` or leaving the fake checks them.
World (add guilds before the bot connects, or `await announce_guild(g)`): `bot_user`,
`application_id`, `owner`, `add_user(name)` (set `user.dms_open = False` for 50007),
`add_guild(name, channels=("general",), premium_tier=0, upload_limit=None, shard=None)` ->
FakeGuild:
`add_role(name, permissions)`, `add_channel(name, bot_permissions=None)`, `add_member(user,
roles)`, `channel(name)`, `role(name)`, `upload_limit`; `post_user_message(channel_id, content,
attachments=)`.

Injection returns a FakeInteraction (`id, token, user, payload, ack_type, acked_at, ack_latency,
defer_ephemeral, original, choices, modal, attachments`). Discord would only send registered
commands a member may use, so unknown commands/options raise LookupError/ValueError and missing
`default_member_permissions`/contexts raise PermissionError (`check_permissions=False` skips it).
Where: `user=, guild_id=, channel_id=` (default: first guild, its first channel, a "tester"
member), `in_dm=True` (context 1; `context=2`), `roles=`, `member_permissions=`,
`attachment_size_limit=` (default: the guild's), `locale=`.
`inject_slash(name, options={}, attachments=[(filename, bytes, content_type, width, height)])`
("group sub" names subcommands; attachments fill attachment options, served at CDN-like URLs),
`inject_autocomplete(name, focused, value, options=)`, `inject_context_menu(name, target=message
| attachments=)`, `inject_modal_submit(custom_id, values, parent=)` (answers the modal the bot
showed), `inject_component(message, custom_id, values=)`.

Records: `requests` (RecordedRequest: index, method, path (after /api/v10), query, json (or the
multipart payload_json), files (UploadedFile: field, filename, content_type, data), at, headers,
interaction_id, status, response), `requests_for(i)`, `first_request_for(i)`, `violations`
(bodies failing Discord's OpenAPI schema, answered 400/50035), `unhandled` (routes the fake
lacks, 404), `downloads`, `global_commands`, `guild_commands(guild_id)`, `describe()`.
Messages (FakeMessage: content, embeds, components, attachments (bytes in `.data`), ephemeral,
loading, deleted, edits, kind, requested_ephemeral, visible_to(user_id)): `messages_for(i)`,
`channel_messages(channel_id)` (ephemeral and deleted included), `dm_messages(user_id)`.

Rules: one acknowledgement (else 400/40060) within `callback_window` (else 404/10062); the first
followup after a defer resolves the loading message with the defer's visibility whatever its
flags (`requested_ephemeral` says what it asked); editing a loading @original resolves it too;
webhook tokens die after `token_lifetime` or `expire_token(i)` (404/10015); <= 10 files, total
bytes <= the interaction's `attachment_size_limit` (channels: the guild's) else 413/40005;
content <= 2000, embed description <= 4096, 6000 per message (400/50035); empty message 50006;
channel sends need the bot's permissions (403/50013).
Faults and time: `fail_next(method, path_regex, status, code=, retry_after=, count=,
is_global=, uploads_only=)` (429s carry retry_after + Via/X-RateLimit headers; discord.py
sleeps 1 s before retrying a 5xx; `uploads_only` skips requests without files),
`advance_time(seconds)`, `await drop_connection(code=4000, resumable=True)`,
Shards: `FakeDiscord(shards=N, max_concurrency=M)` is what GET /gateway/bot recommends; each
IDENTIFY's `shard` gets the guilds with `(id >> 22) % count == shard` (`add_guild(shard=)`
picks such an id), DMs go to shard 0, the newest connected session of a shard gets its events
(`gateway.session_for(guild_id)`, `gateway.shards_connected()`, `gateway.identified`).
`await request_reconnect()`; `gateway.identifies/resumes/replayed/received`. discord.py waits 5 s
before re-identifying unless the bot overrides `before_identify_hook`.
Waiting (all take `within=5.0` and fail with `describe()`): `wait_for(predicate)`,
`wait_for_request(method, path_regex, interaction=, status=)`, `wait_acknowledged(i)`,
`wait_until_connected()`.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal, Unpack

import discord
import yarl
from aiohttp import web

from tests.fakes.discord.gateway import Gateway
from tests.fakes.discord.http import FaultRule, make_middleware
from tests.fakes.discord.inject import Injector, UploadLike, WhereArgs, walk_components
from tests.fakes.discord.interactions import InteractionRoutes
from tests.fakes.discord.model import (
    FakeAttachment,
    FakeChannel,
    FakeInteraction,
    FakeMessage,
    FakeRole,
    FakeUser,
    RecordedRequest,
    Upload,
    Violation,
)
from tests.fakes.discord.options import SELECTS, OptionBuilder, modal_answers
from tests.fakes.discord.records import RecordsMixin
from tests.fakes.discord.rest import RestRoutes
from tests.fakes.discord.state import FakeGuild, FakeState

__all__ = [
    "FakeAttachment",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeInteraction",
    "FakeMessage",
    "FakeRole",
    "FakeUser",
    "RecordedRequest",
    "Upload",
    "Violation",
]


class FakeDiscord(RecordsMixin):
    """The fake Discord server; see the module docstring for the API."""

    def __init__(
        self,
        *,
        callback_window: float = 3.0,
        token_lifetime: float = 15 * 60.0,
        token: str | None = None,
        bot_name: str = "ImageBot",
        heartbeat_interval: float = 41.25,
        patch: bool = True,
        schema_check: Literal["inline", "later"] = "inline",
        shards: int = 1,
        max_concurrency: int = 1,
    ) -> None:
        self.state = FakeState(
            callback_window=callback_window,
            token_lifetime=token_lifetime,
            token=token,
            bot_name=bot_name,
            schema_check=schema_check,
        )
        self.state.shard_count = shards
        self.state.max_concurrency = max_concurrency
        self.gateway = Gateway(self.state, heartbeat_interval)
        self.faults: list[FaultRule] = []
        self._inject = Injector(self.state, self.gateway)
        self._patch = patch
        self._runner: web.AppRunner | None = None
        self._exit = contextlib.ExitStack()
        self.port = 0

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        if self._patch:
            self._exit.enter_context(self.patch_discord())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._exit.close()
        await self.close()
        # schema_check="later": what was never checked is checked now, even after a failure
        # (a bad body may be why the bot got stuck).
        if self.state.unchecked:
            assert not self.check_schemas_later(), self.describe()

    async def start(self) -> None:
        """Listen on 127.0.0.1 (a free port)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.state.base_url = f"http://127.0.0.1:{self.port}"
        self.gateway.url = f"ws://127.0.0.1:{self.port}/"
        # Uploads may exceed the limit on purpose: the fake, not aiohttp, must answer 413/40005.
        app = web.Application(
            middlewares=[make_middleware(self.state, self.faults)], client_max_size=2**30
        )
        app.router.add_get("/", self.gateway.handle)
        InteractionRoutes(self.state).add_to(app.router)
        RestRoutes(self.state, self.gateway.url).add_to(app.router)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        """Close gateway sockets and stop the server."""
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def api_url(self) -> str:
        """What `discord.http.Route.BASE` must be."""
        return f"{self.state.base_url}/api/v10"

    @contextlib.contextmanager
    def patch_discord(self) -> Iterator[None]:
        """Point discord.py's REST base and default gateway at the fake; restore afterwards."""
        old_base = discord.http.Route.BASE
        old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = self.api_url
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway.url)
        try:
            yield
        finally:
            discord.http.Route.BASE = old_base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    # The world.
    @property
    def bot_user(self) -> FakeUser:
        """The bot's own user (its id is also the application id)."""
        return self.state.bot_user

    @property
    def application_id(self) -> int:
        """The application id."""
        return self.state.application_id

    @property
    def owner(self) -> FakeUser:
        """The application's owner."""
        return self.state.owner

    def add_user(self, name: str) -> FakeUser:
        """A new user (not a member of any guild yet)."""
        return self.state.add_user(name)

    def add_guild(
        self,
        name: str = "Test Guild",
        *,
        channels: Sequence[str] = ("general",),
        premium_tier: int = 0,
        upload_limit: int | None = None,
        shard: int | None = None,
    ) -> FakeGuild:
        """A guild the bot is in; its upload limit follows the boost tier unless given; with
        `shard`, its id puts it on that shard of the fake's shard count."""
        guild = FakeGuild(self.state, name, premium_tier=premium_tier, upload_limit=upload_limit)
        if shard is not None:
            guild.move_to_shard(shard, self.state.shard_count)
        for channel in channels:
            guild.add_channel(channel)
        self.state.guilds[guild.id] = guild
        return guild

    async def announce_guild(self, guild: FakeGuild) -> None:
        """GUILD_CREATE for a guild added after the bot connected."""
        await self.gateway.dispatch("GUILD_CREATE", guild.payload())

    def post_user_message(
        self,
        channel_id: int,
        content: str = "",
        *,
        attachments: Sequence[UploadLike] = (),
        author: FakeUser | None = None,
    ) -> FakeMessage:
        """A message posted by a member (not dispatched to the bot)."""
        channel = self.state.channels[channel_id]
        return self._inject.post_user_message(
            channel, author or self.add_user("poster"), content, attachments
        )

    # Interactions.
    async def inject_slash(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        attachments: Sequence[UploadLike] = (),
        **where: Unpack[WhereArgs],
    ) -> FakeInteraction:
        """A slash command; `attachments` fill the command's unnamed attachment options."""
        top, *path = name.split()
        place = self._inject.where(**where)
        command = self._inject.command(top, place, 1)
        builder = OptionBuilder(place.guild, lambda u: self._inject.attachment(place.channel.id, u))
        data = self._inject.command_data(command, 1)
        data["options"] = builder.build(command, path, options or {}, attachments)
        if builder.resolved:
            data["resolved"] = builder.resolved
        handle = await self._inject.dispatch(2, place, data, name=name)
        handle.attachments = [
            self.state.attachments[int(i)] for i in builder.resolved.get("attachments", {})
        ]
        return handle

    async def inject_autocomplete(
        self,
        name: str,
        focused: str,
        value: str = "",
        options: Mapping[str, Any] | None = None,
        **where: Unpack[WhereArgs],
    ) -> FakeInteraction:
        """An autocomplete request while the member types `value` into option `focused`."""
        top, *path = name.split()
        place = self._inject.where(**where)
        command = self._inject.command(top, place, 1)
        builder = OptionBuilder(place.guild, lambda u: self._inject.attachment(place.channel.id, u))
        data = self._inject.command_data(command, 1)
        values = {**(options or {}), focused: value}
        data["options"] = builder.build(command, path, values, (), focused=focused)
        return await self._inject.dispatch(4, place, data, name=name)

    async def inject_context_menu(
        self,
        name: str,
        *,
        target: FakeMessage | None = None,
        content: str = "",
        attachments: Sequence[UploadLike] = (),
        author: FakeUser | None = None,
        **where: Unpack[WhereArgs],
    ) -> FakeInteraction:
        """A message command on `target` (default: a new member message with `attachments`)."""
        place = self._inject.where(**where)
        command = self._inject.command(name, place, 3)
        if target is None:
            poster = author or self.add_user("poster")
            target = self._inject.post_user_message(place.channel, poster, content, attachments)
        data = self._inject.command_data(command, 3)
        data["target_id"] = str(target.id)
        data["resolved"] = {"messages": {str(target.id): target.payload()}}
        return await self._inject.dispatch(2, place, data, name=name, source_message=None)

    async def inject_modal_submit(
        self,
        custom_id: str,
        values: Mapping[str, Any],
        *,
        parent: FakeInteraction | None = None,
        user: FakeUser | None = None,
    ) -> FakeInteraction:
        """Submit the modal the bot showed (found by custom_id, latest first, or on `parent`)."""
        source = parent if parent is not None else self._modal_source(custom_id)
        if source is None or source.modal is None or source.modal.get("custom_id") != custom_id:
            raise LookupError(f"the bot showed no modal with custom_id {custom_id!r}")
        place = self._inject.where(
            user=user or source.user,
            guild_id=source.guild_id,
            channel_id=source.channel_id,
            in_dm=source.guild_id is None,
        )
        data = {"custom_id": custom_id, "components": modal_answers(source.modal, values)}
        message = source.source_message
        extra = {"message": message.payload()} if message else None
        return await self._inject.dispatch(
            5, place, data, extra=extra, custom_id=custom_id, source_message=message
        )

    def _modal_source(self, custom_id: str) -> FakeInteraction | None:
        for interaction in reversed(self.state.interactions.values()):
            if interaction.modal and interaction.modal.get("custom_id") == custom_id:
                return interaction
        return None

    async def inject_component(
        self,
        message: FakeMessage,
        custom_id: str,
        *,
        values: Sequence[str] = (),
        **where: Unpack[WhereArgs],
    ) -> FakeInteraction:
        """A click on a button (or a select choice) of a message the bot sent."""
        component = next(
            (c for c in walk_components(message.components) if c.get("custom_id") == custom_id),
            None,
        )
        if component is None or message.deleted:
            raise LookupError(f"message {message.id} has no component {custom_id!r}")
        where.setdefault("channel_id", message.channel_id)
        where.setdefault("guild_id", message.guild_id)
        where.setdefault("in_dm", message.guild_id is None)
        invoker = self.state.interactions.get(message.interaction_id or 0)
        if invoker is not None:
            where.setdefault("user", invoker.user)
        place = self._inject.where(**where)
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component["type"]}
        if component["type"] in SELECTS:
            data["values"] = list(values)
        extra = {"message": message.payload()}
        return await self._inject.dispatch(
            3, place, data, extra=extra, custom_id=custom_id, source_message=message
        )

    # Faults and time.
    def fail_next(
        self,
        method: str,
        path: str,
        status: int,
        *,
        code: int | None = None,
        retry_after: float | None = None,
        count: int = 1,
        is_global: bool = False,
        uploads_only: bool = False,
    ) -> FaultRule:
        """Answer the next `count` requests matching `path` (regex, API path) with `status`."""
        pattern = re.compile(path)
        rule = FaultRule(
            method.upper(), pattern, status, code, retry_after, is_global, count, uploads_only
        )
        self.faults.append(rule)
        return rule

    def expire_token(self, interaction: FakeInteraction) -> None:
        """Its webhook token stops working now (10015), as after 15 minutes."""
        interaction.token_expired = True

    def advance_time(self, seconds: float) -> None:
        """Move the fake's clock forward (callback windows and token lifetimes)."""
        self.state.clock_offset += seconds

    async def drop_connection(self, code: int = 4000, *, resumable: bool = True) -> None:
        """Close the bot's gateway socket; it reconnects and resumes (or re-identifies)."""
        await self.gateway.drop(code, resumable=resumable)

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT."""
        await self.gateway.request_reconnect()

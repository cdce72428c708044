"""REST routes other than interactions: login, commands, channels, DMs, guilds, the CDN."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes.discord.http import (
    API_PREFIX,
    RECORD_KEY,
    body_of,
    error,
    files_of,
    json_response,
)
from tests.fakes.discord.messages import apply_body, check_limits, create_message
from tests.fakes.discord.model import ATTACH_FILES, SEND_MESSAGES, FakeChannel, FakeMessage
from tests.fakes.discord.state import FakeState


class RestRoutes:
    """Everything a bot calls besides interaction callbacks and followups."""

    def __init__(self, state: FakeState, gateway_url: str) -> None:
        self.state = state
        self.gateway_url = gateway_url

    def add_to(self, router: web.UrlDispatcher) -> None:
        """Register the routes; literal segments (@me) before parameters."""
        api = API_PREFIX
        router.add_get(f"{api}/users/@me", self.me)
        router.add_post(f"{api}/users/@me/channels", self.open_dm)
        router.add_delete(f"{api}/users/@me/guilds/{{guild_id}}", self.leave_guild)
        router.add_get(f"{api}/users/{{user_id}}", self.get_user)
        router.add_get(f"{api}/oauth2/applications/@me", self.application)
        router.add_get(f"{api}/applications/@me", self.application)
        router.add_get(f"{api}/gateway/bot", self.gateway_bot)
        router.add_get(f"{api}/gateway", self.gateway_bot)
        for scope in ("/applications/{app_id}", "/applications/{app_id}/guilds/{guild_id}"):
            commands = CommandRoutes(self.state)
            router.add_get(f"{api}{scope}/commands", commands.list_all)
            router.add_put(f"{api}{scope}/commands", commands.bulk_overwrite)
            router.add_post(f"{api}{scope}/commands", commands.upsert)
            router.add_get(f"{api}{scope}/commands/{{command_id}}", commands.get)
            router.add_patch(f"{api}{scope}/commands/{{command_id}}", commands.edit)
            router.add_delete(f"{api}{scope}/commands/{{command_id}}", commands.delete)
        router.add_get(f"{api}/channels/{{channel_id}}", self.get_channel)
        router.add_post(f"{api}/channels/{{channel_id}}/typing", self.typing)
        router.add_post(f"{api}/channels/{{channel_id}}/messages", self.send)
        router.add_get(f"{api}/channels/{{channel_id}}/messages", self.history)
        router.add_get(f"{api}/channels/{{channel_id}}/messages/{{message_id}}", self.get_message)
        router.add_patch(f"{api}/channels/{{channel_id}}/messages/{{message_id}}", self.edit)
        router.add_delete(f"{api}/channels/{{channel_id}}/messages/{{message_id}}", self.delete)
        router.add_get(f"{api}/guilds/{{guild_id}}", self.get_guild)
        router.add_get(f"{api}/guilds/{{guild_id}}/channels", self.guild_channels)
        router.add_get(f"{api}/guilds/{{guild_id}}/roles", self.guild_roles)
        router.add_get(f"{api}/guilds/{{guild_id}}/members/{{user_id}}", self.get_member)
        router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self.cdn)
        router.add_get("/ephemeral-attachments/{channel_id}/{attachment_id}/{filename}", self.cdn)
        router.add_route("*", f"{api}/{{tail:.*}}", self.unknown)

    async def me(self, request: web.Request) -> web.Response:
        """The bot's own user (login)."""
        user = self.state.bot_user.payload()
        return json_response({**user, "verified": True, "mfa_enabled": False, "locale": "en-US"})

    async def application(self, request: web.Request) -> web.Response:
        """The bot's application (login reads it for the application id)."""
        state = self.state
        return json_response(
            {
                "id": str(state.application_id),
                "name": state.bot_user.username,
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": state.owner.payload(),
                "team": None,
                "verify_key": "0" * 64,
                "flags": 0,
                "interactions_endpoint_url": None,
                "redirect_uris": [],
                "tags": [],
                "bot": state.bot_user.payload(),
            }
        )

    async def gateway_bot(self, request: web.Request) -> web.Response:
        """Where the gateway is (AutoShardedBot asks; Bot uses DEFAULT_GATEWAY)."""
        state = self.state
        limit = {
            "total": 1000,
            "remaining": 999,
            "reset_after": 0,
            "max_concurrency": state.max_concurrency,
        }
        return json_response(
            {"url": self.gateway_url, "shards": state.shard_count, "session_start_limit": limit}
        )

    async def open_dm(self, request: web.Request) -> web.Response:
        """POST /users/@me/channels {recipient_id}."""
        user = self.state.users.get(_int(str(body_of(request).get("recipient_id"))))
        if user is None:
            return error(404, 10013)
        return json_response(self.state.dm_channel(user).payload())

    async def leave_guild(self, request: web.Request) -> web.Response:
        """DELETE /users/@me/guilds/{id}: the bot leaves a server (recorded in left_guilds)."""
        guild_id = _int(request.match_info["guild_id"])
        if guild_id not in self.state.guilds:
            return error(404, 10004)
        self.state.left_guilds.append(guild_id)
        return web.Response(status=204)

    async def get_user(self, request: web.Request) -> web.Response:
        """GET /users/{id}."""
        user = self.state.users.get(_int(request.match_info["user_id"]))
        return error(404, 10013) if user is None else json_response(user.payload())

    def _channel(self, request: web.Request) -> FakeChannel | None:
        return self.state.channels.get(_int(request.match_info["channel_id"]))

    async def get_channel(self, request: web.Request) -> web.Response:
        """GET /channels/{id}."""
        channel = self._channel(request)
        return error(404, 10003) if channel is None else json_response(channel.payload())

    async def typing(self, request: web.Request) -> web.Response:
        """POST /channels/{id}/typing."""
        return web.Response(status=204) if self._channel(request) else error(404, 10003)

    async def send(self, request: web.Request) -> web.Response:
        """POST /channels/{id}/messages: guild channel (permissions) or DM (recipient open)."""
        state = self.state
        channel = self._channel(request)
        if channel is None:
            return error(404, 10003)
        body, files = body_of(request), files_of(request)
        refusal = self._refusal(channel, bool(files))
        if refusal is not None:
            return refusal
        problem = check_limits(body, files, state.upload_limit(channel), creating=True)
        if problem is not None:
            return problem
        message = create_message(
            state,
            channel_id=channel.id,
            author=state.bot_user,
            body=body,
            files=files,
            kind="dm" if channel.type == 1 else "channel",
            guild_id=channel.guild_id,
        )
        return json_response(message.payload())

    def _refusal(self, channel: FakeChannel, with_files: bool) -> web.Response | None:
        if channel.type == 1:
            recipient = channel.recipient
            return error(403, 50007) if recipient is None or not recipient.dms_open else None
        guild = self.state.guilds[channel.guild_id or 0]
        allowed = guild.bot_permissions_in(channel)
        if not allowed & SEND_MESSAGES or (with_files and not allowed & ATTACH_FILES):
            return error(403, 50013)
        return None

    async def history(self, request: web.Request) -> web.Response:
        """GET /channels/{id}/messages: newest first, public and not deleted."""
        channel = self._channel(request)
        if channel is None:
            return error(404, 10003)
        limit = min(100, max(1, _int(request.query.get("limit", "50"))))
        before = _int(request.query.get("before", str(2**63)))
        after = _int(request.query.get("after", "0"))
        found = [
            m
            for m in self.state.messages_in(channel.id)
            if not m.deleted and not m.ephemeral and after < m.id < before
        ]
        return json_response([m.payload() for m in reversed(found)][:limit])

    def _message(self, request: web.Request) -> FakeMessage | None:
        message = self.state.messages.get(_int(request.match_info["message_id"]))
        channel_id = _int(request.match_info["channel_id"])
        if (
            message is None
            or message.channel_id != channel_id
            or message.deleted
            or message.ephemeral
        ):
            return None
        return message

    async def get_message(self, request: web.Request) -> web.Response:
        """GET /channels/{id}/messages/{id}."""
        message = self._message(request)
        return error(404, 10008) if message is None else json_response(message.payload())

    async def edit(self, request: web.Request) -> web.Response:
        """PATCH /channels/{id}/messages/{id}: only the bot's own messages."""
        message = self._message(request)
        if message is None:
            return error(404, 10008)
        if message.author is not self.state.bot_user:
            return error(403, 50005)
        body, files = body_of(request), files_of(request)
        channel = self.state.channels[message.channel_id]
        problem = check_limits(body, files, self.state.upload_limit(channel), creating=False)
        if problem is not None:
            return problem
        apply_body(self.state, message, body, files)
        return json_response(message.payload())

    async def delete(self, request: web.Request) -> web.Response:
        """DELETE /channels/{id}/messages/{id} (kept, marked deleted)."""
        message = self._message(request)
        if message is None:
            return error(404, 10008)
        message.deleted = True
        return web.Response(status=204)

    async def get_guild(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}."""
        guild = self.state.guilds.get(_int(request.match_info["guild_id"]))
        return error(404, 10004) if guild is None else json_response(guild.payload())

    async def guild_channels(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}/channels."""
        guild = self.state.guilds.get(_int(request.match_info["guild_id"]))
        if guild is None:
            return error(404, 10004)
        return json_response([channel.payload() for channel in guild.channels])

    async def guild_roles(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}/roles."""
        guild = self.state.guilds.get(_int(request.match_info["guild_id"]))
        if guild is None:
            return error(404, 10004)
        return json_response([role.payload() for role in guild.roles])

    async def get_member(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}/members/{user_id}."""
        guild = self.state.guilds.get(_int(request.match_info["guild_id"]))
        if guild is None:
            return error(404, 10004)
        member = guild.member(_int(request.match_info["user_id"]))
        return error(404, 10007) if member is None else json_response(member.payload())

    async def cdn(self, request: web.Request) -> web.Response:
        """Attachment bytes, as Discord's CDN serves them (downloads are recorded)."""
        attachment = self.state.attachments.get(_int(request.match_info["attachment_id"]))
        if attachment is None or request.match_info["filename"] != attachment.filename:
            return web.Response(status=404, text="Not Found")
        attachment.downloads += 1
        self.state.downloads.append((attachment, self.state.now()))
        await self.state.notify()
        content_type = attachment.content_type or "application/octet-stream"
        # As a header: aiohttp refuses a charset inside `content_type=` ("text/plain; charset=…").
        return web.Response(body=attachment.data, headers={"Content-Type": content_type})

    async def unknown(self, request: web.Request) -> web.Response:
        """Anything else: 404, and remembered in `unhandled` so tests can see it."""
        self.state.unhandled.append(request[RECORD_KEY])
        return json_response({"message": "404: Not Found", "code": 0}, 404)


class CommandRoutes:
    """Global or guild application commands, stored so tests can assert what was registered."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def _store(self, request: web.Request) -> list[dict[str, Any]] | None:
        if _int(request.match_info["app_id"]) != self.state.application_id:
            return None
        if "guild_id" not in request.match_info:
            return self.state.global_commands
        guild_id = _int(request.match_info["guild_id"])
        if guild_id not in self.state.guilds:
            return None
        return self.state.guild_commands.setdefault(guild_id, [])

    def _stored(
        self, request: web.Request, body: dict[str, Any], old: dict[str, Any] | None
    ) -> dict[str, Any]:
        command = {**(old or {}), **body}
        command.setdefault("type", 1)
        command.setdefault("description", "")
        permissions = command.get("default_member_permissions")
        command["default_member_permissions"] = None if permissions is None else str(permissions)
        command["id"] = old["id"] if old else str(self.state.ids.new())
        command["application_id"] = str(self.state.application_id)
        command["version"] = str(self.state.ids.new())
        if "guild_id" in request.match_info:
            command["guild_id"] = request.match_info["guild_id"]
        return command

    async def list_all(self, request: web.Request) -> web.Response:
        """GET .../commands."""
        store = self._store(request)
        return error(404, 10004) if store is None else json_response(store)

    async def bulk_overwrite(self, request: web.Request) -> web.Response:
        """PUT .../commands: replaces the whole set (ids kept for same name and type)."""
        store = self._store(request)
        if store is None:
            return error(404, 10004)
        body = request[RECORD_KEY].json or []
        new = [
            self._stored(request, cmd, _same(store, cmd)) for cmd in body if isinstance(cmd, dict)
        ]
        store[:] = new
        return json_response(new)

    async def upsert(self, request: web.Request) -> web.Response:
        """POST .../commands: create, or replace the command with the same name and type."""
        store = self._store(request)
        if store is None:
            return error(404, 10004)
        body = body_of(request)
        old = _same(store, body)
        command = self._stored(request, body, old)
        if old is not None:
            store[store.index(old)] = command
        else:
            store.append(command)
        return json_response(command, 200 if old else 201)

    def _find(self, request: web.Request) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
        store = self._store(request) or []
        for command in store:
            if command["id"] == request.match_info["command_id"]:
                return store, command
        return None

    async def get(self, request: web.Request) -> web.Response:
        """GET .../commands/{id}."""
        found = self._find(request)
        return error(404, 10063) if found is None else json_response(found[1])

    async def edit(self, request: web.Request) -> web.Response:
        """PATCH .../commands/{id}."""
        found = self._find(request)
        if found is None:
            return error(404, 10063)
        store, old = found
        command = self._stored(request, body_of(request), old)
        store[store.index(old)] = command
        return json_response(command)

    async def delete(self, request: web.Request) -> web.Response:
        """DELETE .../commands/{id}."""
        found = self._find(request)
        if found is None:
            return error(404, 10063)
        found[0].remove(found[1])
        return web.Response(status=204)


def _same(store: list[dict[str, Any]], command: dict[str, Any]) -> dict[str, Any] | None:
    kind = command.get("type", 1)
    for old in store:
        if old["name"] == command.get("name") and old.get("type", 1) == kind:
            return old
    return None


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return -1

"""INTERACTION_CREATE payloads as Discord builds them, checked against the registered commands."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from tests.fakes.discord.gateway import Gateway
from tests.fakes.discord.model import (
    ADMINISTRATOR,
    DM_APP_PERMISSIONS,
    MIB,
    FakeAttachment,
    FakeChannel,
    FakeInteraction,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    Upload,
)
from tests.fakes.discord.state import FakeGuild, FakeState

UploadLike = Upload | tuple[Any, ...] | FakeAttachment


class WhereArgs(TypedDict, total=False):
    """Who invokes an injected interaction and where (defaults: first guild, first channel)."""

    user: FakeUser | int | None
    guild_id: int | None
    channel_id: int | None
    in_dm: bool
    roles: Sequence[FakeRole] | None
    member_permissions: int | None
    attachment_size_limit: int | None
    locale: str
    context: int | None
    check_permissions: bool


@dataclass
class Where:
    """Who invokes an interaction, and where (permissions and context already resolved)."""

    user: FakeUser
    channel: FakeChannel
    context: int
    permissions: int
    guild: FakeGuild | None = None
    member: FakeMember | None = None
    roles: Sequence[FakeRole] = ()
    size_limit: int | None = None
    locale: str = "en-US"
    check_permissions: bool = True


class Injector:
    """Builds and dispatches interactions; refuses ones Discord could never send."""

    def __init__(self, state: FakeState, gateway: Gateway) -> None:
        self.state = state
        self.gateway = gateway
        self._default_user: FakeUser | None = None

    def where(
        self,
        *,
        user: FakeUser | int | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        in_dm: bool = False,
        roles: Sequence[FakeRole] | None = None,
        member_permissions: int | None = None,
        attachment_size_limit: int | None = None,
        locale: str = "en-US",
        context: int | None = None,
        check_permissions: bool = True,
    ) -> Where:
        """Resolve defaults: the first guild and its first channel, a default member."""
        person = self._user(user)
        if in_dm:
            return Where(
                person,
                self.state.dm_channel(person),
                1 if context is None else context,
                DM_APP_PERMISSIONS if member_permissions is None else member_permissions,
                size_limit=attachment_size_limit,
                locale=locale,
                check_permissions=check_permissions,
            )
        guild = self._guild(guild_id)
        member = guild.member(person.id) or guild.add_member(person)
        channel = self.state.channels[channel_id] if channel_id else _first_channel(guild)
        chosen = list(member.roles if roles is None else roles)
        if member_permissions is None:
            member_permissions = guild.permissions_of(chosen)
        return Where(
            person,
            channel,
            context or 0,
            member_permissions,
            guild,
            member,
            chosen,
            attachment_size_limit,
            locale,
            check_permissions,
        )

    def _user(self, user: FakeUser | int | None) -> FakeUser:
        if isinstance(user, FakeUser):
            return user
        if isinstance(user, int):
            return self.state.users[user]
        if self._default_user is None:
            self._default_user = self.state.add_user("tester")
        return self._default_user

    def _guild(self, guild_id: int | None) -> FakeGuild:
        if guild_id is not None:
            return self.state.guilds[guild_id]
        if not self.state.guilds:
            raise LookupError("no guild: call fake.add_guild() first, or pass in_dm=True")
        return next(iter(self.state.guilds.values()))

    async def dispatch(
        self,
        kind: int,
        where: Where,
        data: dict[str, Any],
        *,
        extra: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> FakeInteraction:
        """Register the interaction, build its payload and send INTERACTION_CREATE."""
        limit = where.size_limit or (where.guild.upload_limit if where.guild else 10 * MIB)
        interaction = self.state.new_interaction(
            type=kind,
            user=where.user,
            guild_id=where.guild.id if where.guild else None,
            channel_id=where.channel.id,
            attachment_size_limit=limit,
            payload={},
            **fields,
        )
        interaction.payload.update(self._payload(interaction, where, data))
        interaction.payload.update(extra or {})
        await self.gateway.dispatch("INTERACTION_CREATE", interaction.payload)
        await self.state.notify()
        return interaction

    def _payload(
        self, interaction: FakeInteraction, where: Where, data: dict[str, Any]
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": str(interaction.id),
            "application_id": str(self.state.application_id),
            "type": interaction.type,
            "token": interaction.token,
            "version": 1,
            "data": data,
            "channel_id": str(where.channel.id),
            "locale": where.locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": interaction.attachment_size_limit,
        }
        guild = where.guild
        if guild is None:
            # Bot DM (1): the guild install authorises it; a private channel (2): the user's.
            owners = {"0": "0"} if where.context == 1 else {"1": str(where.user.id)}
            payload.update(user=where.user.payload(), channel=where.channel.payload())
            payload.update(app_permissions=str(DM_APP_PERMISSIONS), context=where.context)
            payload["authorizing_integration_owners"] = owners
            return payload
        assert where.member is not None  # where() always finds or adds the member
        member = where.member.payload(where.permissions)
        member["roles"] = [str(role.id) for role in where.roles]
        channel = {**where.channel.payload(), "permissions": str(where.permissions)}
        payload.update(
            guild_id=str(guild.id), guild=guild.partial_payload(), guild_locale=guild.locale
        )
        payload.update(member=member, channel=channel, context=where.context)
        payload["app_permissions"] = str(guild.bot_permissions_in(where.channel))
        payload["authorizing_integration_owners"] = {"0": str(guild.id)}
        return payload

    def command(self, name: str, where: Where, kind: int) -> dict[str, Any]:
        """The registered command Discord would route this to (guild first, then global)."""
        guild_id = where.guild.id if where.guild else None
        command = self.state.find_command(name, guild_id, kind)
        if command is None:
            known = [c["name"] for c in self.state.global_commands]
            known += [c["name"] for c in self.state.guild_commands.get(guild_id or 0, [])]
            raise LookupError(
                f"command {name!r} (type {kind}) is not registered here; known: {known}"
            )
        if where.check_permissions:
            _check_allowed(command, where)
        return command

    def command_data(self, command: dict[str, Any], kind: int) -> dict[str, Any]:
        """The `data` header of an application command interaction."""
        data: dict[str, Any] = {"id": command["id"], "name": command["name"], "type": kind}
        if "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        return data

    def attachment(
        self, channel_id: int, upload: UploadLike, *, ephemeral: bool = True
    ) -> FakeAttachment:
        """A member's upload, stored and served by the fake; declared type and size as given."""
        if isinstance(upload, FakeAttachment):
            return upload
        item = Upload(*upload)
        return self.state.new_attachment(
            channel_id,
            item.filename,
            item.data,
            content_type=item.content_type,
            width=item.width,
            height=item.height,
            ephemeral=ephemeral,
        )

    def post_user_message(
        self, channel: FakeChannel, author: FakeUser, content: str, uploads: Sequence[UploadLike]
    ) -> FakeMessage:
        """A message a member posted (for example the target of a message command)."""
        message = FakeMessage(
            id=self.state.ids.new(),
            channel_id=channel.id,
            author=author,
            content=content,
            guild_id=channel.guild_id,
            kind="user",
        )
        for upload in uploads:
            message.attachments.append(self.attachment(channel.id, upload, ephemeral=False))
        self.state.messages[message.id] = message
        return message


def _check_allowed(command: dict[str, Any], where: Where) -> None:
    """Discord hides commands a member may not use: refuse to send what it could not."""
    contexts = command.get("contexts")
    if contexts is not None and where.context not in contexts:
        raise PermissionError(f"{command['name']!r} is not available in context {where.context}")
    if where.guild is None and command.get("dm_permission") is False:
        raise PermissionError(f"{command['name']!r} is not available in DMs")
    raw = command.get("default_member_permissions")
    required = None if raw is None else int(raw)
    # "0" means administrators only; administrators may use everything.
    admin = bool(where.permissions & ADMINISTRATOR)
    lacking = required is not None and (required == 0 or required & where.permissions != required)
    if where.guild is not None and lacking and not admin:
        raise PermissionError(
            f"{command['name']!r} needs permissions {required}; the member has"
            f" {where.permissions} (pass check_permissions=False to send it anyway)"
        )


def _first_channel(guild: FakeGuild) -> FakeChannel:
    if not guild.channels:
        raise LookupError(f"guild {guild.name!r} has no channels: add_channel() first")
    return guild.channels[0]


def walk_components(components: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every component in a tree (action rows, containers, sections, labels)."""
    for component in components:
        yield component
        yield from walk_components(component.get("components") or [])
        for key in ("accessory", "component"):
            if isinstance(component.get(key), dict):
                yield from walk_components([component[key]])

"""Everything the fake Discord knows: guilds, users, messages, interactions, commands, records."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import time
import urllib.parse
from collections.abc import Iterable
from typing import Any, Literal

from tests.fakes.discord.model import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    EVERYONE_DEFAULT,
    MIB,
    TIER_UPLOAD_LIMIT,
    FakeAttachment,
    FakeChannel,
    FakeInteraction,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    RecordedRequest,
    Snowflakes,
    Violation,
)


class FakeGuild:
    """A guild: roles (with @everyone), text channels and members, bot included."""

    def __init__(
        self,
        state: FakeState,
        name: str,
        *,
        premium_tier: int = 0,
        upload_limit: int | None = None,
    ) -> None:
        self._state = state
        self.id = state.ids.new()
        self.name = name
        self.premium_tier = premium_tier
        self.upload_limit = upload_limit or TIER_UPLOAD_LIMIT[premium_tier]
        self.locale = "en-US"
        self.everyone = FakeRole(id=self.id, name="@everyone", permissions=EVERYONE_DEFAULT)
        self.roles: list[FakeRole] = [self.everyone]
        self.channels: list[FakeChannel] = []
        self.members: dict[int, FakeMember] = {}
        bot_role = self.add_role(
            state.bot_user.username, permissions=ALL_PERMISSIONS & ~ADMINISTRATOR
        )
        self.add_member(state.bot_user, roles=[bot_role])
        self.owner_id = state.bot_user.id

    def move_to_shard(self, shard: int, shard_count: int) -> None:
        """Give the guild (before any channel, member or role beyond its own) an id on
        `shard`: Discord routes a guild by `(id >> 22) % shard_count`."""
        millis = self.id >> 22
        millis += (shard - millis) % shard_count
        new_id = (millis << 22) | (self.id & 0x3FFFFF)
        self.id = self.everyone.id = new_id

    def add_role(self, name: str, permissions: int = 0) -> FakeRole:
        """Create a role."""
        role = FakeRole(id=self._state.ids.new(), name=name, permissions=permissions)
        role.position = len(self.roles)
        self.roles.append(role)
        return role

    def add_channel(self, name: str, *, bot_permissions: int | None = None) -> FakeChannel:
        """Create a text channel; `bot_permissions` restricts what the bot may do there."""
        channel = FakeChannel(
            id=self._state.ids.new(), name=name, guild_id=self.id, bot_permissions=bot_permissions
        )
        self.channels.append(channel)
        self._state.channels[channel.id] = channel
        return channel

    def add_member(self, user: FakeUser | str, roles: Iterable[FakeRole] = ()) -> FakeMember:
        """Add a user (a FakeUser, or a name for a new one) as a member with these roles."""
        if isinstance(user, str):
            user = self._state.add_user(user)
        member = FakeMember(user=user, roles=list(roles))
        self.members[user.id] = member
        return member

    def member(self, user_id: int) -> FakeMember | None:
        """The member with this user id."""
        return self.members.get(user_id)

    def channel(self, name: str) -> FakeChannel:
        """The channel with this name."""
        for channel in self.channels:
            if channel.name == name:
                return channel
        raise LookupError(f"guild {self.name!r} has no channel {name!r}")

    def role(self, name: str) -> FakeRole:
        """The role with this name."""
        for role in self.roles:
            if role.name == name:
                return role
        raise LookupError(f"guild {self.name!r} has no role {name!r}")

    def permissions_of(self, roles: Iterable[FakeRole]) -> int:
        """Guild-level permissions of someone holding `roles` (administrator means all)."""
        value = self.everyone.permissions
        for role in roles:
            value |= role.permissions
        return ALL_PERMISSIONS if value & ADMINISTRATOR else value

    def bot_permissions_in(self, channel: FakeChannel) -> int:
        """What the bot may do in `channel`."""
        if channel.bot_permissions is not None:
            return channel.bot_permissions
        member = self.members[self._state.bot_user.id]
        return self.permissions_of(member.roles)

    def payload(self) -> dict[str, Any]:
        """The GUILD_CREATE object."""
        return {
            **self.partial_payload(),
            "name": self.name,
            "icon": None,
            "owner_id": str(self.owner_id),
            "roles": [role.payload() for role in self.roles],
            "channels": [channel.payload() for channel in self.channels],
            "members": [member.payload() for member in self.members.values()],
            "member_count": len(self.members),
            "premium_tier": self.premium_tier,
            "large": False,
            "unavailable": False,
            "joined_at": dt.datetime.now(dt.UTC).isoformat(),
            "emojis": [],
            "stickers": [],
            "threads": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "afk_timeout": 300,
        }

    def partial_payload(self) -> dict[str, Any]:
        """The partial guild interactions carry."""
        return {
            "id": str(self.id),
            "locale": self.locale,
            "preferred_locale": self.locale,
            "features": [],
        }


class FakeState:
    """The fake's world and its records; shared by the REST, gateway and injection code."""

    def __init__(
        self,
        *,
        callback_window: float = 3.0,
        token_lifetime: float = 15 * 60.0,
        token: str | None = None,
        bot_name: str = "ImageBot",
        schema_check: Literal["inline", "later"] = "inline",
    ) -> None:
        self.ids = Snowflakes()
        # What GET /gateway/bot recommends: shards, and identifies allowed per 5 s window.
        self.shard_count = 1
        self.max_concurrency = 1
        self.callback_window = callback_window
        self.token_lifetime = token_lifetime
        self.token = token
        self.application_id = self.ids.new()
        self.bot_user = FakeUser(id=self.application_id, username=bot_name, bot=True)
        self.users: dict[int, FakeUser] = {self.bot_user.id: self.bot_user}
        # The application's owner (what discord.py's is_owner() compares with).
        self.owner = FakeUser(id=self.ids.new(), username="owner")
        self.users[self.owner.id] = self.owner
        self.guilds: dict[int, FakeGuild] = {}
        self.left_guilds: list[int] = []  # guilds the bot left (DELETE /users/@me/guilds/{id})
        self.channels: dict[int, FakeChannel] = {}
        self.messages: dict[int, FakeMessage] = {}
        self.attachments: dict[int, FakeAttachment] = {}
        self.interactions: dict[int, FakeInteraction] = {}
        self.tokens: dict[str, FakeInteraction] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.requests: list[RecordedRequest] = []
        # The same records by interaction id: a burst's checks look one interaction up at a
        # time, and scanning every request each time made waiting quadratic.
        self.requests_by_interaction: dict[int, list[RecordedRequest]] = {}
        # "inline" checks each body against the schema before answering (a bad one gets
        # 400/50035); "later" answers at once and checks in check_schemas_later() (benches).
        self.schema_check = schema_check
        self.unchecked: list[RecordedRequest] = []
        self.violations: list[Violation] = []
        self.unhandled: list[RecordedRequest] = []
        self.downloads: list[tuple[FakeAttachment, float]] = []
        self.base_url = "http://127.0.0.1:0"
        self.clock_offset = 0.0
        self.changed = asyncio.Condition()

    def now(self) -> float:
        """The fake's monotonic clock (seconds); `clock_offset` lets tests jump ahead."""
        return time.monotonic() + self.clock_offset

    async def notify(self) -> None:
        """Wake everything waiting in FakeDiscord.wait_for."""
        async with self.changed:
            self.changed.notify_all()

    def add_user(self, name: str, *, bot: bool = False) -> FakeUser:
        """Create a user."""
        user = FakeUser(id=self.ids.new(), username=name, bot=bot)
        self.users[user.id] = user
        return user

    def dm_channel(self, user: FakeUser) -> FakeChannel:
        """The bot's DM channel with `user`, created on first use."""
        for channel in self.channels.values():
            if channel.type == 1 and channel.recipient is user:
                return channel
        channel = FakeChannel(id=self.ids.new(), name=f"dm-{user.username}", type=1, recipient=user)
        self.channels[channel.id] = channel
        return channel

    def upload_limit(self, channel: FakeChannel) -> int:
        """The upload limit for plain channel messages (the guild's; DMs: 10 MiB)."""
        guild = self.guilds.get(channel.guild_id or 0)
        return guild.upload_limit if guild else 10 * MIB

    def new_attachment(
        self,
        channel_id: int,
        filename: str,
        data: bytes,
        *,
        content_type: str | None = None,
        width: int | None = None,
        height: int | None = None,
        ephemeral: bool = False,
        description: str | None = None,
    ) -> FakeAttachment:
        """Store a file and give it a CDN-like URL on the fake."""
        attachment_id = self.ids.new()
        folder = "ephemeral-attachments" if ephemeral else "attachments"
        name = urllib.parse.quote(filename)
        expiry = f"{int(time.time()) + 86400:x}"
        url = f"{self.base_url}/{folder}/{channel_id}/{attachment_id}/{name}?ex={expiry}"
        attachment = FakeAttachment(
            id=attachment_id,
            filename=filename,
            data=data,
            url=url,
            content_type=content_type,
            width=width,
            height=height,
            ephemeral=ephemeral,
            description=description,
        )
        self.attachments[attachment_id] = attachment
        return attachment

    def new_interaction(self, **fields: Any) -> FakeInteraction:
        """Register an interaction (id and token are generated)."""
        interaction = FakeInteraction(
            id=self.ids.new(), token=secrets.token_urlsafe(48), created_at=self.now(), **fields
        )
        self.interactions[interaction.id] = interaction
        self.tokens[interaction.token] = interaction
        return interaction

    def token_alive(self, interaction: FakeInteraction) -> bool:
        """Whether the interaction's webhook token still works (15 minutes, or expired by hand)."""
        age = self.now() - interaction.created_at
        return not interaction.token_expired and age <= self.token_lifetime

    def find_command(self, name: str, guild_id: int | None, kind: int) -> dict[str, Any] | None:
        """A registered command as Discord would route it: the guild's first, then global."""
        scopes = [self.guild_commands.get(guild_id, [])] if guild_id else []
        scopes.append(self.global_commands)
        for commands in scopes:
            for command in commands:
                if command["name"] == name and command.get("type", 1) == kind:
                    return command
        return None

    def messages_in(self, channel_id: int) -> list[FakeMessage]:
        """Every message the fake holds for a channel, oldest first, deleted ones included."""
        return [m for m in self.messages.values() if m.channel_id == channel_id]

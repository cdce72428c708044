"""The fake Discord's objects (users, guilds, messages, interactions, records) and their JSON."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import mimetypes
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import discord
from PIL import Image

DISCORD_EPOCH_MS = 1_420_070_400_000
MIB = 1024 * 1024
EPHEMERAL = 64
LOADING = 128
ADMINISTRATOR = discord.Permissions.administrator.flag
SEND_MESSAGES = discord.Permissions.send_messages.flag
ATTACH_FILES = discord.Permissions.attach_files.flag
ALL_PERMISSIONS = discord.Permissions.all().value
EVERYONE_DEFAULT = discord.Permissions(
    view_channel=True,
    send_messages=True,
    read_message_history=True,
    attach_files=True,
    embed_links=True,
    use_application_commands=True,
).value
# What an app may do in its DM with a user.
DM_APP_PERMISSIONS = EVERYONE_DEFAULT
# Upload limit per boost tier (Discord: 10 MiB unboosted, 50 MiB tier 2, 100 MiB tier 3).
TIER_UPLOAD_LIMIT = {0: 10 * MIB, 1: 10 * MIB, 2: 50 * MIB, 3: 100 * MIB}


class Snowflakes:
    """Discord-shaped ids: milliseconds since 2015 in the high bits, a counter below."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def new(self) -> int:
        """A fresh, strictly increasing snowflake."""
        millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (millis << 22) | (next(self._counter) & 0x3FFFFF)


def iso(moment: dt.datetime) -> str:
    """Discord's timestamp format."""
    return moment.astimezone(dt.UTC).isoformat()


class Upload(NamedTuple):
    """A file a member attaches to an interaction: plain 5-tuples are accepted too."""

    filename: str
    data: bytes
    content_type: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass
class FakeUser:
    """A Discord user; `dms_open=False` makes DMs to them fail with 50007."""

    id: int
    username: str
    bot: bool = False
    dms_open: bool = True

    def payload(self) -> dict[str, Any]:
        """The user object."""
        return {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.username,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
        }


@dataclass
class FakeRole:
    """A guild role with a permission bit set."""

    id: int
    name: str
    permissions: int = 0
    position: int = 0

    def payload(self) -> dict[str, Any]:
        """The role object."""
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }


@dataclass
class FakeChannel:
    """A guild text channel (type 0) or a DM channel (type 1, with `recipient`)."""

    id: int
    name: str
    type: int = 0
    guild_id: int | None = None
    recipient: FakeUser | None = None
    # None: the bot has every permission here; otherwise exactly these bits.
    bot_permissions: int | None = None

    def payload(self) -> dict[str, Any]:
        """The channel object."""
        if self.type == 1:
            recipients = [self.recipient.payload()] if self.recipient else []
            return {
                "id": str(self.id),
                "type": 1,
                "recipients": recipients,
                "last_message_id": None,
            }
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "rate_limit_per_user": 0,
            "last_message_id": None,
        }


@dataclass
class FakeMember:
    """A user's membership in a guild."""

    user: FakeUser
    roles: list[FakeRole] = field(default_factory=list)
    joined_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def payload(self, permissions: int | None = None) -> dict[str, Any]:
        """The guild member object (with `permissions` as interactions carry it)."""
        data: dict[str, Any] = {
            "user": self.user.payload(),
            "roles": [str(role.id) for role in self.roles],
            "joined_at": iso(self.joined_at),
            "nick": None,
            "avatar": None,
            "banner": None,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass
class FakeAttachment:
    """A stored file, served at `url` by the fake's CDN route."""

    id: int
    filename: str
    data: bytes
    url: str
    content_type: str | None = None
    width: int | None = None
    height: int | None = None
    ephemeral: bool = False
    description: str | None = None
    downloads: int = 0

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.data)

    def payload(self) -> dict[str, Any]:
        """The attachment object."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.url,
            "ephemeral": self.ephemeral,
        }
        for key in ("content_type", "width", "height", "description"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data


@dataclass
class FakeMessage:
    """A message the fake holds, with who may see it (`ephemeral`: only the invoker)."""

    id: int
    channel_id: int
    author: FakeUser
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[FakeAttachment] = field(default_factory=list)
    ephemeral: bool = False
    guild_id: int | None = None
    interaction_id: int | None = None
    # The member who invoked the interaction: the only one who sees an ephemeral message.
    invoker_id: int | None = None
    webhook_id: int | None = None
    # "response" (@original), "followup", "channel", "dm" or "user" (sent by a member).
    kind: str = "channel"
    loading: bool = False
    deleted: bool = False
    # The first followup after a defer inherits the defer's visibility: what it asked for.
    requested_ephemeral: bool | None = None
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    edited_at: dt.datetime | None = None
    edits: int = 0
    # Every content the message has shown, in order (status lines a member saw go by).
    history: list[str] = field(default_factory=list)

    @property
    def flags(self) -> int:
        """Message flags as Discord reports them."""
        return (EPHEMERAL if self.ephemeral else 0) | (LOADING if self.loading else 0)

    def visible_to(self, user_id: int) -> bool:
        """Whether `user_id` sees this message (ephemeral ones: only the interaction's user)."""
        return not self.deleted and (not self.ephemeral or user_id == self.invoker_id)

    def payload(self) -> dict[str, Any]:
        """The message object, as discord.py parses it."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": 20 if self.interaction_id is not None else 0,
            "channel_id": str(self.channel_id),
            "author": self.author.payload(),
            "content": self.content,
            "timestamp": iso(self.created_at),
            "edited_timestamp": iso(self.edited_at) if self.edited_at else None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [a.payload() for a in self.attachments],
            "embeds": self.embeds,
            "components": self.components,
            "pinned": False,
            "flags": self.flags,
        }
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
            data["application_id"] = str(self.webhook_id)
        return data


@dataclass
class UploadedFile:
    """One `files[n]` part of a multipart request."""

    field: str
    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.data)


@dataclass
class RecordedRequest:
    """One REST request as the fake received it, and what it answered."""

    index: int
    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[UploadedFile]
    at: float
    headers: dict[str, str]
    interaction_id: int | None = None
    status: int = 0
    response: Any = None

    def __str__(self) -> str:
        who = f" [interaction {self.interaction_id}]" if self.interaction_id else ""
        files = f" +{len(self.files)} files" if self.files else ""
        return f"#{self.index} {self.method} {self.path}{who}{files} -> {self.status}"


@dataclass
class Violation:
    """A request body that does not validate against Discord's published schema."""

    request: RecordedRequest
    operation: str
    errors: list[str]

    def __str__(self) -> str:
        return f"{self.operation} ({self.request}): {'; '.join(self.errors)}"


@dataclass
class FakeInteraction:
    """The handle an `inject_*` call returns: the interaction and what the bot did with it."""

    id: int
    token: str = field(repr=False)  # a secret: never in assertion output
    type: int
    user: FakeUser
    guild_id: int | None
    channel_id: int
    attachment_size_limit: int
    created_at: float
    payload: dict[str, Any] = field(repr=False)  # carries the token
    name: str | None = None
    custom_id: str | None = None
    ack_type: int | None = None
    acked_at: float | None = None
    defer_ephemeral: bool | None = None
    original: FakeMessage | None = None
    source_message: FakeMessage | None = None
    token_expired: bool = False
    modal: dict[str, Any] | None = None
    choices: list[dict[str, Any]] | None = None
    attachments: list[FakeAttachment] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        """Whether a callback was accepted."""
        return self.ack_type is not None

    @property
    def ack_latency(self) -> float | None:
        """Seconds from dispatch to the accepted callback."""
        return None if self.acked_at is None else self.acked_at - self.created_at


def sniff_image(filename: str, data: bytes) -> tuple[str | None, int | None, int | None]:
    """Content type (from the name, as Discord guesses it) and image size when decodable."""
    content_type = mimetypes.guess_type(filename)[0]
    try:
        # Image.open reads only the header: cheap even for large files.
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Exception:
        return content_type, None, None
    return content_type, width, height

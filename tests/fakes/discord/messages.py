"""Message bodies: Discord's limits, building and editing stored messages from a request."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from tests.fakes.discord.http import error
from tests.fakes.discord.model import (
    EPHEMERAL,
    FakeAttachment,
    FakeMessage,
    FakeUser,
    UploadedFile,
    sniff_image,
)
from tests.fakes.discord.state import FakeState

MAX_FILES = 10
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_DESCRIPTION = 4096
MAX_EMBED_TITLE = 256
MAX_EMBED_TOTAL = 6000
_FILE_FIELD = re.compile(r"files\[(\d+)\]")


def check_limits(
    body: dict[str, Any], files: Sequence[UploadedFile], size_limit: int, *, creating: bool
) -> web.Response | None:
    """Discord's answer when a message body breaks a limit, else None."""
    if sum(f.size for f in files) > size_limit:
        return error(413, 40005)
    if len(files) > MAX_FILES or len(body.get("attachments") or []) > MAX_FILES:
        return _invalid(
            ["attachments"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_FILES} or fewer in length."
        )
    content = body.get("content")
    if isinstance(content, str) and len(content) > MAX_CONTENT:
        return _invalid(
            ["content"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length."
        )
    embeds = body.get("embeds") or []
    problem = _embed_problem(embeds) if isinstance(embeds, list) else None
    if problem is not None:
        return problem
    has_body = content or embeds or files or body.get("components") or body.get("poll")
    if creating and not has_body:
        return error(400, 50006)
    return None


def _embed_problem(embeds: list[Any]) -> web.Response | None:
    if len(embeds) > MAX_EMBEDS:
        return _invalid(
            ["embeds"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length."
        )
    total = 0
    for index, embed in enumerate(embeds):
        if not isinstance(embed, dict):
            continue
        description = embed.get("description") or ""
        title = embed.get("title") or ""
        if len(description) > MAX_EMBED_DESCRIPTION:
            message = f"Must be {MAX_EMBED_DESCRIPTION} or fewer in length."
            return _invalid(["embeds", str(index), "description"], "BASE_TYPE_MAX_LENGTH", message)
        if len(title) > MAX_EMBED_TITLE:
            message = f"Must be {MAX_EMBED_TITLE} or fewer in length."
            return _invalid(["embeds", str(index), "title"], "BASE_TYPE_MAX_LENGTH", message)
        total += len(description) + len(title) + _embed_extra_text(embed)
    if total > MAX_EMBED_TOTAL:
        return _invalid(
            ["embeds"], "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"
        )
    return None


def _embed_extra_text(embed: dict[str, Any]) -> int:
    size = len((embed.get("footer") or {}).get("text") or "")
    size += len((embed.get("author") or {}).get("name") or "")
    for item in embed.get("fields") or []:
        size += len(item.get("name") or "") + len(item.get("value") or "")
    return size


def _invalid(path: list[str], code: str, message: str) -> web.Response:
    """400 / 50035 with Discord's nested `errors` object."""
    errors: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(path):
        errors = {key: errors}
    return error(400, 50035, errors)


def new_attachments(
    state: FakeState, channel_id: int, body: dict[str, Any], files: Sequence[UploadedFile]
) -> list[FakeAttachment]:
    """Store uploaded files; filename/description come from the body's `attachments[]`."""
    meta: dict[str, dict[str, Any]] = {}
    for item in body.get("attachments") or []:
        if isinstance(item, dict) and "id" in item:
            meta[str(item["id"])] = item
    stored = []
    for position, upload in enumerate(files):
        match = _FILE_FIELD.fullmatch(upload.field)
        info = meta.get(match.group(1) if match else str(position), {})
        filename = info.get("filename") or upload.filename
        content_type, width, height = sniff_image(filename, upload.data)
        stored.append(
            state.new_attachment(
                channel_id,
                filename,
                upload.data,
                content_type=content_type,
                width=width,
                height=height,
                description=info.get("description"),
            )
        )
    return stored


def create_message(
    state: FakeState,
    *,
    channel_id: int,
    author: FakeUser,
    body: dict[str, Any],
    files: Sequence[UploadedFile],
    kind: str,
    guild_id: int | None = None,
    interaction_id: int | None = None,
    invoker_id: int | None = None,
    webhook_id: int | None = None,
) -> FakeMessage:
    """Store a new message built from a request body; ephemeral when the body's flags say so."""
    message = FakeMessage(
        id=state.ids.new(),
        channel_id=channel_id,
        author=author,
        guild_id=guild_id,
        interaction_id=interaction_id,
        invoker_id=invoker_id,
        webhook_id=webhook_id,
        kind=kind,
        ephemeral=bool(int(body.get("flags") or 0) & EPHEMERAL) and interaction_id is not None,
    )
    apply_body(state, message, body, files, editing=False)
    state.messages[message.id] = message
    return message


def apply_body(
    state: FakeState,
    message: FakeMessage,
    body: dict[str, Any],
    files: Sequence[UploadedFile],
    *,
    editing: bool = True,
) -> None:
    """Set content, embeds, components and attachments from a create or edit body."""
    uploads = new_attachments(state, message.channel_id, body, files)
    if "attachments" in body and editing:
        # An edit lists the attachments to keep by id; the others are removed.
        keep = {str(item.get("id")) for item in body["attachments"] or [] if isinstance(item, dict)}
        message.attachments = [a for a in message.attachments if str(a.id) in keep]
    message.attachments = message.attachments + uploads
    if "content" in body:
        message.content = body["content"] or ""
        message.history.append(message.content)
    if "embeds" in body:
        message.embeds = [_stored_embed(e, message.attachments) for e in body["embeds"] or []]
    if "components" in body:
        message.components = list(body["components"] or [])
    if editing:
        message.edits += 1
        message.edited_at = dt.datetime.now(dt.UTC)


def _stored_embed(embed: dict[str, Any], attachments: list[FakeAttachment]) -> dict[str, Any]:
    """The embed as Discord returns it: typed, with attachment:// URLs resolved."""
    stored = {"type": "rich", **embed}
    by_name = {a.filename: a for a in attachments}
    for key in ("image", "thumbnail"):
        media = stored.get(key)
        if not isinstance(media, dict):
            continue
        found = by_name.get(str(media.get("url", "")).removeprefix("attachment://"))
        if found is not None and str(media.get("url", "")).startswith("attachment://"):
            resolved = {**media, "url": found.url, "proxy_url": found.url}
            if found.width and found.height:
                resolved.update(width=found.width, height=found.height)
            stored[key] = resolved
    return stored

"""Posting result files without an interaction: to the channel (naming the member) or by DM.

The routes a delivery falls back to when the interaction token is gone, and the only ones a
delivery at start-up has. Each returns the message Discord accepted, or None when refused.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator, Sequence

import discord

from bot.discord.replies import NO_PINGS
from bot.images.fitting import OutgoingFile

log = logging.getLogger(__name__)

DM_UPLOAD_LIMIT = 10 * 1024 * 1024  # Discord's limit in direct messages (no boosts there)
Part = tuple[bytes, str, str | None]  # bytes, file name, alt text


def parts(batch: Sequence[OutgoingFile]) -> list[Part]:
    """A message's files as (bytes, name, description)."""
    return [(item.data, item.filename, item.description) for item in batch]


@contextlib.contextmanager
def uploads(files: Sequence[Part]) -> Iterator[list[discord.File]]:
    """Files for one send, whose buffers are freed as soon as the send ends.

    discord.py never closes a file object it was given, and aiohttp copies the image into
    the buffer while its request and response wait in reference cycles for the collector:
    in a burst of 500 that held ~500 MB of images already sent. Closing frees them now.
    """
    made = [
        discord.File(io.BytesIO(data), filename=name, description=description)
        for data, name, description in files
    ]
    try:
        yield made
    finally:
        for file in made:
            file.close()  # gives the buffer its own close() back (discord.py stubs it out)
            file.fp.close()


async def to_channel(
    channel: discord.abc.Messageable,
    user: discord.abc.User,
    batch: Sequence[OutgoingFile],
    *,
    content: str,
    embed: discord.Embed | None = None,
    view: discord.ui.View | None = None,
) -> discord.Message | None:
    """Post files in a channel, mentioning (and pinging) only `user`; None if refused."""
    only_them = discord.AllowedMentions(users=[user], everyone=False, roles=False)
    message = await _send(channel, batch, content, embed, view, only_them)
    if message is not None:
        log.info("delivered to the channel (member %d)", user.id)
    return message


async def to_dm(
    user: discord.User | discord.Member,
    batch: Sequence[OutgoingFile],
    *,
    content: str,
    embed: discord.Embed | None = None,
    view: discord.ui.View | None = None,
) -> discord.Message | None:
    """Send files to the member by DM; None if refused (DMs closed, blocked...)."""
    message = await _send(user, batch, content, embed, view, NO_PINGS)
    if message is not None:
        log.info("delivered by DM (member %d)", user.id)
    return message


async def _send(
    target: discord.abc.Messageable,
    batch: Sequence[OutgoingFile],
    content: str,
    embed: discord.Embed | None,
    view: discord.ui.View | None,
    mentions: discord.AllowedMentions,
) -> discord.Message | None:
    try:
        with uploads(parts(batch)) as files:
            return await target.send(
                content=content,
                embed=embed or discord.utils.MISSING,
                files=files,
                view=view or discord.utils.MISSING,
                allowed_mentions=mentions,
            )
    except discord.HTTPException as error:
        log.warning("sending files failed (%s)", error.status)
        return None

"""Input images of an edit: a member's attachments, or the bot's own results named by record.

A result of the bot used again (its Edit button, the **Edit images** menu on a result message,
a Re-roll of such an edit) is named by its job id and image number, taken from the ledger or a
button's custom id, never from a file name, which whoever uploads can choose. Its bytes come
from the results store; only when the store no longer has them, from the message the ledger
recorded for that job (or the one the member pressed on), by position.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from bot.core.errors import BotError
from bot.core.input_files import DeclaredFile, UploadedFile
from bot.discord.downloads import read_attachment

if TYPE_CHECKING:
    from bot.discord.client import ImageBot

log = logging.getLogger(__name__)

IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")
SOURCE_GONE = (
    "The image this edit started from is no longer there for me to use, so I cannot do this. "
    "Nothing was charged."
)


@dataclass(frozen=True, slots=True)
class KeptInput:
    """One of the bot's own results as an input: its job, its place (from 0), a shown name."""

    job_id: int
    index: int
    filename: str
    # The same image on the message the member pressed, if any (used when the store lost it).
    fallback: discord.Attachment | None = None

    @property
    def source(self) -> list[int]:
        """How the job records it (params["sources"]): [job id, image index]."""
        return [self.job_id, self.index]


Input = discord.Attachment | KeptInput


def declared(item: Input) -> DeclaredFile:
    """What is known of an input before any download (Discord's metadata for attachments)."""
    if isinstance(item, KeptInput):
        if item.fallback is None:
            return DeclaredFile(item.filename, None, 0, None, None)
        return DeclaredFile(
            item.filename,
            item.fallback.content_type,
            item.fallback.size,
            item.fallback.width,
            item.fallback.height,
        )
    return DeclaredFile(
        filename=item.filename,
        content_type=item.content_type,
        size=item.size,
        width=item.width,
        height=item.height,
    )


async def fetch_kept(
    bot: ImageBot, interaction: discord.Interaction[Any], item: KeptInput
) -> UploadedFile:
    """The bytes of a kept result: from the store, else from a message of the bot holding it."""
    record = await bot.ledger.job(item.job_id)
    if record is not None:
        kept = await bot.results.load(record.id, record.result_key)
        if kept is not None and item.index < len(kept.images):
            return UploadedFile(item.filename, kept.images[item.index].data)
    attachment = item.fallback
    if attachment is None and record is not None:
        attachment = await _recorded_attachment(bot, record.result_channel_id,
                                                record.result_message_id, item.index)  # fmt: skip
    if attachment is None:
        raise BotError(SOURCE_GONE)
    data = await read_attachment(
        bot.session, attachment.url, filename=item.filename, declared_size=attachment.size
    )
    return UploadedFile(item.filename, data)


async def _recorded_attachment(
    bot: ImageBot, channel_id: int | None, message_id: int | None, index: int
) -> discord.Attachment | None:
    """The index-th file of the message the ledger recorded, if the bot itself posted it."""
    if channel_id is None or message_id is None:
        return None
    try:
        message = await bot.get_partial_messageable(channel_id).fetch_message(message_id)
    except discord.HTTPException as error:
        log.info("result message %d is out of reach: %s", message_id, error.status)
        return None
    me = bot.user
    if me is None or message.author.id != me.id or index >= len(message.attachments):
        return None
    return message.attachments[index]


async def inputs_of_message(bot: ImageBot, message: discord.Message) -> list[Input]:
    """A message's images as inputs: by record when the ledger says the bot posted them for a
    job (the member who opened the menu on it can see it), else as plain attachments."""
    images = [(place, item) for place, item in enumerate(message.attachments) if _is_image(item)]
    me = bot.user
    record = None
    if me is not None and message.author.id == me.id:
        record = await bot.ledger.job_of_message(message.id)
    if record is None:
        return [item for _, item in images]
    return [KeptInput(record.id, place, item.filename, fallback=item) for place, item in images]


def _is_image(attachment: discord.Attachment) -> bool:
    """Declared (or, without a type, named) as PNG, JPEG or WebP: what an edit can take."""
    declared_type = (attachment.content_type or "").split(";")[0].strip().lower()
    if declared_type:
        return declared_type in IMAGE_TYPES
    return attachment.filename.lower().endswith((".png", ".jpg", ".jpeg", ".webp"))

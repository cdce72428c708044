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
from bot.core.models import JobKind
from bot.discord.downloads import read_attachment
from bot.i18n import N_, _
from bot.images.fitting import file_name
from bot.ledger.facade import JobRecord

if TYPE_CHECKING:
    from bot.discord.client import ImageBot

log = logging.getLogger(__name__)

IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")
SOURCE_GONE = N_(
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
    # False for an action's input (bot/discord/iterate.py): what is sent is drawn from it (a
    # canvas, a PNG), so only the drawn file is checked against the model, once made.
    sent_as_is: bool = True

    @property
    def source(self) -> list[int]:
        """How the job records it (params["sources"]): [job id, image index]."""
        return [self.job_id, self.index]


Input = discord.Attachment | KeptInput


def declared(item: Input) -> DeclaredFile:
    """What is known of an input before any download (Discord's metadata for attachments)."""
    if isinstance(item, KeptInput):
        if item.fallback is None or not item.sent_as_is:
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
        attachment = await _recorded_attachment(bot, record, item.index)
    if attachment is None:
        raise BotError(_(SOURCE_GONE))
    data = await read_attachment(
        bot.session, attachment.url, filename=item.filename, declared_size=attachment.size
    )
    return UploadedFile(item.filename, data)


async def _recorded_attachment(
    bot: ImageBot, record: JobRecord, index: int
) -> discord.Attachment | None:
    """Image `index` on the message the ledger recorded for the job, if the bot posted it."""
    channel_id, message_id = record.result_channel_id, record.result_message_id
    if channel_id is None or message_id is None:
        return None
    try:
        message = await bot.get_partial_messageable(channel_id).fetch_message(message_id)
    except discord.HTTPException as error:
        log.info("result message %d is out of reach: %s", message_id, error.status)
        return None
    me = bot.user
    if me is None or message.author.id != me.id:
        return None
    return result_attachment(message, record.kind, record.id, index)


def result_attachment(
    message: discord.Message, kind: JobKind | None, job_id: int | None, index: int
) -> discord.Attachment | None:
    """Image `index` (from 0) of a job on a result message of the bot: the file the bot named
    for it (bot.images.fitting.file_name), else the one at that place among the message's
    files. Only for the bot's own messages, whose file names it chose itself."""
    if kind is not None and job_id is not None:
        stem = file_name(kind, job_id, index, "png").removesuffix("png")
        for attachment in message.attachments:
            if attachment.filename.startswith(stem) and _is_image(attachment):
                return attachment
    files = message.attachments
    if index < len(files) and _is_image(files[index]):
        return files[index]
    return None


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

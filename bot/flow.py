"""From a command's options to a submitted job: check, defer, download, validate, submit.

The one path every /imagine, /edit, context-menu and modal request takes. Errors raised
here are BotErrors; the command tree's on_error shows them privately, before or after the
defer as the interaction's state requires.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import discord

from bot.catalogue import DeclaredFile, RawOptions, UploadedFile
from bot.delivery import choose_output
from bot.errors import InvalidRequest
from bot.ledger import JobSpec, Requester
from bot.replies import defer
from bot.responder import InteractionReporter
from bot.runner import Job
from bot.types import ImageRequest, JobKind

if TYPE_CHECKING:
    from bot.client import ImageBot

log = logging.getLogger(__name__)


def declared(attachment: discord.Attachment) -> DeclaredFile:
    """What Discord told us about an attachment, before any download."""
    return DeclaredFile(
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
        width=attachment.width,
        height=attachment.height,
    )


def requester(interaction: discord.Interaction[Any]) -> Requester:
    """Who asks and where; roles decide the member's limit in a guild."""
    user = interaction.user
    roles = tuple(role.id for role in user.roles) if isinstance(user, discord.Member) else ()
    return Requester(
        user_id=user.id,
        guild_id=interaction.guild_id,
        role_ids=roles,
        channel_id=interaction.channel_id,
    )


async def submit_request(
    bot: ImageBot,
    interaction: discord.Interaction[Any],
    options: RawOptions,
    *,
    kind: JobKind,
    private: bool,
    attachments: Sequence[discord.Attachment] = (),
    mask: discord.Attachment | None = None,
) -> None:
    """Validate (refusing at once), defer, then download, re-validate the bytes and submit."""
    bot.catalogue.precheck(
        options,
        kind=kind,
        files=[declared(item) for item in attachments],
        mask=declared(mask) if mask is not None else None,
    )
    await defer(interaction, private=private)
    images = await asyncio.gather(*(_download(item) for item in attachments))
    mask_file = await _download(mask) if mask is not None else None
    if images:
        # Sniffing uploads with Pillow is CPU work: off the event loop.
        request = await asyncio.to_thread(
            bot.catalogue.validate, options, kind=kind, images=images, mask=mask_file
        )
    else:
        # Options alone validate in microseconds; a thread hop would cost more than it saves.
        request = bot.catalogue.validate(options, kind=kind)
    request = choose_output(request, interaction.filesize_limit)
    job = Job(
        spec=_spec(interaction, request),
        request=request,
        reporter=InteractionReporter(interaction),
    )
    reservation = await bot.runner.submit(job)
    log.info(
        "job %d queued: %s %s x%d for member %d",
        reservation.job_id,
        kind,
        request.model,
        request.n,
        interaction.user.id,
    )


async def _download(attachment: discord.Attachment) -> UploadedFile:
    try:
        data = await attachment.read()
    except discord.HTTPException as error:
        raise InvalidRequest(
            f"I could not download {attachment.filename} from Discord "
            f"(HTTP {error.status}). Upload it again and retry.",
            field="image",
        ) from None
    if len(data) > attachment.size:
        raise InvalidRequest(f"{attachment.filename} is larger than Discord said it was.")
    return UploadedFile(filename=attachment.filename, data=data)


def _spec(interaction: discord.Interaction[Any], request: ImageRequest) -> JobSpec:
    params: dict[str, Any] = {
        "prompt": request.prompt,
        "size": request.size,
        "quality": request.quality,
        "n": request.n,
        "style": request.style,
        "background": request.background,
        "output_format": request.output_format,
        "output_compression": request.output_compression,
        "inputs": [image.filename for image in request.images],
        "mask": request.mask.filename if request.mask is not None else None,
    }
    return JobSpec(
        requester=requester(interaction),
        kind=request.kind,
        model=request.model,
        images=request.n,
        size=request.size,
        quality=request.quality,
        params={key: value for key, value in params.items() if value not in (None, [])},
        input_images=len(request.images),
    )

"""From a command's options to a submitted job: check, defer, download, validate, submit.

The one path every /imagine, /edit, context-menu and modal request takes. Errors raised
here are BotErrors; the command tree's on_error shows them privately, before or after the
defer as the interaction's state requires. After the defer and before runner.submit come the
prompt file's text (bot/prompt_files.py) and the guild's blocked terms (bot/terms.py): a
refusal there holds nothing, writes no job row and calls no API.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import discord

from bot import prompt_files
from bot.catalogue import DeclaredFile, RawOptions, UploadedFile
from bot.delivery import choose_output
from bot.downloads import read_attachment
from bot.ledger import JobSpec, Requester
from bot.ledger_moderation import LedgerModeration
from bot.replies import defer
from bot.responder import InteractionReporter
from bot.runner import Job
from bot.terms import BlockedTerm
from bot.types import ImageRequest, JobKind

if TYPE_CHECKING:
    from bot.client import ImageBot

log = logging.getLogger(__name__)

PROMPT_FROM_FILE = "(prompt from file)"  # stands in for the file's text until it is downloaded


def declared(attachment: discord.Attachment) -> DeclaredFile:
    """What Discord told us about an attachment, before any download."""
    return DeclaredFile(
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
        width=attachment.width,
        height=attachment.height,
    )


def quota_guild_id(interaction: discord.Interaction[Any]) -> int | None:
    """The guild whose quotas and terms apply, or None for the member's personal (DM) scope.

    A guild counts only when it installed the bot. The app installed by a member and used in
    a server without the bot (guild_id set, no guild integration) has no moderators, limits
    or budget of that server to follow, so it takes the member's personal scope, as in
    direct messages: one allowance wherever they carry the app.
    """
    if interaction.guild_id is None or not interaction.is_guild_integration():
        return None
    return interaction.guild_id


def requester(interaction: discord.Interaction[Any]) -> Requester:
    """Who asks and where; roles decide the member's limit in a guild."""
    user = interaction.user
    guild_id = quota_guild_id(interaction)
    roles: tuple[int, ...] = ()
    if guild_id is not None and isinstance(user, discord.Member):
        roles = tuple(role.id for role in user.roles)
    return Requester(
        user_id=user.id,
        guild_id=guild_id,
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
    prompt_file: discord.Attachment | None = None,
) -> None:
    """Validate (refusing at once), defer, then download, re-validate the bytes and submit."""
    prompt_files.one_prompt(options.prompt, prompt_file is not None)
    bot.catalogue.precheck(
        # The file's text is only known after the download; it is checked then.
        options if prompt_file is None else replace(options, prompt=PROMPT_FROM_FILE),
        kind=kind,
        files=[declared(item) for item in attachments],
        mask=declared(mask) if mask is not None else None,
    )
    model = bot.catalogue.spec(options.model or bot.catalogue.default)
    if prompt_file is not None:
        prompt_files.check_declared(declared(prompt_file), model)
    await defer(interaction, private=private)
    if prompt_file is not None:
        text = prompt_files.decode(
            (await _download(bot, prompt_file)).data, prompt_file.filename, model
        )
        options = replace(options, prompt=text)
    await _check_and_submit(bot, interaction, options, kind, private, attachments, mask)


async def _check_and_submit(
    bot: ImageBot,
    interaction: discord.Interaction[Any],
    options: RawOptions,
    kind: JobKind,
    private: bool,
    attachments: Sequence[discord.Attachment],
    mask: discord.Attachment | None,
) -> int:
    """After the defer: blocked terms, downloads, byte checks, output choice, hold and queue."""
    await refuse_blocked_terms(bot, quota_guild_id(interaction), options.prompt)
    images = await asyncio.gather(*(_download(bot, item) for item in attachments))
    mask_file = await _download(bot, mask) if mask is not None else None
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
        spec=_spec(
            interaction,
            request,
            private=private,
            partial_images=bot.wisgate.partial_images_for(request),
        ),
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
    return reservation.job_id


async def refuse_blocked_terms(bot: ImageBot, guild_id: int | None, prompt: str) -> None:
    """Raise BlockedTerm, naming it, if the prompt contains one of the guild's blocked terms.

    Runs after the defer (it reads the database) and before runner.submit: no hold, no job
    row, no WisGate call for a refused prompt.
    """
    term = await LedgerModeration(bot.ledger).blocked_term(guild_id, prompt)
    if term is not None:
        log.info("refused a prompt with a blocked term in guild %s", guild_id)
        raise BlockedTerm(term)


async def _download(bot: ImageBot, attachment: discord.Attachment) -> UploadedFile:
    """The attachment's bytes: from Discord's CDN only, never beyond the declared size."""
    data = await read_attachment(
        bot.session, attachment.url, filename=attachment.filename, declared_size=attachment.size
    )
    return UploadedFile(filename=attachment.filename, data=data)


def _spec(
    interaction: discord.Interaction[Any],
    request: ImageRequest,
    *,
    private: bool,
    partial_images: int,
) -> JobSpec:
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
        # Read back by restart notices (bot/notices.py): never quote a private prompt publicly.
        "private": True if private else None,
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
        partial_images=partial_images,
    )


async def submit_from_result(
    bot: ImageBot,
    interaction: discord.Interaction[Any],
    options: RawOptions,
    *,
    kind: JobKind,
    private: bool,
    attachments: Sequence[discord.Attachment] = (),
) -> int:
    """submit_request for the result buttons (bot/result_actions.py); returns the new job's id.

    The same checks, blocked terms, hold and runner. A button has usually deferred already
    (it read the earlier job's parameters from the ledger first), so the defer is skipped
    then; a check failing after it is shown privately by the caller's error handling.
    """
    bot.catalogue.precheck(options, kind=kind, files=[declared(item) for item in attachments])
    if not interaction.response.is_done():
        await defer(interaction, private=private)
    return await _check_and_submit(bot, interaction, options, kind, private, attachments, None)

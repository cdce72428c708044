"""From a command's options to a submitted job: check, defer, fetch, validate, submit.

The one path every /imagine, /edit, context-menu and modal request takes, in this order:
1. what the options and Discord's attachment metadata already tell (the catalogue; pure);
2. what the ledger would refuse, read-only: the server allowed by the operator, a block, the
   daily limit, the budgets and the operator's caps, blocked terms (bot/discord/gate.py);
   both refuse privately before the defer: nothing downloaded, held or sent to WisGate;
3. the defer; then the prompt file's text (checked against blocked terms too), and the input
   images: downloaded from Discord (attachments) or read from the results store (the bot's
   own results, by record), within bot/images/intake.py's bounds, decoded on its pool;
4. runner.submit, whose reserve checks everything in 2 again in one transaction.
Errors raised here are BotErrors; the command tree's on_error shows them privately, before or
after the defer as the interaction's state requires.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import discord

from bot.core import prompt_files
from bot.core.catalogue import RawOptions
from bot.core.input_files import UploadedFile
from bot.core.member_defaults import apply_defaults
from bot.core.models import ImageRequest, JobKind
from bot.discord.downloads import read_attachment
from bot.discord.gate import check_before_download, guard_caps, refuse_blocked_terms
from bot.discord.inputs import Input, KeptInput, declared, fetch_kept
from bot.discord.replies import NOTE_KEY, PRIVATE_KEY, defer
from bot.discord.result_texts import REROLL_KEY, can_reroll
from bot.discord.servers import quota_guild_id
from bot.discord.settings_texts import skipped_note
from bot.images.fitting import choose_output
from bot.jobs.job import Job
from bot.ledger.facade import InteractionToken, JobSpec, Requester
from bot.ledger.settings import LedgerSettings

if TYPE_CHECKING:
    from bot.discord.client import ImageBot


log = logging.getLogger(__name__)

PROMPT_FROM_FILE = "(prompt from file)"  # stands in for the file's text until it is downloaded

# An action's last step before the byte checks (bot/discord/iterate.py): from the fetched
# inputs, the options and images to send and a mask. CPU work: run on the intake's pool.
Prepare = Callable[
    [RawOptions, list[UploadedFile]], tuple[RawOptions, list[UploadedFile], UploadedFile | None]
]


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
    private: bool | None,
    attachments: Sequence[Input] = (),
    mask: discord.Attachment | None = None,
    prompt_file: discord.Attachment | None = None,
    member_defaults: bool = False,
) -> None:
    """Check (refusing at once, privately), defer, then fetch, re-validate the bytes and submit.

    With `member_defaults` (the slash commands), each option left unset (None; `private` too)
    takes the member's default where it fits the request's model (/settings).
    """
    if member_defaults:
        options, private = await with_member_defaults(bot, interaction, options, kind, private)
    private = bool(private)
    prompt_files.one_prompt(options.prompt, prompt_file is not None)
    typed = options if prompt_file is None else replace(options, prompt=PROMPT_FROM_FILE)
    request = bot.catalogue.precheck(
        # The file's text is only known after the download; it is checked then.
        typed,
        kind=kind,
        files=[declared(item) for item in attachments],
        mask=declared(mask) if mask is not None else None,
    )
    model = bot.catalogue.spec(request.model)
    if prompt_file is not None:
        prompt_files.check_declared(declared(prompt_file), model)
    spec = job_spec(interaction, request, private=private, inputs=attachments)
    typed_prompt = options.prompt if prompt_file is None else None
    await check_before_download(bot, interaction, spec, typed_prompt)
    await defer(interaction, private=private)
    if prompt_file is not None:
        text = prompt_files.decode(await _download(bot, prompt_file), prompt_file.filename, model)
        options = replace(options, prompt=text)
    await _fetch_and_submit(
        bot,
        interaction,
        options,
        kind,
        private,
        attachments,
        mask,
        check_terms=typed_prompt is None,
    )


async def with_member_defaults(
    bot: ImageBot,
    interaction: discord.Interaction[Any],
    options: RawOptions,
    kind: JobKind,
    private: bool | None,
) -> tuple[RawOptions, bool]:
    """The options with the member's defaults applied (a ledger read, no API call); a default
    that no longer fits is skipped and noted for the member (sent privately with the result),
    and stays stored as it is."""
    defaults = await LedgerSettings(bot.ledger).defaults(interaction.user.id)
    applied = apply_defaults(bot.catalogue, options, defaults, kind=kind, private=private)
    if applied.skipped:
        log.info("member %d: %d default(s) skipped", interaction.user.id, len(applied.skipped))
        interaction.extras[NOTE_KEY] = skipped_note(applied.skipped)
    return applied.options, applied.private


async def submit_from_result(
    bot: ImageBot,
    interaction: discord.Interaction[Any],
    options: RawOptions,
    *,
    kind: JobKind,
    private: bool,
    attachments: Sequence[Input] = (),
    lineage: Mapping[str, Any] | None = None,
    prepare: Prepare | None = None,
) -> int:
    """submit_request for the result buttons (bot/discord/result_actions.py, iterate.py);
    returns the new job's id.

    The same checks, blocked terms, hold and runner; `lineage` goes into the job's params
    (its parent and the action), `prepare` turns the fetched inputs into what is sent. A
    button that deferred already skips the defer; a check failing after it is shown
    privately by the caller's error handling.
    """
    files = [declared(item) for item in attachments]
    request = bot.catalogue.precheck(options, kind=kind, files=files)
    spec = job_spec(interaction, request, private=private, inputs=attachments, lineage=lineage)
    await check_before_download(bot, interaction, spec, options.prompt)
    if not interaction.response.is_done():
        await defer(interaction, private=private)
    return await _fetch_and_submit(
        bot,
        interaction,
        options,
        kind,
        private,
        attachments,
        None,
        lineage=lineage,
        prepare=prepare,
    )


async def _fetch_and_submit(
    bot: ImageBot,
    interaction: discord.Interaction[Any],
    options: RawOptions,
    kind: JobKind,
    private: bool,
    attachments: Sequence[Input],
    mask: discord.Attachment | None,
    *,
    check_terms: bool = False,
    lineage: Mapping[str, Any] | None = None,
    prepare: Prepare | None = None,
) -> int:
    """After the defer: fetching, byte checks, output choice, hold and queue (and the blocked
    terms, for a prompt that came in a file)."""
    guild_id = quota_guild_id(interaction)
    if check_terms:
        await refuse_blocked_terms(bot, guild_id, options.prompt)
    declared_bytes = sum(declared(item).size for item in attachments)
    declared_bytes += mask.size if mask is not None else 0
    async with bot.intake.admitted(interaction.user.id, declared_bytes):
        images = await asyncio.gather(*(_fetch(bot, interaction, item) for item in attachments))
        mask_file = None
        if mask is not None:
            mask_file = UploadedFile(mask.filename, await _download(bot, mask))
        if prepare is not None:
            options, images, mask_file = await bot.intake.decode(prepare, options, images)
        if images:
            # Sniffing uploads with Pillow is CPU work: on the intake's own pool.
            request = await bot.intake.decode(
                bot.catalogue.validate, options, kind=kind, images=images, mask=mask_file
            )
        else:
            # Options alone validate in microseconds; a thread hop would cost more than it saves.
            request = bot.catalogue.validate(options, kind=kind)
        request = choose_output(request, interaction.filesize_limit)
        spec = job_spec(interaction, request, private=private, inputs=attachments, lineage=lineage)
        # For the result's buttons: an edit of uploads can never be re-rolled (not kept).
        interaction.extras[REROLL_KEY] = can_reroll(spec.kind, spec.params)
        job = Job(spec=spec, request=request, reporter=bot.reporter_for(interaction))
        async with guard_caps(bot, guild_id):
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


async def _fetch(bot: ImageBot, interaction: discord.Interaction[Any], item: Input) -> UploadedFile:
    """An input's bytes: a member's attachment from Discord, or one of the bot's kept results."""
    if isinstance(item, KeptInput):
        return await fetch_kept(bot, interaction, item)
    return UploadedFile(item.filename, await _download(bot, item))


async def _download(bot: ImageBot, attachment: discord.Attachment) -> bytes:
    """The attachment's bytes: from Discord's CDN only, never beyond the declared size."""
    return await read_attachment(
        bot.session, attachment.url, filename=attachment.filename, declared_size=attachment.size
    )


def job_spec(
    interaction: discord.Interaction[Any],
    request: ImageRequest,
    *,
    private: bool,
    inputs: Sequence[Input] = (),
    lineage: Mapping[str, Any] | None = None,
) -> JobSpec:
    """What the ledger holds and records for this request (the prompt, options, sources, and
    for a job made from a result, its lineage)."""
    sources = [item.source if isinstance(item, KeptInput) else None for item in inputs]
    params: dict[str, Any] = {
        "prompt": request.prompt,
        "size": request.size,
        "quality": request.quality,
        "n": request.n,
        "style": request.style,
        "background": request.background,
        "output_format": request.output_format,
        "output_compression": request.output_compression,
        "inputs": [declared(item).filename for item in inputs],
        # Inputs the bot made itself, by record ([job id, image index]): Re-roll fetches
        # these again; an upload's name is never trusted to find anything.
        "sources": sources if any(sources) else None,
        "mask": request.mask.filename if request.mask is not None else None,
        # Read back by restart notices (bot/discord/notices.py): never quote it publicly.
        "private": True if private else None,
        **(lineage or {}),
    }
    return JobSpec(
        requester=requester(interaction),
        kind=request.kind,
        model=request.model,
        images=request.n,
        size=request.size,
        quality=request.quality,
        params={key: value for key, value in params.items() if value not in (None, [])},
        input_images=len(inputs),
        partial_images=_partial_images(interaction, request),
        interaction=_deferred(interaction),
    )


def _deferred(interaction: discord.Interaction[Any]) -> InteractionToken | None:
    """How to answer the interaction after a restart, once `defer` made it a "thinking..."
    message (kept with the job while it is open: bot/discord/interrupted.py)."""
    if PRIVATE_KEY not in interaction.extras:
        return None
    return InteractionToken(
        interaction.application_id,
        interaction.token,
        interaction.created_at,
        locale=interaction.locale.value,
    )


def _partial_images(interaction: discord.Interaction[Any], request: ImageRequest) -> int:
    bot: ImageBot = interaction.client
    return bot.wisgate.partial_images_for(request)

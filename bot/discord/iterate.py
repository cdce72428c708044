"""What the action buttons do (bot/discord/action_buttons.py holds the buttons): Vary, Upscale,
Zoom out, Pan and Remix, each a new edit job of one result image through the one path.

In order: the job from the button's custom id, checked against the message pressed
(bot/discord/result_access.py); the action's options from the job and the model's profile
(a size the model cannot make for this picture is refused here); the gate's read-only checks,
then the defer (bot/discord/intake.py: submit_from_result); then the image, by record (job id
and image number) from the results store, else from the message the ledger recorded, never
by file name; the canvas and mask built on the intake's pool (bot/images/outpaint.py); the
byte checks, the hold and the queue. Whoever presses pays; nothing is fetched before the gate.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

import discord

from bot.core.actions import (
    ACTIONS,
    Action,
    action_of,
    action_prompt,
    lineage,
    subject_of,
)
from bot.core.catalogue import Catalogue, RawOptions
from bot.core.errors import BotError
from bot.core.input_files import UploadedFile
from bot.core.profiles import ModelProfile, parse_size
from bot.discord.inputs import SOURCE_GONE, KeptInput, result_attachment
from bot.discord.intake import submit_from_result
from bot.discord.result_access import button_job, may_reuse
from bot.discord.result_texts import edit_model, is_private
from bot.i18n import N_, _
from bot.images.canvas import plan_for
from bot.images.fitting import file_name
from bot.images.outpaint import prepare
from bot.ledger.facade import JobRecord

if TYPE_CHECKING:
    from bot.discord.client import ImageBot

log = logging.getLogger(__name__)

NO_EDITOR = N_(
    "No model that edits images is available right now, so this cannot be done. "
    "Nothing was charged."
)
NO_SUCH_IMAGE = N_("This request has no image {number}. Nothing was charged.")
NOT_POSSIBLE = N_("{action} is not possible for this {size} image on {model}. Nothing was charged.")


def offered_actions(
    catalogue: Catalogue, model: str, size: tuple[int, int] | None
) -> tuple[str, ...]:
    """The actions a result of `model` at `size` can take now (all of its editor's, when the
    size is unknown: the press then checks the real picture)."""
    profile = editor_profile(catalogue, model)
    if profile is None:
        return ()
    if size is None:
        return tuple(ACTIONS)
    return tuple(
        name for name, action in ACTIONS.items() if plan_for(profile, action, *size) is not None
    )


def editor_profile(catalogue: Catalogue, model: str) -> ModelProfile | None:
    """The profile of the model that edits a result of `model` (bot/discord/result_texts.py's
    edit_model), or None when no model available edits."""
    editor = edit_model(catalogue, model)
    profile = catalogue.profiles.get(editor)
    if editor not in catalogue.available or profile is None or not profile.can_edit:
        return None
    return profile


def made_size(
    record: JobRecord, attachment: discord.Attachment | None = None
) -> tuple[int, int] | None:
    """The result's pixel size as known before any download: the size the ledger recorded at
    the charge, else what Discord says of the delivered file."""
    recorded = parse_size(record.size) if record.size else None
    if recorded is not None:
        return recorded
    if attachment is not None and attachment.width and attachment.height:
        return attachment.width, attachment.height
    return None


async def act(
    interaction: discord.Interaction[ImageBot],
    job_id: int,
    index: int,
    name: str,
    *,
    prompt: str | None = None,
) -> None:
    """An action button (or the Remix form, with its `prompt`) on image `index` of a job."""
    record = await button_job(interaction, job_id, picker=True)
    fallback = _pressed_attachment(interaction, record, index)
    subject = prompt if prompt is not None else subject_of(record.params)
    new_id = await submit_action(
        interaction,
        record,
        index,
        ACTIONS[name],
        subject=subject,
        private=is_private(record),
        fallback=fallback,
    )
    log.info(
        "job %d image %d: %s as job %d by member %d",
        job_id, index + 1, name, new_id, interaction.user.id,
    )  # fmt: skip


async def redo(
    interaction: discord.Interaction[ImageBot], record: JobRecord, *, private: bool
) -> None:
    """Re-roll of a job an action made: the same action on the same image again, with the
    same prompt (the canvas and mask are built again from the source: they are not kept)."""
    action = ACTIONS[str(action_of(record.params))]
    source_id, index = record.params["sources"][0]
    source = await interaction.client.ledger.job(source_id)
    if source is None or not may_reuse(interaction, source, record):
        raise BotError(_(SOURCE_GONE))
    new_id = await submit_action(
        interaction,
        source,
        index,
        action,
        subject=subject_of(record.params),
        private=private,
        fallback=None,
    )
    log.info("job %d re-rolled as job %d by member %d", record.id, new_id, interaction.user.id)


async def submit_action(
    interaction: discord.Interaction[ImageBot],
    record: JobRecord,
    index: int,
    action: Action,
    *,
    subject: str,
    private: bool,
    fallback: discord.Attachment | None,
) -> int:
    """Submit `action` on image `index` of `record` as a new job of whoever pressed."""
    bot = interaction.client
    if not 0 <= index < max(record.images_charged, 1):
        raise BotError(_(NO_SUCH_IMAGE).format(number=index + 1))
    profile = editor_profile(bot.catalogue, record.model)
    if profile is None:
        raise BotError(_(NO_EDITOR))
    options = action_options(record, action, profile, subject, made_size(record, fallback))
    name = fallback.filename if fallback is not None else None
    name = name or file_name(record.kind, record.id, index, "png")
    source = KeptInput(record.id, index, name, fallback, sent_as_is=False)
    return await submit_from_result(
        bot,
        interaction,
        options,
        kind="edit",
        private=private,
        attachments=[source],
        # The member's prompt is kept apart only where an instruction was put before it.
        lineage=lineage(record.id, action.name, subject if action.instruction else None),
        prepare=partial(_prepare, profile, action),
    )


def action_options(
    record: JobRecord,
    action: Action,
    profile: ModelProfile,
    subject: str,
    size: tuple[int, int] | None,
) -> RawOptions:
    """The edit's options: the action's prompt, the size it asks for this picture (refused now
    when the model cannot do it), and the job's quality and background where the model is the
    job's own (another model's words may mean nothing to it)."""
    plan = plan_for(profile, action, *size) if size is not None else None
    if size is not None and plan is None:
        shown = f"{size[0]}x{size[1]}"
        text = _(NOT_POSSIBLE).format(action=_(action.label), size=shown, model=profile.name)
        raise BotError(text)
    same = profile.name == record.model
    quality = _text(record.params, "quality") if same else None
    background = _text(record.params, "background") if same else None
    if action.kind == "outpaint" and background != "transparent" and profile.takes("background"):
        # The model fills the canvas: an opaque picture (and a format chosen for one).
        background = "opaque"
    return RawOptions(
        prompt=action_prompt(action, subject, profile.prompt_max),
        model=profile.name,
        n=1,
        size=plan.size if plan is not None else None,
        quality=quality,
        background=background,
        input_fidelity=action.fidelity if profile.takes("input_fidelity") else None,
    )


def _prepare(
    profile: ModelProfile, action: Action, options: RawOptions, images: list[UploadedFile]
) -> tuple[RawOptions, list[UploadedFile], UploadedFile | None]:
    """On the intake's pool: the input for the real picture (its real size decides the plan)."""
    prepared = prepare(profile, action, images[0])
    return replace(options, size=prepared.size), [prepared.image], prepared.mask


def _pressed_attachment(
    interaction: discord.Interaction[Any], record: JobRecord, index: int
) -> discord.Attachment | None:
    """The image on the message pressed, when that message is the job's result."""
    message = interaction.message
    if message is None or message.id != record.result_message_id:
        return None
    return result_attachment(message, record.kind, record.id, index)


def _text(params: dict[str, Any], key: str) -> str | None:
    value = params.get(key)
    return value if isinstance(value, str) else None

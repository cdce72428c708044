"""What the result buttons do (bot/discord/result_buttons.py holds the buttons themselves).

Every action starts from the job id in the button's custom id and reads the rest from the
jobs table, so it works on messages sent by an earlier process. Each acknowledges first (a
defer, or the Edit modal) and only then touches the database or Discord's REST API.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord

from bot.core.actions import lineage, parent_of
from bot.core.errors import BotError
from bot.discord.inputs import SOURCE_GONE, KeptInput
from bot.discord.intake import submit_from_result
from bot.discord.iterate import redo
from bot.discord.lineage_texts import CHAIN_MAX, chain_text
from bot.discord.permissions import NotModerator, require_moderator
from bot.discord.replies import NO_PINGS, defer
from bot.discord.result_access import button_job, may_reuse
from bot.discord.result_texts import (
    can_reroll,
    details,
    edit_options,
    made_by_action,
    reroll_options,
    revised_prompt,
    source_job,
)
from bot.discord.servers import quota_guild_id
from bot.discord.wording import member_text
from bot.i18n import N_, _
from bot.i18n.numbers import number
from bot.ledger.facade import JobRecord

if TYPE_CHECKING:
    from bot.discord.client import ImageBot

log = logging.getLogger(__name__)

LATER_SCAN = 25  # messages after the first one searched for the rest of a split delivery
NO_INPUTS = N_(
    "I keep no copy of the images uploaded for an edit, so I cannot re-roll it. Run /edit "
    "again with the images, or press **Edit** to change this result. Nothing was charged."
)
MASK_NOT_KEPT = N_(
    "This edit used a mask, and I keep no copy of masks, so I cannot re-roll it. Run /edit "
    "again with the image and the mask. Nothing was charged."
)
NOT_YOURS = N_(
    "Only the member who asked for these images, or a moderator, can delete them. "
    "Nothing was deleted."
)
DELETE_FAILED = N_("I could not delete that message; try again in a minute.")


class NothingToEdit(BotError):
    """The message holds no image the Edit button could use."""

    def __init__(self) -> None:
        super().__init__(_("This message has no PNG, JPEG or WebP image left to edit."))


class BadImageNumber(BotError):
    """The member named an image the message does not have."""

    def __init__(self, text: str, count: int) -> None:
        super().__init__(
            _(
                "Choose an image number from 1 to {count} (you wrote {text}). Nothing was charged."
            ).format(count=number(count), text=repr(text[:10]))
        )


def _ephemeral(interaction: discord.Interaction[Any]) -> bool:
    """Is the pressed message private? Then every answer about it stays private too."""
    message = interaction.message
    return message is not None and message.flags.ephemeral


async def reroll(interaction: discord.Interaction[ImageBot], job_id: int) -> None:
    """Submit the job's parameters again as a new job of whoever pressed (charged as usual).

    Only ledger reads come before submit_from_result, whose gate refuses before its defer.
    """
    bot = interaction.client
    private = _ephemeral(interaction)
    record = await button_job(interaction, job_id)
    if made_by_action(record.params):
        await redo(interaction, record, private=private)
        return
    inputs = await _reroll_inputs(bot, interaction, record) if record.kind == "edit" else []
    new_id = await submit_from_result(
        bot,
        interaction,
        reroll_options(record),
        kind=record.kind,
        private=private,
        attachments=inputs,
        lineage=lineage(job_id, "reroll"),
    )
    log.info("job %d re-rolled as job %d by member %d", job_id, new_id, interaction.user.id)


async def _reroll_inputs(
    bot: ImageBot, interaction: discord.Interaction[Any], record: JobRecord
) -> list[KeptInput]:
    """The edit's input images again, by record: only results of the bot, which it recorded
    as the edit's sources (job and image number); an upload's file name counts for nothing."""
    if record.params.get("mask") is not None:
        raise BotError(_(MASK_NOT_KEPT))
    if not can_reroll(record.kind, record.params):
        raise BotError(_(NO_INPUTS))  # some inputs were uploads: not kept
    names, sources = record.params["inputs"], record.params["sources"]
    found = []
    for name, (source_id, index) in zip(names, sources, strict=True):
        source = await bot.ledger.job(source_id)
        if source is None or not may_reuse(interaction, source, record):
            raise BotError(_(SOURCE_GONE))
        found.append(KeptInput(source_id, index, str(name)))
    return found


async def edit_result(
    interaction: discord.Interaction[ImageBot],
    job_id: int,
    prompt: str,
    image: discord.Attachment,
    index: int,
    *,
    private: bool,
) -> None:
    """Submit an edit job: this result image, the new prompt, the job's model and options.

    The image is the job's `index`-th, by the button's job id; the attachment pressed on is
    only where its bytes come from if the results store no longer has them.
    """
    bot = interaction.client
    await defer(interaction, private=private)
    record = await button_job(interaction, job_id)
    options = edit_options(bot.catalogue, record, prompt)
    source = KeptInput(job_id, index, image.filename, fallback=image)
    new_id = await submit_from_result(
        bot,
        interaction,
        options,
        kind="edit",
        private=private,
        attachments=[source],
        lineage=lineage(job_id, "edit"),
    )
    log.info("job %d edited as job %d by member %d", job_id, new_id, interaction.user.id)


async def show_details(interaction: discord.Interaction[ImageBot], job_id: int) -> None:
    """Show the job's prompt, parameters, timings and the command to make it again to whoever
    pressed, privately; its cost only to a moderator of the server it was made in."""
    await defer(interaction, private=True)
    record = await button_job(interaction, job_id)
    cost = await _moderates(interaction, record)
    chain, more = await _ancestors(interaction.client, record)
    made_from = chain_text(chain, record, interaction.user.id, more=more) if chain else None
    revised = revised_prompt(interaction.message)
    answer = details(record, revised=revised, cost=cost, made_from=made_from)
    await interaction.edit_original_response(
        content=answer.content,
        embed=answer.embed,
        attachments=[answer.prompt_file] if answer.prompt_file is not None else [],
        allowed_mentions=NO_PINGS,
    )


async def _ancestors(bot: ImageBot, record: JobRecord) -> tuple[list[JobRecord], bool]:
    """The jobs `record` was made from, oldest first (at most CHAIN_MAX), and whether older
    ones were left out. A parent always has a smaller id: nothing recorded can make a loop."""
    chain: list[JobRecord] = []
    parent = parent_of(record.params)
    while parent is not None and parent < (chain[0].id if chain else record.id):
        if len(chain) == CHAIN_MAX:
            return chain, True
        found = await bot.ledger.job(parent)
        if found is None:
            break
        chain.insert(0, found)
        parent = parent_of(found.params)
    return chain, False


async def delete_result(interaction: discord.Interaction[ImageBot], job_id: int) -> None:
    """Delete the result message(s) for the member who asked or a moderator; refuse others.

    Acknowledged with a deferred update (type 6): nothing is shown, and the interaction's
    @original becomes the pressed message itself, the only way to delete an ephemeral one.
    Never use report_error after it (it would edit, then delete, the result), so every
    answer here is an ephemeral followup.
    """
    try:
        await interaction.response.defer()
        record = None if _ephemeral(interaction) else await button_job(interaction, job_id)
        if record is not None and not await _may_delete(interaction, record):
            await _tell(interaction, _(NOT_YOURS))
            return
        await _delete(interaction, record)
    except BotError as error:
        await _tell(interaction, member_text(error))
    except Exception:
        log.exception("could not delete the result of job %d", job_id)
        await _tell(interaction, _(DELETE_FAILED))


async def _may_delete(interaction: discord.Interaction[ImageBot], record: JobRecord) -> bool:
    """The member who asked, or a moderator of the server the job was made in."""
    if interaction.user.id == record.user_id:
        return True
    if not await _moderates(interaction, record):
        return False
    log.info(
        "moderator %d deletes the result of job %d (member %d)",
        interaction.user.id,
        record.id,
        record.user_id,
    )
    return True


async def _moderates(interaction: discord.Interaction[ImageBot], record: JobRecord) -> bool:
    """Is whoever pressed a moderator of the server the job was made in (here, not elsewhere)?"""
    guild_id = quota_guild_id(interaction)
    if guild_id is None or guild_id != record.guild_id:
        return False
    try:
        return await require_moderator(interaction)
    except NotModerator:
        return False


async def _delete(interaction: discord.Interaction[ImageBot], record: JobRecord | None) -> None:
    """Delete the pressed message, then the rest of a delivery split over several messages.

    Only an ephemeral result has no record here: its other parts, if any, were ephemeral
    followups that no later interaction can reach (they vanish from the member's view).
    """
    message = interaction.message
    rest = await _later_parts(interaction, record) if record is not None else []
    try:
        await interaction.delete_original_response()
    except discord.HTTPException as error:
        if message is None or message.flags.ephemeral:
            raise
        # A message the bot sent to the channel itself (a fallback): delete it as its author.
        log.info("deleting through the interaction failed (%s); as the author", error.status)
        await message.delete()
    for part in rest:
        try:
            await part.delete()
        except discord.HTTPException as error:
            log.warning("could not delete part of job %s's result: %s", part.id, error.status)


async def _later_parts(
    interaction: discord.Interaction[ImageBot], record: JobRecord
) -> list[discord.Message]:
    """The bot's messages right after the pressed one that hold more files of this job."""
    message = interaction.message
    me = interaction.client.user
    if message is None or me is None or record.images_charged <= len(message.attachments):
        return []
    channel = message.channel
    found: list[discord.Message] = []
    try:
        async for later in channel.history(after=message, limit=LATER_SCAN, oldest_first=True):
            files = later.attachments
            ours = all(source_job(item.filename) == record.id for item in files)
            if later.author.id == me.id and files and ours:
                found.append(later)
    except (discord.HTTPException, AttributeError) as error:
        # No history permission (or a channel type without history): the first part only.
        log.info("could not look for the rest of job %d's result: %r", record.id, error)
    return found


async def _tell(interaction: discord.Interaction[Any], text: str) -> None:
    """An ephemeral followup: after a deferred update it is a new, private message."""
    try:
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
    except discord.HTTPException as error:
        log.warning("could not answer a result button: %s", error.status)

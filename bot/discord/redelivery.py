"""Deliver charged images that never reached Discord, from the results store.

Two ways in: at start-up, for jobs whose delivery a stop cut off (no interaction is left, so
the channel the job was asked in, when public in a server that added the bot, else a DM);
and the member's **Deliver again** button under /history, which answers in that interaction
with the same fallbacks as a first delivery. Either way the ledger records what arrived;
nothing here charges or refunds (the images were charged when WisGate made them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import discord

from bot.core.errors import BotError
from bot.core.models import ImageResult
from bot.discord.iterate import offered_actions
from bot.discord.job_buttons import JobButton
from bot.discord.replies import defer, report_error, tell_privately
from bot.discord.reporter import InteractionReporter
from bot.discord.result_buttons import result_view
from bot.discord.result_texts import (
    REROLL_KEY,
    can_edit_results,
    can_reroll,
    is_private,
    stored_request,
)
from bot.discord.sending import DM_UPLOAD_LIMIT, to_channel, to_dm
from bot.discord.servers import quota_guild_id
from bot.discord.texts import result_embed
from bot.discord.wording import discord_timestamp
from bot.i18n import N_, _, speaking
from bot.i18n.numbers import number
from bot.images.fitting import fit_images, outgoing_files, pack_messages, wants_alpha
from bot.jobs.job import Delivered
from bot.ledger.facade import JobRecord

if TYPE_CHECKING:
    from bot.discord.client import ImageBot

log = logging.getLogger(__name__)

NOT_YOURS = N_("Only the member who asked for these images can have them delivered.")
ELSEWHERE = N_("These images were asked for somewhere else: use /history there to get them.")
ALREADY = N_("These images were already delivered.")
GONE = N_(
    "I no longer keep these images (results are kept for {days} days), so I cannot deliver "
    "them again."
)
STILL_FAILED = N_(
    "I still could not post your images. They stay kept for you: try **Deliver again** later."
)


async def redeliver_all(bot: ImageBot, records: Sequence[JobRecord]) -> None:
    """At start-up, once connected: deliver each job a stop cut off, one after another."""
    await bot.wait_until_ready()
    for record in records:
        try:
            await deliver_kept(bot, record)
        except Exception:
            # One member's odd channel must not stop the others' images.
            log.exception("job %d: re-delivery failed; its images stay kept", record.id)


async def deliver_kept(bot: ImageBot, record: JobRecord) -> Delivered:
    """Deliver a job's kept images without an interaction: its channel, else a DM; in the
    language of the server it was asked in."""
    with speaking(bot.notices.locale_of(record.guild_id)):
        return await _deliver_kept(bot, record)


async def _deliver_kept(bot: ImageBot, record: JobRecord) -> Delivered:
    kept = await bot.results.load(record.id, record.result_key)
    if kept is None:
        log.warning("job %d: its images are no longer kept; nothing to deliver", record.id)
        await bot.ledger.delivered(record.id, 0)
        return Delivered(0)
    channel = await _public_channel(bot, record)
    user = bot.get_user(record.user_id) or await bot.fetch_user(record.user_id)
    guild = getattr(channel, "guild", None)
    limit = guild.filesize_limit if channel is not None and guild is not None else DM_UPLOAD_LIMIT
    request = stored_request(record)
    images = await fit_images(kept.images, limit, keep_alpha=wants_alpha(request))
    files = outgoing_files(record.kind, record.id, images, alt_text=request.prompt)
    elapsed = ((record.ended_at or record.created_at) - record.created_at).total_seconds()
    # The size and quality made, as the ledger recorded them at the charge.
    made = ImageResult(tuple(images), size=record.size, quality=record.quality)
    embed = result_embed(request, elapsed=elapsed, result=made)
    lead = images[0]
    size = (lead.width, lead.height) if lead.width and lead.height else None
    view = result_view(
        record.id,
        reroll=can_reroll(record.kind, record.params),
        edit=can_edit_results(bot.catalogue),
        actions=offered_actions(bot.catalogue, record.model, size),
        images=len(images),
    )
    asked = discord_timestamp(record.created_at)
    first: discord.Message | None = None
    sent = 0
    for index, batch in enumerate(pack_messages(files, lambda item: item.size, limit=limit)):
        extras: dict[str, Any] = {"embed": embed, "view": view} if index == 0 else {}
        message = None
        if channel is not None:
            content = _("{mention}, here are the images you asked for {when}.").format(
                mention=user.mention, when=asked
            )
            message = await to_channel(channel, user, batch, content=content, **extras)
        if message is None:
            content = _("Here are the images you asked for {when}.").format(when=asked)
            message = await to_dm(user, batch, content=content, **extras)
        if message is None:
            break
        first = first or message
        sent += len(batch)
    where = (first.channel.id, first.id) if first is not None else (None, None)
    state = await bot.ledger.delivered(record.id, sent, *where)
    log.info("job %d: re-delivered %d of %d image(s) (%s)", record.id, sent, len(images), state)
    return Delivered(sent, *where)


async def _public_channel(bot: ImageBot, record: JobRecord) -> discord.abc.Messageable | None:
    """The job's channel when its images may be posted there: public, in a server with the bot."""
    if record.guild_id is None or record.channel_id is None or is_private(record):
        return None
    return await bot.notices.guild_channel(record.guild_id, record.channel_id)


async def deliver_again(interaction: discord.Interaction[ImageBot], job_id: int) -> None:
    """The Deliver again button: the member's own kept images, posted in this interaction."""
    bot = interaction.client
    record = await bot.ledger.job(job_id)
    if record is None or record.user_id != interaction.user.id:
        raise BotError(_(NOT_YOURS))
    if record.guild_id != quota_guild_id(interaction):
        raise BotError(_(ELSEWHERE))
    if record.delivery != "waiting":
        raise BotError(_(ALREADY))
    if not await asyncio.to_thread(bot.results.has, record.id, record.result_key):
        raise BotError(_(GONE).format(days=number(bot.settings.results_keep_days)))
    await defer(interaction, private=is_private(record))
    kept = await bot.results.load(record.id, record.result_key)
    if kept is None:
        raise BotError(_(GONE).format(days=number(bot.settings.results_keep_days)))
    interaction.extras[REROLL_KEY] = can_reroll(record.kind, record.params)
    reporter = InteractionReporter(interaction)
    result = ImageResult(kept.images, kept.usage, size=record.size, quality=record.quality)
    delivered = await reporter.deliver(job_id, stored_request(record), result, None)
    if delivered.reencoded:
        await bot.results.replace(record.id, record.result_key, delivered.reencoded)
    await bot.ledger.delivered(job_id, delivered.images, delivered.channel_id, delivered.message_id)
    log.info("job %d delivered again: %d image(s)", job_id, delivered.images)
    if delivered.images == 0:
        await tell_privately(interaction, _(STILL_FAILED))


class DeliverAgainButton(JobButton, template=r"history:deliver:(?P<job>\d{1,20})"):
    """Under /history: post a job's kept images that never reached Discord."""

    area, action, emoji = "history", "deliver", "📬"
    style = discord.ButtonStyle.primary

    def __init__(self, job_id: int) -> None:
        super().__init__(job_id)
        self.item.label = _("Deliver #{job} again").format(job=job_id)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Deliver; a refusal (or anything unexpected) is told to the member privately."""
        try:
            await deliver_again(interaction, self.job_id)
        except Exception as error:
            await report_error(interaction, error)


def deliver_again_view(job_ids: Sequence[int]) -> discord.ui.View | None:
    """A button per waiting job (at most one row of five), or None when nothing waits."""
    if not job_ids:
        return None
    view = discord.ui.View(timeout=None)
    for job_id in job_ids[:5]:
        view.add_item(DeliverAgainButton(job_id))
    return view

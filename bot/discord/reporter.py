"""A Reporter over a Discord interaction: status edits, previews, delivery with fallbacks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

import discord

from bot.core.models import GeneratedImage, ImageRequest, ImageResult
from bot.discord.queue_buttons import cancel_view
from bot.discord.replies import NO_PINGS, NOTE_KEY, deferred_privately, tell_privately
from bot.discord.result_buttons import result_view, shown_buttons
from bot.discord.sending import parts, to_channel, to_dm, uploads
from bot.discord.texts import remaining_note, result_embed, status_line
from bot.i18n import _, speaking
from bot.images.fitting import OutgoingFile, fit_images, outgoing_files, pack_messages, wants_alpha
from bot.jobs.durations import Typical
from bot.jobs.job import Delivered, Stage

log = logging.getLogger(__name__)

EDIT_INTERVAL = 5.0  # seconds between edits of the status line: gentle on Discord's limits
QUEUE_EDIT_SECONDS_PER_PLACE = 0.5  # position 100 in the queue: an edit every 50 s
# An interaction token lives 15 minutes; past this age we no longer trust it for uploads.
TOKEN_LIFETIME = 15 * 60 - 30
UNKNOWN_MESSAGE = 10008  # Discord's code when the message to edit is gone (deleted)
# A public result's requester is told privately how many images they have left once this few
# remain (the count is theirs, never on the card): a note with every image would be noise.
FEW_LEFT = 5


class InteractionReporter:
    """Speaks to the member through the deferred interaction, with channel and DM fallbacks."""

    def __init__(
        self,
        interaction: discord.Interaction,
        *,
        edit_interval: float = EDIT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        rate_limited: Callable[[], bool] = lambda: False,
    ) -> None:
        self._interaction = interaction
        # The member's language, spoken by every text this reporter sends (the job's task also
        # inherits it from the interaction's, but a reporter must not depend on where it runs).
        self._locale = interaction.locale.value
        self._rate_limited = rate_limited  # is WisGate's rate limit holding every call back?
        self._private = deferred_privately(interaction)
        self._interval = edit_interval
        self._clock = clock
        self._born = clock()
        self._stage: Stage = "queued"
        self._position: int | None = None
        self._wait: float | None = None  # queued: about how long until a slot
        self._typical: Typical | None = None  # generating: how long it usually takes
        self._generating_since = self._born  # the generating line counts its own stage
        # No edit yet: the first partial preview shows at once. The status ticker counts from
        # the defer instead, which already shows Discord's "thinking" state.
        self._last_edit = float("-inf")
        self._lock = asyncio.Lock()
        self._ticker: asyncio.Task[None] | None = None
        self._done = False
        self._job_id: int | None = None  # known once queued: the Cancel button carries it
        self._cancel_shown = False
        self._wake = asyncio.Event()  # an edit that cannot wait for the next tick

    @property
    def upload_limit(self) -> int:
        """The interaction's attachment_size_limit: never hard-coded."""
        return int(self._interaction.filesize_limit)

    def _token_fresh(self) -> bool:
        return self._clock() - self._born < TOKEN_LIFETIME

    def progress(
        self,
        stage: Stage,
        position: int | None,
        *,
        job_id: int | None = None,
        wait: float | None = None,
        typical: Typical | None = None,
    ) -> None:
        """Record the stage; a ticker edits the status line at most every few seconds."""
        sent_back = self._stage == "generating" and stage == "queued"
        if stage == "generating" and self._stage != "generating":
            self._generating_since = self._clock()
        self._stage, self._position = stage, position
        self._wait, self._typical = wait, typical
        if job_id is not None:
            self._job_id = job_id
        if self._ticker is None:
            self._ticker = asyncio.create_task(self._tick())
        elif stage == "generating" and self._cancel_shown:
            self._wake.set()  # take the Cancel button away now: it is too late to cancel
        elif sent_back:
            self._wake.set()  # a rate limit sent it back in line: "Generating" is no longer true

    def _edit_interval(self) -> float:
        """Seconds between status edits: every few seconds near the front of the queue, rarer
        further back, so a long queue costs Discord (and us) about ten edits a second at most.
        """
        if self._stage != "generating" and self._position is not None:
            return max(self._interval, self._position * QUEUE_EDIT_SECONDS_PER_PLACE)
        return self._interval

    async def _tick(self) -> None:
        while not self._done:
            wait = self._since() + self._edit_interval() - self._clock()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.05))
            woken = self._wake.is_set()
            self._wake.clear()
            if self._done or not self._token_fresh():
                return
            if woken or self._clock() - self._since() >= self._edit_interval():
                await self._edit_status()

    def _since(self) -> float:
        """When the message last changed: the last edit, or the defer if none yet."""
        return max(self._last_edit, self._born)

    async def _edit_status(self) -> None:
        """The status line; while queued, with the Cancel button (taken away once generating)."""
        paced = self._stage == "queued" and self._rate_limited()
        shown = "paced" if paced else self._stage
        if shown == "generating":
            text = self._generating_line()
        else:
            with speaking(self._locale):
                elapsed = self._clock() - self._born
                text = status_line(shown, elapsed, self._position, wait=self._wait)
        job_id = self._job_id if self._stage != "generating" else None
        if job_id is not None:
            await self._edit(content=text, view=cancel_view(job_id))
        elif self._cancel_shown:
            await self._edit(content=text, view=None)
        else:
            await self._edit(content=text)
        self._cancel_shown = job_id is not None

    async def preview(self, image: GeneratedImage, index: int) -> None:
        """Show a partial image, if the last edit was long enough ago."""
        if self._done or self._clock() - self._last_edit < self._interval:
            return
        name = f"preview-{index}.{image.format}"
        with speaking(self._locale):
            text = _("{status} · preview").format(status=self._generating_line())
        with uploads([(image.data, name, None)]) as files:
            await self._edit(content=text, attachments=files)

    def _generating_line(self) -> str:
        elapsed = self._clock() - self._generating_since
        with speaking(self._locale):
            return status_line("generating", elapsed, None, typical=self._typical)

    async def _edit(self, **fields: object) -> None:
        async with self._lock:
            if self._done:
                return
            self._last_edit = self._clock()
            try:
                await self._interaction.edit_original_response(
                    allowed_mentions=NO_PINGS,
                    **fields,  # type: ignore[arg-type]
                )
            except discord.HTTPException as error:
                # Progress is a courtesy: a failed edit must never fail the job.
                log.debug("status edit failed: %s", error.status)

    async def _stop_ticker(self) -> None:
        async with self._lock:
            self._done = True
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)

    async def deliver(
        self, job_id: int, request: ImageRequest, result: ImageResult, remaining: int | None
    ) -> Delivered:
        """Fit, pack and send the images; count only what Discord accepted."""
        with speaking(self._locale):
            return await self._deliver(job_id, request, result, remaining)

    async def _deliver(
        self, job_id: int, request: ImageRequest, result: ImageResult, remaining: int | None
    ) -> Delivered:
        await self._stop_ticker()
        limit = self.upload_limit
        images = await fit_images(result.images, limit, keep_alpha=wants_alpha(request))
        changed = any(new is not old for new, old in zip(images, result.images, strict=True))
        files = outgoing_files(request.kind, job_id, images, alt_text=request.prompt)
        batches = pack_messages(files, lambda item: item.size, limit=limit)
        elapsed = self._clock() - self._born
        # A public card carries no personal numbers: the count left goes to the member alone.
        shown = remaining if self._private else None
        embed = result_embed(request, elapsed=elapsed, result=result, remaining_today=shown)
        # The buttons that can work for this job, under the first message only.
        view = result_view(job_id, **shown_buttons(self._interaction, request, images))
        first: discord.Message | None = None
        sent = 0
        for number, batch in enumerate(batches):
            first_one = number == 0
            message = await self._send_batch(
                batch, embed if first_one else None, view if first_one else None, number
            )
            if message is None:
                break
            first = first or message
            sent += len(batch)
        if first is None:
            return Delivered(0)
        # What the requester alone should know: defaults their request skipped (the intake's
        # note), and on a public card, how many images they have left.
        note = self._interaction.extras.get(NOTE_KEY)
        notes = [str(note)] if note else []
        if shown is None and remaining is not None and remaining <= FEW_LEFT:
            notes.append(remaining_note(remaining))
        if notes:
            await self._note_privately(first, "\n\n".join(notes))
        return Delivered(sent, first.channel.id, first.id, tuple(images) if changed else ())

    async def _note_privately(self, first: discord.Message, text: str) -> None:
        """Tell the requester alone (the images they have left today, the defaults skipped), in
        an ephemeral followup; only once the result replaced the "thinking..." message, which
        would otherwise lend that followup its public visibility."""
        if not isinstance(first, discord.InteractionMessage):
            return
        try:
            await self._interaction.followup.send(
                text[:2000], ephemeral=True, allowed_mentions=NO_PINGS
            )
        except discord.HTTPException as error:
            log.info("could not send the member their private note: %s", error.status)

    async def _send_batch(
        self,
        batch: Sequence[OutgoingFile],
        embed: discord.Embed | None,
        view: discord.ui.View | None,
        number: int,
    ) -> discord.Message | None:
        """Send one message of files by the best route still open; None if all failed."""
        if self._token_fresh():
            try:
                return await self._via_interaction(batch, embed, view, number)
            except discord.HTTPException as error:
                log.warning("followup upload failed (%s); trying the channel", error.status)
        # Only a server that installed the bot lets it post; in DMs the DM route below is the
        # same channel, and in private channels or servers without it a post would be refused.
        if not self._private and self._interaction.is_guild_integration():
            message = await self._via_channel(batch, embed, view)
            if message is not None:
                return message
        return await self._via_dm(batch, embed, view)

    async def _via_interaction(
        self,
        batch: Sequence[OutgoingFile],
        embed: discord.Embed | None,
        view: discord.ui.View | None,
        number: int,
    ) -> discord.Message:
        if number == 0:
            try:
                # The first batch replaces the status message: the result sits where it was asked.
                with uploads(parts(batch)) as files:
                    return await self._interaction.edit_original_response(
                        content=None,
                        embed=embed,
                        attachments=files,
                        view=view,
                        allowed_mentions=NO_PINGS,
                    )
            except discord.NotFound as error:
                if error.code != UNKNOWN_MESSAGE:
                    raise
                log.info("the status message was deleted; sending the images as a new message")
        with uploads(parts(batch)) as files:
            return await self._interaction.followup.send(
                embed=embed or discord.utils.MISSING,
                files=files,
                view=view or discord.utils.MISSING,
                ephemeral=self._private,
                allowed_mentions=NO_PINGS,
                wait=True,
            )

    async def _via_channel(
        self,
        batch: Sequence[OutgoingFile],
        embed: discord.Embed | None,
        view: discord.ui.View | None,
    ) -> discord.Message | None:
        channel = self._interaction.channel
        if not isinstance(channel, discord.abc.Messageable):
            return None
        user = self._interaction.user
        content = _("{mention}, here are your images.").format(mention=user.mention)
        return await to_channel(channel, user, batch, content=content, embed=embed, view=view)

    async def _via_dm(
        self,
        batch: Sequence[OutgoingFile],
        embed: discord.Embed | None,
        view: discord.ui.View | None,
    ) -> discord.Message | None:
        content = _("Here are the images you asked for.")
        return await to_dm(self._interaction.user, batch, content=content, embed=embed, view=view)

    async def waiting(self, job_id: int) -> None:
        """Tell the member their images are kept for them: in place of the status message
        (which would otherwise stay "Generating..."), else privately, else in the channel (a
        server that added the bot, public jobs only), else by DM."""
        with speaking(self._locale):
            text = waiting_text(job_id)
        if self._token_fresh():
            try:
                await self._interaction.edit_original_response(
                    content=text, attachments=[], view=None, allowed_mentions=NO_PINGS
                )
                return
            except discord.HTTPException as error:
                log.info("could not say the images wait, in place (%s)", error.status)
            try:
                await self._interaction.followup.send(
                    text, ephemeral=True, allowed_mentions=NO_PINGS
                )
                return
            except discord.HTTPException as error:
                log.info("could not say the images wait, privately (%s)", error.status)
        user = self._interaction.user
        channel = self._interaction.channel
        public = not self._private and self._interaction.is_guild_integration()
        if public and isinstance(channel, discord.abc.Messageable):
            try:
                await channel.send(
                    f"{user.mention} {text}",
                    allowed_mentions=discord.AllowedMentions(
                        users=[user], everyone=False, roles=False
                    ),
                )
                return
            except discord.HTTPException as error:
                log.info("could not say the images wait, in the channel (%s)", error.status)
        await user.send(text, allowed_mentions=NO_PINGS)

    async def fail(self, text: str) -> None:
        """Tell the member privately that the job failed (it was refunded). A text made where
        the member's language was not spoken (a shutdown's) is translated here, if it can be."""
        await self._stop_ticker()
        with speaking(self._locale):
            text = _(text) if text else text  # gettext("") is the catalog header
        if self._token_fresh():
            try:
                await tell_privately(self._interaction, text)
                return
            except discord.HTTPException as error:
                log.warning("could not report the failure in the interaction: %s", error.status)
        try:
            await self._interaction.user.send(text, allowed_mentions=NO_PINGS)
        except discord.HTTPException:
            log.warning("could not tell member %d about a refund", self._interaction.user.id)

    async def abandon(self) -> None:
        """Another process answers for this job now: stop the status edits (a late "Generating"
        or preview must not overwrite what it posts) and send nothing."""
        await self._stop_ticker()


def waiting_text(job_id: int) -> str:
    """What a member reads when their images are made (and charged) but could not be posted."""
    return _(
        "Your images for request #{job} are ready, but I could not post them. They are kept "
        "for you: use `/history` and press **Deliver again** to get them."
    ).format(job=job_id)

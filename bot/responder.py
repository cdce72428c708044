"""A Reporter over a Discord interaction: status edits, previews, delivery with fallbacks."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Callable, Sequence

import discord

from bot.delivery import (
    OutgoingFile,
    fit_images,
    outgoing_files,
    pack_messages,
    result_embed,
    status_line,
    wants_alpha,
)
from bot.replies import NO_PINGS, deferred_privately, tell_privately
from bot.runner import Delivered, Stage
from bot.types import GeneratedImage, ImageRequest, ImageResult

log = logging.getLogger(__name__)

EDIT_INTERVAL = 5.0  # seconds between edits of the status line: gentle on Discord's limits
QUEUE_EDIT_SECONDS_PER_PLACE = 0.5  # position 100 in the queue: an edit every 50 s
# An interaction token lives 15 minutes; past this age we no longer trust it for uploads.
TOKEN_LIFETIME = 15 * 60 - 30


class InteractionReporter:
    """Speaks to the member through the deferred interaction, with channel and DM fallbacks."""

    def __init__(
        self,
        interaction: discord.Interaction,
        *,
        edit_interval: float = EDIT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interaction = interaction
        self._private = deferred_privately(interaction)
        self._interval = edit_interval
        self._clock = clock
        self._born = clock()
        self._stage: Stage = "queued"
        self._position: int | None = None
        self._last_edit = clock()  # the defer itself shows Discord's "thinking" state
        self._lock = asyncio.Lock()
        self._ticker: asyncio.Task[None] | None = None
        self._done = False

    @property
    def upload_limit(self) -> int:
        """The interaction's attachment_size_limit: never hard-coded."""
        return int(self._interaction.filesize_limit)

    def _token_fresh(self) -> bool:
        return self._clock() - self._born < TOKEN_LIFETIME

    def progress(self, stage: Stage, position: int | None) -> None:
        """Record the stage; a ticker edits the status line at most every few seconds."""
        self._stage, self._position = stage, position
        if self._ticker is None:
            self._ticker = asyncio.create_task(self._tick())

    def _edit_interval(self) -> float:
        """Seconds between status edits: every few seconds near the front of the queue, rarer
        further back, so a long queue costs Discord (and us) about ten edits a second at most.
        """
        if self._stage == "queued" and self._position is not None:
            return max(self._interval, self._position * QUEUE_EDIT_SECONDS_PER_PLACE)
        return self._interval

    async def _tick(self) -> None:
        while not self._done:
            wait = self._last_edit + self._edit_interval() - self._clock()
            await asyncio.sleep(max(wait, 0.05))
            if self._done or not self._token_fresh():
                return
            if self._clock() - self._last_edit >= self._edit_interval():
                text = status_line(self._stage, self._clock() - self._born, self._position)
                await self._edit(content=text)

    async def preview(self, image: GeneratedImage, index: int) -> None:
        """Show a partial image, if the last edit was long enough ago."""
        if self._done or self._clock() - self._last_edit < self._interval:
            return
        preview = discord.File(io.BytesIO(image.data), filename=f"preview-{index}.{image.format}")
        text = status_line("generating", self._clock() - self._born, None) + " · preview"
        await self._edit(content=text, attachments=[preview])

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
        await self._stop_ticker()
        limit = self.upload_limit
        images = await fit_images(result.images, limit, keep_alpha=wants_alpha(request))
        files = outgoing_files(request.kind, job_id, images, alt_text=request.prompt)
        batches = pack_messages(files, lambda item: item.size, limit=limit)
        elapsed = self._clock() - self._born
        embed = result_embed(request, elapsed=elapsed, result=result, remaining_today=remaining)
        first: discord.Message | None = None
        sent = 0
        for number, batch in enumerate(batches):
            message = await self._send_batch(batch, embed if number == 0 else None, number)
            if message is None:
                break
            first = first or message
            sent += len(batch)
        if first is None:
            return Delivered(0)
        return Delivered(sent, first.channel.id, first.id)

    async def _send_batch(
        self, batch: Sequence[OutgoingFile], embed: discord.Embed | None, number: int
    ) -> discord.Message | None:
        """Send one message of files by the best route still open; None if all failed."""
        if self._token_fresh():
            try:
                return await self._via_interaction(batch, embed, number)
            except discord.HTTPException as error:
                log.warning("followup upload failed (%s); trying the channel", error.status)
        if not self._private:
            message = await self._via_channel(batch, embed)
            if message is not None:
                return message
        return await self._via_dm(batch, embed)

    async def _via_interaction(
        self, batch: Sequence[OutgoingFile], embed: discord.Embed | None, number: int
    ) -> discord.Message:
        files = _files(batch)
        if number == 0:
            # The first batch replaces the status message, so the result sits where it was asked.
            return await self._interaction.edit_original_response(
                content=None,
                embed=embed,
                attachments=files,
                allowed_mentions=NO_PINGS,
            )
        return await self._interaction.followup.send(
            files=files, ephemeral=self._private, allowed_mentions=NO_PINGS, wait=True
        )

    async def _via_channel(
        self, batch: Sequence[OutgoingFile], embed: discord.Embed | None
    ) -> discord.Message | None:
        channel = self._interaction.channel
        if not isinstance(channel, discord.abc.Messageable):
            return None
        user = self._interaction.user
        try:
            message = await channel.send(
                content=f"{user.mention}, here are your images.",
                embed=embed or discord.utils.MISSING,
                files=_files(batch),
                allowed_mentions=discord.AllowedMentions(users=[user], everyone=False, roles=False),
            )
        except discord.HTTPException as error:
            log.warning("channel fallback failed (%s); trying a DM", error.status)
            return None
        log.info("delivered to the channel instead of the interaction (member %d)", user.id)
        return message

    async def _via_dm(
        self, batch: Sequence[OutgoingFile], embed: discord.Embed | None
    ) -> discord.Message | None:
        user = self._interaction.user
        try:
            message = await user.send(
                content="Here are the images you asked for.",
                embed=embed or discord.utils.MISSING,
                files=_files(batch),
                allowed_mentions=NO_PINGS,
            )
        except discord.HTTPException as error:
            log.warning("DM fallback failed (%s): images not delivered", error.status)
            return None
        log.info("delivered by DM (member %d)", user.id)
        return message

    async def fail(self, text: str) -> None:
        """Tell the member privately that the job failed (it was refunded)."""
        await self._stop_ticker()
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


def _files(batch: Sequence[OutgoingFile]) -> list[discord.File]:
    return [
        discord.File(io.BytesIO(item.data), filename=item.filename, description=item.description)
        for item in batch
    ]

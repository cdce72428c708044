"""The Cancel button on a queued job's status message, working across restarts.

A `discord.ui.DynamicItem` whose custom id holds only the job id (`queue:cancel:<job id>`):
the bot registers the class with `add_dynamic_items` (cogs/queue.py), so a press on a
message sent by an earlier process still reaches it. Only the requester may cancel; a job
already generating (or ended) says so privately.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

import discord

from bot.discord.job_buttons import JobButton
from bot.discord.replies import NO_PINGS
from bot.i18n import N_, _
from bot.ledger.models import OPEN_STATUSES

if TYPE_CHECKING:
    from bot.discord.client import ImageBot

log = logging.getLogger(__name__)

NOT_YOURS = N_("Only the member who asked for this request can cancel it.")
TOO_LATE = N_("Too late to cancel: your images are already being generated.")
NOT_HERE = N_("This request is no longer waiting in the queue, so it cannot be cancelled.")
ALREADY_ENDED = N_("Nothing to cancel: it already ended.")
_ENDED = {
    "succeeded": N_("Nothing to cancel: it was delivered."),
    "failed": N_("Nothing to cancel: it failed and was refunded."),
    "cancelled": N_("Nothing to cancel: it was cancelled and refunded."),
    "expired": N_("Nothing to cancel: it waited too long and was refunded."),
    "interrupted": N_("Nothing to cancel: a restart interrupted it and it was refunded."),
}


class CancelButton(JobButton, template=r"queue:cancel:(?P<job>\d{1,20})"):
    """Cancel a queued job: refunded at once, never sent to WisGate."""

    area, action, label, emoji = "queue", "cancel", "Cancel", "✖️"

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Withdraw the job if the presser asked for it and it is still queued; else say why."""
        bot = cast("ImageBot", interaction.client)
        # Any process: a job another process on the shared queue runs is ended by its owner.
        outcome = await bot.runner.cancel_anywhere(self.job_id, interaction.user.id)
        if outcome == "cancelled":
            # The job's own task refunds it and tells the member where the request was made;
            # here we only acknowledge the press (a deferred update shows nothing).
            await interaction.response.defer()
            return
        if outcome == "not_yours":
            text = _(NOT_YOURS)
        elif outcome == "started":
            text = _(TOO_LATE)
        else:
            text = await _not_queued(bot, self.job_id, interaction.user.id)
        log.info("cancel of job %d by %d refused: %s", self.job_id, interaction.user.id, outcome)
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)


async def _not_queued(bot: ImageBot, job_id: int, user_id: int) -> str:
    """Why a job this process does not hold cannot be cancelled (from the jobs table)."""
    record = await bot.ledger.job(job_id)
    if record is None:
        return _(NOT_HERE)
    if record.user_id != user_id:
        return _(NOT_YOURS)
    if record.status in OPEN_STATUSES:
        return _(NOT_HERE)
    return _(_ENDED.get(record.status, ALREADY_ENDED))


def cancel_view(job_id: int) -> discord.ui.View:
    """A view holding the Cancel button for this job (persistent: no timeout)."""
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(job_id))
    return view

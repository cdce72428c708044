"""/history's pages: a member's image requests here, ten at a time, with Previous/Next that only
that member can press and **Deliver again** under the page's requests still waiting.

The pager keeps whose jobs and which scope (server, or direct messages) it shows from the
/history interaction itself; a press names only the direction, so nobody can page through
another member's requests or another server's.
"""

from __future__ import annotations

import asyncio
import logging

import discord

from bot.discord.client import ImageBot
from bot.discord.quota_texts import history_embed
from bot.discord.redelivery import DeliverAgainButton, deliver_again_view
from bot.i18n import N_
from bot.ledger.facade import JobRecord
from cogs._quota_pages import PAGE_SIZE, KeysetPager

log = logging.getLogger(__name__)

MAX_DELIVER_BUTTONS = 5  # as many as /history offered before it had pages


class HistoryPager(KeysetPager):
    """Pages of one member's jobs in one scope, newest first, found by id as jobs keep coming."""

    command = "/history"
    not_yours = N_("These buttons belong to the member who asked. Run `{command}` yourself.")

    def __init__(self, bot: ImageBot, *, guild_id: int | None, owner_id: int, where: str) -> None:
        super().__init__(owner_id=owner_id, buttons="history-page")
        self.bot = bot
        self.guild_id = guild_id  # the scope: never taken from a press
        self.where = where
        self.waiting: list[int] = []  # the page's jobs whose kept images can be delivered again

    async def page(self) -> tuple[discord.Embed, bool]:
        """Read the page at the end of the trail, draw it, and offer its waiting deliveries."""
        found = await self.bot.ledger.history(
            self.guild_id, self.owner_id, PAGE_SIZE + 1, before=self.trail[-1]
        )
        records, more = found[:PAGE_SIZE], len(found) > PAGE_SIZE
        self.next_before = records[-1].id if more else None
        self.waiting = [record.id for record in records if await self._deliverable(record)]
        for item in [child for child in self.children if isinstance(child, DeliverAgainButton)]:
            self.remove_item(item)
        for job_id in self.waiting[:MAX_DELIVER_BUTTONS]:
            self.add_item(DeliverAgainButton(job_id))
        return history_embed(records, where=self.where, first=self.index == 0), more

    async def _deliverable(self, record: JobRecord) -> bool:
        """Charged, never all delivered, and its images still kept."""
        if record.delivery != "waiting":
            return False
        results = self.bot.results
        return await asyncio.to_thread(results.has, record.id, record.result_key)

    async def on_timeout(self) -> None:
        """Past its life the page keeps only its Deliver again buttons (they outlive restarts)."""
        if self.message is None:
            return
        try:
            await self.message.edit(view=deliver_again_view(self.waiting[:MAX_DELIVER_BUTTONS]))
        except discord.HTTPException as error:
            log.debug("could not remove the page buttons: %s", error.status)

"""The audit log pager: pages of the guild's quota changes, newest first (see _quota_pages)."""

from __future__ import annotations

import discord

from bot.discord.quota_texts import audit_line
from bot.ledger.admin import LedgerAdmin
from cogs._quota_pages import LIFETIME, PAGE_SIZE, KeysetPager


class AuditPager(KeysetPager):
    """Pages of one guild's audit log, newest first, optionally about one member."""

    command = "/quota-admin audit"

    def __init__(
        self,
        admin: LedgerAdmin,
        *,
        guild_id: int,
        owner_id: int,
        member_id: int | None,
        bot_default: int,
        timeout: float = LIFETIME,
    ) -> None:
        super().__init__(owner_id=owner_id, buttons="quota-audit", timeout=timeout)
        self.admin = admin
        self.guild_id = guild_id
        self.member_id = member_id
        self.bot_default = bot_default

    async def page(self) -> tuple[discord.Embed, bool]:
        """Read the page at the end of the trail and draw it."""
        page = await self.admin.audit_log(
            self.guild_id,
            target_user_id=self.member_id,
            limit=PAGE_SIZE,
            before_id=self.trail[-1],
        )
        self.next_before = page.next_before_id
        about = f" about <@{self.member_id}>" if self.member_id is not None else ""
        lines = [audit_line(entry, bot_default=self.bot_default) for entry in page.entries]
        if not lines:
            lines = ["No quota changes recorded yet."]
        header = f"Changes{about}, newest first:"
        embed = discord.Embed(title="Quota audit log", description="\n".join([header, *lines]))
        return embed, page.next_before_id is not None

"""The audit log pager: pages of the guild's quota changes, newest first (see _quota_pages)."""

from __future__ import annotations

import discord

from bot.discord.quota_texts import audit_line
from bot.i18n import _
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
        lines = [audit_line(entry, bot_default=self.bot_default) for entry in page.entries]
        if not lines:
            lines = [_("No quota changes recorded yet.")]
        if self.member_id is None:
            header = _("Changes, newest first:")
        else:
            header = _("Changes about {member}, newest first:").format(
                member=f"<@{self.member_id}>"
            )
        description = "\n".join([header, *lines])
        embed = discord.Embed(title=_("Quota audit log"), description=description)
        return embed, page.next_before_id is not None

"""What may refuse a request before anything is downloaded, held or sent to WisGate.

Read-only and fast (a few milliseconds), so a refusal is the interaction's private answer:
the servers the operator allows, then what the ledger's reserve would refuse (a block, the
daily limit, the server's budget, the operator's caps), then the server's blocked terms.
A cap reached is told once per period to the log and the server's log channel.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import discord

from bot.core.terms import BlockedTerm
from bot.discord.servers import quota_guild_id, refuse_unlisted_guild
from bot.ledger.facade import CapReached, JobSpec
from bot.wisgate.errors import UpstreamQuotaExhausted

if TYPE_CHECKING:
    from bot.discord.client import ImageBot

log = logging.getLogger(__name__)


async def check_before_download(
    bot: ImageBot, interaction: discord.Interaction[Any], spec: JobSpec, prompt: str | None
) -> None:
    """Refuse now what the hold would refuse; `prompt` (None: not known yet) against terms."""
    refuse_unlisted_guild(bot.settings.allowed_guilds, interaction)
    pacer = bot.wisgate.pacer
    if pacer is not None and pacer.out_of_credit() > 0:
        # The key's credit is gone: sending this request would only fail and be refunded.
        raise UpstreamQuotaExhausted("refused before sending: the key's credit is gone")
    async with guard_caps(bot, quota_guild_id(interaction)):
        await bot.ledger.check(spec, prompt)


async def refuse_blocked_terms(bot: ImageBot, guild_id: int | None, prompt: str) -> None:
    """Raise BlockedTerm, naming it, if the prompt contains one of the guild's blocked terms."""
    term = await bot.moderation.blocked_term(guild_id, prompt)
    if term is not None:
        log.info("refused a prompt with a blocked term in guild %s", guild_id)
        raise BlockedTerm(term)


@asynccontextmanager
async def guard_caps(bot: ImageBot, guild_id: int | None) -> AsyncIterator[None]:
    """Let a CapReached through at once, telling the log (and the log channel) the first time
    in the background: the refusal answers an interaction Discord gives 3 s, and a log
    channel answering 5xx holds a post for seconds (discord.py tries again after 1 s, 3 s)."""
    try:
        yield
    except CapReached as error:
        bot.in_background(bot.notices.cap_reached(error, guild_id), "cap-alert")
        raise

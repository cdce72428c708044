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

from bot.core.errors import BotError
from bot.core.terms import BlockedTerm
from bot.discord.notices import cap_alert_text, post_to_log
from bot.ledger.facade import CapReached, JobSpec
from bot.ledger.moderation import LedgerModeration

if TYPE_CHECKING:
    from bot.discord.client import ImageBot

log = logging.getLogger(__name__)

NOT_HERE = (
    "This bot is not available in this server: its owner runs it for other servers only. "
    "Nothing was charged."
)


class GuildNotAllowed(BotError):
    """The server is not on the operator's ALLOWED_GUILDS list."""

    def __init__(self) -> None:
        super().__init__(NOT_HERE)


def quota_guild_id(interaction: discord.Interaction[Any]) -> int | None:
    """The guild whose quotas and terms apply, or None for the member's personal (DM) scope.

    A guild counts only when it installed the bot. The app installed by a member and used in
    a server without the bot (guild_id set, no guild integration) has no moderators, limits
    or budget of that server to follow, so it takes the member's personal scope, as in
    direct messages: one allowance wherever they carry the app.
    """
    if interaction.guild_id is None or not interaction.is_guild_integration():
        return None
    return interaction.guild_id


def guild_allowed(bot: ImageBot, guild_id: int | None) -> bool:
    """Whether the operator lets the bot serve this server (always, without ALLOWED_GUILDS)."""
    allowed = bot.settings.allowed_guilds
    return not allowed or guild_id is None or guild_id in allowed


def refuse_unlisted_guild(bot: ImageBot, interaction: discord.Interaction[Any]) -> None:
    """Raise GuildNotAllowed in a server (that added the bot) outside ALLOWED_GUILDS."""
    if not guild_allowed(bot, quota_guild_id(interaction)):
        log.info("refused a request in guild %s (not in ALLOWED_GUILDS)", interaction.guild_id)
        raise GuildNotAllowed()


async def check_before_download(
    bot: ImageBot, interaction: discord.Interaction[Any], spec: JobSpec, prompt: str | None
) -> None:
    """Refuse now what the hold would refuse; `prompt` (None: not known yet) against terms."""
    refuse_unlisted_guild(bot, interaction)
    async with guard_caps(bot, quota_guild_id(interaction)):
        await bot.ledger.check(spec, prompt)


async def refuse_blocked_terms(bot: ImageBot, guild_id: int | None, prompt: str) -> None:
    """Raise BlockedTerm, naming it, if the prompt contains one of the guild's blocked terms."""
    term = await LedgerModeration(bot.ledger).blocked_term(guild_id, prompt)
    if term is not None:
        log.info("refused a prompt with a blocked term in guild %s", guild_id)
        raise BlockedTerm(term)


@asynccontextmanager
async def guard_caps(bot: ImageBot, guild_id: int | None) -> AsyncIterator[None]:
    """Let a CapReached through, after telling the log (and the log channel) the first time."""
    try:
        yield
    except CapReached as error:
        await _tell_cap(bot, error, guild_id)
        raise


async def _tell_cap(bot: ImageBot, error: CapReached, guild_id: int | None) -> None:
    try:
        if not await bot.ledger.first_cap_alert(error, guild_id):
            return
        log.warning(
            "operator cap %s reached for %s (guild %s): requests are refused until it resets",
            error.cap,
            error.period,
            guild_id,
        )
        if guild_id is not None:
            await post_to_log(bot, guild_id, cap_alert_text(error))
    except Exception:
        # Telling is a courtesy: the member's refusal must go out whatever happens here.
        log.exception("could not report that cap %s was reached", error.cap)

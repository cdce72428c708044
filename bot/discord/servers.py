"""Where the bot serves and whose quotas apply: the operator's servers, guild or personal scope."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

import discord

from bot.core.errors import BotError
from bot.i18n import N_, _

log = logging.getLogger(__name__)

NOT_HERE = N_(
    "This bot is not available in this server: its owner runs it for other servers only. "
    "Nothing was charged."
)


class GuildNotAllowed(BotError):
    """The server is not on the operator's ALLOWED_GUILDS list."""

    def __init__(self) -> None:
        super().__init__(_(NOT_HERE))


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


def guild_allowed(allowed: Collection[int], guild_id: int | None) -> bool:
    """Whether the operator lets the bot serve this server (always, without ALLOWED_GUILDS)."""
    return not allowed or guild_id is None or guild_id in allowed


def refuse_unlisted_guild(allowed: Collection[int], interaction: discord.Interaction[Any]) -> None:
    """Raise GuildNotAllowed in a server (that added the bot) outside ALLOWED_GUILDS."""
    if not guild_allowed(allowed, quota_guild_id(interaction)):
        log.info("refused a request in guild %s (not in ALLOWED_GUILDS)", interaction.guild_id)
        raise GuildNotAllowed()

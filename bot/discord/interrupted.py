"""After a restart: tell members of refunded jobs on the interactions they asked with.

A stop leaves each open job's "thinking..." message loading forever: the process holding the
interaction is gone. Its webhook is not: Discord accepts the interaction's token for 15
minutes from its creation, and the ledger keeps it (with the application id) while the job is
open. Within that time (less a margin), the member is told privately on the interaction itself,
as bot/discord/replies.py tell_privately does; later, the restart notice in the channel or by
DM tells them (bot/discord/notices.py), as it does for every job this cannot answer. The answer
speaks the asker's language, kept with the token when the job was reserved.

Without a discord.Interaction there is only the webhook's REST routes, sent through the bot's
own HTTP client (its rate limits and retries). The token sits in those URLs, which discord.py
logs at DEBUG: bot/logs.py redacts them; nothing here logs or words a token.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord.http import HTTPClient, Route

from bot.discord.language import guild_locale
from bot.discord.notice_texts import interrupted_text
from bot.discord.replies import RESOLVED_TEXT
from bot.i18n import _, speaking
from bot.ledger.facade import InteractionToken, JobRecord
from bot.ledger.models import TOKEN_LIFETIME

if TYPE_CHECKING:
    from bot.discord.client import ImageBot

log = logging.getLogger(__name__)

# A token this close to its end is left alone: a request retried past it would fail anyway,
# and the clocks of Discord and this machine need not agree to the second.
MARGIN = timedelta(seconds=30)
USABLE_FOR = TOKEN_LIFETIME - MARGIN
EPHEMERAL = 64  # message flag: only the member who asked sees it
_CLEARED: dict[str, Any] = {"embeds": [], "components": [], "attachments": []}
_NO_PINGS: dict[str, Any] = {"allowed_mentions": {"parse": []}}


async def answer_interrupted(bot: ImageBot, records: Sequence[JobRecord]) -> set[int]:
    """Tell each member of these refunds on their interaction while its token is usable; the
    ids of the jobs whose members were told so (their notices are marked sent)."""
    tokens = await bot.ledger.interactions([record.id for record in records])
    servers: dict[int, str | None] = {}
    told: set[int] = set()
    # Oldest first: their tokens end soonest.
    for record in sorted(records, key=lambda record: record.created_at):
        token = tokens.get(record.id)
        if token is None or bot.ledger.now() - token.created_at >= USABLE_FOR:
            continue  # none kept, or too old: the restart notice tells them
        try:
            with speaking(token.locale or await _server_locale(bot, record.guild_id, servers)):
                await _tell(bot.http, token, interrupted_text(record), private=_private(record))
        except discord.HTTPException as error:
            log.info(
                "job %d: its interaction could not be answered (%s %s); the restart notice "
                "tells the member",
                record.id,
                error.status,
                error.code,
            )
            continue
        except Exception:
            log.exception("job %d: answering its interaction failed", record.id)
            continue
        # Marked one by one: a stop halfway tells nobody twice on the interaction.
        await bot.ledger.notices_sent([record.id])
        told.add(record.id)
    if told:
        log.info("told %d member request(s) interrupted by the restart on the request", len(told))
    return told


async def _server_locale(
    bot: ImageBot, guild_id: int | None, known: dict[int, str | None]
) -> str | None:
    """For a token kept without its asker's language (before migration 0010): the server's
    preferred one, asked of Discord once per server, since these answers go out before the
    gateway has sent the servers; None (English) in a DM or when Discord will not say."""
    if guild_id is None:
        return None
    if guild_id not in known:
        locale = bot.notices.locale_of(guild_id)
        if locale is None:
            try:
                locale = guild_locale(await bot.fetch_guild(guild_id))
            except discord.HTTPException as error:
                log.info("guild %d: its language is unknown (%s)", guild_id, error.status)
        known[guild_id] = locale
    return known[guild_id]


def _private(record: JobRecord) -> bool:
    """Whether the job's defer was ephemeral (the intake records it with the job)."""
    return bool(record.params.get("private"))


async def _tell(http: HTTPClient, token: InteractionToken, text: str, *, private: bool) -> None:
    """tell_privately without a discord.Interaction: resolve the "thinking..." message so that
    only the member reads `text` and nothing stays loading or public."""
    original = _route(token, "PATCH", "/messages/@original")
    if private:
        await http.request(original, json={"content": text, **_CLEARED, **_NO_PINGS})
        return
    # The first followup after a public defer would be public too (it takes the defer's
    # place): resolve the loading message first, then the private followup, then delete it.
    await http.request(original, json={"content": _(RESOLVED_TEXT), **_CLEARED, **_NO_PINGS})
    followup = {"content": text, "flags": EPHEMERAL, **_NO_PINGS}
    await http.request(_route(token, "POST", ""), json=followup, params={"wait": "true"})
    try:
        await http.request(_route(token, "DELETE", "/messages/@original"))
    except discord.HTTPException as error:
        # The member has the private explanation; a neutral public line is harmless.
        log.warning("could not delete an interrupted request's public message: %s", error.status)


def _route(token: InteractionToken, method: str, path: str) -> Route:
    return Route(
        method,
        "/webhooks/{webhook_id}/{webhook_token}" + path,
        webhook_id=token.application_id,
        webhook_token=token.token,
    )

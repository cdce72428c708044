"""Messages the bot sends on its own: restart notices, budget alerts, moderation reports.

None of these answers an interaction, so each finds its channel itself, checks that the
channel belongs to the guild the news is about (one guild's quotas never show in another),
and gives up quietly (with a log line) when Discord refuses: a notice must never break a job
or a command.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import discord

from bot.core.errors import BotError
from bot.core.text import shorten
from bot.discord.replies import NO_PINGS
from bot.discord.texts import safe_text
from bot.ledger.facade import CapReached, JobRecord, JobSpec, Settlement
from bot.ledger.models import discord_timestamp, format_usd, next_month
from bot.ledger.moderation import LedgerModeration, RejectionReport
from bot.ledger.reports import LedgerReports
from bot.wisgate.errors import ContentRejected

if TYPE_CHECKING:
    from bot.discord.client import ImageBot

log = logging.getLogger(__name__)

COMMAND_NAMES = {"generate": "/imagine", "edit": "/edit"}
PROMPT_PREVIEW = 80  # characters of the prompt a DM notice quotes


async def guild_channel(
    bot: ImageBot, guild_id: int, channel_id: int
) -> discord.abc.Messageable | None:
    """The channel or thread `channel_id` if it belongs to guild `guild_id`, else None."""
    guild = bot.get_guild(guild_id)
    found: object = guild.get_channel_or_thread(channel_id) if guild is not None else None
    if found is None:
        try:
            found = await bot.fetch_channel(channel_id)
        except discord.HTTPException as error:
            log.info("channel %d is out of reach: %s", channel_id, error.status)
            return None
    owner = getattr(found, "guild", None)
    if owner is None or owner.id != guild_id or not isinstance(found, discord.abc.Messageable):
        return None
    return found


async def post_to_log(bot: ImageBot, guild_id: int, text: str) -> bool:
    """Post `text` to the guild's log channel, if it has one; True if it was posted."""
    config = await LedgerReports(bot.ledger).guild_config(guild_id)
    if config.log_channel_id is None:
        return False
    channel = await guild_channel(bot, guild_id, config.log_channel_id)
    if channel is None:
        log.warning("guild %d: log channel %d not found", guild_id, config.log_channel_id)
        return False
    try:
        await channel.send(text[:2000], allowed_mentions=NO_PINGS)
    except discord.HTTPException as error:
        log.warning("guild %d: cannot post to the log channel: %s", guild_id, error.status)
        return False
    return True


def budget_alert_text(settlement: Settlement, now: datetime) -> str:
    """The 80% alert: what was spent, of what budget, and what happens at 100%."""
    budget = settlement.guild_budget_micros or 0
    spent = settlement.guild_month_spend_micros
    percent = spent * 100 // budget if budget else 100
    turns = discord_timestamp(next_month(now))
    return (
        f"**Image budget alert:** this server has spent {format_usd(spent)} of its "
        f"{format_usd(budget)} monthly image budget ({percent}%). When it is used up, new "
        f"requests are refused until a moderator raises it with `/quota-admin budget` or the "
        f"month turns {turns}."
    )


def budget_alerts(bot: ImageBot) -> Callable[[JobSpec, Settlement], Awaitable[None]]:
    """The runner's on_settled hook: post the 80% alert (the ledger flags it once a month)."""

    async def on_settled(spec: JobSpec, settlement: Settlement) -> None:
        guild_id = spec.requester.guild_id
        if not settlement.budget_alert or guild_id is None:
            return
        if not await post_to_log(bot, guild_id, budget_alert_text(settlement, bot.ledger.now())):
            log.warning(
                "guild %d reached 80%% of its budget; no log channel took the alert", guild_id
            )

    return on_settled


_CAP_NAMES = {
    "operator_daily": ("daily spending cap across all servers", "OPERATOR_DAILY_USD"),
    "operator_monthly": ("monthly spending cap across all servers", "OPERATOR_MONTHLY_USD"),
    "account_daily": ("daily spending cap per member account", "ACCOUNT_DAILY_USD"),
    "personal_monthly": ("monthly cap for direct messages", "PERSONAL_MONTHLY_USD"),
}


def cap_alert_text(error: CapReached) -> str:
    """The moderators' note that one of the bot owner's caps refused a request here."""
    what, setting = _CAP_NAMES[error.cap]
    return (
        f"**Spending cap:** the bot owner's {what} ({setting}) has been reached, so new image "
        f"requests are refused until it resets {discord_timestamp(error.resets_at)}. Only the "
        "bot's owner can change it. You will not hear about it again until then."
    )


def rejection_report_text(report: RejectionReport) -> str:
    """The moderators' note about a member the safety system keeps rejecting (no prompts)."""
    jobs = ", ".join(f"#{job_id}" for job_id in report.job_ids[-10:])
    return (
        f"**Moderation:** the image service's safety system rejected {report.rejections} "
        f"requests by <@{report.user_id}> within the last hour (jobs {jobs}). Nothing was "
        "charged for them. You will not hear about this member again for an hour; "
        "`/quota-admin block` stops their requests here."
    )


def rejection_reports(bot: ImageBot) -> Callable[[JobSpec, BotError], Awaitable[None]]:
    """The runner's on_refunded hook: report a member's third safety rejection in an hour."""
    moderation = LedgerModeration(bot.ledger)

    async def on_refunded(spec: JobSpec, error: BotError) -> None:
        guild_id = spec.requester.guild_id
        if not isinstance(error, ContentRejected) or guild_id is None:
            return  # DMs and user installs have no log channel to report to
        report = await moderation.rejection_report(guild_id, spec.requester.user_id)
        if report is None:
            return
        if not await post_to_log(bot, guild_id, rejection_report_text(report)):
            log.warning(
                "guild %d: member %d reached %d rejections; no log channel took the report",
                guild_id,
                report.user_id,
                report.rejections,
            )

    return on_refunded


def _what(records: Sequence[JobRecord]) -> str:
    first = records[0]
    when = discord_timestamp(first.created_at)
    if len(records) == 1:
        return f"your {COMMAND_NAMES.get(first.kind, 'image')} request from {when}"
    return f"your {len(records)} image requests (the first from {when})"


def restart_text(records: Sequence[JobRecord], *, in_channel: bool) -> str:
    """Tell a member their requests were cut off by a restart and refunded.

    Channel notices never quote prompts: the request may have been a private one.
    """
    said = "it was" if len(records) == 1 else "they were"
    text = (
        f"The bot restarted before {_what(records)} finished, so {said} refunded: "
        "nothing was charged and you can ask again."
    )
    if in_channel:
        return f"<@{records[0].user_id}> {text}"
    prompts = [
        f"> {safe_text(shorten(str(record.params['prompt']), PROMPT_PREVIEW))}"
        for record in records[:5]
        if isinstance(record.params.get("prompt"), str)
    ]
    return "\n".join([text, *prompts])[:2000]


async def _tell_in_channel(bot: ImageBot, records: Sequence[JobRecord]) -> bool:
    first = records[0]
    if first.guild_id is None or first.channel_id is None or first.params.get("private"):
        return False
    channel = await guild_channel(bot, first.guild_id, first.channel_id)
    if channel is None:
        return False
    # Addressed to one member who is not watching: their mention alone may ping them.
    mention = discord.AllowedMentions(
        everyone=False, users=[discord.Object(first.user_id)], roles=False
    )
    try:
        await channel.send(restart_text(records, in_channel=True), allowed_mentions=mention)
    except discord.HTTPException as error:
        log.info("restart notice refused in channel %d: %s", first.channel_id, error.status)
        return False
    return True


async def _tell_by_dm(bot: ImageBot, records: Sequence[JobRecord]) -> bool:
    user_id = records[0].user_id
    try:
        user = bot.get_user(user_id) or await bot.fetch_user(user_id)
        await user.send(restart_text(records, in_channel=False), allowed_mentions=NO_PINGS)
    except discord.HTTPException as error:
        log.warning("could not tell member %d about a refund: %s", user_id, error.status)
        return False
    return True


async def send_restart_notices(bot: ImageBot, records: Sequence[JobRecord]) -> None:
    """Tell each member whose jobs recovery refunded: in the job's channel, else by DM.

    Each group is marked sent in the ledger once tried, so a process stopped before then
    leaves it owed to the next start (a member may then be told twice, never not at all).
    """
    await bot.wait_until_ready()
    groups: dict[tuple[int, int | None, int | None], list[JobRecord]] = defaultdict(list)
    for record in records:
        groups[(record.user_id, record.guild_id, record.channel_id)].append(record)
    told = 0
    for group in groups.values():
        try:
            if await _tell_in_channel(bot, group) or await _tell_by_dm(bot, group):
                told += 1
        except Exception:
            # One member's odd channel must not stop the others' notices.
            log.exception("restart notice for member %d failed", group[0].user_id)
        await bot.ledger.notices_sent([record.id for record in group])
    log.info("restart notices: %d of %d member(s) told", told, len(groups))

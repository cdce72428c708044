"""The bodies of /quota-admin's reading commands (top, list, job and report), and the choices
of `top period:` and `block duration:` (not a cog).

Every answer is private, about the guild the command was used in only; the cog has already
checked that the caller is one of its moderators.
"""

from __future__ import annotations

from datetime import timedelta

from discord import Interaction, app_commands

from bot.core.errors import InvalidRequest
from bot.discord.client import ImageBot
from bot.discord.moderator_texts import NO_SUCH_JOB, job_embed, top_text
from bot.discord.month_report import month_report
from bot.discord.quota_texts import acknowledge, answer
from bot.discord.replies import NO_PINGS
from bot.i18n import N_, _
from bot.ledger.models import month_key
from bot.ledger.report_sql import Period
from cogs._quota_pages import PolicyPager

PERIOD_VALUES: dict[str, Period] = {"day": "day", "month": "month"}
PERIODS = [
    app_commands.Choice(name="today (UTC day)", value="day"),
    app_commands.Choice(name="this month (UTC)", value="month"),
]
# How long a block lasts; the value is the choice Discord sends back.
BLOCK_DURATIONS: dict[str, timedelta | None] = {
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "permanent": None,
}
DURATION_CHOICES = [
    app_commands.Choice(name=name, value=value)
    for name, value in (
        (N_("1 hour"), "1h"),
        (N_("1 day"), "1d"),
        (N_("7 days"), "7d"),
        (N_("30 days"), "30d"),
        (N_("until unblocked"), "permanent"),
    )
]


async def show_top(
    bot: ImageBot, interaction: Interaction[ImageBot], guild_id: int, period: str
) -> None:
    """The day's or the month's biggest image makers, with images and dollars."""
    await acknowledge(interaction)
    chosen = PERIOD_VALUES.get(period)
    if chosen is None:  # Discord sends only listed choices; anything else is not ours
        raise InvalidRequest(_("Choose a period from the list: today or this month."))
    board = await bot.admin.leaderboard(guild_id, chosen)
    spent, budget = await bot.admin.month_spend(guild_id)
    month = month_key(bot.ledger.now())
    await answer(interaction, top_text(board, chosen, month, spent, budget))


async def show_list(bot: ImageBot, interaction: Interaction[ImageBot], guild_id: int) -> None:
    """The first page of the guild's limits and blocks, with buttons to page on."""
    await acknowledge(interaction)
    pager = PolicyPager(bot.admin, guild_id=guild_id, owner_id=interaction.user.id)
    embed = await pager.render()
    pager.message = await answer(interaction, embed=embed, view=pager)


async def show_job(
    bot: ImageBot, interaction: Interaction[ImageBot], guild_id: int, job_id: int
) -> None:
    """One job of this guild; any other id (another guild's, a DM's) reads as no such job."""
    await acknowledge(interaction)
    detail = await bot.admin.job(guild_id, job_id)
    if detail is None:
        await answer(interaction, _(NO_SUCH_JOB))
        return
    await answer(interaction, embed=job_embed(detail))


async def send_report(bot: ImageBot, interaction: Interaction[ImageBot], guild_id: int) -> None:
    """The month's chart and figures, privately."""
    await acknowledge(interaction)
    embed, picture = await month_report(bot, guild_id)
    await interaction.edit_original_response(
        embed=embed, attachments=[picture], allowed_mentions=NO_PINGS
    )

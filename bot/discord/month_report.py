"""`/quota-admin report`: the month's picture (bot/images/chart.py) as an embed and a PNG.

The ledger gives the figures, Discord the members' names, a worker thread draws the chart
(Pillow is CPU work: never on the event loop). The embed speaks the moderator's language; the
picture stays English (its fonts draw Latin letters only).
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import TYPE_CHECKING

import discord

from bot.discord.moderator_texts import month_name, report_text
from bot.discord.quota_texts import money
from bot.discord.texts import EMBED_COLOUR
from bot.i18n import _, speaking
from bot.images.chart import Drawn, MonthChart, TopEntry, draw
from bot.ledger.models import day_key, month_key
from bot.ledger.report_sql import MonthReport

if TYPE_CHECKING:
    from bot.discord.client import ImageBot

log = logging.getLogger(__name__)

TOP_MEMBERS = 5


async def member_name(bot: ImageBot, guild: discord.Guild | None, user_id: int) -> str:
    """A member's name for the picture: from the cache, else Discord, else a short id."""
    person: discord.abc.User | None = None
    if guild is not None:
        person = guild.get_member(user_id)
    person = person or bot.get_user(user_id)
    if person is None and guild is not None:
        try:
            person = await guild.fetch_member(user_id)
        except discord.HTTPException as error:  # left the server, or Discord said no
            log.debug("no name for member %d: %s", user_id, error.status)
    if person is None:
        return f"member …{str(user_id)[-4:]}"
    return person.display_name


def chart_of(report: MonthReport, names: list[str], title: str, through_day: int) -> MonthChart:
    """The chart's plain data from the ledger's month and the members' names."""
    top = [
        TopEntry(name, member.images, member.cost_micros)
        for name, member in zip(names, report.board.members, strict=True)
    ]
    return MonthChart(title, report.daily_micros, report.budget_micros, top, through_day)


async def month_report(bot: ImageBot, guild_id: int) -> tuple[discord.Embed, discord.File]:
    """This UTC month in the server as an embed with its chart attached."""
    report = await bot.admin.month_report(guild_id, limit=TOP_MEMBERS)
    guild = bot.get_guild(guild_id)
    names = [await member_name(bot, guild, m.user_id) for m in report.board.members]
    now = bot.ledger.now()
    through = int(day_key(now)[-2:]) if month_key(now) == report.month else len(report.daily_micros)
    where = f" · {guild.name}" if guild is not None else ""
    with speaking(None):  # the picture's words and figures are English
        title = f"Image spend in {month_name(report.month)} (UTC){where}"
        chart = chart_of(report, names, title, through)
    drawn: Drawn = await asyncio.to_thread(draw, chart, _english_money)
    filename = f"spend-{report.month}.png"
    embed = discord.Embed(
        title=_("Image spend in {month}").format(month=month_name(report.month)),
        description=report_text(report),
        colour=EMBED_COLOUR,
    )
    embed.set_image(url=f"attachment://{filename}")
    return embed, discord.File(io.BytesIO(drawn.png), filename=filename)


def _english_money(micros: int) -> str:
    """The picture's amounts ($1,234.50), whatever language the thread would speak."""
    with speaking(None):
        return money(micros)

"""What `/quota-admin` says about the server's spend, limits, blocks and jobs (moderators only:
dollars appear here, never in what members read).

Members, roles and channels are mentions, which render as names and never ping (replies go
out with no allowed mentions); anything a member or moderator typed is made inert (safe_text).
"""

from __future__ import annotations

from datetime import date, datetime

import discord

from bot.core.text import shorten
from bot.discord.quota_texts import COMMANDS, STATUS_WORDS, images, money, reason_text, usd_text
from bot.discord.texts import DESCRIPTION_EMBED_MAX, EMBED_COLOUR, safe_text
from bot.discord.wording import discord_timestamp, jump_url
from bot.i18n import N_, _, ngettext
from bot.i18n.dates import day_of_month, month_year
from bot.i18n.numbers import number
from bot.ledger.report_sql import (
    JobDetail,
    Leaderboard,
    MonthReport,
    Period,
    PolicyEntry,
    PolicyKind,
    PolicyPage,
)

NO_SUCH_JOB = N_("There is no such job in this server.")
JOB_PROMPT_PREVIEW = 1500
JOB_ERROR_PREVIEW = 500
SECTIONS: dict[PolicyKind, str] = {
    "member_limit": N_("Member limits"),
    "role_limit": N_("Role limits"),
    "block": N_("Blocks"),
}


def month_name(month: str) -> str:
    """'2026-06' as 'June 2026', in the language being spoken."""
    return month_year(month)


def until_text(until: datetime | None) -> str:
    """When a block ends: a date and time every client shows in its own zone, and how soon."""
    if until is None:
        return _("until unblocked")
    return _("until {when} ({how_soon})").format(
        when=discord_timestamp(until, "f"), how_soon=discord_timestamp(until)
    )


def _members(count: int) -> str:
    return ngettext("{count} member", "{count} members", count).format(count=number(count))


def _spend_line(spent: float, budget: float | None) -> str:
    if budget is None:
        return _("This month the server has spent {spent}.").format(spent=usd_text(spent))
    return _("This month the server has spent {spent} of its {budget} budget.").format(
        spent=usd_text(spent), budget=usd_text(budget)
    )


def top_text(
    board: Leaderboard, period: Period, month: str, spent: float, budget: float | None
) -> str:
    """The biggest image makers of the UTC day or month, the rest summed, and the month's spend.

    Every member's line, the others' line and `In all` add up to the ledger's totals.
    """
    spend = _spend_line(spent, budget)
    if not board.members:
        if period == "day":
            return _("Nobody has made images here today.") + "\n" + spend
        return _("Nobody has made images here this month.") + "\n" + spend
    if period == "day":
        lines = [_("**Top members today** (UTC day):")]
    else:
        lines = [_("**Top members this month** ({month}, UTC):").format(month=month_name(month))]
    lines += [
        f"{rank}. <@{member.user_id}>: {images(member.images)}, {money(member.cost_micros)}"
        for rank, member in enumerate(board.members, start=1)
    ]
    others = board.total_members - len(board.members)
    if others:
        rest_images = board.total_images - sum(m.images for m in board.members)
        rest_micros = board.total_micros - sum(m.cost_micros for m in board.members)
        rest = ngettext(
            "… and {count} more member: {images}, {spent}",
            "… and {count} more members: {images}, {spent}",
            others,
        )
        lines.append(
            rest.format(count=number(others), images=images(rest_images), spent=money(rest_micros))
        )
    if period == "month" or others:
        if period == "day":
            total = _("In all today: {images}, {spent} by {members}.")
        else:
            total = _("In all this month: {images}, {spent} by {members}.")
        lines.append(
            total.format(
                images=images(board.total_images),
                spent=money(board.total_micros),
                members=_members(board.total_members),
            )
        )
    return "\n".join([*lines, spend])


def policy_line(entry: PolicyEntry) -> str:
    """One override, role limit or block in force."""
    match entry.kind:
        case "member_limit":
            return _("{who}: {images} a day").format(
                who=f"<@{entry.target_id}>", images=images(entry.images or 0)
            )
        case "role_limit":
            return _("{who}: {images} a day").format(
                who=f"<@&{entry.target_id}>", images=images(entry.images or 0)
            )
    line = f"<@{entry.target_id}>: {until_text(entry.until)}"
    if entry.by is not None and entry.since is not None:
        line += _(", by {moderator} {when}").format(
            moderator=f"<@{entry.by}>", when=discord_timestamp(entry.since, "d")
        )
    if entry.reason:
        line += f" — {reason_text(entry.reason)}"
    return line


def policy_embed(page: PolicyPage, *, first: bool) -> discord.Embed:
    """A page of the server's member limits, role limits and blocks, under their headings."""
    counts = page.counts
    head = _("Member limits: {members} · role limits: {roles} · blocks in force: {blocks}").format(
        members=number(counts["member_limit"]),
        roles=number(counts["role_limit"]),
        blocks=number(counts["block"]),
    )
    lines = [head]
    section: PolicyKind | None = None
    for entry in page.entries:
        if entry.kind != section:
            section = entry.kind
            lines.append(f"\n**{_(SECTIONS[section])}**")
        lines.append(policy_line(entry))
    if not page.entries:
        nothing = (
            _("No member limits, role limits or blocks here: everyone has the server default.")
            if first
            else _("Nothing more.")
        )
        lines.append("\n" + nothing)
    description = shorten("\n".join(lines), DESCRIPTION_EMBED_MAX)
    return discord.Embed(
        title=_("Quota limits and blocks"), description=description, colour=EMBED_COLOUR
    )


def job_embed(detail: JobDetail) -> discord.Embed:
    """Everything moderators may need about one job of their server (a safety report's, say)."""
    job = detail.record
    if job.channel_id:
        member = _("Member: {member} in {channel}").format(
            member=f"<@{job.user_id}>", channel=f"<#{job.channel_id}>"
        )
    else:
        member = _("Member: {member}").format(member=f"<@{job.user_id}>")
    lines = [member]
    facts = [COMMANDS.get(job.kind, job.kind), job.model, job.size, job.quality]
    if job.params.get("private"):
        facts.append(_("private"))
    request = " · ".join(str(fact) for fact in facts if fact)
    lines.append(_("Request: {request}").format(request=request))
    outcome = _(STATUS_WORDS[job.status]) if job.status in STATUS_WORDS else job.status
    if job.delivery in ("pending", "waiting"):
        outcome = _("made, waiting to be delivered")
    lines.append(_("Outcome: {outcome}").format(outcome=outcome))
    lines.append(
        _("Images: {asked} asked, {made} made, {delivered} delivered").format(
            asked=number(job.images_asked),
            made=number(job.images_charged),
            delivered=number(job.images_sent),
        )
    )
    lines.append(_("Cost: {cost}").format(cost=_cost(detail)))
    if detail.failure or job.error:
        words = f" — {safe_text(shorten(job.error, JOB_ERROR_PREVIEW))}" if job.error else ""
        failure = safe_text(detail.failure) if detail.failure else _("unknown")
        lines.append(_("Failure: {failure}").format(failure=failure + words))
    lines.append(_("Times: {times}").format(times=_times(detail)))
    link = jump_url(job.guild_id, job.result_channel_id, job.result_message_id)
    if link is not None and not job.params.get("private"):
        lines.append(_("Result: [open the message]({link})").format(link=link))
    prompt = job.params.get("prompt")
    if isinstance(prompt, str) and prompt:
        lines.append(_("Prompt:") + f"\n>>> {safe_text(shorten(prompt, JOB_PROMPT_PREVIEW))}")
    description = shorten("\n".join(lines), DESCRIPTION_EMBED_MAX)
    title = _("Job #{id}").format(id=job.id)
    return discord.Embed(title=title, description=description, colour=EMBED_COLOUR)


def _cost(detail: JobDetail) -> str:
    job = detail.record
    if job.status in ("queued", "running"):
        return _("up to {amount} held").format(amount=money(job.cost_held_micros))
    text = _("{amount} charged").format(amount=money(job.cost_charged_micros))
    if job.cost_actual_micros > job.cost_charged_micros:
        text += " " + _("(WisGate's usage said {amount}; the hold capped it)").format(
            amount=money(job.cost_actual_micros)
        )
    return text


# The moments of a job, in order (translated where shown).
MOMENTS = {
    "asked": N_("asked {when}"),
    "started": N_("started {when}"),
    "ended": N_("ended {when}"),
    "delivered": N_("delivered {when}"),
}


def _times(detail: JobDetail) -> str:
    job = detail.record
    moments = [("asked", job.created_at), ("started", job.started_at), ("ended", job.ended_at),
               ("delivered", job.delivered_at)]  # fmt: skip
    return ", ".join(
        _(MOMENTS[what]).format(when=discord_timestamp(when, "f" if what == "asked" else "T"))
        for what, when in moments
        if when is not None
    )


def report_text(report: MonthReport) -> str:
    """The words under the month's picture: the total, the budget, the busiest day, the top."""
    spent = money(report.charged_micros)
    month = month_name(report.month)
    if report.budget_micros is None:
        first = _("Spent in {month} (UTC): {spent} (no monthly budget).")
        lines = [first.format(month=month, spent=spent)]
    else:
        share = report.charged_micros * 100 // report.budget_micros
        first = _("Spent in {month} (UTC): {spent} of the {budget} budget ({share}%).")
        lines = [
            first.format(
                month=month, spent=spent, budget=money(report.budget_micros), share=number(share)
            )
        ]
    busiest = max(range(len(report.daily_micros)), key=lambda i: report.daily_micros[i])
    if report.daily_micros[busiest]:
        year, number_of_month = (int(part) for part in report.month.split("-"))
        day = day_of_month(date(year, number_of_month, busiest + 1))
        lines.append(
            _("Busiest day: {day}, {spent}.").format(
                day=day, spent=money(report.daily_micros[busiest])
            )
        )
    board = report.board
    if board.members:
        top = ", ".join(f"<@{m.user_id}> {money(m.cost_micros)}" for m in board.members)
        lines.append(_("Top members: {members}.").format(members=top))
    lines.append(
        _(
            "Bars: spend per UTC day (dashed: the budget's even pace); below: the running total "
            "against the budget. `/quota-admin top period: month` lists every figure."
        )
    )
    return "\n".join(lines)

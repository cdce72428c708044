"""What `/quota-admin` says about the server's spend, limits, blocks and jobs (moderators only:
dollars appear here, never in what members read).

Members, roles and channels are mentions, which render as names and never ping (replies go
out with no allowed mentions); anything a member or moderator typed is made inert (safe_text).
"""

from __future__ import annotations

from datetime import datetime

import discord

from bot.core.text import shorten
from bot.discord.quota_texts import COMMANDS, STATUS_WORDS, images, money, reason_text, usd_text
from bot.discord.texts import DESCRIPTION_EMBED_MAX, EMBED_COLOUR, safe_text
from bot.discord.wording import discord_timestamp, jump_url
from bot.ledger.report_sql import (
    JobDetail,
    Leaderboard,
    MonthReport,
    Period,
    PolicyEntry,
    PolicyKind,
    PolicyPage,
)

NO_SUCH_JOB = "There is no such job in this server."
JOB_PROMPT_PREVIEW = 1500
JOB_ERROR_PREVIEW = 500
SECTIONS: dict[PolicyKind, str] = {
    "member_limit": "Member limits",
    "role_limit": "Role limits",
    "block": "Blocks",
}


def month_name(month: str) -> str:
    """'2026-06' as 'June 2026'."""
    return datetime.strptime(month, "%Y-%m").strftime("%B %Y")


def until_text(until: datetime | None) -> str:
    """When a block ends: a date and time every client shows in its own zone, and how soon."""
    if until is None:
        return "until unblocked"
    return f"until {discord_timestamp(until, 'f')} ({discord_timestamp(until)})"


def top_text(
    board: Leaderboard, period: Period, month: str, spent: float, budget: float | None
) -> str:
    """The biggest image makers of the UTC day or month, the rest summed, and the month's spend.

    Every member's line, the others' line and `In all` add up to the ledger's totals.
    """
    when = "today" if period == "day" else "this month"
    spend = f"This month the server has spent {usd_text(spent)}"
    spend += "." if budget is None else f" of its {usd_text(budget)} budget."
    if not board.members:
        return f"Nobody has made images here {when}.\n{spend}"
    span = "UTC day" if period == "day" else f"{month_name(month)}, UTC"
    lines = [f"**Top members {when}** ({span}):"]
    lines += [
        f"{rank}. <@{member.user_id}>: {images(member.images)}, {money(member.cost_micros)}"
        for rank, member in enumerate(board.members, start=1)
    ]
    others = board.total_members - len(board.members)
    if others:
        rest_images = board.total_images - sum(m.images for m in board.members)
        rest_micros = board.total_micros - sum(m.cost_micros for m in board.members)
        people = "member" if others == 1 else "members"
        lines.append(f"… and {others} more {people}: {images(rest_images)}, {money(rest_micros)}")
    if period == "month" or others:
        lines.append(
            f"In all {when}: {images(board.total_images)}, {money(board.total_micros)} "
            f"by {board.total_members} {'member' if board.total_members == 1 else 'members'}."
        )
    return "\n".join([*lines, spend])


def policy_line(entry: PolicyEntry) -> str:
    """One override, role limit or block in force."""
    match entry.kind:
        case "member_limit":
            return f"<@{entry.target_id}>: {images(entry.images or 0)} a day"
        case "role_limit":
            return f"<@&{entry.target_id}>: {images(entry.images or 0)} a day"
    line = f"<@{entry.target_id}>: {until_text(entry.until)}"
    if entry.by is not None and entry.since is not None:
        line += f", by <@{entry.by}> {discord_timestamp(entry.since, 'd')}"
    if entry.reason:
        line += f" — {reason_text(entry.reason)}"
    return line


def policy_embed(page: PolicyPage, *, first: bool) -> discord.Embed:
    """A page of the server's member limits, role limits and blocks, under their headings."""
    counts = page.counts
    head = (
        f"Member limits: {counts['member_limit']} · role limits: {counts['role_limit']} · "
        f"blocks in force: {counts['block']}"
    )
    lines = [head]
    section: PolicyKind | None = None
    for entry in page.entries:
        if entry.kind != section:
            section = entry.kind
            lines.append(f"\n**{SECTIONS[section]}**")
        lines.append(policy_line(entry))
    if not page.entries:
        lines.append(
            "\nNo member limits, role limits or blocks here: everyone has the server default."
            if first
            else "\nNothing more."
        )
    description = shorten("\n".join(lines), DESCRIPTION_EMBED_MAX)
    return discord.Embed(
        title="Quota limits and blocks", description=description, colour=EMBED_COLOUR
    )


def job_embed(detail: JobDetail) -> discord.Embed:
    """Everything moderators may need about one job of their server (a safety report's, say)."""
    job = detail.record
    lines = [f"Member: <@{job.user_id}>" + (f" in <#{job.channel_id}>" if job.channel_id else "")]
    facts = [COMMANDS.get(job.kind, job.kind), job.model, job.size, job.quality]
    if job.params.get("private"):
        facts.append("private")
    lines.append("Request: " + " · ".join(str(fact) for fact in facts if fact))
    outcome = STATUS_WORDS.get(job.status, job.status)
    if job.delivery in ("pending", "waiting"):
        outcome = "made, waiting to be delivered"
    lines.append(f"Outcome: {outcome}")
    lines.append(
        f"Images: {job.images_asked} asked, {job.images_charged} made, {job.images_sent} delivered"
    )
    lines.append(f"Cost: {_cost(detail)}")
    if detail.failure or job.error:
        words = f" — {safe_text(shorten(job.error, JOB_ERROR_PREVIEW))}" if job.error else ""
        lines.append(f"Failure: {safe_text(detail.failure or 'unknown')}{words}")
    lines.append("Times: " + _times(detail))
    link = jump_url(job.guild_id, job.result_channel_id, job.result_message_id)
    if link is not None and not job.params.get("private"):
        lines.append(f"Result: [open the message]({link})")
    prompt = job.params.get("prompt")
    if isinstance(prompt, str) and prompt:
        lines.append(f"Prompt:\n>>> {safe_text(shorten(prompt, JOB_PROMPT_PREVIEW))}")
    description = shorten("\n".join(lines), DESCRIPTION_EMBED_MAX)
    return discord.Embed(title=f"Job #{job.id}", description=description, colour=EMBED_COLOUR)


def _cost(detail: JobDetail) -> str:
    job = detail.record
    if job.status in ("queued", "running"):
        return f"up to {money(job.cost_held_micros)} held"
    text = f"{money(job.cost_charged_micros)} charged"
    if job.cost_actual_micros > job.cost_charged_micros:
        text += f" (WisGate's usage said {money(job.cost_actual_micros)}; the hold capped it)"
    return text


def _times(detail: JobDetail) -> str:
    job = detail.record
    moments = [("asked", job.created_at), ("started", job.started_at), ("ended", job.ended_at),
               ("delivered", job.delivered_at)]  # fmt: skip
    return ", ".join(
        f"{what} {discord_timestamp(when, 'f' if what == 'asked' else 'T')}"
        for what, when in moments
        if when is not None
    )


def report_text(report: MonthReport) -> str:
    """The words under the month's picture: the total, the budget, the busiest day, the top."""
    spent = money(report.charged_micros)
    lines = [f"Spent in {month_name(report.month)} (UTC): {spent}"]
    if report.budget_micros is None:
        lines[0] += " (no monthly budget)."
    else:
        share = report.charged_micros * 100 // report.budget_micros
        lines[0] += f" of the {money(report.budget_micros)} budget ({share}%)."
    busiest = max(range(len(report.daily_micros)), key=lambda i: report.daily_micros[i])
    if report.daily_micros[busiest]:
        lines.append(
            f"Busiest day: the {_ordinal(busiest + 1)}, {money(report.daily_micros[busiest])}."
        )
    board = report.board
    if board.members:
        top = ", ".join(f"<@{m.user_id}> {money(m.cost_micros)}" for m in board.members)
        lines.append(f"Top members: {top}.")
    lines.append(
        "Bars: spend per UTC day (dashed: the budget's even pace); below: the running total "
        "against the budget. `/quota-admin top period: month` lists every figure."
    )
    return "\n".join(lines)


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"

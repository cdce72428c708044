"""What the quota commands say, and how they answer (not a cog: shared by the quota cogs).

Every value a moderator changes is shown as `old → new`; members are `<@id>` mentions, which
render as names and never ping because every reply goes out with no allowed mentions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import discord

from bot.core.actions import subject_of
from bot.core.text import shorten
from bot.discord.lineage_texts import made_how
from bot.discord.replies import NO_PINGS, defer
from bot.discord.result_texts import is_private
from bot.discord.texts import safe_text
from bot.discord.wording import block_sentence, discord_timestamp, jump_url
from bot.i18n import N_, _, ngettext
from bot.i18n.numbers import money as locale_money
from bot.i18n.numbers import number
from bot.ledger.facade import JobRecord, MemberStatus
from bot.ledger.reports import AuditEntry

ARROW = "→"
REASON_PREVIEW = 100
PROMPT_PREVIEW = 70
# Where a member's images a day come from, for moderators (translate where used).
LIMIT_SOURCES = {
    "member": N_("set for this member"),
    "role": N_("from a role"),
    "guild": N_("the server default"),
    "global": N_("the bot default"),
}
STATUS_WORDS = {
    "succeeded": N_("delivered"),
    "failed": N_("failed, refunded"),
    "cancelled": N_("cancelled, refunded"),
    "expired": N_("expired, refunded"),
    "interrupted": N_("interrupted by a restart, refunded"),
    "queued": N_("waiting"),
    "running": N_("in progress"),
}
COMMANDS = {"generate": "/imagine", "edit": "/edit"}


async def acknowledge(interaction: discord.Interaction[Any]) -> None:
    """Defer privately unless already acknowledged: before any database read (3 s rule)."""
    if not interaction.response.is_done():
        await defer(interaction, private=True)


async def answer(
    interaction: discord.Interaction[Any],
    content: str | None = None,
    *,
    embed: discord.Embed | None = None,
    view: discord.ui.View | None = None,
) -> discord.InteractionMessage:
    """Show the member alone this answer: defer privately if nobody has, then fill it in."""
    await acknowledge(interaction)
    return await interaction.edit_original_response(
        content=None if content is None else content[:2000],
        embed=embed,
        view=view,
        allowed_mentions=NO_PINGS,
    )


def images(count: int) -> str:
    """`1 image`, `3 images`."""
    return ngettext("{count} image", "{count} images", count).format(count=number(count))


def money(micros: int) -> str:
    """Micro-dollars for people: format_usd, with a plain $0.00 for nothing."""
    return locale_money(micros, plain_zero=True)


def usd_text(amount: float | None, none: str | None = None) -> str:
    """A USD amount (as the ledger's Changes carry it) for people; `none` (or "none") for no
    value."""
    if amount is None:
        return _("none") if none is None else none
    return money(round(amount * 1_000_000))


def reason_text(reason: str) -> str:
    """A moderator's free text, shortened and made inert."""
    return safe_text(shorten(reason, REASON_PREVIEW))


def _limit(value: Any, none: str) -> str:
    return none if value is None else images(int(value))


def _block(value: Any) -> str:
    if isinstance(value, dict):  # a block that ends by itself (admin_sql.block_value)
        ends = discord_timestamp(datetime.fromisoformat(value["until"]), "f")
        return _("blocked until {when} ({reason})").format(
            when=ends, reason=reason_text(str(value["reason"]))
        )
    if value is None:
        return _("not blocked")
    return _("blocked ({reason})").format(reason=reason_text(str(value)))


def _mention(kind: str, value: Any) -> str:
    if value is None:
        return _("none")
    return f"<@&{value}>" if kind == "role" else f"<#{value}>"


def _count(value: Any) -> str:
    return number(int(value)) if isinstance(value, int) else str(value)


def _describe(action: str, target_id: int, bot_default: int) -> tuple[str, Callable[[Any], str]]:
    """What a change is about, and how its values read."""
    member = f"<@{target_id}>"
    default = _("the bot default ({images})").format(images=images(bot_default))
    match action:
        case "member_limit":
            label = _("{member}'s daily limit").format(member=member)
            return label, lambda v: _limit(v, _("no override"))
        case "role_limit":
            label = _("Daily limit for {role}").format(role=f"<@&{target_id}>")
            return label, lambda v: _limit(v, _("none"))
        case "guild_default":
            return _("Server default daily limit"), lambda v: _limit(v, default)
        case "grant":
            return _("{member}'s extra images today").format(member=member), _count
        case "reset_usage":
            return _("{member}'s images used today").format(member=member), _count
        case "block" | "unblock":
            return member, _block
        case "budget":
            return _("Monthly image budget"), usd_text
        case "moderator_role":
            return _("Moderator role"), lambda v: _mention("role", v)
        case "log_channel":
            return _("Log channel"), lambda v: _mention("channel", v)
        case "term_add" | "term_remove":
            return _("Blocked term"), lambda v: _("none") if v is None else safe_text(str(v))
    return f"{action} ({target_id})", str


def change_text(action: str, target_id: int, old: Any, new: Any, *, bot_default: int) -> str:
    """One change as `what: old → new` (replies, the log channel and the audit log alike)."""
    label, show = _describe(action, target_id, bot_default)
    return f"{label}: {show(old)} {ARROW} {show(new)}"


def audit_line(entry: AuditEntry, *, bot_default: int) -> str:
    """One audit row: when, who, and the change."""
    text = change_text(entry.action, entry.target_id, entry.old, entry.new, bot_default=bot_default)
    when = discord_timestamp(entry.created_at, "f")
    return _("`#{id}` {when} by {moderator}: {change}").format(
        id=entry.id, when=when, moderator=f"<@{entry.actor_id}>", change=text
    )


def status_text(status: MemberStatus, *, who: str) -> str:
    """Where a member stands today, for moderators (`who` names the member)."""
    if status.blocked:
        reason = ""
        if status.block_reason:
            reason = " " + _("Reason: {reason}").format(reason=reason_text(status.block_reason))
        if status.blocked_until is None:
            head = _("{member} is blocked from making images here.").format(member=who)
        else:
            head = _("{member} is blocked from making images here until {when}.").format(
                member=who, when=discord_timestamp(status.blocked_until, "f")
            )
        head += reason
    else:
        head = _("{member} can make **{images}** more today.").format(
            member=who, images=images(status.remaining)
        )
    lines = [head]
    if status.held:
        used = _("Used today: {used} of {allowance} ({held} being made now)")
    else:
        used = _("Used today: {used} of {allowance}")
    used = used.format(
        used=number(status.used), allowance=number(status.allowance), held=number(status.held)
    )
    lines.append(
        _("{used}; resets {when}.").format(used=used, when=discord_timestamp(status.resets_at))
    )
    source = _(LIMIT_SOURCES[status.limit_source])
    lines.append(
        _("Daily limit: {images} ({source}){beyond}.").format(
            images=images(status.limit), source=source, beyond=_beyond(status)
        )
    )
    if status.guild_id is not None:
        lines.append(_month_line(status))
    return "\n".join(lines)


def _beyond(status: MemberStatus) -> str:
    """Today's extra images, and the owner's ceiling when it cuts the day's images short."""
    text = ""
    if status.granted:
        text = _(", plus {count} extra today").format(count=number(status.granted))
    if status.ceiling is not None and status.limit + status.granted > status.ceiling:
        text += _("; the bot's owner allows at most {images} a day").format(
            images=images(status.ceiling)
        )
    return text


def _month_line(status: MemberStatus) -> str:
    mine = money(status.month_spend_micros)
    guild = money(status.guild_month_spend_micros)
    if status.guild_budget_micros is None:
        return _(
            "Their spend here this month: {spent}; the server's: {server} (no monthly budget)."
        ).format(spent=mine, server=guild)
    return _(
        "Their spend here this month: {spent}; the server's: {server} of its {budget} "
        "monthly budget."
    ).format(spent=mine, server=guild, budget=money(status.guild_budget_micros))


# Where a member's images a day come from, in their words (/quota).
MEMBER_SOURCES = {
    "member": N_("set for you by a moderator"),
    "role": N_("from one of your roles"),
    "guild": N_("this server's default"),
    "global": N_("the bot's default"),
}


def _used_today(status: MemberStatus, *, in_dms: bool = False) -> str:
    """`You have used 2 of your 20 images today: 18 left. They reset <t:…:R>.`"""
    if in_dms:
        text = _(
            "In direct messages you have used {used} of your {allowance} today{made}: "
            "**{remaining} left**. They reset {when}."
        )
    else:
        text = _(
            "You have used {used} of your {allowance} today{made}: **{remaining} left**. "
            "They reset {when}."
        )
    made = ""
    if status.held:
        made = " " + _("({count} more being made)").format(count=number(status.held))
    return text.format(
        used=number(status.used),
        allowance=images(status.allowance),
        made=made,
        remaining=number(status.remaining),
        when=discord_timestamp(status.resets_at),
    )


def member_status_text(status: MemberStatus, *, budget: bool = False) -> str:
    """/quota in a server, for the member asking: their images today, where their number comes
    from; the server's monthly budget (dollars) only with `budget`, for moderators."""
    lines = []
    if status.blocked:
        reason = reason_text(status.block_reason) if status.block_reason else None
        lines.append(block_sentence(status.blocked_until, reason, here=True))
    lines.append(_used_today(status))
    source = _(MEMBER_SOURCES[status.limit_source])
    lines.append(
        _("Your {images} a day: {source}{beyond}.").format(
            images=images(status.limit), source=source, beyond=_beyond(status)
        )
    )
    if budget:
        lines.append(budget_line(status))
    return "\n".join(lines)


def budget_line(status: MemberStatus) -> str:
    """The server's spend this month against its budget (for moderators)."""
    spent = money(status.guild_month_spend_micros)
    if status.guild_budget_micros is None:
        return _("This server has spent {spent} this month (no monthly image budget).").format(
            spent=spent
        )
    return _(
        "This server has spent {spent} of its {budget} monthly image budget this month."
    ).format(spent=spent, budget=money(status.guild_budget_micros))


def dm_status_text(status: MemberStatus) -> str:
    """/quota in direct messages (and servers without the bot): the member's images there."""
    return (
        _used_today(status, in_dms=True)
        + "\n"
        + _("Each server gives its own images a day: use `/quota` there to see yours.")
    )


def _where_link(record: JobRecord) -> str | None:
    """A link to the result that the member can open, or None: a private result in the channel
    was an ephemeral message, which has no link."""
    delivered_elsewhere = record.result_channel_id != record.channel_id
    if is_private(record) and not delivered_elsewhere:
        return None
    # Delivered by DM (the channel or the interaction could not take it): a link under @me.
    guild = None if delivered_elsewhere else record.guild_id
    return jump_url(guild, record.result_channel_id, record.result_message_id)


def history_line(record: JobRecord) -> str:
    """One job: number, when, command, status, images, a link or "private", the prompt."""
    status = _(STATUS_WORDS[record.status]) if record.status in STATUS_WORDS else record.status
    if record.delivery in ("pending", "waiting"):
        status = _("made, waiting to be delivered")
    parts = [
        f"**#{record.id}** {discord_timestamp(record.created_at)}",
        made_how(record) or COMMANDS.get(record.kind, record.kind),
        status,
    ]
    if record.status in ("queued", "running"):
        parts.append(_("{images} asked").format(images=images(record.images_asked)))
    else:
        parts.append(images(record.images_charged))
    link = _where_link(record)
    if link is not None:
        parts.append("[{open}]({link})".format(open=_("open"), link=link))
    elif is_private(record) and record.images_charged:
        parts.append(_("private"))
    line = " · ".join(parts)
    prompt = subject_of(record.params)  # the member's words, before an action's instruction
    if prompt:
        line += f"\n> {safe_text(shorten(prompt, PROMPT_PREVIEW))}"
    return line


def history_embed(records: Sequence[JobRecord], *, where: str, first: bool = True) -> discord.Embed:
    """A page of the member's image requests (newest first) as one embed."""
    title = _("Your image requests {where}").format(where=where)
    if not first:
        title += " " + _("(older)")
    if not records:
        nothing = _("None yet.") if first else _("No older ones.")
        return discord.Embed(title=title, description=nothing)
    return discord.Embed(title=title, description="\n".join(history_line(r) for r in records))

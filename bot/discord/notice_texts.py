"""What the bot says on its own, to moderators (log channel) and to members (restart notices).

Pure texts, in the language being spoken: bot/discord/notices.py finds where to send them and
speaks the server's language (its preferred locale) around them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.core.text import shorten
from bot.discord.texts import safe_text
from bot.discord.wording import discord_timestamp, format_usd
from bot.i18n import N_, _, ngettext
from bot.i18n.numbers import number
from bot.ledger.facade import CapReached, JobRecord, Settlement
from bot.ledger.models import next_month
from bot.ledger.moderation import RejectionReport

COMMAND_NAMES = {"generate": "/imagine", "edit": "/edit"}

PROMPT_PREVIEW = 80  # characters of the prompt a DM notice quotes


def budget_alert_text(settlement: Settlement, now: datetime) -> str:
    """The 80% alert: what was spent, of what budget, and what happens at 100%."""
    budget = settlement.guild_budget_micros or 0
    spent = settlement.guild_month_spend_micros
    percent = spent * 100 // budget if budget else 100
    turns = discord_timestamp(next_month(now))
    return _(
        "**Image budget alert:** this server has spent {spent} of its {budget} monthly image "
        "budget ({percent}%). When it is used up, new requests are refused until a moderator "
        "raises it with `/quota-admin budget` or the month turns {when}."
    ).format(
        spent=format_usd(spent), budget=format_usd(budget), percent=number(percent), when=turns
    )


_CAP_NAMES = {
    "operator_daily": (N_("daily spending cap across all servers"), "OPERATOR_DAILY_USD"),
    "operator_monthly": (N_("monthly spending cap across all servers"), "OPERATOR_MONTHLY_USD"),
    "account_daily": (N_("daily spending cap per member account"), "ACCOUNT_DAILY_USD"),
    "personal_monthly": (N_("monthly cap for direct messages"), "PERSONAL_MONTHLY_USD"),
}


def cap_alert_text(error: CapReached) -> str:
    """The moderators' note that one of the bot owner's caps refused a request here."""
    what, setting = _CAP_NAMES[error.cap]
    return _(
        "**Spending cap:** the bot owner's {cap} ({setting}) has been reached, so new image "
        "requests are refused until it resets {when}. Only the bot's owner can change it. You "
        "will not hear about it again until then."
    ).format(cap=_(what), setting=setting, when=discord_timestamp(error.resets_at))


def rejection_report_text(report: RejectionReport) -> str:
    """The moderators' note about a member the safety system keeps rejecting (no prompts)."""
    jobs = ", ".join(f"#{job_id}" for job_id in report.job_ids[-10:])
    return _(
        "**Moderation:** the image service's safety system rejected {count} requests by "
        "{member} within the last hour (jobs {jobs}). Nothing was charged for them. You will "
        "not hear about this member again for an hour; `/quota-admin block` stops their "
        "requests here."
    ).format(count=number(report.rejections), member=f"<@{report.user_id}>", jobs=jobs)


def restart_text(records: Sequence[JobRecord], *, in_channel: bool) -> str:
    """Tell a member their requests were cut off by a restart and refunded.

    Channel notices never quote prompts: the request may have been a private one.
    """
    first = records[0]
    when = discord_timestamp(first.created_at)
    if len(records) == 1:
        text = _(
            "The bot restarted before your {command} request from {when} finished, so it was "
            "refunded: nothing was charged and you can ask again."
        ).format(command=COMMAND_NAMES.get(first.kind, first.kind), when=when)
    else:
        text = ngettext(
            "The bot restarted before your {count} image requests (the first from {when}) "
            "finished, so they were refunded: nothing was charged and you can ask again.",
            "The bot restarted before your {count} image requests (the first from {when}) "
            "finished, so they were refunded: nothing was charged and you can ask again.",
            len(records),
        ).format(count=number(len(records)), when=when)
    if in_channel:
        return f"<@{records[0].user_id}> {text}"
    prompts = [
        f"> {safe_text(shorten(str(record.params['prompt']), PROMPT_PREVIEW))}"
        for record in records[:5]
        if isinstance(record.params.get("prompt"), str)
    ]
    return "\n".join([text, *prompts])[:2000]


def interrupted_text(record: JobRecord) -> str:
    """Tell a member, on their own request's message, that a restart cut it off."""
    return _(
        "The bot restarted before this {command} request finished: it was interrupted by the "
        "restart and refunded, so nothing was charged and you can ask again."
    ).format(command=COMMAND_NAMES.get(record.kind, record.kind))


def account_alert_text(kind: str) -> str:
    """The moderators' note that the bot's image service account cannot serve anyone."""
    if kind == "upstream_credit":
        return _(
            "**Image service:** the bot's WisGate account has run out of credit, so new image "
            "requests are refused and refunded. Only the bot's owner can fix this (WisGate's "
            "dashboard, then WISGATE_API_KEY). Members are told nothing was charged."
        )
    return _(
        "**Image service:** the bot's WisGate account refused the bot's API key, so every "
        "image request fails and is refunded. Only the bot's owner can fix this (WisGate's "
        "dashboard, then WISGATE_API_KEY). Members are told nothing was charged."
    )

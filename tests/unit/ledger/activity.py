"""A ledger filled the way the bot fills it: every operation, so every table has rows.

Used to check that moving a database (migrate-to-postgres) keeps everything: reservations
settled, refunded, cancelled and left open (with their interaction tokens), deliveries,
moderators' limits, grants, resets, blocks, budgets and settings with their audit rows,
blocked terms, a rejection report and a cap alert, over two days, in guilds and in DMs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bot.core.models import Usage
from bot.core.prices import default_prices
from bot.ledger.admin import LedgerAdmin
from bot.ledger.facade import InteractionToken, JobSpec, Ledger, Requester
from bot.ledger.moderation import LedgerModeration
from bot.ledger.store import Store
from tests.unit.ledger.support import Clock

START = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
# Every table fill() writes rows in (a new ledger table belongs here, with its activity).
FILLED = (
    "jobs", "guild_settings", "role_limits", "member_policies", "member_usage", "guild_spend",
    "audit_log", "blocked_terms", "moderation_reports", "operator_spend", "account_spend",
    "cap_alerts", "interaction_tokens",
)  # fmt: skip
GUILDS = (111, 112)
MODERATOR = 9


def _spec(user: int, guild: int | None, images: int = 1, token: str | None = None) -> JobSpec:
    who = Requester(user_id=user, guild_id=guild, role_ids=(70,), channel_id=333)
    interaction = None if token is None else InteractionToken(42, token, START, locale="de")
    params = {"prompt": f"a fox for {user}", "n": images}
    return JobSpec(who, "generate", "gpt-image-1", images, "1024x1024", "low", params,
                   interaction=interaction)  # fmt: skip


async def fill(store: Store) -> Ledger:
    """Run a day and a half of varied activity on `store`; the ledger used."""
    clock = Clock(START)
    ledger = Ledger(store, default_daily_images=6, prices=default_prices(), clock=clock)
    admin, moderation = LedgerAdmin(ledger), LedgerModeration(ledger)
    for guild in GUILDS:
        await admin.set_budget(MODERATOR, guild, Decimal(25))
        await admin.set_role_limit(MODERATOR, guild, 70, 8)
        await admin.set_guild_settings(MODERATOR, guild, moderator_role_id=5, log_channel_id=6)
        await moderation.add_term(MODERATOR, guild, "forbidden")
    await admin.set_member_limit(MODERATOR, GUILDS[0], 1, 3)
    await admin.grant(MODERATOR, GUILDS[0], 2, 4)
    await admin.block(MODERATOR, GUILDS[1], 3, "spam", timedelta(days=1))
    for day in range(2):
        for user in (1, 2, 4, 5):
            for guild in (*GUILDS, None):
                await _jobs(ledger, user, guild, day)
        clock.now += timedelta(hours=20)
    await admin.reset_usage(MODERATOR, GUILDS[0], 2)
    await admin.unblock(MODERATOR, GUILDS[1], 3)
    for _ in range(3):  # three safety rejections make a report
        job = await ledger.reserve(_spec(5, GUILDS[1]))
        await ledger.refund(job.job_id, "rejected", failure="ContentRejected")
    assert await moderation.rejection_report(GUILDS[1], 5) is not None
    await ledger.first_alert("operator_daily", "2025-03-14", None)
    await ledger.reserve(_spec(4, GUILDS[0], token="open-token-1"))  # left open, as at a stop
    return ledger


async def _jobs(ledger: Ledger, user: int, guild: int | None, day: int) -> None:
    """Three jobs: one settled and delivered, one refunded, one settled and waiting."""
    done = await ledger.reserve(_spec(user, guild, 2, token=f"t-{user}-{guild}-{day}"))
    await ledger.start(done.job_id)
    usage = Usage(input_text_tokens=10 + user, output_tokens=272 * 2)
    await ledger.settle(done.job_id, 2, usage)
    await ledger.delivered(done.job_id, 2, 800 + user, 900 + user + day)
    failed = await ledger.reserve(_spec(user, guild))
    await ledger.refund(failed.job_id, "RateLimited: slow down", failure="RateLimited")
    waiting = await ledger.reserve(_spec(user, guild))
    await ledger.settle(waiting.job_id, 1, None)
    await ledger.delivered(waiting.job_id, 0)

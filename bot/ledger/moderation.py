"""Moderation in the ledger: each guild's blocked terms, and reports of repeated rejections.

Adding or removing a term and its audit row are one transaction; so are counting a member's
recent safety-system rejections and recording that they were reported, so two refunds
finishing at once never report the same member twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from bot.core.errors import BadValue
from bot.core.terms import MAX_TERMS_PER_GUILD, clean_term, find_blocked
from bot.ledger import quotas as ledger_sql
from bot.ledger.admin import Change
from bot.ledger.locks import lock_name
from bot.ledger.models import DM_SCOPE, iso, scope_of
from bot.ledger.reports import LedgerReports, guild_only, write_audit
from bot.ledger.store import Tx

REPORT_WINDOW = timedelta(hours=1)
REJECTIONS_TO_REPORT = 3
REJECTED = "ContentRejected"  # jobs.failure of a refund the safety system caused


@dataclass(frozen=True, slots=True)
class RejectionReport:
    """A member to report: how many rejections since the window opened, and the job ids."""

    guild_id: int
    user_id: int
    rejections: int
    job_ids: tuple[int, ...]


async def insert_term(
    tx: Tx, *, scope: int, term: str, actor_id: int, now: datetime
) -> Change[str | None]:
    """Block a term and audit it; unchanged (audit id 0) when it was already blocked."""
    await lock_name(tx, f"terms:{scope}")  # the count and the check hold until commit
    if await _has_term(tx, scope, term):
        return Change("term_add", "guild", scope, term, term, 0)
    count = await tx.value("SELECT COUNT(*) FROM blocked_terms WHERE guild_id = ?", scope)
    if count >= MAX_TERMS_PER_GUILD:
        raise BadValue("terms_full", most=MAX_TERMS_PER_GUILD)
    await tx.run(
        "INSERT INTO blocked_terms (guild_id, term, added_by, added_at) VALUES (?, ?, ?, ?)",
        scope, term, actor_id, iso(now),
    )  # fmt: skip
    audit_id = await write_audit(
        tx, guild_id=scope, actor_id=actor_id, action="term_add",
        target=("guild", scope), old=None, new=term, now=now,
    )  # fmt: skip
    return Change("term_add", "guild", scope, None, term, audit_id)


async def delete_term(
    tx: Tx, *, scope: int, term: str, actor_id: int, now: datetime
) -> Change[str | None]:
    """Unblock a term and audit it; unchanged (audit id 0) when it was not blocked."""
    await lock_name(tx, f"terms:{scope}")
    if not await _has_term(tx, scope, term):
        return Change("term_remove", "guild", scope, None, None, 0)
    await tx.run("DELETE FROM blocked_terms WHERE guild_id = ? AND term = ?", scope, term)
    audit_id = await write_audit(
        tx, guild_id=scope, actor_id=actor_id, action="term_remove",
        target=("guild", scope), old=term, new=None, now=now,
    )  # fmt: skip
    return Change("term_remove", "guild", scope, term, None, audit_id)


async def report_rejections(
    tx: Tx, *, scope: int, user_id: int, now: datetime
) -> RejectionReport | None:
    """The member's report if due (see LedgerModeration.rejection_report), recorded as sent."""
    await lock_name(tx, f"rejections:{scope}:{user_id}")  # two refunds never report twice
    last = await tx.value(
        "SELECT MAX(reported_at) FROM moderation_reports WHERE guild_id = ? AND user_id = ?",
        scope, user_id,
    )  # fmt: skip
    window_start = iso(now - REPORT_WINDOW)
    if last is not None and last > window_start:
        return None
    since = max(window_start, last or "")
    rows = await tx.all(
        "SELECT id FROM jobs WHERE guild_id = ? AND user_id = ? AND ended_at > ? "
        "AND failure = ? ORDER BY id",
        scope, user_id, since, REJECTED,
    )  # fmt: skip
    ids = tuple(row[0] for row in rows)
    if len(ids) < REJECTIONS_TO_REPORT:
        return None
    await tx.run(
        "INSERT INTO moderation_reports (guild_id, user_id, rejections, reported_at) "
        "VALUES (?, ?, ?, ?)",
        scope, user_id, len(ids), iso(now),
    )  # fmt: skip
    return RejectionReport(scope, user_id, len(ids), ids)


class LedgerModeration(LedgerReports):
    """Blocked terms per guild (audited changes) and once-an-hour rejection reports."""

    async def terms(self, guild_id: int) -> list[str]:
        """The guild's blocked terms, alphabetically."""
        scope = guild_only(guild_id)

        body = partial(ledger_sql.guild_terms, scope=scope)
        return await self.ledger.transaction(body, write=False)

    async def blocked_term(self, guild_id: int | None, prompt: str) -> str | None:
        """The first of the guild's terms the prompt contains; None outside guilds or if none."""
        if scope_of(guild_id) == DM_SCOPE:
            return None  # direct messages and user installs have no moderators to set terms
        terms = await self.terms(scope_of(guild_id))
        return find_blocked(prompt, terms) if terms else None

    async def add_term(self, actor_id: int, guild_id: int, raw: str) -> Change[str | None]:
        """Block a term; old is None, or the term when it was already blocked (no audit row)."""
        scope, term, now = guild_only(guild_id), clean_term(raw), self.ledger.now()
        body = partial(insert_term, scope=scope, term=term, actor_id=actor_id, now=now)
        return await self.ledger.transaction(body)

    async def remove_term(self, actor_id: int, guild_id: int, raw: str) -> Change[str | None]:
        """Unblock a term; old is None when it was not blocked (nothing changed, no audit row)."""
        scope, term, now = guild_only(guild_id), clean_term(raw), self.ledger.now()
        body = partial(delete_term, scope=scope, term=term, actor_id=actor_id, now=now)
        return await self.ledger.transaction(body)

    async def rejection_report(self, guild_id: int, user_id: int) -> RejectionReport | None:
        """A report to send if the member reached the rejection threshold; recorded as sent.

        Nothing within an hour of the member's last report (one report per hour window).
        Otherwise counts their jobs refunded as ContentRejected in the last hour and after the
        last report, so each report covers rejections no earlier report mentioned.
        """
        body = partial(
            report_rejections, scope=guild_only(guild_id), user_id=user_id, now=self.ledger.now()
        )
        return await self.ledger.transaction(body)


async def _has_term(tx: Tx, guild_id: int, term: str) -> bool:
    row = await tx.one(
        "SELECT 1 FROM blocked_terms WHERE guild_id = ? AND term = ?", guild_id, term
    )
    return row is not None

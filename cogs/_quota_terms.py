"""Texts for `/quota-admin terms`: what a blocked term matches, and the replies (not a cog)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.terms import MAX_TERMS_PER_GUILD, WILDCARD
from bot.i18n import _
from bot.i18n.numbers import number
from bot.ledger.admin import Change

LIST_MAX = 1900  # characters of terms in one reply; Discord's content limit is 2000


def shown(term: str) -> str:
    """A term as code, so it is never read as markdown or a mention."""
    return "`" + term.replace("`", "'") + "`"


def rule(term: str) -> str:
    """What a stored term matches, in words."""
    starts, ends = term.startswith(WILDCARD), term.endswith(WILDCARD)
    if starts and ends:
        return _("anywhere, even inside words")
    if ends:
        return _("words starting with it")
    if starts:
        return _("words ending with it")
    return _("the whole word or phrase")


def added_text(change: Change[str | None]) -> str:
    """The moderator's reply to `terms add`."""
    term = str(change.new)
    if change.old is not None:
        return _("{term} was already blocked: nothing changed.").format(term=shown(term))
    return _(
        "Blocked term added: {term} (matches {rule}, ignoring case and accents). "
        "Prompts containing it are refused here before anything is charged."
    ).format(term=shown(term), rule=rule(term))


def removed_text(change: Change[str | None], typed: str) -> str:
    """The moderator's reply to `terms remove`."""
    if change.old is None:
        return _(
            "{term} was not blocked: nothing changed. "
            "`/quota-admin terms list` shows the blocked terms."
        ).format(term=shown(typed))
    return _("Blocked term removed: {term}. Prompts may contain it again.").format(
        term=shown(str(change.old))
    )


def log_text(actor_id: int, change: Change[str | None]) -> str:
    """The log channel's note of a change (speak the server's language around it)."""
    if change.new is not None:
        return _("Blocked terms: {moderator} added {term}.").format(
            moderator=f"<@{actor_id}>", term=shown(change.new)
        )
    return _("Blocked terms: {moderator} removed {term}.").format(
        moderator=f"<@{actor_id}>", term=shown(str(change.old))
    )


def list_text(terms: Sequence[str]) -> str:
    """The guild's blocked terms, as many as fit in one message."""
    if not terms:
        return _(
            "No terms are blocked here. Add one with `/quota-admin terms add` (up to {most})."
        ).format(most=number(MAX_TERMS_PER_GUILD))
    head = _(
        "Blocked terms here ({count} of at most {most}); `*` at a start or "
        "end matches parts of words:"
    ).format(count=number(len(terms)), most=number(MAX_TERMS_PER_GUILD))
    lines: list[str] = []
    used = len(head)
    for term in terms:
        line = shown(term)
        if used + len(line) + 2 > LIST_MAX:
            more = len(terms) - len(lines)
            lines.append(_("… and {count} more").format(count=number(more)))
            break
        lines.append(line)
        used += len(line) + 2
    return head + "\n" + ", ".join(lines)

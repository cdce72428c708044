"""Texts for `/quota-admin terms`: what a blocked term matches, and the replies (not a cog)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.terms import MAX_TERMS_PER_GUILD, WILDCARD
from bot.ledger.admin import Change

LIST_MAX = 1900  # characters of terms in one reply; Discord's content limit is 2000


def shown(term: str) -> str:
    """A term as code, so it is never read as markdown or a mention."""
    return "`" + term.replace("`", "'") + "`"


def rule(term: str) -> str:
    """What a stored term matches, in words."""
    starts, ends = term.startswith(WILDCARD), term.endswith(WILDCARD)
    if starts and ends:
        return "anywhere, even inside words"
    if ends:
        return "words starting with it"
    if starts:
        return "words ending with it"
    return "the whole word or phrase"


def added_text(change: Change[str | None]) -> str:
    """The moderator's reply to `terms add`."""
    term = str(change.new)
    if change.old is not None:
        return f"{shown(term)} was already blocked: nothing changed."
    return (
        f"Blocked term added: {shown(term)} (matches {rule(term)}, ignoring case and accents). "
        "Prompts containing it are refused here before anything is charged."
    )


def removed_text(change: Change[str | None], typed: str) -> str:
    """The moderator's reply to `terms remove`."""
    if change.old is None:
        return (
            f"{shown(typed)} was not blocked: nothing changed. "
            "`/quota-admin terms list` shows the blocked terms."
        )
    return f"Blocked term removed: {shown(str(change.old))}. Prompts may contain it again."


def log_text(actor_id: int, change: Change[str | None]) -> str:
    """The log channel's note of a change."""
    if change.new is not None:
        return f"Blocked terms: <@{actor_id}> added {shown(change.new)}."
    return f"Blocked terms: <@{actor_id}> removed {shown(str(change.old))}."


def list_text(terms: Sequence[str]) -> str:
    """The guild's blocked terms, as many as fit in one message."""
    if not terms:
        return (
            "No terms are blocked here. Add one with `/quota-admin terms add` "
            f"(up to {MAX_TERMS_PER_GUILD})."
        )
    head = (
        f"Blocked terms here ({len(terms)} of at most {MAX_TERMS_PER_GUILD}); `*` at a start or "
        "end matches parts of words:"
    )
    lines: list[str] = []
    used = len(head)
    for term in terms:
        line = shown(term)
        if used + len(line) + 2 > LIST_MAX:
            lines.append(f"… and {len(terms) - len(lines)} more")
            break
        lines.append(line)
        used += len(line) + 2
    return head + "\n" + ", ".join(lines)

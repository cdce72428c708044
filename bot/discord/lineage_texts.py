"""A result's lineage in members' words: how a job was made from another (/history), and the
chain of prompts, actions and sizes it came from (Details). Pure: the caller reads the jobs.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.actions import action_of, action_words, parent_of, subject_of
from bot.core.text import shorten
from bot.discord.result_texts import is_private
from bot.discord.texts import FIELD_VALUE_MAX, safe_text
from bot.i18n import _
from bot.ledger.facade import JobRecord

CHAIN_MAX = 5  # ancestors shown in Details; an older start is shown as "…"
CHAIN_PROMPT = 80
FIRST_WORDS = {"generate": "Imagine", "edit": "Edit"}


def made_how(record: JobRecord) -> str | None:
    """`Zoom out 2x of #12, image 3` for a job made from a result; None for any other."""
    parent, action = parent_of(record.params), action_of(record.params)
    if parent is None or action is None:
        return None
    sources = record.params.get("sources")
    words = safe_text(action_words(action))
    # The image number where the one source is the parent's (a Re-roll's sources are not).
    if isinstance(sources, list) and len(sources) == 1 and isinstance(sources[0], list):
        source = sources[0]
        if len(source) == 2 and source[0] == parent and isinstance(source[1], int):
            return _("{action} of #{job}, image {image}").format(
                action=words, job=parent, image=source[1] + 1
            )
    return _("{action} of #{job}").format(action=words, job=parent)


def chain_text(chain: Sequence[JobRecord], record: JobRecord, viewer: int, *, more: bool) -> str:
    """One line a job, oldest first, ending with `record`: number, how it was made, size,
    prompt (another member's private prompt is not shown); `more`: older ones left out."""
    lines = ["…"] if more else []
    lines += [_line(item, record, viewer) for item in (*chain, record)]
    return shorten("\n".join(lines), FIELD_VALUE_MAX)


def _line(item: JobRecord, record: JobRecord, viewer: int) -> str:
    how = made_how(item) or FIRST_WORDS.get(item.kind, item.kind)
    parts = [f"**#{item.id}**{' (this)' if item is record else ''}", how]
    size = item.size or item.params.get("size")
    if isinstance(size, str) and size != "auto":
        parts.append(safe_text(size))
    # Another member's prompt only where it was posted publicly in this server.
    hidden = is_private(item) or item.guild_id != record.guild_id
    if hidden and item.user_id != viewer:
        parts.append("*private*")
    else:
        prompt = " ".join(subject_of(item.params).split())
        parts.append(f'"{safe_text(shorten(prompt, CHAIN_PROMPT))}"')
    return " · ".join(parts)

"""What the member reads about a job: the result embed, the status line, and member text made
safe (no pings, no markdown) and short enough for Discord's limits."""

from __future__ import annotations

from typing import Literal

import discord

from bot.core.models import ImageRequest, ImageResult
from bot.core.text import (
    fix_surrogates,
    format_duration,
    hours_text,
    minutes_text,
    seconds_text,
    shorten,
)
from bot.core.used import used_settings
from bot.i18n import N_, _, ngettext
from bot.i18n.numbers import number
from bot.jobs.durations import Typical

# Discord's limits, counted here in UTF-16 code units (never fewer than Discord's count).
CONTENT_MAX = 2000
TITLE_MAX = 256
DESCRIPTION_EMBED_MAX = 4096
FIELD_VALUE_MAX = 1024
PROMPT_PREVIEW = 1500  # the prompt in the result embed: enough to recognise, not a wall
EMBED_COLOUR = 0x5865F2
_ZERO_WIDTH_SPACE = "\u200b"
REVISED_FIELD = N_("Revised prompt")  # the field's name, read back by Details (result_texts)


def safe_text(text: str) -> str:
    """Member text that cannot ping anyone or turn into markdown (links stay clickable)."""
    text = discord.utils.escape_markdown(fix_surrogates(text))
    # A zero-width space after every @ breaks @everyone, @here, <@id> and <@&role> alike.
    return text.replace("@", "@" + _ZERO_WIDTH_SPACE)


def clip_content(text: str) -> str:
    """Message content within Discord's 2000-character limit."""
    return shorten(text, CONTENT_MAX)


def status_line(
    state: Literal["queued", "paced", "generating"],
    elapsed: float,
    position: int | None,
    *,
    wait: float | None = None,
    typical: Typical | None = None,
) -> str:
    """The progress line: `⏳ Queued — position 3 · 12 s · starts in about 40 s`, `⏳ Waiting
    for WisGate's rate limit — position 3 · 40 s` or `🎨 Generating… 15 s · usually 20–35 s`.
    `elapsed` is the stage's own time; `wait` (queued only) and `typical` come from recent
    jobs (bot/jobs/durations.py), left out when there are none."""
    took = format_duration(elapsed)
    if state == "generating":
        if typical is None:
            return _("🎨 Generating… {took}").format(took=took)
        return _("🎨 Generating… {took} · {usually}").format(
            took=took, usually=usual_range(typical)
        )
    if state == "paced":  # how long a rate limit holds nobody knows: no estimate
        if position is None:
            return _("⏳ Waiting for WisGate's rate limit · {took}").format(took=took)
        return _("⏳ Waiting for WisGate's rate limit — position {position} · {took}").format(
            position=number(position), took=took
        )
    if position is None:
        line = _("⏳ Queued · {took}").format(took=took)
    else:
        line = _("⏳ Queued — position {position} · {took}").format(
            position=number(position), took=took
        )
    if wait is None:
        return line
    return _("{line} · starts in about {wait}").format(line=line, wait=rough_duration(wait))


def _rough(seconds: float) -> tuple[str, int, int]:
    """An estimate rounded as a person says it: its unit and amounts (hours and minutes)."""
    if seconds < 9.5:
        return "s", max(1, round(seconds)), 0
    if seconds < 57.5:
        return "s", 5 * round(seconds / 5), 0
    minutes = round(seconds / 60)
    if minutes < 60:
        return "min", minutes, 0
    hours, rest = divmod(5 * round(minutes / 5), 60)
    return "h", hours, rest


def _rough_text(unit: str, amount: int, rest: int) -> str:
    if unit == "s":
        return seconds_text(amount)
    if unit == "min":
        return minutes_text(amount)
    return hours_text(amount, rest)


def rough_duration(seconds: float) -> str:
    """An estimate as a person says it: `3 s` below 10 s, then `25 s`, `4 min`, `1 h 05 min`."""
    return _rough_text(*_rough(seconds))


def usual_range(typical: Typical) -> str:
    """`usually 20–35 s`, `usually 45 s–2 min`, or `usually about 30 s` when both ends round
    alike."""
    low, high = _rough(typical.low), _rough(typical.high)
    if _rough_text(*low) == _rough_text(*high):
        return _("usually about {duration}").format(duration=_rough_text(*low))
    if low[0] == high[0] == "s":  # one unit: 20–35 s
        span = _("{low}–{high} s").format(low=low[1], high=high[1])
    elif low[0] == high[0] == "min":
        span = _("{low}–{high} min").format(low=low[1], high=high[1])
    else:
        span = f"{_rough_text(*low)}–{_rough_text(*high)}"
    return _("usually {range}").format(range=span)


def result_embed(
    request: ImageRequest,
    *,
    elapsed: float,
    result: ImageResult | None = None,
    remaining_today: int | None = None,
) -> discord.Embed:
    """The embed under delivered images: prompt, model, and the size and quality they were made
    at, time; `remaining_today` only on a private result (a public card has no personal numbers:
    the requester reads remaining_note privately)."""
    count = len(result.images) if result is not None else request.n
    title = _("🎨 Imagined") if request.kind == "generate" else _("🖌️ Edited")
    if count > 1:
        title += " · " + _images(count)
    embed = discord.Embed(
        title=shorten(title, TITLE_MAX),
        description=shorten(safe_text(request.prompt), min(PROMPT_PREVIEW, DESCRIPTION_EMBED_MAX)),
        colour=EMBED_COLOUR,
    )
    for name, value in _facts(request, result, elapsed, remaining_today):
        embed.add_field(name=name, value=shorten(value, FIELD_VALUE_MAX), inline=True)
    revised = _revised_prompt(result)
    if revised:
        embed.add_field(
            name=_(REVISED_FIELD), value=shorten(safe_text(revised), FIELD_VALUE_MAX), inline=False
        )
    return embed


def _facts(
    request: ImageRequest, result: ImageResult | None, elapsed: float, remaining: int | None
) -> list[tuple[str, str]]:
    used = used_settings(request, result)
    facts = [(_("Model"), safe_text(request.model))]
    # Only what is known: "auto" is no size or quality, and a dall-e card shows the quality
    # the model drew at (its default), never one it does not have.
    if used.size is not None:
        facts.append((_("Size"), safe_text(used.size.replace("x", "×"))))
    if used.quality is not None:
        facts.append((_("Quality"), safe_text(used.quality)))
    facts.append((_("Time"), format_duration(elapsed)))
    if remaining is not None:
        facts.append((_("Left today"), _images(remaining)))
    return facts


def _images(count: int) -> str:
    return ngettext("{count} image", "{count} images", count).format(count=number(count))


def remaining_note(remaining: int) -> str:
    """What the requester alone reads after a public result: the images they have left today."""
    if remaining <= 0:
        return _("That was the last of your images for today.")
    text = ngettext(
        "You can make {count} more image today.",
        "You can make {count} more images today.",
        remaining,
    )
    return text.format(count=number(remaining))


def _revised_prompt(result: ImageResult | None) -> str | None:
    """dall-e-3 rewrites prompts; show what it actually drew from."""
    if result is None:
        return None
    return next((image.revised_prompt for image in result.images if image.revised_prompt), None)

"""What the member reads about a job: the result embed, the status line, and member text made
safe (no pings, no markdown) and short enough for Discord's limits."""

from __future__ import annotations

from typing import Literal

import discord

from bot.core.models import ImageRequest, ImageResult
from bot.core.text import fix_surrogates, format_duration, shorten
from bot.core.used import used_settings

# Discord's limits, counted here in UTF-16 code units (never fewer than Discord's count).
CONTENT_MAX = 2000
TITLE_MAX = 256
DESCRIPTION_EMBED_MAX = 4096
FIELD_VALUE_MAX = 1024
PROMPT_PREVIEW = 1500  # the prompt in the result embed: enough to recognise, not a wall
EMBED_COLOUR = 0x5865F2
_ZERO_WIDTH_SPACE = "\u200b"


def safe_text(text: str) -> str:
    """Member text that cannot ping anyone or turn into markdown (links stay clickable)."""
    text = discord.utils.escape_markdown(fix_surrogates(text))
    # A zero-width space after every @ breaks @everyone, @here, <@id> and <@&role> alike.
    return text.replace("@", "@" + _ZERO_WIDTH_SPACE)


def clip_content(text: str) -> str:
    """Message content within Discord's 2000-character limit."""
    return shorten(text, CONTENT_MAX)


def status_line(
    state: Literal["queued", "paced", "generating"], elapsed: float, position: int | None
) -> str:
    """The progress line: `⏳ Queued — position 3 · 12 s`, `⏳ Waiting for WisGate's rate
    limit — position 3 · 40 s` or `🎨 Generating… 45 s`."""
    took = format_duration(elapsed)
    if state == "generating":
        return f"🎨 Generating… {took}"
    where = f" — position {position}" if position is not None else ""
    waiting = "Waiting for WisGate's rate limit" if state == "paced" else "Queued"
    return f"⏳ {waiting}{where} · {took}"


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
    title = ("🎨 Imagined" if request.kind == "generate" else "🖌️ Edited") + (
        f" · {count} images" if count > 1 else ""
    )
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
            name="Revised prompt", value=shorten(safe_text(revised), FIELD_VALUE_MAX), inline=False
        )
    return embed


def _facts(
    request: ImageRequest, result: ImageResult | None, elapsed: float, remaining: int | None
) -> list[tuple[str, str]]:
    used = used_settings(request, result)
    facts = [("Model", safe_text(request.model))]
    # Only what is known: "auto" is no size or quality, and a dall-e card shows the quality
    # the model drew at (its default), never one it does not have.
    if used.size is not None:
        facts.append(("Size", safe_text(used.size.replace("x", "×"))))
    if used.quality is not None:
        facts.append(("Quality", safe_text(used.quality)))
    facts.append(("Time", format_duration(elapsed)))
    if remaining is not None:
        facts.append(("Left today", _images(remaining)))
    return facts


def _images(count: int) -> str:
    return f"{count} image{'' if count == 1 else 's'}"


def remaining_note(remaining: int) -> str:
    """What the requester alone reads after a public result: the images they have left today."""
    if remaining <= 0:
        return "That was the last of your images for today."
    return f"You can make {remaining} more image{'' if remaining == 1 else 's'} today."


def _revised_prompt(result: ImageResult | None) -> str | None:
    """dall-e-3 rewrites prompts; show what it actually drew from."""
    if result is None:
        return None
    return next((image.revised_prompt for image in result.images if image.revised_prompt), None)

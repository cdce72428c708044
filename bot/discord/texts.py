"""What the member reads about a job: the result embed, the status line, and member text made
safe (no pings, no markdown) and short enough for Discord's limits."""

from __future__ import annotations

from typing import Literal

import discord

from bot.core.models import ImageRequest, ImageResult
from bot.core.text import fix_surrogates, format_duration, shorten

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
    """The embed under delivered images: prompt, model, size, quality, time, quota left."""
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
    first = result.images[0] if result is not None and result.images else None
    if first is not None and first.width and first.height:
        size = f"{first.width}×{first.height}"
    else:
        size = (result.size if result is not None else None) or request.size or "auto"
    quality = (result.quality if result is not None else None) or request.quality or "auto"
    facts = [
        ("Model", safe_text(request.model)),
        ("Size", safe_text(size)),
        ("Quality", safe_text(quality)),
        ("Time", format_duration(elapsed)),
    ]
    if remaining is not None:
        facts.append(("Left today", f"{remaining} image{'' if remaining == 1 else 's'}"))
    return facts


def _revised_prompt(result: ImageResult | None) -> str | None:
    """dall-e-3 rewrites prompts; show what it actually drew from."""
    if result is None:
        return None
    return next((image.revised_prompt for image in result.images if image.revised_prompt), None)

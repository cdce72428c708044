"""Fit generated images to Discord's upload limit, pack them into messages, and name them.

Pure pieces the runner calls, with no network: the sending itself lives in the runner.
`limit` is always the interaction's `attachment_size_limit` (10 MiB unboosted, 50/100 MiB
boosted): read it from the interaction, never hard-code it. Also the texts the member sees:
the result embed and the queue status line, with member text made safe and short.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import discord

from bot.core.models import GeneratedImage, ImageFormat, ImageRequest, ImageResult, JobKind
from bot.images import packing
from bot.images.encoding import bytes_per_pixel, reencode_to_fit
from bot.wisgate.payload import is_gpt_image

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_FILES = 10  # Discord: at most 10 attachments a message
# Room left in each message for everything that is not file bytes, so the whole multipart
# body stays under the limit: payload_json (content 2000 + embeds 6000 characters, file
# descriptions capped at DESCRIPTION_MAX each, x10; discord.py serialises with orjson, so at
# most 4 bytes a character: ~53 KB) plus part headers and boundaries (~11 x 200 bytes).
MESSAGE_OVERHEAD = 64 * 1024
DESCRIPTION_MAX = 512  # alt text we attach; Discord allows 1024

# choose_output aims for each image to weigh at most this share of a message's budget, so a
# worse-than-estimated picture still fits without re-encoding.
FIT_MARGIN = 0.85
# ...and, for PNG, for the whole batch to need at most this many messages (by the same
# worst-case estimate); beyond that a high-quality lossy format is the better trade.
MAX_PNG_MESSAGES = 4
# output_compression candidates, best first. The API's "compression" is a quality percentage
# (default 100; higher is larger), read here as the encoder's quality: the same tables apply.
# 100 is left out: about twice the bytes of 95 for no visible gain.
LOSSY_QUALITIES = (95, 90, 85, 80, 75, 70, 60, 50)
# The largest picture "auto" (or no size) can give: auto picks among the standard sizes, so
# gpt-image-2 sizes beyond 1536x1024 only come when the member names them (matched above).
LARGEST_SIZE = {"gpt-image-1": (1536, 1024), "gpt-image-2": (1536, 1024)}
LARGEST_UNKNOWN = (3840, 2160)  # a newer gpt-image model: assume the biggest we know
_SIZE = re.compile(r"(\d{2,5})x(\d{2,5})")
_EXTENSIONS = {"png": "png", "jpeg": "jpg", "jpg": "jpg", "webp": "webp"}
_PREFIXES = {"generate": "imagine", "edit": "edit"}


def upload_budget(limit: int, overhead: int = MESSAGE_OVERHEAD) -> int:
    """Bytes of files one message may carry under `limit`: the limit minus the overhead."""
    if limit <= overhead:
        raise ValueError(f"upload limit {limit} leaves no room after {overhead} bytes overhead")
    return limit - overhead


def choose_output(
    request: ImageRequest, upload_limit: int, *, max_messages: int = MAX_PNG_MESSAGES
) -> ImageRequest:
    """Ask a GPT image model for a format and compression likely to fit `upload_limit`.

    The cheapest fit happens upstream: the API encodes at no cost to us, while re-encoding
    here costs a decode plus 5 ms-2 s per attempt. Explicit choices are kept; a lossy format
    the member chose without a compression gets one. dall-e models have no such option.
    """
    # A compression without a format is the member's call too, left to the catalogue.
    explicit = request.output_format == "png" or request.output_compression is not None
    if not is_gpt_image(request.model) or explicit:
        return request
    pixels = _worst_case_pixels(request)
    alpha = wants_alpha(request)
    budget = upload_budget(upload_limit) * FIT_MARGIN
    png_fits = _fits("png", None, pixels, alpha, budget, request.n, max_messages)
    if request.output_format is None and png_fits:
        return dataclasses.replace(request, output_format="png")
    fmt: ImageFormat = request.output_format or ("webp" if alpha else "jpeg")
    quality = _lossy_quality(fmt, pixels, alpha, budget, request.n, max_messages)
    log.debug("asking %s for %s q%d (limit %d)", request.model, fmt, quality, upload_limit)
    return dataclasses.replace(request, output_format=fmt, output_compression=quality)


def _lossy_quality(
    fmt: ImageFormat, pixels: int, alpha: bool, budget: float, n: int, max_messages: int
) -> int:
    """Best quality meeting both goals; else the best fitting alone; else the lowest."""
    for messages in (max_messages, MAX_FILES):
        for quality in LOSSY_QUALITIES:
            if _fits(fmt, quality, pixels, alpha, budget, n, messages):
                return quality
    return LOSSY_QUALITIES[-1]


def _fits(
    fmt: ImageFormat,
    quality: int | None,
    pixels: int,
    alpha: bool,
    budget: float,
    n: int,
    max_messages: int,
) -> bool:
    """Does one image fit the budget alone, and the batch in at most `max_messages`?"""
    each = pixels * bytes_per_pixel(fmt, quality, alpha=alpha)
    if each > budget:
        return False
    per_message = min(MAX_FILES, int(budget // each))
    return math.ceil(n / per_message) <= max_messages


def _worst_case_pixels(request: ImageRequest) -> int:
    match = _SIZE.fullmatch(request.size or "")
    if match:
        return int(match[1]) * int(match[2])
    width, height = LARGEST_SIZE.get(request.model, LARGEST_UNKNOWN)
    return width * height


def wants_alpha(request: ImageRequest) -> bool:
    """Must transparency survive? Asked for, or an edit of see-through input images.

    The runner can pass this as fit_images' `keep_alpha`.
    """
    if request.background == "transparent":
        return True
    edit_with_alpha = request.kind == "edit" and any(image.has_alpha for image in request.images)
    return edit_with_alpha and request.background != "opaque"


async def fit_images(
    images: Sequence[GeneratedImage], limit: int, *, keep_alpha: bool
) -> list[GeneratedImage]:
    """Re-encode (off the event loop) each image too big for one message under `limit`.

    "Too big" means more than `upload_budget(limit)`, the room pack_messages gives files.
    Images that fit come back as the same objects, never decoded. Alpha is kept (WebP) when
    `keep_alpha` and the image has an alpha channel, or when it has see-through pixels;
    otherwise JPEG. Raises ImageTooLarge (a BotError) when nothing fits. One image at a
    time: a decoded 3840x2160 picture is ~33 MB, and two threads already fill two cores.
    """
    budget = upload_budget(limit)
    fitted: list[GeneratedImage] = []
    for image in images:
        if len(image.data) <= budget:
            fitted.append(image)
            continue
        encoded = await asyncio.to_thread(
            reencode_to_fit, image.data, budget, keep_alpha=keep_alpha, limit=limit
        )
        log.info(
            "re-encoded a %d-byte %s to a %d-byte %s (%dx%d) for a %d-byte limit",
            len(image.data), image.format, len(encoded.data), encoded.format,
            encoded.width, encoded.height, limit,
        )  # fmt: skip
        fitted.append(
            dataclasses.replace(
                image,
                data=encoded.data,
                format=encoded.format,
                width=encoded.width,
                height=encoded.height,
            )
        )
    return fitted


@dataclass(frozen=True, slots=True)
class OutgoingFile:
    """One attachment to send: its name, bytes and alt text."""

    filename: str
    data: bytes = field(repr=False)
    description: str | None = None

    @property
    def size(self) -> int:
        """Bytes of the file itself."""
        return len(self.data)


def file_name(kind: JobKind, job_id: int, index: int, fmt: str) -> str:
    """`imagine-<job>-<k>.<ext>` or `edit-<job>-<k>.<ext>`, where k = index + 1 (from 1)."""
    return f"{_PREFIXES[kind]}-{job_id}-{index + 1}.{_EXTENSIONS[fmt]}"


def outgoing_files(
    kind: JobKind, job_id: int, images: Sequence[GeneratedImage], *, alt_text: str | None = None
) -> list[OutgoingFile]:
    """Name each image and give it alt text (the prompt, shortened), in order."""
    description = alt_description(alt_text) if alt_text else None
    return [
        OutgoingFile(file_name(kind, job_id, index, image.format), image.data, description)
        for index, image in enumerate(images)
    ]


def alt_description(text: str) -> str:
    """Alt text from member text: one line, at most DESCRIPTION_MAX characters."""
    return shorten(" ".join(text.split()), DESCRIPTION_MAX)


def pack_messages(
    files: Sequence[T],
    size_of: Callable[[T], int],
    *,
    limit: int,
    max_files: int = MAX_FILES,
    overhead: int = MESSAGE_OVERHEAD,
) -> list[list[T]]:
    """Split files into as few messages as possible: <= max_files each, bytes <= limit - overhead.

    Keeps the original order when an in-order split is as short as the best one; otherwise
    the best packing, each message in original order and messages ordered by their first
    file. Raises ValueError for a file that cannot fit a message alone (fit_images first).
    """
    capacity = upload_budget(limit, overhead)
    sizes = [size_of(item) for item in files]
    too_big = [size for size in sizes if size > capacity]
    if too_big:
        raise ValueError(f"a {too_big[0]}-byte file cannot fit a {capacity}-byte message")
    groups = packing.pack(sizes, capacity, max_files)
    return [[files[index] for index in group] for group in groups]


# --- What the member sees -------------------------------------------------------------------
# Discord's limits, counted here in UTF-16 code units (never fewer than Discord's count).
CONTENT_MAX = 2000
TITLE_MAX = 256
DESCRIPTION_EMBED_MAX = 4096
FIELD_VALUE_MAX = 1024
PROMPT_PREVIEW = 1500  # the prompt in the result embed: enough to recognise, not a wall
EMBED_COLOUR = 0x5865F2
_ZWJ = "\u200d"
_ZERO_WIDTH_SPACE = "\u200b"


def shorten(text: str, limit: int, *, placeholder: str = "…") -> str:
    """`text` in at most `limit` UTF-16 units, cut between characters and marked with `…`."""
    text = _fix_surrogates(text)
    if _units(text) <= limit:
        return text
    room = limit - _units(placeholder)
    used = 0
    cut = len(text)
    for position, char in enumerate(text):
        used += _units(char)
        if used > room:
            cut = position
            break
    head = text[: _cluster_start(text, cut)].rstrip()
    if (len(head) - len(head.rstrip("\\"))) % 2:
        head = head[:-1]  # a lone trailing backslash would escape the placeholder
    return head + placeholder


def safe_text(text: str) -> str:
    """Member text that cannot ping anyone or turn into markdown (links stay clickable)."""
    text = discord.utils.escape_markdown(_fix_surrogates(text))
    # A zero-width space after every @ breaks @everyone, @here, <@id> and <@&role> alike.
    return text.replace("@", "@" + _ZERO_WIDTH_SPACE)


def clip_content(text: str) -> str:
    """Message content within Discord's 2000-character limit."""
    return shorten(text, CONTENT_MAX)


def format_duration(seconds: float) -> str:
    """`12 s`, `4 min 05 s`, `1 h 02 min`."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def status_line(
    state: Literal["queued", "generating"], elapsed: float, position: int | None
) -> str:
    """The progress line: `⏳ Queued — position 3 · 12 s` or `🎨 Generating… 45 s`."""
    took = format_duration(elapsed)
    if state == "generating":
        return f"🎨 Generating… {took}"
    where = f" — position {position}" if position is not None else ""
    return f"⏳ Queued{where} · {took}"


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


def _units(text: str) -> int:
    """Length in UTF-16 code units: astral characters (most emoji) count twice."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _fix_surrogates(text: str) -> str:
    """Join escaped surrogate pairs and replace lone surrogates, which cannot be sent."""
    if not any("\ud800" <= char <= "\udfff" for char in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _extends(char: str) -> bool:
    """Joins the previous character: combining marks, variation selectors, skin tones, tags."""
    point = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Me", "Mc")
        or char == _ZWJ
        or 0xFE00 <= point <= 0xFE0F
        or 0x1F3FB <= point <= 0x1F3FF
        or 0xE0020 <= point <= 0xE007F
        or 0xE0100 <= point <= 0xE01EF
    )


def _regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _cluster_start(text: str, cut: int) -> int:
    """Move a cut back to the start of the character cluster it would split (emoji, accents)."""
    while 0 < cut < len(text) and (_extends(text[cut]) or text[cut - 1] == _ZWJ):
        cut -= 1
    if 0 < cut < len(text) and _regional(text[cut]):
        before = cut
        while before > 0 and _regional(text[before - 1]):
            before -= 1
        if (cut - before) % 2:  # an odd number of flags letters before: mid-flag
            cut -= 1
    return cut

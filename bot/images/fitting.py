"""Fit generated images to Discord's upload limit, pack them into messages, and name them.

Pure pieces with no network: the Discord layer (bot/discord/reporter.py) sends what these
make. `limit` is always the interaction's `attachment_size_limit` (10 MiB unboosted, 50/100
MiB boosted): read it from the interaction, never hard-code it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from bot.core.models import GeneratedImage, ImageFormat, ImageRequest, JobKind
from bot.core.profile_files import profile_for
from bot.core.text import shorten
from bot.images import packing
from bot.images.encoding import bytes_per_pixel, reencode_to_fit

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
    """Ask the model for a format and compression likely to fit `upload_limit`, where its
    profile lets us choose (output_formats and output_compression).

    The cheapest fit happens upstream: the API encodes at no cost to us, while re-encoding
    here costs a decode plus 5 ms-2 s per attempt. Explicit choices are kept; a lossy format
    the member chose without a compression gets one.
    """
    profile = profile_for(request)
    formats = profile.output_formats
    # A compression without a format is the member's call too, left to the catalogue.
    explicit = request.output_format == "png" or request.output_compression is not None
    if not formats or not profile.takes("output_compression") or explicit:
        return request
    pixels = _worst_case_pixels(request, profile.largest)
    alpha = wants_alpha(request)
    budget = upload_budget(upload_limit) * FIT_MARGIN
    png_fits = _fits("png", None, pixels, alpha, budget, request.n, max_messages)
    if request.output_format is None and png_fits:
        return dataclasses.replace(request, output_format="png")
    wanted: ImageFormat = "webp" if alpha else "jpeg"
    fmt: ImageFormat = request.output_format or (wanted if wanted in formats else formats[0])
    if fmt == "png":
        return request  # no lossy format to ask for: the result is fitted after, if need be
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


def _worst_case_pixels(request: ImageRequest, largest: tuple[int, int]) -> int:
    match = _SIZE.fullmatch(request.size or "")
    if match:
        return int(match[1]) * int(match[2])
    return largest[0] * largest[1]  # "auto" or no size: the largest the model gives for it


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

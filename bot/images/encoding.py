"""Pillow re-encoding and size estimates: make one generated image fit a byte budget.

Everything here is synchronous CPU work: async callers run it with `asyncio.to_thread`.
The figures below come from `bench/encode.py` on the 2-core build machine. Its "noisy"
picture (the test fixture: a third flat, two thirds random pixels) compresses far worse than
any generated picture, so its bytes/pixel serve as worst-case estimates; a "detailed art"
picture whose PNG is ~1.6 bytes/pixel (like real gpt-image PNGs) needs about half as much.
"""

from __future__ import annotations

import io
import itertools
import logging
import math
from dataclasses import dataclass

from PIL import Image

from bot.core.errors import BotError
from bot.core.models import ImageFormat
from bot.i18n import _

log = logging.getLogger(__name__)

# PNG is lossless: its worst case is the raw pixel data, 3 bytes/pixel for RGB and 4 with
# alpha (deflate adds well under 1% to incompressible rows). Real gpt-image PNGs: 1.2-2.4.
PNG_BYTES_PER_PIXEL = 3.0
PNG_ALPHA_BYTES_PER_PIXEL = 4.0

# Worst-case bytes/pixel by quality, measured on the noisy picture (bench/encode.py, the
# same at 1536x1024 and 3840x2160). Detailed art measured about half: JPEG q95 0.41, q90 0.29.
JPEG_BYTES_PER_PIXEL = {95: 0.79, 92: 0.66, 90: 0.61, 85: 0.51, 80: 0.45, 75: 0.41, 70: 0.38,
                        60: 0.32, 50: 0.28}  # fmt: skip
WEBP_BYTES_PER_PIXEL = {95: 0.63, 90: 0.53, 85: 0.47, 80: 0.42, 75: 0.38, 70: 0.37, 60: 0.34,
                        50: 0.32}  # fmt: skip
# A guess, not a measurement: cut-outs have alpha planes of mostly 0/255 with soft edges,
# which WebP stores in a few hundredths of a byte/pixel; random alpha costs 0.7 (bench).
WEBP_ALPHA_BYTES_PER_PIXEL = 0.25

# Re-encoding ladders (quality per attempt). JPEG costs 5-30 ms an attempt, WebP 0.1-2 s
# (1536x1024 to 3840x2160), so rungs the measured size shows cannot fit are skipped.
JPEG_LADDER = (92, 85, 75, 60)
WEBP_LADDER = (90, 80, 70, 60)
# Quality used once the picture has to shrink: fewer pixels, so a better quality pays off.
DOWNSCALE_QUALITY: dict[ImageFormat, int] = {"jpeg": 85, "webp": 80}
DOWNSCALE_ATTEMPTS = 4
MIN_SIDE = 256  # smaller than this is not worth delivering
# method 2 encodes WebP ~40% faster than Pillow's default 4 for 0-3% more bytes (bench).
WEBP_METHOD = 2
# A rung is skipped only when the estimate misses the budget by more than this factor: the
# table's ratios are approximate, and wrongly skipping a rung would lose quality.
SKIP_TOLERANCE = 1.15


class DeliveryError(BotError):
    """A generated image could not be prepared for upload."""


class ImageTooLarge(DeliveryError):
    """Even compressed and shrunk, an image does not fit the server's upload limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            _(
                "The picture came out too large to upload here, even after compressing it "
                "(this server's limit is {limit} per message). Try a smaller size, or ask for "
                "JPEG or WebP output."
            ).format(limit=_readable(limit))
        )
        self.limit = limit


def _readable(size: int) -> str:
    return f"{size / 1048576:.0f} MiB" if size >= 1048576 else f"{size // 1024} KiB"


@dataclass(frozen=True, slots=True)
class Encoded:
    """Re-encoded image bytes with their format and dimensions."""

    data: bytes
    format: ImageFormat
    width: int
    height: int


def bytes_per_pixel(fmt: ImageFormat, quality: int | None = None, *, alpha: bool = False) -> float:
    """Worst-case bytes per pixel of an image in `fmt` at `quality` (interpolated)."""
    if fmt == "png":
        return PNG_ALPHA_BYTES_PER_PIXEL if alpha else PNG_BYTES_PER_PIXEL
    table = JPEG_BYTES_PER_PIXEL if fmt == "jpeg" else WEBP_BYTES_PER_PIXEL
    value = _interpolate(table, 100 if quality is None else quality)
    return value + (WEBP_ALPHA_BYTES_PER_PIXEL if alpha and fmt == "webp" else 0.0)


def _interpolate(table: dict[int, float], quality: int) -> float:
    points = sorted(table.items())
    if quality <= points[0][0]:
        return points[0][1]
    for (q0, v0), (q1, v1) in itertools.pairwise(points):
        if quality <= q1:
            return v0 + (v1 - v0) * (quality - q0) / (q1 - q0)
    # Above the table (q96-100): JPEG roughly doubles from q95 to q100; extrapolate steeply.
    (q0, v0), (q1, v1) = points[-2], points[-1]
    return v1 + 3 * (v1 - v0) / (q1 - q0) * (quality - q1)


def reencode_to_fit(data: bytes, budget: int, *, keep_alpha: bool, limit: int) -> Encoded:
    """Re-encode `data` to at most `budget` bytes: lossy first, then smaller; or ImageTooLarge."""
    image = _open(data)
    alpha = _needs_alpha(image, keep_alpha)
    image = image.convert("RGBA" if alpha else "RGB")
    fmt: ImageFormat = "webp" if alpha else "jpeg"
    ladder = WEBP_LADDER if alpha else JPEG_LADDER
    index = 0
    size, quality = len(data), ladder[0]
    while index < len(ladder):
        quality = ladder[index]
        out = _encode(image, fmt, quality, first=index == 0)
        size = len(out)
        log.debug("re-encoded %dx%d to %s q%d: %d bytes", *image.size, fmt, quality, size)
        if size <= budget:
            return Encoded(out, fmt, image.width, image.height)
        index = _next_rung(fmt, ladder, index, size, budget)
    return _downscale_to_fit(image, fmt, size, quality, budget, limit)


def _downscale_to_fit(
    image: Image.Image, fmt: ImageFormat, size: int, quality: int, budget: int, limit: int
) -> Encoded:
    """Shrink until it fits: bytes scale with the pixel count, so aim by the square root."""
    target_quality = DOWNSCALE_QUALITY[fmt]
    # What the last attempt would have weighed at the downscale quality.
    predicted = size * bytes_per_pixel(fmt, target_quality) / bytes_per_pixel(fmt, quality)
    source = image
    for _attempt in range(DOWNSCALE_ATTEMPTS):
        scale = math.sqrt(0.9 * budget / predicted)
        width, height = round(source.width * scale), round(source.height * scale)
        if min(width, height) < MIN_SIDE:
            break
        image = source.resize((width, height), Image.Resampling.LANCZOS)
        out = _encode(image, fmt, target_quality, first=False)
        log.info(
            "downscaled to %dx%d %s: %d bytes (budget %d)", width, height, fmt, len(out), budget
        )
        if len(out) <= budget:
            return Encoded(out, fmt, width, height)
        # Aim again from this attempt, measured at the source's pixel count.
        predicted = len(out) * (source.width * source.height) / (width * height)
    raise ImageTooLarge(limit)


def _next_rung(
    fmt: ImageFormat, ladder: tuple[int, ...], index: int, size: int, budget: int
) -> int:
    """The next quality worth trying: skip rungs the table says cannot reach the budget."""
    here = bytes_per_pixel(fmt, ladder[index])
    for candidate in range(index + 1, len(ladder)):
        predicted = size * bytes_per_pixel(fmt, ladder[candidate]) / here
        if predicted <= budget * SKIP_TOLERANCE:
            return candidate
    return len(ladder)


def _open(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        log.warning("generated image could not be decoded: %s", error)
        raise DeliveryError(
            _("The image service sent a picture that could not be read, so it cannot be posted.")
        ) from None
    return image


def _needs_alpha(image: Image.Image, keep_alpha: bool) -> bool:
    """Keep an alpha channel when asked to, or when it really has see-through pixels."""
    has_band = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if not has_band:
        return False
    if keep_alpha:
        return True
    rgba = image if image.mode in ("RGBA", "LA") else image.convert("RGBA")
    extrema = rgba.getchannel("A").getextrema()  # (min, max) for a single band
    return isinstance(extrema[0], int) and extrema[0] < 255


def _encode(image: Image.Image, fmt: ImageFormat, quality: int, *, first: bool) -> bytes:
    buffer = io.BytesIO()
    if fmt == "webp":
        # Lossless alpha on the first try keeps cut-out edges exact; lossy alpha later.
        alpha_quality = 100 if first else quality
        image.save(buffer, "WEBP", quality=quality, alpha_quality=alpha_quality, method=WEBP_METHOD)
    else:
        image.save(buffer, "JPEG", quality=quality, optimize=False)
    return buffer.getvalue()

"""Print Pillow re-encode sizes and times per format, to back bot/images/encoding.py's choices.

Run from the repository root: `.venv/bin/python -m bench.encode` (takes about a minute).
Two test pictures per size: "noisy" (tests.fakes.images: a third flat, two thirds random
pixels; far harder to compress than any generated picture, so an upper bound) and "detail"
(blurred noise over a soft colour field, compressing like detailed generated art: its PNG is
~1.6 bytes/pixel, in the range of real gpt-image PNGs).
"""

from __future__ import annotations

import asyncio
import io
import random
import time
from collections.abc import Callable

from PIL import Image, ImageFilter

from bot.core.models import GeneratedImage
from bot.images.fitting import fit_images
from tests.fakes.images import make_image

SIZES = ((1536, 1024), (3840, 2160))
QUALITIES = (95, 90, 85, 80, 75, 70, 60, 50)
MIB = 1024 * 1024


def noisy(width: int, height: int, alpha: bool = False) -> Image.Image:
    """The test fixture's photo-like image, decoded."""
    image = Image.open(io.BytesIO(make_image(width, height, "png", alpha=alpha, noisy=True)))
    image.load()
    return image


def detail(width: int, height: int) -> Image.Image:
    """Blurred grain over a soft colour field: compresses like detailed generated art."""
    rng = random.Random(1)
    w, h = width // 8, height // 8
    field = Image.frombytes("RGB", (w, h), rng.randbytes(w * h * 3))
    field = field.resize((width, height), Image.Resampling.BICUBIC)
    grain = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    return Image.blend(field, grain.filter(ImageFilter.GaussianBlur(1.2)), 0.35)


def timed(action: Callable[[], bytes]) -> tuple[int, float]:
    """Run an encoder once: (bytes, milliseconds)."""
    start = time.perf_counter()
    size = len(action())
    return size, (time.perf_counter() - start) * 1000


def encoder(image: Image.Image, fmt: str, **options: int) -> Callable[[], bytes]:
    """A closure that saves `image` in `fmt` and returns the bytes."""

    def run() -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, fmt, **options)
        return buffer.getvalue()

    return run


def report(name: str, image: Image.Image) -> None:
    """One line per format and quality: bytes/pixel and milliseconds."""
    pixels = image.width * image.height
    cases: list[tuple[str, Callable[[], bytes]]] = [("PNG", encoder(image, "PNG"))]
    for fmt in ("JPEG", "WEBP"):
        cases += [(f"{fmt} q{q}", encoder(image, fmt, quality=q)) for q in QUALITIES]
    cases.append(("WEBP q90 method 2", encoder(image, "WEBP", quality=90, method=2)))
    for label, action in cases:
        size, ms = timed(action)
        print(f"  {name:8} {label:18} {size / pixels:5.2f} B/px {size / MIB:6.2f} MiB {ms:7.0f} ms")


async def fit_timings() -> None:
    """Time the real fit_images on the oversized fixtures against a 10 MiB limit."""
    for alpha in (False, True):
        data = make_image(3840, 2160, "png", alpha=alpha, noisy=True)
        start = time.perf_counter()
        [fitted] = await fit_images([GeneratedImage(data, "png")], 10 * MIB, keep_alpha=alpha)
        ms = (time.perf_counter() - start) * 1000
        print(
            f"  fit_images 3840x2160 noisy {'RGBA' if alpha else 'RGB '} PNG {len(data) / MIB:.1f}"
            f" MiB -> {fitted.format} {len(fitted.data) / MIB:.2f} MiB in {ms:.0f} ms"
        )


def main() -> None:
    """Print every table."""
    for width, height in SIZES:
        print(f"{width}x{height}")
        report("noisy", noisy(width, height))
        report("detail", detail(width, height))
        image = noisy(width, height, alpha=True)
        for q in (90, 75, 60):
            for alpha_quality in (100, q):
                label = f"WEBP RGBA q{q} alpha_q{alpha_quality}"
                size, ms = timed(encoder(image, "WEBP", quality=q, alpha_quality=alpha_quality))
                print(f"  {'noisyA':8} {label:18} {size / (width * height):5.2f} B/px {ms:7.0f} ms")
    asyncio.run(fit_timings())


if __name__ == "__main__":
    main()

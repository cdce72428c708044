"""Real, decodable test images of a given size and format, with realistic byte sizes."""

from __future__ import annotations

import functools
import io
import random
import struct
import zlib

from PIL import Image


@functools.lru_cache(maxsize=64)
def make_image(
    width: int,
    height: int,
    fmt: str = "png",
    *,
    alpha: bool = False,
    noisy: bool = False,
    seed: int = 0,
    quality: int = 90,
) -> bytes:
    """Encode a width x height image; `noisy` makes it compress like a photo (1-3 MB at 1024²)."""
    mode = "RGBA" if alpha else "RGB"
    if noisy:
        # Random bytes compress badly, like detailed generated art does; seeded to be repeatable.
        rng = random.Random(seed)
        raw = rng.randbytes(width * height * len(mode))
        image = Image.frombytes(mode, (width, height), raw)
        # Smooth a third of the picture so a 1024x1024 PNG lands near 1.5-3 MB, not 4 MB.
        image.paste(Image.new(mode, (width, height // 3), _colour(seed, mode)), (0, 0))
    else:
        image = Image.new(mode, (width, height), _colour(seed, mode))
    pil_format = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "webp": "WEBP"}[fmt]
    if pil_format == "JPEG" and image.mode == "RGBA":
        image = image.convert("RGB")
    buffer = io.BytesIO()
    options = {"quality": quality} if pil_format in ("JPEG", "WEBP") else {}
    image.save(buffer, pil_format, **options)
    return buffer.getvalue()


def make_mask(width: int, height: int, *, hole: bool = True) -> bytes:
    """A PNG mask with an alpha channel; `hole` clears a transparent square in the middle."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    if hole:
        box = (width // 4, height // 4, 3 * width // 4, 3 * height // 4)
        image.paste((0, 0, 0, 0), box)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _colour(seed: int, mode: str) -> tuple[int, ...]:
    rng = random.Random(seed + 1)
    rgb = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    return (*rgb, 255) if mode == "RGBA" else rgb


@functools.lru_cache(maxsize=4)
def make_bomb(side: int, *, rgba: bool = False) -> bytes:
    """A valid PNG of side x side blank pixels: tens of KB on disk, side² bytes once decoded by
    Pillow (13,500² is 182 MB, past Pillow's default bomb limit of 2 x 89 Mpx); with `rgba`,
    4 x side² (4,900² is 96 MB).

    Written chunk by chunk, since Pillow itself would need the whole image in memory to save it.
    """
    packed = side * 4 if rgba else (side + 7) // 8
    row = b"\x00" * (1 + packed)  # filter byte + pixels
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    # 8-bit RGBA, or 1-bit greyscale
    header = struct.pack(">IIBBBBB", side, side, *((8, 6) if rgba else (1, 0)), 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )

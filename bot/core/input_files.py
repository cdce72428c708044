"""Input images of an edit: what Discord declares of them, then their real bytes, checked.

Declared metadata (type, size, width, height) is checked before anything is downloaded; the
bytes are sniffed with Pillow (never trusting a file name), the header's size refused above
INPUT_MAX_PIXELS before any pixel is decoded.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import NoReturn

from PIL import Image, UnidentifiedImageError

from bot.core.errors import InvalidRequest, or_list, refuse, shown
from bot.core.models import ImageFormat, InputImage
from bot.core.profiles import MB, SMALL_MAX_BYTES, ModelProfile

# The most pixels an input image may have: a 24-megapixel photo (6000x4000) passes, while a
# small file declaring or holding more is refused before Pillow decodes it (a 347 KB PNG can
# hold 89 Mpx, 359 MiB decoded). The models scale inputs down far below this anyway.
INPUT_MAX_PIXELS = 25_000_000

_PILLOW_FORMATS: dict[str, ImageFormat] = dict(PNG="png", JPEG="jpeg", MPO="jpeg", WEBP="webp")

# Only these decoders ever see member bytes; phone JPEGs may come back as format "MPO".
_OPENERS = ("PNG", "JPEG", "WEBP")

_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})

_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/jpg", "image/pjpeg", "image/webp"})

_UNKNOWN_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})


@dataclass
class DeclaredFile:
    """What Discord tells about an attachment before it is downloaded."""

    filename: str
    content_type: str | None
    size: int
    width: int | None
    height: int | None


@dataclass
class UploadedFile:
    """A downloaded attachment."""

    filename: str
    data: bytes


def _too_many_pixels(name: str, field: str, width: int, height: int) -> NoReturn:
    refuse(
        field,
        f"{name} is {width}x{height}, {width * height:,} pixels; images can have at most "
        f"{INPUT_MAX_PIXELS:,} (like 6000x4000): scale it down.",
    )


def sniff_image(data: bytes, filename: str, *, field: str = "image") -> InputImage:
    """Read an upload's real format and size from its bytes (never its name); refuse non-images."""
    name = shown(filename) or "The attachment"
    try:
        with Image.open(io.BytesIO(data), formats=_OPENERS) as image:
            width, height = image.size  # from the header: nothing is decoded yet
            if width * height > INPUT_MAX_PIXELS:
                _too_many_pixels(name, field, width, height)
            image.load()  # a full decode: truncated or damaged files fail here, not at the API
            fmt = _PILLOW_FORMATS[str(image.format)]
            alpha = image.mode in _ALPHA_MODES or "transparency" in image.info
    except InvalidRequest:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own guard, met before ours for the largest headers.
        refuse(
            field,
            f"{name} has too many pixels; images can have at most {INPUT_MAX_PIXELS:,}: "
            "scale it down.",
        )
    except UnidentifiedImageError:
        refuse(field, f"{name} is not a PNG, JPEG or WebP image: attach one of those.")
    except Exception:
        # Pillow raises many types (OSError, SyntaxError, ValueError, ...) on malformed data.
        refuse(field, f"{name} could not be read as an image (it may be damaged): try another.")
    return InputImage(data, filename, fmt, width, height, alpha)


def check_bytes(name: str, size: int, limit: int, field: str) -> None:
    if size >= limit:
        megabytes = f"{size / MB:.1f} MB"
        refuse(field, f"{name} is {megabytes}; it must be under {limit // MB} MB: make it smaller.")


def check_declared(declared: DeclaredFile, max_bytes: int, field: str) -> None:
    name = shown(declared.filename) or "The attachment"
    content_type = (declared.content_type or "").split(";")[0].strip().lower()
    if content_type not in _IMAGE_TYPES | _UNKNOWN_TYPES:
        kind = shown(content_type)
        refuse(field, f"{name} is not a PNG, JPEG or WebP image ({kind}): attach one of those.")
    check_bytes(name, declared.size, max_bytes, field)
    width, height = declared.width or 0, declared.height or 0
    if width * height > INPUT_MAX_PIXELS:
        _too_many_pixels(name, field, width, height)


def _edit_formats(spec: ModelProfile) -> tuple[ImageFormat, ...]:
    return spec.edit.formats if spec.edit is not None else ()


def check_declared_format(spec: ModelProfile, declared: DeclaredFile) -> None:
    """A declared image type the model does not edit (dall-e-2: PNG only); bytes decide later."""
    content_type = (declared.content_type or "").split(";")[0].strip().lower()
    fmt = content_type.removeprefix("image/")
    if content_type in _IMAGE_TYPES and fmt not in _edit_formats(spec):
        name = shown(declared.filename) or "The attachment"
        formats = or_list([item.upper() for item in _edit_formats(spec)])
        refuse("image", f"{spec.name} edits {formats} only; {name} is a {fmt.upper()}: convert it.")


def check_square(spec: ModelProfile, filename: str, width: int, height: int) -> None:
    """The model edits square images only (dall-e-2)."""
    if width != height:
        name = shown(filename) or "the attachment"
        refuse("image", f"{spec.name} needs a square image; {name} is {width}x{height}: crop it.")


def check_input(spec: ModelProfile, upload: UploadedFile) -> InputImage:
    """An input's real bytes: within the model's size limit, a format it edits, sniffed."""
    name = shown(upload.filename) or "The attachment"
    limit = spec.edit.max_bytes if spec.edit is not None else SMALL_MAX_BYTES
    check_bytes(name, len(upload.data), limit, "image")
    image = sniff_image(upload.data, upload.filename)
    if image.format not in _edit_formats(spec):
        formats = or_list([fmt.upper() for fmt in _edit_formats(spec)])
        found = image.format.upper()
        refuse("image", f"{spec.name} edits {formats} only; {name} is a {found}: convert it.")
    if spec.edit is not None and spec.edit.square:
        check_square(spec, upload.filename, image.width, image.height)
    return image


def mask_mismatch(mask: tuple[object, object], first: tuple[object, object]) -> NoReturn:
    sizes = f"The mask is {mask[0]}x{mask[1]} but the first image is {first[0]}x{first[1]}"
    refuse("mask", f"{sizes}: make them the same size.")


def check_mask(upload: UploadedFile, first: InputImage) -> InputImage:
    check_bytes("The mask", len(upload.data), SMALL_MAX_BYTES, "mask")
    mask = sniff_image(upload.data, upload.filename or "The mask", field="mask")
    if mask.format != "png":
        refuse("mask", f"The mask must be a PNG, not a {mask.format.upper()}: save it as PNG.")
    if not mask.has_alpha:
        refuse(
            "mask",
            "The mask needs an alpha channel (transparent where the image should change): "
            "save it as a PNG with transparency.",
        )
    if (mask.width, mask.height) != (first.width, first.height):
        mask_mismatch((mask.width, mask.height), (first.width, first.height))
    return mask

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
from bot.i18n import _
from bot.i18n.numbers import number

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
        _(
            "{name} is {width}x{height}, {pixels} pixels; images can have at most {most} "
            "(like 6000x4000): scale it down."
        ).format(
            name=name,
            width=width,
            height=height,
            pixels=number(width * height),
            most=number(INPUT_MAX_PIXELS),
        ),
    )


def sniff_image(data: bytes, filename: str, *, field: str = "image") -> InputImage:
    """Read an upload's real format and size from its bytes (never its name); refuse non-images."""
    name = shown(filename) or _("The attachment")
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
            _("{name} has too many pixels; images can have at most {most}: scale it down.").format(
                name=name, most=number(INPUT_MAX_PIXELS)
            ),
        )
    except UnidentifiedImageError:
        refuse(
            field,
            _("{name} is not a PNG, JPEG or WebP image: attach one of those.").format(name=name),
        )
    except Exception:
        # Pillow raises many types (OSError, SyntaxError, ValueError, ...) on malformed data.
        refuse(
            field,
            _("{name} could not be read as an image (it may be damaged): try another.").format(
                name=name
            ),
        )
    return InputImage(data, filename, fmt, width, height, alpha)


def check_bytes(name: str, size: int, limit: int, field: str) -> None:
    if size >= limit:
        refuse(
            field,
            _("{name} is {size} MB; it must be under {limit} MB: make it smaller.").format(
                name=name, size=number(size / MB, places=1), limit=number(limit // MB)
            ),
        )


def check_declared(declared: DeclaredFile, max_bytes: int, field: str) -> None:
    name = shown(declared.filename) or _("The attachment")
    content_type = (declared.content_type or "").split(";")[0].strip().lower()
    if content_type not in _IMAGE_TYPES | _UNKNOWN_TYPES:
        kind = shown(content_type)
        refuse(
            field,
            _("{name} is not a PNG, JPEG or WebP image ({type}): attach one of those.").format(
                name=name, type=kind
            ),
        )
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
        name = shown(declared.filename) or _("The attachment")
        formats = or_list([item.upper() for item in _edit_formats(spec)])
        _wrong_format(spec, formats, name, fmt.upper())


def _wrong_format(spec: ModelProfile, formats: str, name: str, found: str) -> NoReturn:
    refuse(
        "image",
        _("{model} edits {formats} only; {name} is a {format}: convert it.").format(
            model=spec.name, formats=formats, name=name, format=found
        ),
    )


def check_square(spec: ModelProfile, filename: str, width: int, height: int) -> None:
    """The model edits square images only (dall-e-2)."""
    if width != height:
        name = shown(filename) or _("the attachment")
        refuse(
            "image",
            _("{model} needs a square image; {name} is {width}x{height}: crop it.").format(
                model=spec.name, name=name, width=width, height=height
            ),
        )


def check_input(spec: ModelProfile, upload: UploadedFile) -> InputImage:
    """An input's real bytes: within the model's size limit, a format it edits, sniffed."""
    name = shown(upload.filename) or _("The attachment")
    limit = spec.edit.max_bytes if spec.edit is not None else SMALL_MAX_BYTES
    check_bytes(name, len(upload.data), limit, "image")
    image = sniff_image(upload.data, upload.filename)
    if image.format not in _edit_formats(spec):
        formats = or_list([fmt.upper() for fmt in _edit_formats(spec)])
        found = image.format.upper()
        _wrong_format(spec, formats, name, found)
    if spec.edit is not None and spec.edit.square:
        check_square(spec, upload.filename, image.width, image.height)
    return image


def mask_mismatch(mask: tuple[object, object], first: tuple[object, object]) -> NoReturn:
    refuse(
        "mask",
        _(
            "The mask is {mask_width}x{mask_height} but the first image is {width}x{height}: "
            "make them the same size."
        ).format(mask_width=mask[0], mask_height=mask[1], width=first[0], height=first[1]),
    )


def check_mask(upload: UploadedFile, first: InputImage) -> InputImage:
    check_bytes(_("The mask"), len(upload.data), SMALL_MAX_BYTES, "mask")
    mask = sniff_image(upload.data, upload.filename or _("The mask"), field="mask")
    if mask.format != "png":
        refuse(
            "mask",
            _("The mask must be a PNG, not a {format}: save it as PNG.").format(
                format=mask.format.upper()
            ),
        )
    if not mask.has_alpha:
        refuse(
            "mask",
            _(
                "The mask needs an alpha channel (transparent where the image should change): "
                "save it as a PNG with transparency."
            ),
        )
    if (mask.width, mask.height) != (first.width, first.height):
        mask_mismatch((mask.width, mask.height), (first.width, first.height))
    return mask

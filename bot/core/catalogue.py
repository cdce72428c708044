"""Model capabilities as data; turns a member's options and files into a valid ImageRequest."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NoReturn

from PIL import Image, UnidentifiedImageError

from bot.core.errors import InvalidRequest
from bot.core.models import ImageFormat, ImageRequest, InputImage, JobKind

MB = 1024 * 1024
INPUT_MAX_BYTES = 50 * MB  # GPT image model inputs must be strictly smaller
SMALL_MAX_BYTES = 4 * MB  # dall-e-2 inputs and every mask must be strictly smaller
# The most pixels an input image may have: a 24-megapixel photo (6000x4000) passes, while a
# small file declaring or holding more is refused before Pillow decodes it (a 347 KB PNG can
# hold 89 Mpx, 359 MiB decoded). The models scale inputs down far below this anyway.
INPUT_MAX_PIXELS = 25_000_000
MAX_CHOICES = 25  # Discord's cap on autocomplete choices

# gpt-image-2 takes any WxH within OpenAI's published limits.
FREE_STEP = 16
FREE_MAX_RATIO = 3
FREE_MAX_EDGE = 3840
FREE_MAX_PIXELS = 3840 * 2160
FREE_MIN_PIXELS = 655_360  # the API's pixel floor (1024x640)

GPT_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
GPT_QUALITIES = ("auto", "low", "medium", "high")
BACKGROUNDS = ("transparent", "opaque", "auto")
MODERATIONS = ("auto", "low")
INPUT_FIDELITIES = ("low", "high")
STYLES = ("vivid", "natural")
OUTPUT_FORMATS: dict[str, ImageFormat] = dict(png="png", jpeg="jpeg", jpg="jpeg", webp="webp")
_PILLOW_FORMATS: dict[str, ImageFormat] = dict(PNG="png", JPEG="jpeg", MPO="jpeg", WEBP="webp")
# Only these decoders ever see member bytes; phone JPEGs may come back as format "MPO".
_OPENERS = ("PNG", "JPEG", "WEBP")
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/jpg", "image/pjpeg", "image/webp"})
_UNKNOWN_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
_SIZE_RE = re.compile(r"(\d{1,6})\s*[x×]\s*(\d{1,6})")


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What one model accepts (DESIGN.md's model table)."""

    name: str
    prompt_max: int
    n_max: int
    sizes: tuple[str, ...]
    qualities: tuple[str, ...]
    free_sizes: bool = False  # any WxH within the FREE_* limits
    max_edit_images: int = 0  # 0: the model cannot edit
    edit_formats: tuple[ImageFormat, ...] = ("png", "jpeg", "webp")
    edit_max_bytes: int = INPUT_MAX_BYTES
    edit_square: bool = False
    styles: tuple[str, ...] = ()
    gpt_extras: bool = False  # background, output_format, output_compression, moderation
    input_fidelity: bool = False
    n_min: int = 1

    @property
    def can_edit(self) -> bool:
        """Whether /images/edits takes this model."""
        return self.max_edit_images > 0


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "gpt-image-2", prompt_max=32000, n_max=10, sizes=GPT_SIZES, qualities=GPT_QUALITIES,
            free_sizes=True, max_edit_images=16, gpt_extras=True,
        ),
        ModelSpec(
            "gpt-image-1", prompt_max=32000, n_max=10, sizes=GPT_SIZES, qualities=GPT_QUALITIES,
            max_edit_images=16, gpt_extras=True, input_fidelity=True,
        ),
        ModelSpec(
            "dall-e-3", prompt_max=4000, n_max=1, sizes=("1024x1024", "1792x1024", "1024x1792"),
            qualities=("standard", "hd"), styles=STYLES,
        ),
        ModelSpec(
            "dall-e-2", prompt_max=1000, n_max=10, sizes=("256x256", "512x512", "1024x1024"),
            qualities=("standard",), max_edit_images=1, edit_formats=("png",),
            edit_max_bytes=SMALL_MAX_BYTES, edit_square=True,
        ),
    )
}  # fmt: skip


@dataclass
class RawOptions:
    """The options exactly as a Discord command gives them; None means not given."""

    prompt: str
    model: str | None = None
    size: str | None = None
    quality: str | None = None
    n: int | None = None
    background: str | None = None
    output_format: str | None = None
    output_compression: int | None = None
    style: str | None = None
    moderation: str | None = None
    input_fidelity: str | None = None


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


def _refuse(field: str, message: str) -> NoReturn:
    raise InvalidRequest(message, field=field)


def _shown(value: str, limit: int = 40) -> str:
    # A member's value echoed back: one line, no code ticks to break formatting, short.
    text = "".join(ch if ch.isprintable() else " " for ch in value).replace("`", "'").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _or_list(items: Sequence[str]) -> str:
    if len(items) < 2:
        return "".join(items) or "nothing"
    return ", ".join(items[:-1]) + " or " + items[-1]


def _models_with(flag: str) -> list[str]:
    return [name for name, spec in MODELS.items() if getattr(spec, flag)]


def _parse_size(text: str) -> tuple[int, int] | None:
    match = _SIZE_RE.fullmatch(text.strip().lower())
    return (int(match.group(1)), int(match.group(2))) if match else None


def _free_size_problem(width: int, height: int) -> str | None:
    """Why gpt-image-2 refuses WxH, or None when it is fine."""
    long, short = max(width, height), min(width, height)
    if short <= 0:
        return "width and height must be above 0"
    if width % FREE_STEP or height % FREE_STEP:
        return "width and height must be multiples of 16"
    if long > FREE_MAX_RATIO * short:
        return "the aspect ratio must be between 1:3 and 3:1"
    if long > FREE_MAX_EDGE:
        return "the longest side can be at most 3840 pixels"
    if width * height > FREE_MAX_PIXELS:
        return "it can have at most 3840x2160 (8,294,400) pixels"
    if width * height < FREE_MIN_PIXELS:
        return "it needs at least 655,360 pixels, as 1024x640 has"
    return None


def _suggest_size(width: int, height: int) -> str | None:
    """A close WxH that gpt-image-2 accepts, keeping the aspect ratio, or None."""
    if min(width, height) <= 0:
        return None
    pixels = width * height
    scale = min(1.0, math.sqrt(FREE_MAX_PIXELS / pixels), FREE_MAX_EDGE / max(width, height))
    if pixels < FREE_MIN_PIXELS:
        scale = math.sqrt(FREE_MIN_PIXELS / pixels)
    w, h = width * scale / FREE_STEP, height * scale / FREE_STEP
    for rounding in (lambda x: math.floor(x + 0.5), math.floor, math.ceil):
        candidate = (max(1, rounding(w)) * FREE_STEP, max(1, rounding(h)) * FREE_STEP)
        if _free_size_problem(*candidate) is None:
            return f"{candidate[0]}x{candidate[1]}"
    return None


def _too_many_pixels(name: str, field: str, width: int, height: int) -> NoReturn:
    _refuse(
        field,
        f"{name} is {width}x{height}, {width * height:,} pixels; images can have at most "
        f"{INPUT_MAX_PIXELS:,} (like 6000x4000): scale it down.",
    )


def sniff_image(data: bytes, filename: str, *, field: str = "image") -> InputImage:
    """Read an upload's real format and size from its bytes (never its name); refuse non-images."""
    name = _shown(filename) or "The attachment"
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
        _refuse(
            field,
            f"{name} has too many pixels; images can have at most {INPUT_MAX_PIXELS:,}: "
            "scale it down.",
        )
    except UnidentifiedImageError:
        _refuse(field, f"{name} is not a PNG, JPEG or WebP image: attach one of those.")
    except Exception:
        # Pillow raises many types (OSError, SyntaxError, ValueError, ...) on malformed data.
        _refuse(field, f"{name} could not be read as an image (it may be damaged): try another.")
    return InputImage(data, filename, fmt, width, height, alpha)


class Catalogue:
    """The enabled models and every rule a request must pass before it costs anything."""

    def __init__(self, enabled: Sequence[str], default: str) -> None:
        unknown = [name for name in enabled if name not in MODELS]
        if unknown or not enabled:
            raise ValueError(f"unknown or no models enabled: {unknown}; known: {list(MODELS)}")
        if default not in enabled:
            raise ValueError(f"default model {default} is not enabled")
        self.enabled: tuple[str, ...] = tuple(dict.fromkeys(enabled))
        self.default = default

    def spec(self, name: str) -> ModelSpec:
        """The spec of an enabled model; refuses any other name."""
        if name not in self.enabled:
            choose = _or_list(self.enabled)
            _refuse("model", f"Model {_shown(name)} is not available here: choose {choose}.")
        return MODELS[name]

    def size_choices(self, model: str | None, typed: str) -> list[str]:
        """Autocomplete for the size option: the model's sizes matching what was typed."""
        spec = MODELS[model if model is not None and model in self.enabled else self.default]
        text = typed.strip().lower()
        choices = [size for size in spec.sizes if text in size]
        parsed = _parse_size(text) if spec.free_sizes else None
        if parsed is not None:
            exact = f"{parsed[0]}x{parsed[1]}"
            offer = exact if _free_size_problem(*parsed) is None else _suggest_size(*parsed)
            if offer is not None and offer not in choices:
                choices.insert(0, offer)
        return choices[:MAX_CHOICES]

    def precheck(
        self,
        options: RawOptions,
        *,
        kind: JobKind,
        files: Sequence[DeclaredFile] = (),
        mask: DeclaredFile | None = None,
    ) -> ImageRequest:
        """Every option rule plus what Discord's attachment metadata already tells; pure, fast.

        Returns the request the options make, without images (the ledger's checks need it
        before anything is downloaded).
        """
        request = self._options(options, kind)
        spec = MODELS[request.model]
        _check_counts(spec, kind, len(files), mask is not None)
        for declared in files:
            _check_declared(declared, spec.edit_max_bytes, "image")
            _check_declared_format(spec, declared)
            if spec.edit_square and declared.width is not None and declared.height is not None:
                _check_square(spec, declared.filename, declared.width, declared.height)
        if mask is not None:
            _check_declared(mask, SMALL_MAX_BYTES, "mask")
            mask_dims, first_dims = (mask.width, mask.height), (files[0].width, files[0].height)
            if None not in (*mask_dims, *first_dims) and mask_dims != first_dims:
                _mask_mismatch(mask_dims, first_dims)
        return request

    def validate(
        self,
        options: RawOptions,
        *,
        kind: JobKind,
        images: Sequence[UploadedFile] = (),
        mask: UploadedFile | None = None,
    ) -> ImageRequest:
        """Check options and sniff each file's bytes with Pillow into an ImageRequest.

        Synchronous CPU work (full image decodes): async callers run it via `asyncio.to_thread`.
        """
        request = self._options(options, kind)
        spec = MODELS[request.model]
        _check_counts(spec, kind, len(images), mask is not None)
        inputs = tuple(_check_input(spec, upload) for upload in images)
        sniffed_mask = _check_mask(mask, inputs[0]) if mask is not None else None
        return replace(request, images=inputs, mask=sniffed_mask)

    def _options(self, options: RawOptions, kind: JobKind) -> ImageRequest:
        spec = self.spec(self.default if options.model is None else options.model)
        if kind == "edit" and not spec.can_edit:
            editors = [name for name in self.enabled if MODELS[name].can_edit]
            fix = f"choose {_or_list(editors)} for /edit" if editors else "no enabled model can"
            _refuse("model", f"{spec.name} cannot edit images: {fix}.")
        # Checked in the order a member reads the options, so the first complaint is the first one.
        prompt, n, size = (
            _prompt(spec, options.prompt),
            _count(spec, options.n),
            _size(spec, options.size),
        )
        quality = _choice(spec, "quality", options.quality, spec.qualities)
        style = _style(spec, options.style)
        output_format, compression = _output(spec, options)
        return ImageRequest(
            kind=kind,
            model=spec.name,
            prompt=prompt,
            n=n,
            size=size,
            quality=quality,
            style=style,
            background=_background(spec, options.background, output_format),
            output_format=output_format,
            output_compression=compression,
            moderation=_moderation(spec, options.moderation, kind),
            input_fidelity=_fidelity(spec, options.input_fidelity, kind),
        )


def _prompt(spec: ModelSpec, prompt: str) -> str:
    text = prompt.strip()
    if not text:
        _refuse("prompt", "Write a prompt: it cannot be empty.")
    if len(text) > spec.prompt_max:
        over = len(text) - spec.prompt_max
        _refuse(
            "prompt",
            f"The prompt has {len(text):,} characters but {spec.name} takes at most "
            f"{spec.prompt_max:,}: shorten it by {over:,}.",
        )
    return text


def _count(spec: ModelSpec, n: int | None) -> int:
    if n is None:
        return 1
    if spec.n_min <= n <= spec.n_max:
        return int(n)  # a bool is an int too; send a plain number
    if spec.n_max == 1:
        _refuse("n", f"{spec.name} makes one image at a time: set n to 1.")
    low, high = spec.n_min, spec.n_max
    _refuse(
        "n", f"{spec.name} makes {low} to {high} images per request: set n from {low} to {high}."
    )


def _size(spec: ModelSpec, size: str | None) -> str | None:
    if size is None:
        return None
    parsed = _parse_size(size)
    canonical = f"{parsed[0]}x{parsed[1]}" if parsed else size.strip().lower()
    if canonical in spec.sizes:
        return canonical
    choose = _or_list(spec.sizes)
    if not spec.free_sizes:
        _refuse("size", f"Size {_shown(size)} is not available on {spec.name}: choose {choose}.")
    if parsed is None:
        hint = f"write WIDTHxHEIGHT (like 1536x864) or choose {choose}"
        _refuse("size", f"Size {_shown(size)} is not a size: {hint}.")
    problem = _free_size_problem(*parsed)
    if problem is not None:
        suggestion = _suggest_size(*parsed)
        hint = f" (try {suggestion})" if suggestion else ""
        _refuse("size", f"Size {canonical} is not allowed: {problem}{hint}.")
    return canonical


def _choice(spec: ModelSpec, field: str, value: str | None, allowed: Sequence[str]) -> str | None:
    if value is None:
        return None
    text = value.strip().lower()
    if text not in allowed:
        choose = _or_list(allowed)
        _refuse(field, f"{field} {_shown(value)} is not available on {spec.name}: choose {choose}.")
    return text


def _only_for(spec: ModelSpec, field: str, value: object, flag: str) -> None:
    if value is not None and not getattr(spec, flag):
        takers = _or_list(_models_with(flag))
        _refuse(field, f"{field} only works with {takers}: leave it unset for {spec.name}.")


def _style(spec: ModelSpec, style: str | None) -> str | None:
    _only_for(spec, "style", style, "styles")
    return _choice(spec, "style", style, spec.styles)


def _output(spec: ModelSpec, options: RawOptions) -> tuple[ImageFormat | None, int | None]:
    _only_for(spec, "output_format", options.output_format, "gpt_extras")
    _only_for(spec, "output_compression", options.output_compression, "gpt_extras")
    name = _choice(spec, "output_format", options.output_format, tuple(OUTPUT_FORMATS))
    fmt = OUTPUT_FORMATS[name] if name is not None else None
    compression = options.output_compression
    if compression is None:
        return fmt, None
    if not 0 <= compression <= 100:
        _refuse("output_compression", f"output_compression must be 0 to 100, not {compression}.")
    if fmt not in ("jpeg", "webp"):
        _refuse(
            "output_compression",
            "output_compression only works with jpeg or webp output: set output_format to "
            "jpeg or webp, or leave output_compression unset.",
        )
    return fmt, int(compression)


def _background(spec: ModelSpec, background: str | None, fmt: ImageFormat | None) -> str | None:
    _only_for(spec, "background", background, "gpt_extras")
    value = _choice(spec, "background", background, BACKGROUNDS)
    if value == "transparent" and fmt == "jpeg":
        _refuse(
            "output_format",
            "A transparent background needs png or webp output: set output_format to png or webp.",
        )
    return value


def _moderation(spec: ModelSpec, moderation: str | None, kind: JobKind) -> str | None:
    _only_for(spec, "moderation", moderation, "gpt_extras")
    if moderation is not None and kind == "edit":
        # The edit endpoint has no moderation parameter (OpenAI's published schema).
        _refuse("moderation", "moderation only applies to new images: leave it unset for /edit.")
    return _choice(spec, "moderation", moderation, MODERATIONS)


def _fidelity(spec: ModelSpec, fidelity: str | None, kind: JobKind) -> str | None:
    if fidelity is not None and kind != "edit":
        _refuse("input_fidelity", "input_fidelity only applies to /edit: leave it unset.")
    _only_for(spec, "input_fidelity", fidelity, "input_fidelity")
    return _choice(spec, "input_fidelity", fidelity, INPUT_FIDELITIES)


def _check_counts(spec: ModelSpec, kind: JobKind, count: int, has_mask: bool) -> None:
    if kind == "generate":
        if count or has_mask:
            _refuse("image", "Attachments are only for /edit: use /edit to change an image.")
        return
    if count == 0:
        _refuse("image", "Attach at least one image to edit.")
    most = spec.max_edit_images
    if count > most:
        fix = "attach a single image" if most == 1 else f"remove {count - most}"
        images = "image" if most == 1 else "images"
        _refuse("image", f"{spec.name} takes at most {most} {images} per edit: {fix}.")


def _check_bytes(name: str, size: int, limit: int, field: str) -> None:
    if size >= limit:
        megabytes = f"{size / MB:.1f} MB"
        _refuse(
            field, f"{name} is {megabytes}; it must be under {limit // MB} MB: make it smaller."
        )


def _check_declared(declared: DeclaredFile, max_bytes: int, field: str) -> None:
    name = _shown(declared.filename) or "The attachment"
    content_type = (declared.content_type or "").split(";")[0].strip().lower()
    if content_type not in _IMAGE_TYPES | _UNKNOWN_TYPES:
        shown = _shown(content_type)
        _refuse(field, f"{name} is not a PNG, JPEG or WebP image ({shown}): attach one of those.")
    _check_bytes(name, declared.size, max_bytes, field)
    width, height = declared.width or 0, declared.height or 0
    if width * height > INPUT_MAX_PIXELS:
        _too_many_pixels(name, field, width, height)


def _check_declared_format(spec: ModelSpec, declared: DeclaredFile) -> None:
    """A declared image type the model does not edit (dall-e-2: PNG only); bytes decide later."""
    content_type = (declared.content_type or "").split(";")[0].strip().lower()
    fmt = content_type.removeprefix("image/")
    if content_type in _IMAGE_TYPES and fmt not in spec.edit_formats:
        name = _shown(declared.filename) or "The attachment"
        formats = _or_list([item.upper() for item in spec.edit_formats])
        _refuse(
            "image", f"{spec.name} edits {formats} only; {name} is a {fmt.upper()}: convert it."
        )


def _check_square(spec: ModelSpec, filename: str, width: int, height: int) -> None:
    if width != height:
        name = _shown(filename) or "the attachment"
        _refuse("image", f"{spec.name} needs a square image; {name} is {width}x{height}: crop it.")


def _check_input(spec: ModelSpec, upload: UploadedFile) -> InputImage:
    name = _shown(upload.filename) or "The attachment"
    _check_bytes(name, len(upload.data), spec.edit_max_bytes, "image")
    image = sniff_image(upload.data, upload.filename)
    if image.format not in spec.edit_formats:
        formats = _or_list([fmt.upper() for fmt in spec.edit_formats])
        found = image.format.upper()
        _refuse("image", f"{spec.name} edits {formats} only; {name} is a {found}: convert it.")
    if spec.edit_square:
        _check_square(spec, upload.filename, image.width, image.height)
    return image


def _mask_mismatch(mask: tuple[object, object], first: tuple[object, object]) -> NoReturn:
    sizes = f"The mask is {mask[0]}x{mask[1]} but the first image is {first[0]}x{first[1]}"
    _refuse("mask", f"{sizes}: make them the same size.")


def _check_mask(upload: UploadedFile, first: InputImage) -> InputImage:
    _check_bytes("The mask", len(upload.data), SMALL_MAX_BYTES, "mask")
    mask = sniff_image(upload.data, upload.filename or "The mask", field="mask")
    if mask.format != "png":
        _refuse("mask", f"The mask must be a PNG, not a {mask.format.upper()}: save it as PNG.")
    if not mask.has_alpha:
        _refuse(
            "mask",
            "The mask needs an alpha channel (transparent where the image should change): "
            "save it as a PNG with transparency.",
        )
    if (mask.width, mask.height) != (first.width, first.height):
        _mask_mismatch((mask.width, mask.height), (first.width, first.height))
    return mask

"""The image models as data: what each accepts (sizes, qualities, counts, edits, extras).

The four models of WisGate's documentation; every rule a request is checked by reads these.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bot.core.models import ImageFormat

MB = 1024 * 1024

INPUT_MAX_BYTES = 50 * MB  # GPT image model inputs must be strictly smaller

SMALL_MAX_BYTES = 4 * MB  # dall-e-2 inputs and every mask must be strictly smaller

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

_SIZE_RE = re.compile(r"(\d{1,6})\s*[x×]\s*(\d{1,6})")

GPT_IMAGE_PREFIX = "gpt-image"


def is_gpt_image(model: str) -> bool:
    """GPT image models always answer base64 and reject `response_format`."""
    return model.startswith(GPT_IMAGE_PREFIX)


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What one model accepts (docs/architecture.md, The models)."""

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


def models_with(flag: str) -> list[str]:
    return [name for name, spec in MODELS.items() if getattr(spec, flag)]


def parse_size(text: str) -> tuple[int, int] | None:
    match = _SIZE_RE.fullmatch(text.strip().lower())
    return (int(match.group(1)), int(match.group(2))) if match else None


def free_size_problem(width: int, height: int) -> str | None:
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


def suggest_size(width: int, height: int) -> str | None:
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
        if free_size_problem(*candidate) is None:
            return f"{candidate[0]}x{candidate[1]}"
    return None

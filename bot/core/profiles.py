"""The image models as data: what each accepts (sizes, qualities, counts, edits, extras, prices).

A `ModelProfile` is read from TOML (bot/core/models.toml, then the operator's MODELS_FILE; see
bot/core/profile_files.py). Every rule a request is checked by reads a profile: no code asks
which model it is by name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Literal

ImageFormat = Literal["png", "jpeg", "webp"]

MB = 1024 * 1024
SMALL_MAX_BYTES = 4 * MB  # every mask must be strictly smaller (the API's rule for masks)

# The words the API knows for each option; a profile says which of them a model takes.
BACKGROUNDS = ("transparent", "opaque", "auto")
MODERATIONS = ("auto", "low")
INPUT_FIDELITIES = ("low", "high")
OUTPUT_FORMATS: dict[str, ImageFormat] = dict(png="png", jpeg="jpeg", jpg="jpeg", webp="webp")
# Parameters beyond the common ones that a profile may list as accepted.
PARAMS = ("background", "moderation", "output_compression", "input_fidelity", "partial_images")
_SIZE_RE = re.compile(r"(\d{1,6})\s*[x×]\s*(\d{1,6})")


@dataclass(frozen=True, slots=True)
class FreeSize:
    """Any WxH within these bounds (gpt-image-2's rule), beside the listed sizes."""

    step: int
    max_ratio: float
    max_edge: int
    min_pixels: int
    max_pixels: int


@dataclass(frozen=True, slots=True)
class EditRules:
    """What /images/edits takes with this model."""

    max_images: int
    formats: tuple[ImageFormat, ...]
    max_bytes: int  # each input strictly smaller
    square: bool = False


@dataclass(frozen=True, slots=True)
class TokenPrices:
    """USD per million tokens (equal to micro-dollars per token)."""

    text_input: Decimal
    image_input: Decimal
    image_output: Decimal


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """What one model accepts, and what it costs (docs/architecture.md, The models)."""

    name: str
    description: str
    prompt_max: int
    n_min: int
    n_max: int
    sizes: tuple[str, ...]
    largest: tuple[int, int]  # the largest picture a listed size or "auto" gives
    qualities: tuple[str, ...]
    free_size: FreeSize | None = None
    edit: EditRules | None = None
    transparent: bool = False
    output_formats: tuple[ImageFormat, ...] = ()  # () : the model chooses (no output_format)
    styles: tuple[str, ...] = ()
    params: frozenset[str] = frozenset()
    response_format: bool = False  # must ask for base64 (dall-e answers a URL by default)
    image_prices: Mapping[str, Mapping[str, Decimal]] | None = None  # quality -> size -> USD
    # What the API uses when the option is not sent; None (or "auto"): the API picks, so the
    # hold covers the dearest choice and the charge follows what it reports.
    default_quality: str | None = None
    default_size: str | None = None
    token_prices: TokenPrices | None = None
    enabled: bool = True

    @property
    def can_edit(self) -> bool:
        """Whether /images/edits takes this model."""
        return self.edit is not None

    def takes(self, param: str) -> bool:
        """Whether the model accepts this extra parameter (see PARAMS)."""
        return param in self.params

    def summary(self) -> str:
        """Capabilities in short, for the model option's autocomplete and `bot models`."""
        return self.description or self.name


def parse_size(text: str) -> tuple[int, int] | None:
    """`1536x1024` (or `1536 × 1024`) as numbers; None if it is not a size."""
    match = _SIZE_RE.fullmatch(text.strip().lower())
    return (int(match.group(1)), int(match.group(2))) if match else None


class SizeFault(Enum):
    """Which part of the free-size rule a WxH breaks. The rule holds the numbers; a member's
    refusal words them in the member's language (bot/core/size_texts.py), and the values name
    the models file's fields in English for the operator."""

    EMPTY = "a side is 0"
    STEP = "a side is not a multiple of step"
    RATIO = "the sides differ by more than max_ratio"
    EDGE = "the longest side is above max_edge"
    MOST_PIXELS = "more pixels than max_pixels"
    LEAST_PIXELS = "fewer pixels than min_pixels"


def free_size_fault(rule: FreeSize, width: int, height: int) -> SizeFault | None:
    """The first part of the free-size rule that WxH breaks, or None when it is fine."""
    long, short = max(width, height), min(width, height)
    if short <= 0:
        return SizeFault.EMPTY
    if width % rule.step or height % rule.step:
        return SizeFault.STEP
    if long > rule.max_ratio * short:
        return SizeFault.RATIO
    if long > rule.max_edge:
        return SizeFault.EDGE
    if width * height > rule.max_pixels:
        return SizeFault.MOST_PIXELS
    if width * height < rule.min_pixels:
        return SizeFault.LEAST_PIXELS
    return None


def fits_free_size(rule: FreeSize, width: int, height: int) -> bool:
    """Whether the free-size rule takes WxH (the canvas and shape searches ask only this)."""
    return free_size_fault(rule, width, height) is None


def suggest_size(rule: FreeSize, width: int, height: int) -> str | None:
    """A close WxH that the free-size rule accepts, keeping the aspect ratio, or None."""
    if min(width, height) <= 0:
        return None
    pixels = width * height
    scale = min(1.0, math.sqrt(rule.max_pixels / pixels), rule.max_edge / max(width, height))
    if pixels < rule.min_pixels:
        scale = math.sqrt(rule.min_pixels / pixels)
    w, h = width * scale / rule.step, height * scale / rule.step
    for rounding in (lambda x: math.floor(x + 0.5), math.floor, math.ceil):
        candidate = (max(1, rounding(w)) * rule.step, max(1, rounding(h)) * rule.step)
        if fits_free_size(rule, *candidate):
            return f"{candidate[0]}x{candidate[1]}"
    return None

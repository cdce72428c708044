"""Picture shapes: the `aspect` choices and typed ratios (`16:9`), each turned into a size the
model makes, read from its profile (listed sizes, then its free-size rule if it has one).

A listed size of the same orientation whose shape is close enough serves (dall-e-3's 1792x1024
for wide); a model with a free-size rule gets the exact ratio where its rule allows it, no larger
in area than its largest listed size (so a shape never costs more than the largest listed
picture). Whatever is not close enough is refused, naming the closest the model makes.
"""

from __future__ import annotations

import functools
import math
import re
from fractions import Fraction

from bot.core.profiles import FreeSize, ModelProfile, fits_free_size, parse_size

# The shapes members choose by name: width and height of the ratio, most common first.
ASPECTS: dict[str, tuple[int, int]] = {
    "square": (1, 1),
    "portrait": (2, 3),
    "landscape": (3, 2),
    "wide": (16, 9),
    "tall": (9, 16),
}
# How far a size's shape may stray from the asked ratio (long over short of the two), among the
# sizes of the same orientation: 16:9 still finds gpt-image-1's 1536x1024 (3:2) and 4:3
# dall-e-3's 1792x1024, but 21:9 is not 3:2 and nothing wide is ever a square.
MAX_STRETCH = Fraction(4, 3)
_RATIO_RE = re.compile(r"(\d{1,5})\s*:\s*(\d{1,5})")


def parse_ratio(text: str) -> tuple[int, int] | None:
    """`16:9` as the smallest whole numbers of that ratio; None if it is not a ratio."""
    match = _RATIO_RE.fullmatch(text.strip())
    if match is None:
        return None
    width, height = int(match.group(1)), int(match.group(2))
    if width == 0 or height == 0:
        return None
    common = math.gcd(width, height)
    return width // common, height // common


def stretch(size: tuple[int, int], ratio: tuple[int, int]) -> Fraction:
    """How far a WxH strays from a ratio: 1 when it matches, above 1 otherwise."""
    across, down = size[0] * ratio[1], size[1] * ratio[0]
    return Fraction(max(across, down), min(across, down))


def closest_size(spec: ModelProfile, ratio: tuple[int, int]) -> tuple[int, int] | None:
    """The model's size nearest in shape to the ratio (None if it lists no WxH size at all)."""
    ranked = _ranked(*_shape_rules(spec), ratio)
    return ranked[0] if ranked else None


def size_for_ratio(spec: ModelProfile, ratio: tuple[int, int]) -> str | None:
    """The size the model makes for this ratio as `WxH`, or None if none is close enough."""
    for size in _ranked(*_shape_rules(spec), ratio):
        if _orientation(size) == _orientation(ratio) and stretch(size, ratio) <= MAX_STRETCH:
            return f"{size[0]}x{size[1]}"
    return None


def aspects_of(spec: ModelProfile) -> list[str]:
    """The aspect names the model can make, in ASPECTS' order."""
    return [name for name, ratio in ASPECTS.items() if size_for_ratio(spec, ratio) is not None]


def _orientation(size: tuple[int, int]) -> int:
    """1 landscape, 0 square, -1 portrait."""
    return (size[0] > size[1]) - (size[0] < size[1])


def _shape_rules(
    spec: ModelProfile,
) -> tuple[tuple[tuple[int, int], ...], tuple[int, int], FreeSize | None]:
    listed = tuple(size for size in (parse_size(s) for s in spec.sizes) if size is not None)
    return listed, spec.largest, spec.free_size


@functools.lru_cache(maxsize=256)
def _ranked(
    listed: tuple[tuple[int, int], ...],
    largest: tuple[int, int],
    free: FreeSize | None,
    ratio: tuple[int, int],
) -> tuple[tuple[int, int], ...]:
    """The candidate sizes, best shape first; a listed size before a free one of the same shape
    (its price is known), then the larger picture."""
    ranked = [(stretch(size, ratio), 0, -size[0] * size[1], size) for size in listed]
    if free is not None:
        found = _free_size(free, ratio, max(largest[0] * largest[1], free.min_pixels))
        if found is not None:
            ranked.append((stretch(found, ratio), 1, -found[0] * found[1], found))
    return tuple(item[3] for item in sorted(ranked))


def _free_size(rule: FreeSize, ratio: tuple[int, int], most_pixels: int) -> tuple[int, int] | None:
    """The free size nearest the ratio within `most_pixels`, the larger of equals; or None."""
    best: tuple[Fraction, int, tuple[int, int]] | None = None
    for width in range(rule.step, rule.max_edge + 1, rule.step):
        ideal = width * ratio[1] / ratio[0] / rule.step
        # Beside the ideal height, the flattest and tallest the rule allows at this width:
        # what comes closest to a ratio beyond the rule's bounds.
        flattest, tallest = width / rule.max_ratio / rule.step, width * rule.max_ratio / rule.step
        for steps in {math.floor(ideal), math.ceil(ideal), math.ceil(flattest), int(tallest)}:
            height = steps * rule.step
            if height <= 0 or width * height > most_pixels:
                continue
            if not fits_free_size(rule, width, height):
                continue
            key = (stretch((width, height), ratio), -width * height, (width, height))
            if best is None or key < best:
                best = key
    return best[2] if best is not None else None

"""Canvas geometry for the actions on a result: the size each asks for, and where the original
goes on a zoomed-out or panned canvas. Pure arithmetic on the model's profile, no pixels.

- Vary and Remix keep the picture's size where the model makes it (else the nearest it does).
- Upscale asks for the largest size of the same shape the model allows, at least UPSCALE_MIN
  times the pixels (a model with fixed sizes: only where a larger size of that shape exists).
- Zoom out and Pan (outpainting) put the original at 1/zoom of a new canvas (centred; at one
  edge for a pan), the rest transparent. The canvas follows the model's rules (multiples of the
  step, the ratio bound, the pixel and edge bounds, or one of its fixed sizes): the output
  grows where the model allows, and the original shrinks inside it only where it must.
bot/images/outpaint.py draws the canvas and its mask from a Plan.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from bot.core.actions import Action
from bot.core.profiles import FreeSize, ModelProfile, fits_free_size, parse_size, suggest_size

UPSCALE_MIN = 1.25  # an upscale worth its price gives at least this many times the pixels
MIN_GROWTH = 1.1  # a zoom or pan widens (heightens) the picture by at least a tenth
# A pan grows one way: the other edge may grow only by this share (rounding to sizes).
CROSS_SLACK = 0.05
SAME_SHAPE = 1.03  # canvases this close to the asked shape count as the same shape
_NEAR = range(-2, 3)  # steps tried around each ideal free-size edge


@dataclass(frozen=True, slots=True)
class Box:
    """Where the original goes on the canvas, in canvas pixels."""

    left: int
    top: int
    width: int
    height: int

    @property
    def right(self) -> int:
        """One past the last column."""
        return self.left + self.width

    @property
    def bottom(self) -> int:
        """One past the last row."""
        return self.top + self.height


@dataclass(frozen=True, slots=True)
class Plan:
    """The picture an action asks for; `placed` is where the original goes on a canvas of that
    size (None: the original is sent as it is, with no canvas and no mask)."""

    width: int
    height: int
    placed: Box | None = None

    @property
    def size(self) -> str:
        """The API's `size` for it."""
        return f"{self.width}x{self.height}"


def plan_for(profile: ModelProfile, action: Action, width: int, height: int) -> Plan | None:
    """What the action asks of this model for a width x height result; None where it cannot."""
    edit = profile.edit
    if edit is None or width <= 0 or height <= 0:
        return None
    if action.kind == "outpaint":
        return outpaint(profile, action.extend, action.anchor, width, height)
    if edit.square and width != height:
        return None  # the model edits square images only, and this one goes as it is
    if action.kind == "upscale":
        return upscale(profile, width, height)
    kept = kept_size(profile, width, height)
    return Plan(*kept) if kept is not None else None


def listed_sizes(profile: ModelProfile) -> list[tuple[int, int]]:
    """The model's fixed WxH sizes ("auto" left out), square only where it edits squares."""
    square = profile.edit is not None and profile.edit.square
    sizes = [size for size in map(parse_size, profile.sizes) if size is not None]
    return [size for size in sizes if not square or size[0] == size[1]]


def kept_size(profile: ModelProfile, width: int, height: int) -> tuple[int, int] | None:
    """The size to ask for to keep a width x height picture: itself where the model makes it,
    else the nearest in shape it does (the larger of equals)."""
    listed = listed_sizes(profile)
    rule = profile.free_size
    if (width, height) in listed:
        return width, height
    if rule is not None:
        if fits_free_size(rule, width, height):
            return width, height
        suggested = suggest_size(rule, width, height)
        if suggested is not None:
            return parse_size(suggested)
    ranked = sorted(listed, key=lambda size: (_stretch(size, width, height), -size[0] * size[1]))
    return ranked[0] if ranked else None


def upscale(profile: ModelProfile, width: int, height: int) -> Plan | None:
    """The largest size of the same shape the model allows, if it has UPSCALE_MIN times the
    pixels; a free size's short edge is the exact one rounded to the step."""
    least = UPSCALE_MIN * width * height
    found = [size for size in listed_sizes(profile) if size[0] * height == size[1] * width]
    if profile.free_size is not None:
        free = _largest_free(profile.free_size, width, height)
        found += [free] if free is not None else []
    found = [size for size in found if size[0] * size[1] >= least]
    if not found:
        return None
    return Plan(*max(found, key=lambda size: size[0] * size[1]))


def _largest_free(rule: FreeSize, width: int, height: int) -> tuple[int, int] | None:
    long, short = max(width, height), min(width, height)
    for edge in range(rule.max_edge - rule.max_edge % rule.step, 0, -rule.step):
        other = _round_step(edge * short / long, rule.step)
        size = (edge, other) if width >= height else (other, edge)
        if fits_free_size(rule, *size):
            return size  # the first that fits is the largest: area falls with the edge
    return None


def outpaint(
    profile: ModelProfile,
    extend: tuple[float, float],
    anchor: tuple[float, float],
    width: int,
    height: int,
) -> Plan | None:
    """The canvas and the original's place on it for a zoom (extend the same both ways) or a
    pan (one way); None where the model cannot grow this picture that way."""
    across, down = _shape(profile.free_size, extend, width, height)
    ranked: list[tuple[tuple[float, ...], Plan]] = []
    for size, limit in _canvases(profile, across, down):
        plan = _placed(size, limit, extend, anchor, width, height, across, down)
        if plan is None or plan.placed is None:
            continue
        scale = plan.placed.width / width
        enlarges = scale > 1 + 1e-9
        # A shape within SAME_SHAPE of the asked one first, then the least shrinking (never
        # enlarging where avoidable), then the smaller canvas of equals (the cheaper call).
        stretch = _stretch(size, across, down)
        shape = 0.0 if stretch <= SAME_SHAPE else stretch
        key = (shape, float(enlarges), scale if enlarges else -scale, float(size[0] * size[1]))
        ranked.append((key, plan))
    return min(ranked, key=lambda item: item[0])[1] if ranked else None


def _shape(
    rule: FreeSize | None, extend: tuple[float, float], width: int, height: int
) -> tuple[float, float]:
    """The canvas asked for, in the original's pixels, within a free-size rule's ratio bound: a
    pan grows its own way less, a zoom of a picture beyond the bound grows the other way more."""
    across, down = width * extend[0], height * extend[1]
    if rule is None:
        return across, down
    bound = rule.max_ratio
    if across > bound * down:
        if extend[0] > extend[1]:
            across = bound * down
        else:
            down = across / bound
    elif down > bound * across:
        if extend[1] > extend[0]:
            down = bound * across
        else:
            across = down / bound
    return across, down


def _canvases(
    profile: ModelProfile, across: float, down: float
) -> Iterator[tuple[tuple[int, int], float]]:
    """Candidate canvas sizes, each with the scale up to which the original may be drawn: a
    free size near the asked one (scaled into the rule's bounds), or each fixed size."""
    rule = profile.free_size
    if rule is None:
        for size in listed_sizes(profile):
            yield size, math.inf
        return
    scale = min(
        1.0, rule.max_edge / max(across, down), math.sqrt(rule.max_pixels / (across * down))
    )
    if across * down * scale * scale < rule.min_pixels:
        scale = math.sqrt(rule.min_pixels / (across * down))
    square = profile.edit is not None and profile.edit.square
    base_w, base_h = math.floor(across * scale / rule.step), math.floor(down * scale / rule.step)
    for step_w in _NEAR:
        for step_h in _NEAR:
            size = ((base_w + step_w) * rule.step, (base_h + step_h) * rule.step)
            fits = min(size) > 0 and fits_free_size(rule, *size)
            if fits and (not square or size[0] == size[1]):
                yield size, max(1.0, scale)


def _placed(
    size: tuple[int, int],
    limit: float,
    extend: tuple[float, float],
    anchor: tuple[float, float],
    width: int,
    height: int,
    across: float,
    down: float,
) -> Plan | None:
    """The original drawn as large as the asked canvas allows on this size (at most `limit`
    times), at its anchor; None if the picture would not grow as the action means."""
    canvas_w, canvas_h = size
    scale = min(canvas_w / across, canvas_h / down, limit)
    placed_w = max(1, min(canvas_w, round(width * scale)))
    placed_h = max(1, min(canvas_h, round(height * scale)))
    for grows, canvas, placed in (
        (extend[0] > 1, canvas_w, placed_w),
        (extend[1] > 1, canvas_h, placed_h),
    ):
        if grows and canvas < placed * MIN_GROWTH:
            return None
        if not grows and canvas - placed > CROSS_SLACK * canvas:
            return None  # a pan that would also grow the other way is a zoom: not offered
    left = round((canvas_w - placed_w) * anchor[0])
    top = round((canvas_h - placed_h) * anchor[1])
    return Plan(canvas_w, canvas_h, Box(left, top, placed_w, placed_h))


def _stretch(size: tuple[int, int], across: float, down: float) -> float:
    """How far a size strays from a shape: 1 when it matches, above 1 otherwise."""
    wide, tall = size[0] * down, size[1] * across
    return max(wide, tall) / min(wide, tall)


def _round_step(value: float, step: int) -> int:
    return max(step, math.floor(value / step + 0.5) * step)

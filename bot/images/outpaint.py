"""The pixels of an action's input: the result as it is, or on a larger transparent canvas with
its mask. CPU work (Pillow): callers run it off the event loop (the intake's decode pool).

The source is sniffed first (bot.core.input_files: its real format and size, the pixel cap
before any decode), so a file the store or Discord hands back is checked like an upload. The
plan is made from those real dimensions (bot/images/canvas.py), never from what a message
declared; an action the model cannot do for them is refused here, before anything is held.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from bot.core.actions import Action
from bot.core.errors import refuse
from bot.core.input_files import UploadedFile, sniff_image
from bot.core.profiles import ModelProfile
from bot.i18n import _
from bot.images.canvas import Box, Plan, plan_for

MASK_NAME = "mask.png"
CANVAS_NAME = "canvas.png"
CLEAR = (0, 0, 0, 0)
KEPT = (0, 0, 0, 255)


@dataclass(frozen=True, slots=True)
class Prepared:
    """An action's input, ready for the catalogue: the size to ask for, the image, the mask."""

    size: str
    image: UploadedFile
    mask: UploadedFile | None = None


def prepare(profile: ModelProfile, action: Action, source: UploadedFile) -> Prepared:
    """The input for `action` on `source` with this model: the result itself (converted to PNG,
    losslessly, only when the model does not edit its format), or the canvas and its mask."""
    sniffed = sniff_image(source.data, source.filename)
    plan = plan_for(profile, action, sniffed.width, sniffed.height)
    if plan is None:
        text = _("{action} is not possible for this {size} image on {model}. Nothing was charged.")
        size = f"{sniffed.width}x{sniffed.height}"
        refuse("image", text.format(action=_(action.label), size=size, model=profile.name))
    if plan.placed is None:
        formats = profile.edit.formats if profile.edit is not None else ()
        if sniffed.format in formats:
            return Prepared(plan.size, source)
        return Prepared(plan.size, UploadedFile(_png_name(source.filename), as_png(source.data)))
    canvas, mask = outpaint_images(source.data, plan)
    return Prepared(plan.size, UploadedFile(CANVAS_NAME, canvas), UploadedFile(MASK_NAME, mask))


def outpaint_images(source: bytes, plan: Plan) -> tuple[bytes, bytes]:
    """The canvas (the original at its place, transparent elsewhere) and the mask (transparent
    exactly outside the original, opaque over it), both PNG of the plan's size."""
    placed = plan.placed
    if placed is None:
        raise ValueError("this plan has no canvas")
    with Image.open(io.BytesIO(source)) as opened:
        original = opened.convert("RGBA")
    if original.size != (placed.width, placed.height):
        original = original.resize((placed.width, placed.height), Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", (plan.width, plan.height), CLEAR)
    canvas.paste(original, (placed.left, placed.top))
    return _png(canvas), _png(mask_image(plan.width, plan.height, placed))


def mask_image(width: int, height: int, placed: Box) -> Image.Image:
    """The mask: alpha 0 (the API's "change this") exactly outside the placed original."""
    mask = Image.new("RGBA", (width, height), CLEAR)
    mask.paste(KEPT, (placed.left, placed.top, placed.right, placed.bottom))
    return mask


def as_png(data: bytes) -> bytes:
    """The same pixels as a PNG (lossless: for a model that edits PNG only)."""
    with Image.open(io.BytesIO(data)) as opened:
        alpha = "A" in opened.getbands() or "transparency" in opened.info
        image = opened.convert("RGBA" if alpha else "RGB")
    return _png(image)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    # Level 1: a 3840x2160 canvas is saved in a fraction of level 6's time, a little larger.
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _png_name(name: str) -> str:
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{stem}.png"

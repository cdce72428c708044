"""A free size's refusal in the member's language: which part of the rule it breaks, with the
rule's numbers written the member's way, and a close size that fits."""

from __future__ import annotations

from bot.core.profiles import FreeSize, SizeFault
from bot.i18n import _
from bot.i18n.numbers import number


def free_size_refusal(size: str, rule: FreeSize, fault: SizeFault, suggestion: str | None) -> str:
    """Why `size` is refused by the free-size rule, then the suggestion when there is one."""
    # Whole sentences per fault, not a shared frame around a fragment: languages order them.
    if fault is SizeFault.EMPTY:
        text = _("Size {size} is not allowed: its width and height must be above 0.")
    elif fault is SizeFault.STEP:
        text = _("Size {size} is not allowed: its width and height must be multiples of {step}.")
    elif fault is SizeFault.RATIO:
        text = _(
            "Size {size} is not allowed: its aspect ratio must be between 1:{ratio} and {ratio}:1."
        )
    elif fault is SizeFault.EDGE:
        text = _("Size {size} is not allowed: its longest side can be at most {edge} pixels.")
    elif fault is SizeFault.MOST_PIXELS:
        text = _("Size {size} is not allowed: it can have at most {pixels} pixels.")
    else:
        text = _("Size {size} is not allowed: it needs at least {pixels} pixels.")
    pixels = rule.max_pixels if fault is SizeFault.MOST_PIXELS else rule.min_pixels
    refusal = text.format(
        size=size,
        step=rule.step,
        ratio=number(rule.max_ratio),
        edge=number(rule.max_edge),
        pixels=number(pixels),
    )
    if suggestion is None:
        return refusal
    return _("{refusal} Try {suggestion}.").format(refusal=refusal, suggestion=suggestion)

"""What a job holds, and what a budget refusal may suggest instead: prices applied to a JobSpec.

The hold is the price of what the API will use (an unset option at the model's default, see
bot/core/prices.py); only what the API picks itself, and the usage of token-priced models,
are held at their worst case. A refusal by the server's budget names cheaper choices only
when the member made dearer ones and undoing them would fit.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import product

from bot.core.prices import Estimate, PriceTable
from bot.i18n import N_
from bot.ledger.models import BudgetExhausted, JobSpec

FEWER_IMAGES = N_("fewer images")
LOWER_QUALITY = N_("a lower quality")
SMALLER_SIZE = N_("a smaller size")


def estimate(prices: PriceTable, spec: JobSpec) -> Estimate:
    """The most this job may cost (its hold), from the price table."""
    prompt = spec.params.get("prompt")
    return prices.estimate(
        spec.model,
        spec.quality,
        spec.size,
        spec.images,
        prompt_bytes=len(prompt.encode()) if isinstance(prompt, str) else 0,
        input_images=spec.input_images,
        partial_images=spec.partial_images,
    )


def cheaper(prices: PriceTable, spec: JobSpec, left_micros: int) -> tuple[str, ...]:
    """The member's own choices to undo (fewer images, a lower quality, a smaller size) so
    that the request fits in `left_micros`; () when they chose none or undoing them won't do."""
    table = prices.images.get(spec.model, {})
    # Only what the member chose may change; an unset option stays what the API will use.
    qualities = list(table) if spec.quality is not None and table else [spec.quality]
    listed = sorted({size for row in table.values() for size in row})
    sizes = listed if spec.size is not None and listed else [spec.size]
    quality, size = min(
        product(qualities, sizes), key=lambda pair: prices.unit_price(spec.model, *pair)
    )
    plain = replace(spec, images=1, quality=quality, size=size)
    if estimate(prices, plain).total_micros > left_micros:
        return ()
    asked = prices.unit_price(spec.model, spec.quality, spec.size)
    changes = []
    if spec.images > 1:
        changes.append(FEWER_IMAGES)
    if quality != spec.quality and prices.unit_price(spec.model, quality, spec.size) < asked:
        changes.append(LOWER_QUALITY)
    if size != spec.size and prices.unit_price(spec.model, spec.quality, size) < asked:
        changes.append(SMALLER_SIZE)
    return tuple(changes)


def suggest(error: BudgetExhausted, prices: PriceTable, spec: JobSpec) -> BudgetExhausted:
    """The refusal, naming the member's choices whose undoing would fit (wording.py says it)."""
    error.cheaper = cheaper(prices, spec, error.budget_micros - error.spent_micros)
    return error

"""Prices in USD: per image by model, quality and size, and per token for GPT image models.

The defaults are the model profiles' prices (bot/core/models.toml, OpenAI's list prices, and
the operator's MODELS_FILE). An operator may still override them with a JSON file named by
the PRICES_FILE setting, merged over them key by key (models, qualities and sizes
not named keep their defaults; new ones are added)::

    {
      "images": {
        "<model>": {"<quality>": {"<W>x<H>": <USD per image>, ...}, ...}
      },
      "tokens": {
        "<model>": {"text_input": <USD per million tokens>,
                    "image_input": <USD per million tokens>,
                    "image_output": <USD per million tokens>}
      }
    }

For example ``{"tokens": {"gpt-image-2": {"image_output": 32}}}`` changes one price.
A model without qualities (dall-e-2) uses the quality "standard". A model new to "tokens"
must name all three token prices. Numbers are read exactly (as decimals, not floats).

Money leaves this module as integer micro-dollars (1 USD = 1,000,000), rounded up: a price
in USD per million tokens is exactly micro-dollars per token.

An option the member left unset is priced at what the API will use for it (the profile's
default_quality and default_size: dall-e-3 draws a standard 1024x1024 image, $0.04); only
where the API picks ("auto") is the dearest choice held.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.core.models import Usage
from bot.core.profile_files import builtin_profiles
from bot.core.profiles import ModelProfile, TokenPrices

log = logging.getLogger(__name__)

MICROS_PER_USD = 1_000_000
TOKEN_KINDS = ("text_input", "image_input", "image_output")
_SIZE = re.compile(r"^(\d{1,5})x(\d{1,5})$")

# Reserve-time allowances for what a request may add beyond its images' list price, so that
# the hold rarely falls short of the usage-based cost (see Ledger.settle for what happens if
# it does). Text tokens never exceed the prompt's UTF-8 bytes (a BPE token is at least one
# byte); 8,000 tokens per input image covers high input fidelity; each streamed partial image
# costs 100 output tokens; list prices are rounded, so output tokens may exceed them by ~1%.
INPUT_IMAGE_TOKENS = 8_000
PARTIAL_IMAGE_TOKENS = 100
TOKEN_MODEL_MARGIN = Decimal("1.05")

ImageTable = dict[str, dict[str, dict[str, Decimal]]]
# Per model: the quality and size the API uses when none is sent (None or "auto": it picks).
Defaults = Mapping[str, tuple[str | None, str | None]]


class PriceFileError(Exception):
    """The PRICES_FILE cannot be used; the message names the file and the problem."""


def to_micros(usd: Decimal) -> int:
    """USD to micro-dollars, rounded up (a hold or a charge never loses a fraction)."""
    return math.ceil(usd * MICROS_PER_USD)


def _area(size: str | None) -> int | None:
    match = _SIZE.match(size or "")
    return int(match.group(1)) * int(match.group(2)) if match else None


def _price_for_size(prices: Mapping[str, Decimal], size: str | None) -> Decimal:
    """A listed size's price; otherwise the dearest a listed size would cost scaled to the area."""
    if size is not None and size in prices:
        return prices[size]
    area = _area(size)
    if area is None:  # None or "auto": the API may pick any listed size
        return max(prices.values())
    # Free sizes (gpt-image-2): price per pixel of each listed size, never below its price.
    return max(
        price * max(Decimal(1), Decimal(area) / Decimal(_area(listed) or area))
        for listed, price in prices.items()
    )


@dataclass(frozen=True, slots=True)
class Estimate:
    """A conservative price for a job: per delivered image, and the whole hold."""

    unit_micros: int
    total_micros: int


class PriceTable:
    """Per-image and per-token prices, with the conservative estimate a reservation holds."""

    def __init__(
        self,
        images: ImageTable,
        tokens: Mapping[str, TokenPrices],
        defaults: Defaults | None = None,
    ) -> None:
        self.images = images
        self.tokens = dict(tokens)
        self.defaults = dict(defaults or {})

    def used(
        self, model: str, quality: str | None, size: str | None
    ) -> tuple[str | None, str | None]:
        """The quality and size the API will use: an unset one is the model's default."""
        default_quality, default_size = self.defaults.get(model, (None, None))
        return quality or default_quality, size or default_size

    def unit_price(self, model: str, quality: str | None, size: str | None) -> Decimal:
        """USD per image at what the API will use; where it picks ("auto", or an unknown
        quality or size), the dearest it may pick."""
        table = self.images.get(model)
        if table is None:
            log.warning("no price for model %s: holding the dearest known price", model)
            return max(self.unit_price(known, None, size) for known in self.images)
        quality, size = self.used(model, quality, size)
        qualities = [table[quality]] if quality in table else list(table.values())
        return max(_price_for_size(prices, size) for prices in qualities)

    def estimate(
        self,
        model: str,
        quality: str | None,
        size: str | None,
        images: int,
        *,
        prompt_bytes: int = 0,
        input_images: int = 0,
        partial_images: int = 0,
    ) -> Estimate:
        """The hold for a job: its images at list price plus, for token-priced models, inputs."""
        unit = self.unit_price(model, quality, size)
        tokens = self.tokens.get(model)
        if tokens is None:
            return Estimate(to_micros(unit), to_micros(unit * images))
        extra_tokens_usd = (
            prompt_bytes * tokens.text_input
            + input_images * INPUT_IMAGE_TOKENS * tokens.image_input
            + images * partial_images * PARTIAL_IMAGE_TOKENS * tokens.image_output
        ) / MICROS_PER_USD
        total = unit * images * TOKEN_MODEL_MARGIN + extra_tokens_usd
        return Estimate(to_micros(unit), to_micros(total))

    def usage_cost_micros(self, model: str, usage: Usage | None) -> int | None:
        """What the usage cost, or None when the model has no token prices or usage is empty."""
        tokens = self.tokens.get(model)
        if tokens is None or usage is None or usage.total_tokens <= 0:
            return None
        micros = (
            usage.input_text_tokens * tokens.text_input
            + usage.input_image_tokens * tokens.image_input
            + usage.output_tokens * tokens.image_output
        )
        return math.ceil(micros)


def prices_of(profiles: Mapping[str, ModelProfile]) -> PriceTable:
    """The prices the model profiles give (bot/core/models.toml and MODELS_FILE)."""
    images: ImageTable = {
        name: {quality: dict(sizes) for quality, sizes in profile.image_prices.items()}
        for name, profile in profiles.items()
        if profile.image_prices
    }
    tokens = {
        name: profile.token_prices
        for name, profile in profiles.items()
        if profile.token_prices is not None
    }
    defaults = {
        name: (profile.default_quality, profile.default_size) for name, profile in profiles.items()
    }
    return PriceTable(images, tokens, defaults)


def default_prices() -> PriceTable:
    """The built-in models' prices."""
    return prices_of(builtin_profiles())


def load_prices(
    path: Path | None, profiles: Mapping[str, ModelProfile] | None = None
) -> PriceTable:
    """The profiles' prices merged with the operator's PRICES_FILE, if any (PriceFileError if
    it is bad); without profiles, the built-in ones."""
    prices = prices_of(profiles) if profiles is not None else default_prices()
    if path is None:
        return prices
    where = f"PRICES_FILE {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
        raise PriceFileError(f"{where} cannot be read: {reason}") from None
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise PriceFileError(
            f"{where} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    try:
        _merge(prices, data)
    except ValueError as error:
        raise PriceFileError(f"{where}: {error}") from None
    return prices


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a JSON object")
    return value


def _usd(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError(f"{name} must be a number of USD, not {json.dumps(value, default=str)}")
    number = Decimal(value)
    if not number.is_finite() or number < 0:
        raise ValueError(f"{name} must be 0 or more, not {value}")
    return number


def _merge(prices: PriceTable, data: Any) -> None:
    root = _object(data, "the file")
    unknown = sorted(set(root) - {"images", "tokens"})
    if unknown:
        raise ValueError(f'unknown key(s) {", ".join(unknown)}; expected "images" and "tokens"')
    for model, qualities in _object(root.get("images", {}), "images").items():
        table = prices.images.setdefault(model, {})
        for quality, sizes in _object(qualities, f"images.{model}").items():
            given = _object(sizes, f"images.{model}.{quality}")
            if not given:
                raise ValueError(f"images.{model}.{quality} names no size")
            row = table.setdefault(quality, {})
            for size, value in given.items():
                name = f"images.{model}.{quality}.{size}"
                if _area(size) is None:
                    raise ValueError(f"{name}: a size must look like 1024x1024")
                row[size] = _usd(value, name)
        if not table:
            raise ValueError(f"images.{model} names no quality")
    for model, given in _object(root.get("tokens", {}), "tokens").items():
        fields = _object(given, f"tokens.{model}")
        unknown = sorted(set(fields) - set(TOKEN_KINDS))
        if unknown:
            raise ValueError(f"tokens.{model}: unknown key(s) {', '.join(unknown)}")
        old = prices.tokens.get(model)
        merged = {kind: getattr(old, kind) for kind in TOKEN_KINDS} if old else {}
        merged.update({kind: _usd(fields[kind], f"tokens.{model}.{kind}") for kind in fields})
        missing = [kind for kind in TOKEN_KINDS if kind not in merged]
        if missing:
            raise ValueError(f"tokens.{model} is a new model and must name {', '.join(missing)}")
        prices.tokens[model] = TokenPrices(**merged)

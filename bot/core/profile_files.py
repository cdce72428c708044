"""Read model profiles from TOML: the built-in bot/core/models.toml, then the operator's file.

The operator's file (MODELS_FILE) adds models, changes built-in ones (a table with a built-in
name changes only the fields it names), or hides them (`enabled = false`). A new model may
start from another (`like = "gpt-image-2"`) and change only what differs; without `like` it
names at least its prompt limit, counts, sizes, qualities and prices. A bad file stops the
bot at start with one paragraph naming the file, the model and the field.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.core.models import ImageRequest
from bot.core.profiles import (
    PARAMS,
    EditRules,
    FreeSize,
    ModelProfile,
    TokenPrices,
    free_size_fault,
    parse_size,
)

Format = Literal["png", "jpeg", "webp"]
Param = Literal[
    "background", "moderation", "output_compression", "input_fidelity", "partial_images"
]
assert set(Param.__args__) == set(PARAMS)  # type: ignore[attr-defined]
_REQUIRED = ("prompt_max", "n", "sizes", "largest", "qualities", "prices")


class ModelsFileError(Exception):
    """A models file cannot be used; the message is one paragraph naming file, model, field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _FreeSize(_Strict):
    step: int = Field(gt=0)
    max_ratio: float = Field(ge=1)
    max_edge: int = Field(gt=0)
    min_pixels: int = Field(ge=0)
    max_pixels: int = Field(gt=0)


class _Edit(_Strict):
    max_images: int = Field(ge=1, le=16)
    formats: list[Format] = Field(min_length=1)
    max_bytes: int = Field(gt=0)
    square: bool = False


class _Tokens(_Strict):
    text_input: Decimal = Field(ge=0)
    image_input: Decimal = Field(ge=0)
    image_output: Decimal = Field(ge=0)


class _Prices(_Strict):
    images: dict[str, dict[str, Decimal]] = Field(default_factory=dict)
    tokens: _Tokens | None = None


class _Profile(_Strict):
    like: str | None = None
    enabled: bool = True
    description: str = ""
    prompt_max: int = Field(default=0, ge=1)
    n: tuple[int, int] = (1, 1)
    sizes: list[str] = Field(default_factory=list, min_length=1)
    largest: str = ""
    qualities: list[str] = Field(default_factory=list, min_length=1)
    free_size: _FreeSize | Literal[False] = False
    edit: _Edit | Literal[False] = False
    transparent: bool = False
    output_formats: list[Format] = Field(default_factory=list)
    styles: list[str] = Field(default_factory=list)
    params: list[Param] = Field(default_factory=list)
    response_format: bool = False
    default_quality: str | None = None
    default_size: str | None = None
    prices: _Prices = Field(default_factory=_Prices)


def builtin_profiles() -> dict[str, ModelProfile]:
    """The models that ship with the bot."""
    return dict(_builtin())


@functools.cache
def _builtin() -> Mapping[str, ModelProfile]:
    text = files("bot.core").joinpath("models.toml").read_text(encoding="utf-8")
    return _profiles(tomllib.loads(text, parse_float=Decimal), {}, "bot/core/models.toml")


def profile_for(request: ImageRequest) -> ModelProfile:
    """The profile a request was checked against; for one built by hand (tests), the built-in
    profile of its model."""
    if request.profile is not None:
        return request.profile
    # A model nobody described: nothing beyond the common parameters is assumed of it.
    return _builtin().get(request.model) or ModelProfile(
        name=request.model,
        description="",
        prompt_max=32000,
        n_min=1,
        n_max=10,
        sizes=(),
        largest=(3840, 2160),
        qualities=(),
    )


def load_profiles(path: Path | None) -> dict[str, ModelProfile]:
    """The built-in profiles with the operator's file (if any) on top; ModelsFileError if bad."""
    base = builtin_profiles()
    if path is None:
        return base
    where = f"MODELS_FILE {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
        raise ModelsFileError(f"{where} cannot be read: {reason}.") from None
    return parse_profiles(text, where)


def parse_profiles(text: str, where: str) -> dict[str, ModelProfile]:
    """The built-in profiles with a models file's `text` on top (`where` names it in errors)."""
    base = builtin_profiles()
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as error:
        raise ModelsFileError(f"{where} is not valid TOML: {error}.") from None
    return {**base, **_profiles(data, base, where)}


def _profiles(
    data: Mapping[str, Any], base: Mapping[str, ModelProfile], where: str
) -> dict[str, ModelProfile]:
    unknown = sorted(set(data) - {"models"})
    models = data.get("models", {})
    if unknown or not isinstance(models, dict):
        raise ModelsFileError(f'{where}: put every model under [models."name"] tables.')
    parsed: dict[str, _Profile] = {}
    for name, table in models.items():
        try:
            parsed[name] = _Profile.model_validate(table)
        except ValidationError as error:
            raise ModelsFileError(_explain(where, name, error)) from None
    built: dict[str, ModelProfile] = {}
    for name in parsed:
        built[name] = _build(name, parsed, base, built, where, ())
    return built


def _build(
    name: str,
    parsed: Mapping[str, _Profile],
    base: Mapping[str, ModelProfile],
    built: dict[str, ModelProfile],
    where: str,
    seen: tuple[str, ...],
) -> ModelProfile:
    """A profile: its `like` (or the built-in of the same name) with its own fields on top."""
    if name in built:
        return built[name]
    entry = parsed[name]
    if name in seen or (entry.like == name and name not in base):
        raise ModelsFileError(f"{where}: model {name!r}: `like` goes round in a circle.")
    parent_name = entry.like or (name if name in base else None)
    parent: ModelProfile | None = None
    if parent_name is not None:
        if parent_name in parsed and parent_name != name:
            parent = _build(parent_name, parsed, base, built, where, (*seen, name))
        elif parent_name in base:
            parent = base[parent_name]
        else:
            known = ", ".join(sorted({*base, *parsed}))
            raise ModelsFileError(
                f"{where}: model {name!r}: like = {parent_name!r} names no model (known: {known})."
            )
    given = entry.model_fields_set - {"like"}
    missing = [field for field in _REQUIRED if field not in given]
    if parent is None and missing:
        raise ModelsFileError(
            f"{where}: model {name!r} is new and names no `like`: it must set "
            f'{", ".join(missing)} (or start from another model with like = "...").'
        )
    profile = _merge(name, entry, given, parent)
    _check(profile, where)
    return profile


def _merge(
    name: str, entry: _Profile, given: set[str], parent: ModelProfile | None
) -> ModelProfile:
    def pick(field: str, mine: Any, theirs: Any) -> Any:
        return mine if field in given or parent is None else theirs

    p = parent
    prices, priced = entry.prices, entry.prices.model_fields_set if "prices" in given else set()
    tokens = prices.tokens
    image_prices: Mapping[str, Mapping[str, Decimal]] | None = None
    if "images" in priced:
        image_prices = prices.images or None
    token_prices = None if tokens is None else TokenPrices(**tokens.model_dump())
    if p is not None and "images" not in priced:
        image_prices = p.image_prices
    if p is not None and "tokens" not in priced:
        token_prices = p.token_prices
    return ModelProfile(
        name=name,
        description=pick("description", entry.description, p and p.description),
        prompt_max=pick("prompt_max", entry.prompt_max, p and p.prompt_max),
        n_min=pick("n", entry.n[0], p and p.n_min),
        n_max=pick("n", entry.n[1], p and p.n_max),
        sizes=pick("sizes", tuple(entry.sizes), p and p.sizes),
        largest=pick("largest", parse_size(entry.largest) or (0, 0), p and p.largest),
        qualities=pick("qualities", tuple(entry.qualities), p and p.qualities),
        free_size=pick("free_size", _free(entry.free_size), p and p.free_size),
        edit=pick("edit", _edit(entry.edit), p and p.edit),
        transparent=pick("transparent", entry.transparent, p and p.transparent),
        output_formats=pick("output_formats", tuple(entry.output_formats), p and p.output_formats),
        styles=pick("styles", tuple(entry.styles), p and p.styles),
        params=pick("params", frozenset(entry.params), p and p.params),
        response_format=pick("response_format", entry.response_format, p and p.response_format),
        image_prices=image_prices,
        token_prices=token_prices,
        default_quality=pick("default_quality", entry.default_quality, p and p.default_quality),
        default_size=pick("default_size", entry.default_size, p and p.default_size),
        enabled=entry.enabled,
    )


def _free(value: _FreeSize | Literal[False]) -> FreeSize | None:
    return None if value is False else FreeSize(**value.model_dump())


def _edit(value: _Edit | Literal[False]) -> EditRules | None:
    if value is False:
        return None
    return EditRules(value.max_images, tuple(value.formats), value.max_bytes, value.square)


def _check(profile: ModelProfile, where: str) -> None:
    """Rules across fields: sizes that parse and fit the free-size rule, counts, prices."""

    def fail(field: str, problem: str) -> ModelsFileError:
        return ModelsFileError(f"{where}: model {profile.name!r}, field {field}: {problem}.")

    if not 1 <= profile.n_min <= profile.n_max <= 10:
        raise fail("n", "must be [least, most] with 1 <= least <= most <= 10")
    if profile.largest == (0, 0):
        raise fail("largest", "must be a size like 1536x1024")
    for size in profile.sizes:
        parsed = parse_size(size)
        if size != "auto" and parsed is None:
            raise fail("sizes", f"{size!r} is not a size like 1024x1024 (or auto)")
        if parsed is not None and profile.free_size is not None:
            fault = free_size_fault(profile.free_size, *parsed)
            if fault is not None:
                raise fail("sizes", f"{size} breaks its own free_size rule: {fault.value}")
    if profile.default_quality not in (None, "auto", *profile.qualities):
        raise fail("default_quality", f"{profile.default_quality!r} is not one of its qualities")
    if profile.default_size not in (None, "auto", *profile.sizes):
        raise fail("default_size", f"{profile.default_size!r} is not one of its sizes")
    if profile.transparent and not profile.takes("background"):
        raise fail("transparent", 'needs "background" in params')
    if not profile.image_prices and profile.token_prices is None:
        raise fail("prices", "must give prices per image, per token, or both")
    for quality, row in (profile.image_prices or {}).items():
        for size, usd in row.items():
            if parse_size(size) is None or usd < 0:
                raise fail(f"prices.images.{quality}", f"{size} = {usd} is not a size and a price")


def _explain(where: str, name: str, error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(the table)"
        message = str(item["msg"])
        if item["type"] == "extra_forbidden":
            message = "is not a field a model can have (see models.example.toml)"
        parts.append(f"field {field}: {message}")
    return f"{where}: model {name!r}: " + "; ".join(parts) + "."

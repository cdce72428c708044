"""Aspects and typed ratios: every profile (built in, from a models file, drawn at random) turns
each shape into a size it accepts, close in shape, or refuses naming the closest it makes."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import pytest
from hypothesis import currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from bot.core.aspects import (
    ASPECTS,
    MAX_STRETCH,
    aspects_of,
    closest_size,
    parse_ratio,
    size_for_ratio,
)
from bot.core.catalogue import Catalogue, RawOptions
from bot.core.errors import InvalidRequest
from bot.core.profile_files import parse_profiles
from bot.core.profiles import FreeSize, ModelProfile
from bot.wisgate.payload import generation_body
from tests.fakes.image_rules import DEFAULT_REGISTRY, check_generation

FLARE = "gpt-image-2.5-flare"
COARSE = "coarse-free"  # an operator's model with a free-size rule of its own
MODELS_FILE = f"""
[models."{FLARE}"]
like = "gpt-image-2"
transparent = true

[models."{COARSE}"]
like = "gpt-image-2"
sizes = ["1024x1024", "auto"]
largest = "1024x1024"

[models."{COARSE}".free_size]
step = 64
max_ratio = 2
max_edge = 2048
min_pixels = 262144
max_pixels = 4194304
"""
PROFILES = parse_profiles(MODELS_FILE, "test")
BUILT_IN = ("gpt-image-2", "gpt-image-1", "dall-e-3", "dall-e-2")
NAMES = (*BUILT_IN, FLARE, COARSE)
CATALOGUE = Catalogue(PROFILES, NAMES, "gpt-image-2")
# The fake server's rules, written apart from bot.core: they know the built-in models and the
# file's transparent gpt-image-2 (not COARSE, whose rule only this bot's profile knows).
RULES = DEFAULT_REGISTRY.copy()
RULES.derive(FLARE, like="gpt-image-2", transparent=True)
RATIOS = st.tuples(st.integers(1, 64), st.integers(1, 64))
SETTINGS = settings(max_examples=200, deadline=None)

EXPECTED = {
    "gpt-image-2": ("1024x1024", "1024x1536", "1536x1024", "1536x864", "864x1536"),
    "gpt-image-1": ("1024x1024", "1024x1536", "1536x1024", "1536x1024", "1024x1536"),
    "dall-e-3": ("1024x1024", "1024x1792", "1792x1024", "1792x1024", "1024x1792"),
    "dall-e-2": ("1024x1024", None, None, None, None),
}


def _parsed(size: str) -> tuple[int, int]:
    width, height = size.split("x")
    return int(width), int(height)


def _orientation(width: int, height: int) -> int:
    return (width > height) - (width < height)


def _shape_gap(size: tuple[int, int], ratio: tuple[int, int]) -> Fraction:
    """Long over short of size and ratio, computed here apart from bot.core.aspects."""
    size_ratio, asked = Fraction(*size), Fraction(*ratio)
    return max(size_ratio / asked, asked / size_ratio)


def _free_ok(rule: FreeSize, width: int, height: int) -> bool:
    long, short = max(width, height), min(width, height)
    return (
        width % rule.step == 0
        and height % rule.step == 0
        and long <= rule.max_ratio * short
        and long <= rule.max_edge
        and rule.min_pixels <= width * height <= rule.max_pixels
    )


def _most_pixels(spec: ModelProfile, rule: FreeSize) -> int:
    return max(spec.largest[0] * spec.largest[1], rule.min_pixels)


def _exact_fits(spec: ModelProfile, rule: FreeSize, ratio: tuple[int, int]) -> bool:
    """Whether some free size has exactly this ratio within the area the bot allows itself."""
    a, b = ratio
    unit = math.lcm(rule.step // math.gcd(rule.step, a), rule.step // math.gcd(rule.step, b))
    k = unit
    while max(a, b) * k <= rule.max_edge:
        if _free_ok(rule, a * k, b * k) and a * b * k * k <= _most_pixels(spec, rule):
            return True
        k += unit
    return False


def check_mapping(spec: ModelProfile, ratio: tuple[int, int]) -> str | None:
    """Every promise of the mapping for one profile and ratio; returns the size (or None)."""
    size = size_for_ratio(spec, ratio)
    listed = [_parsed(s) for s in spec.sizes if s != "auto"]
    rule = spec.free_size
    if size is None:
        # Nothing listed of the same orientation is close enough, and no free size is exact.
        close = [s for s in listed if _orientation(*s) == _orientation(*ratio)]
        assert all(_shape_gap(s, ratio) > MAX_STRETCH for s in close), (spec.name, ratio)
        assert rule is None or not _exact_fits(spec, rule, ratio), (spec.name, ratio)
        assert closest_size(spec, ratio) is not None  # the refusal can name one
        _event("refused")
        return None
    found = _parsed(size)
    assert _orientation(*found) == _orientation(*ratio)
    assert _shape_gap(found, ratio) <= MAX_STRETCH
    if found not in listed:
        assert rule is not None and _free_ok(rule, *found), (spec.name, size)
        assert found[0] * found[1] <= _most_pixels(spec, rule)
    if any(_shape_gap(s, ratio) == 1 for s in listed) or (
        rule is not None and _exact_fits(spec, rule, ratio)
    ):
        assert _shape_gap(found, ratio) == 1, (spec.name, ratio, size)  # exact when it can be
    _event("exact" if _shape_gap(found, ratio) == 1 else "close")
    _event("listed" if found in listed else "free")
    return size


def _event(name: str) -> None:
    if currently_in_test_context():
        event(name)


def _upstream_accepts(model: str, size: str) -> None:
    """The fake server's own per-model rules accept what the catalogue made of it."""
    if model in RULES:
        request = CATALOGUE.validate(RawOptions("a fox", model, size), kind="generate")
        check_generation(generation_body(request), registry=RULES)


@pytest.mark.parametrize("model", BUILT_IN)
def test_each_aspect_on_each_built_in_model(model: str) -> None:
    for aspect, expected in zip(ASPECTS, EXPECTED[model], strict=True):
        options = RawOptions("a fox", model, aspect=aspect)
        if expected is None:
            with pytest.raises(InvalidRequest) as caught:
                CATALOGUE.validate(options, kind="generate")
            assert caught.value.field == "aspect"
            assert caught.value.user_message == (
                f"{model} cannot make {aspect} images (its only shape is square): set aspect "
                f"to square, or choose a model that makes them: gpt-image-2, gpt-image-1, "
                f"dall-e-3, {FLARE} or {COARSE}."
            )
            continue
        request = CATALOGUE.validate(options, kind="generate")
        assert request.size == expected, aspect
        check_generation(generation_body(request), registry=RULES)
    made = [aspect for aspect, size in zip(ASPECTS, EXPECTED[model], strict=True) if size]
    assert aspects_of(PROFILES[model]) == made


@pytest.mark.parametrize(
    ("model", "typed", "size"),
    [
        ("gpt-image-2", "16:9", "1536x864"),
        ("gpt-image-2", " 32 : 18 ", "1536x864"),
        ("gpt-image-2", "21:9", "1904x816"),
        ("gpt-image-2", "3:1", "2160x720"),
        ("gpt-image-2", "1:1", "1024x1024"),
        ("gpt-image-1", "16:9", "1536x1024"),
        ("gpt-image-1", "4:3", "1536x1024"),
        ("dall-e-3", "16:9", "1792x1024"),
        ("dall-e-3", "9:16", "1024x1792"),
        ("dall-e-2", "1:1", "1024x1024"),
        (COARSE, "16:9", "1024x576"),
    ],
)
def test_typed_ratios_become_the_models_size(model: str, typed: str, size: str) -> None:
    request = CATALOGUE.validate(RawOptions("a fox", model, typed), kind="generate")
    assert request.size == size
    _upstream_accepts(model, size)


@pytest.mark.parametrize(
    ("model", "typed", "closest"),
    [
        ("dall-e-2", "16:9", "1024x1024"),
        ("dall-e-2", "4:3", "1024x1024"),
        ("gpt-image-1", "21:9", "1536x1024"),
        ("dall-e-3", "5:4", "1024x1024"),
        ("gpt-image-2", "5:1", "2160x720"),
        (COARSE, "3:1", "1408x704"),
    ],
)
def test_ratios_a_model_cannot_make_are_refused_naming_the_closest(
    model: str, typed: str, closest: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        CATALOGUE.validate(RawOptions("a fox", model, typed), kind="generate")
    assert caught.value.field == "size"
    message = caught.value.user_message
    assert message.startswith(f"{model} cannot make {typed} images (the closest it makes is ")
    assert f"set size to {closest}, or choose a model that makes them: " in message


def test_a_ratio_no_model_here_makes_is_refused_as_such() -> None:
    only = Catalogue(PROFILES, ("dall-e-2",), "dall-e-2")
    with pytest.raises(InvalidRequest, match="choose a model that makes them: no model"):
        only.validate(RawOptions("a fox", size="16:9"), kind="generate")


def test_aspect_and_size_together_are_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        CATALOGUE.validate(RawOptions("a fox", size="1024x1024", aspect="square"), kind="generate")
    assert caught.value.field == "aspect"
    assert "Choose aspect or size, not both" in caught.value.user_message


@pytest.mark.parametrize(
    ("text", "ratio"),
    [("16:9", (16, 9)), (" 32 : 18 ", (16, 9)), ("1:1", (1, 1)), ("7:3", (7, 3))]
    + [(bad, None) for bad in ("0:9", "9:0", "16x9", "16:", ":9", "a:b", "123456:1", "1:2:3")],
)
def test_parse_ratio(text: str, ratio: tuple[int, int] | None) -> None:
    assert parse_ratio(text) == ratio


def test_size_autocomplete_offers_the_size_for_a_typed_ratio() -> None:
    assert CATALOGUE.size_choices("gpt-image-2", "16:9") == ["1536x864"]
    assert CATALOGUE.size_choices("dall-e-3", "16:9") == ["1792x1024"]
    assert CATALOGUE.size_choices("dall-e-2", "16:9") == []


@SETTINGS
@given(model=st.sampled_from(NAMES), ratio=RATIOS)
def test_every_profile_maps_any_ratio_to_a_size_it_accepts(
    model: str, ratio: tuple[int, int]
) -> None:
    spec = PROFILES[model]
    size = check_mapping(spec, ratio)
    typed = f"{ratio[0]}:{ratio[1]}"
    try:
        request = CATALOGUE.validate(RawOptions("a fox", model, typed), kind="generate")
    except InvalidRequest as refusal:
        assert size is None and refusal.field == "size"
        return
    assert request.size == size
    if size is not None:
        _upstream_accepts(model, size)


FREE_RULES = st.builds(
    FreeSize,
    step=st.sampled_from([8, 16, 32, 64]),
    max_ratio=st.sampled_from([1.0, 1.5, 2.0, 3.0, 4.0]),
    max_edge=st.integers(256, 4096),
    min_pixels=st.integers(0, 1_000_000),
    max_pixels=st.integers(1_000_000, 10_000_000),
)
SIDE = st.integers(1, 64).map(lambda k: 64 * k)
LISTED = st.lists(st.builds("{}x{}".format, SIDE, SIDE), min_size=1, max_size=4, unique=True)


@SETTINGS
@given(
    listed=LISTED,
    free=st.none() | FREE_RULES,
    auto=st.booleans(),
    ratio=RATIOS | st.sampled_from(list(ASPECTS.values())),
)
def test_any_operator_profile_keeps_the_promises(
    listed: list[str], free: FreeSize | None, auto: bool, ratio: tuple[int, int]
) -> None:
    largest = max((_parsed(size) for size in listed), key=lambda s: s[0] * s[1])
    spec = dataclasses.replace(
        PROFILES["gpt-image-2"],
        name="drawn",
        sizes=(*listed, "auto") if auto else tuple(listed),
        largest=largest,
        free_size=free,
    )
    check_mapping(spec, ratio)
    for name in aspects_of(spec):
        assert size_for_ratio(spec, ASPECTS[name]) is not None

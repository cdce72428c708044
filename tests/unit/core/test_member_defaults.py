"""Members' defaults (/settings): checked when saved, applied where they fit, skipped (and
said) where they no longer do, never winning over an option given."""

from __future__ import annotations

import pytest

from bot.core.catalogue import Catalogue, RawOptions
from bot.core.errors import InvalidRequest
from bot.core.member_defaults import (
    MemberDefaults,
    Skipped,
    apply_defaults,
    checked_value,
    not_fitting,
    offered,
)
from bot.core.profile_files import builtin_profiles

ALL = ("gpt-image-2", "gpt-image-1", "dall-e-3", "dall-e-2")


@pytest.fixture
def cat() -> Catalogue:
    return Catalogue(builtin_profiles(), ALL, "gpt-image-2")


def imagine(**given: object) -> RawOptions:
    return RawOptions(prompt="a red fox", **given)  # type: ignore[arg-type]


def test_defaults_fill_what_was_left_unset(cat: Catalogue) -> None:
    defaults = MemberDefaults(
        model="gpt-image-1", size="1536x1024", quality="high", n=3, output_format="webp",
        private=True,
    )  # fmt: skip
    applied = apply_defaults(cat, imagine(), defaults, kind="generate", private=None)
    options = applied.options
    assert (options.model, options.size, options.quality, options.n) == (
        "gpt-image-1", "1536x1024", "high", 3,
    )  # fmt: skip
    assert options.output_format == "webp" and applied.private is True
    assert applied.skipped == []


def test_options_given_always_win(cat: Catalogue) -> None:
    defaults = MemberDefaults(model="gpt-image-1", size="1536x1024", quality="high", private=True)
    given = imagine(model="dall-e-3", size="1792x1024", quality="hd")
    applied = apply_defaults(cat, given, defaults, kind="generate", private=False)
    assert applied.options == given and applied.private is False
    assert applied.skipped == []  # a default beside a given option is not news


def test_an_aspect_given_beats_the_default_size(cat: Catalogue) -> None:
    defaults = MemberDefaults(size="1024x1536")
    applied = apply_defaults(cat, imagine(aspect="wide"), defaults, kind="generate", private=None)
    assert applied.options.size is None and applied.skipped == []


def test_a_default_that_does_not_fit_the_model_is_skipped_and_said(cat: Catalogue) -> None:
    defaults = MemberDefaults(size="1792x1024", quality="hd", n=4, style="vivid")
    applied = apply_defaults(
        cat, imagine(model="gpt-image-1"), defaults, kind="generate", private=None
    )
    options = applied.options
    assert options.size is None and options.quality is None and options.n == 4
    assert options.style is None
    assert applied.skipped == [
        Skipped("size", "1792x1024", "gpt-image-1", "does_not_fit"),
        Skipped("quality", "hd", "gpt-image-1", "does_not_fit"),
        Skipped("style", "vivid", "gpt-image-1", "does_not_fit"),
    ]
    # n=4 fits gpt-image-1; on dall-e-3 (one image a time) it is skipped.
    on_dalle = apply_defaults(
        cat, imagine(model="dall-e-3"), MemberDefaults(n=4), kind="generate", private=None
    )
    assert on_dalle.options.n is None
    assert on_dalle.skipped == [Skipped("n", "4", "dall-e-3", "does_not_fit")]


def test_a_default_model_gone_from_the_gateway_is_skipped(cat: Catalogue) -> None:
    cat.update_listing(["gpt-image-2", "gpt-image-1"])  # dall-e-3 no longer served
    defaults = MemberDefaults(model="dall-e-3", quality="hd")
    applied = apply_defaults(cat, imagine(), defaults, kind="generate", private=None)
    assert applied.options.model is None and applied.options.quality is None
    assert applied.skipped == [
        Skipped("model", "dall-e-3", "gpt-image-2", "unavailable"),
        Skipped("quality", "hd", "gpt-image-2", "does_not_fit"),
    ]
    assert defaults == MemberDefaults(model="dall-e-3", quality="hd")  # nothing changed


def test_edits_skip_a_model_that_cannot_edit_and_have_no_style(cat: Catalogue) -> None:
    defaults = MemberDefaults(model="dall-e-3", style="vivid")
    applied = apply_defaults(cat, imagine(), defaults, kind="edit", private=None)
    assert applied.options.model is None and applied.options.style is None
    assert applied.skipped == [Skipped("model", "dall-e-3", "gpt-image-2", "cannot_edit")]


def test_a_jpeg_default_gives_way_to_a_transparent_background(cat: Catalogue) -> None:
    defaults = MemberDefaults(output_format="jpeg")
    given = imagine(model="gpt-image-1", background="transparent")
    applied = apply_defaults(cat, given, defaults, kind="generate", private=None)
    assert applied.options.output_format is None
    assert [item.setting for item in applied.skipped] == ["output_format"]


def test_an_unknown_model_given_is_left_to_the_catalogue(cat: Catalogue) -> None:
    defaults = MemberDefaults(size="1024x1024", private=True)
    applied = apply_defaults(cat, imagine(model="nope"), defaults, kind="generate", private=None)
    assert applied.options.model == "nope" and applied.options.size is None
    assert applied.private is True  # a refusal is private too


@pytest.mark.parametrize(
    ("defaults", "setting", "text", "value"),
    [
        (MemberDefaults(), "model", "dall-e-3", "dall-e-3"),
        (MemberDefaults(), "size", "1536x1024", "1536x1024"),
        (MemberDefaults(), "size", "1536x864", "1536x864"),  # a free size gpt-image-2 takes
        (MemberDefaults(model="dall-e-3"), "size", "1792x1024", "1792x1024"),
        (MemberDefaults(model="dall-e-3"), "quality", "hd", "hd"),
        (MemberDefaults(), "n", "10", 10),
        (MemberDefaults(), "output_format", "webp", "webp"),
        (MemberDefaults(model="dall-e-3"), "style", "natural", "natural"),
        (MemberDefaults(), "private", "1", True),
        (MemberDefaults(), "private", "0", False),
    ],
)
def test_saved_values_are_checked_and_normalised(
    cat: Catalogue, defaults: MemberDefaults, setting: str, text: str, value: object
) -> None:
    assert checked_value(cat, defaults, setting, text) == value


@pytest.mark.parametrize(
    ("defaults", "setting", "text"),
    [
        (MemberDefaults(), "model", "gpt-9"),  # not in the catalogue
        (MemberDefaults(), "size", "256x256"),  # too few pixels for gpt-image-2
        (MemberDefaults(model="gpt-image-1"), "size", "1792x1024"),  # not one of its sizes
        (MemberDefaults(), "size", "99999x1"),
        (MemberDefaults(model="dall-e-3"), "n", "2"),  # above its cap
        (MemberDefaults(), "n", "11"),
        (MemberDefaults(), "n", "-1"),
        (MemberDefaults(), "n", "1e3"),
        (MemberDefaults(), "quality", "ultra"),
        (MemberDefaults(), "style", "vivid"),  # gpt-image-2 has no styles
        (MemberDefaults(model="dall-e-2"), "output_format", "png"),  # dall-e-2 chooses
        (MemberDefaults(), "private", "yes"),
        (MemberDefaults(), "background", "opaque"),  # not a setting
        (MemberDefaults(), "size", "x" * 65),
        (MemberDefaults(), "size", ""),
    ],
)
def test_forged_values_are_refused(
    cat: Catalogue, defaults: MemberDefaults, setting: str, text: str
) -> None:
    with pytest.raises(InvalidRequest):
        checked_value(cat, defaults, setting, text)


def test_stored_texts_round_trip_and_unknown_ones_are_ignored() -> None:
    defaults = MemberDefaults(model="dall-e-3", n=1, private=False, style="vivid")
    stored = defaults.stored()
    assert stored == {"model": "dall-e-3", "n": "1", "private": "0", "style": "vivid"}
    assert MemberDefaults.from_stored(stored) == defaults
    junk = {**stored, "background": "opaque", "n": "many", "size": "x" * 100}
    assert MemberDefaults.from_stored(junk) == MemberDefaults(
        model="dall-e-3", private=False, style="vivid"
    )


def test_menus_offer_what_the_defaults_model_takes(cat: Catalogue) -> None:
    dalle = MemberDefaults(model="dall-e-3")
    assert offered(cat, dalle, "size") == ["1024x1024", "1792x1024", "1024x1792"]
    assert offered(cat, dalle, "n") == ["1"]
    assert offered(cat, MemberDefaults(), "model") == list(ALL)
    assert offered(cat, MemberDefaults(), "private") == ["1", "0"]
    assert not_fitting(cat, MemberDefaults(model="dall-e-3", size="1536x1024")) == ["size"]

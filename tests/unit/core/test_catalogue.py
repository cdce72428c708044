"""The catalogue: every model rule accepted and refused, byte sniffing, masks, precheck."""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from PIL import Image

from bot.core import input_files
from bot.core.catalogue import Catalogue, RawOptions
from bot.core.errors import InvalidRequest
from bot.core.input_files import DeclaredFile, UploadedFile, sniff_image
from bot.core.models import ImageRequest
from bot.core.profile_files import builtin_profiles
from bot.core.profiles import EditRules
from tests.fakes.images import make_image, make_mask

ALL = ("gpt-image-2", "gpt-image-1", "dall-e-3", "dall-e-2")
MODELS = builtin_profiles()
MB = 1024 * 1024
PNG = make_image(64, 64)


@pytest.fixture
def cat() -> Catalogue:
    return Catalogue(MODELS, ALL, "gpt-image-2")


def gen(cat: Catalogue, **options: Any) -> ImageRequest:
    return cat.validate(RawOptions(**{"prompt": "a red fox", **options}), kind="generate")


def edit(
    cat: Catalogue, images: list[UploadedFile], mask: UploadedFile | None = None, **options: Any
) -> ImageRequest:
    raw = RawOptions(**{"prompt": "a red fox", **options})
    return cat.validate(raw, kind="edit", images=images, mask=mask)


def refused(call: Callable[[], object], field: str, *fragments: str) -> str:
    """Assert the call is refused on `field`, with a message holding every fragment."""
    with pytest.raises(InvalidRequest) as caught:
        call()
    assert caught.value.field == field
    for fragment in fragments:
        assert fragment in caught.value.user_message
    return caught.value.user_message


def up(data: bytes, name: str = "in.png") -> UploadedFile:
    return UploadedFile(name, data)


def padded(data: bytes, total: int) -> bytes:
    # Bytes after a PNG's IEND are ignored by decoders: a real image of an exact byte size.
    return data + bytes(total - len(data))


# --- models, prompt, n ---------------------------------------------------------------------


def test_enabled_order_default_and_specs() -> None:
    cat = Catalogue(MODELS, ["dall-e-2", "gpt-image-1"], "gpt-image-1")
    assert cat.enabled == ("dall-e-2", "gpt-image-1")
    assert cat.default == "gpt-image-1"
    assert cat.spec("dall-e-2").edit == EditRules(1, ("png",), 4 * MB, square=True)
    refused(lambda: cat.spec("dall-e-3"), "model", "choose dall-e-2 or gpt-image-1")
    assert gen(cat).model == "gpt-image-1"
    refused(lambda: gen(cat, model="gpt-image-9"), "model", "gpt-image-9", "not available")


@pytest.mark.parametrize(("enabled", "default"), [(["gpt-image-9"], "gpt-image-9"), ([], "x")])
def test_bad_configuration_is_a_value_error(enabled: list[str], default: str) -> None:
    with pytest.raises(ValueError):
        Catalogue(MODELS, enabled, default)
    with pytest.raises(ValueError, match="not enabled"):
        Catalogue(MODELS, ["dall-e-2"], "dall-e-3")


@pytest.mark.parametrize(("model", "limit"), [(m, MODELS[m].prompt_max) for m in ALL])
def test_prompt_limits(cat: Catalogue, model: str, limit: int) -> None:
    assert limit == {"gpt-image-2": 32000, "gpt-image-1": 32000, "dall-e-3": 4000}.get(model, 1000)
    assert gen(cat, model=model, prompt=" " + "p" * limit + "\n").prompt == "p" * limit
    refused(lambda: gen(cat, model=model, prompt="p" * (limit + 1)), "prompt", "shorten it by 1")
    refused(lambda: gen(cat, model=model, prompt=" \n\t "), "prompt", "Write a prompt")


@pytest.mark.parametrize(
    ("model", "most"), [("gpt-image-2", 10), ("gpt-image-1", 10), ("dall-e-2", 10)]
)
def test_n_ranges(cat: Catalogue, model: str, most: int) -> None:
    assert gen(cat, model=model).n == 1
    assert gen(cat, model=model, n=most).n == most
    refused(lambda: gen(cat, model=model, n=most + 1), "count", f"set count from 1 to {most}")
    refused(lambda: gen(cat, model=model, n=0), "count", "set count from 1")


def test_dalle3_makes_one_image(cat: Catalogue) -> None:
    assert gen(cat, model="dall-e-3", n=1).n == 1
    message = refused(lambda: gen(cat, model="dall-e-3", n=2), "count")
    assert message == "dall-e-3 makes one image at a time: set count to 1."


# --- sizes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ALL)
def test_every_fixed_size_is_accepted(cat: Catalogue, model: str) -> None:
    for size in MODELS[model].sizes:
        assert gen(cat, model=model, size=size).size == size


@pytest.mark.parametrize(
    ("model", "size"),
    [("dall-e-3", "1536x1024"), ("dall-e-3", "auto"), ("dall-e-2", "1792x1024"),
     ("gpt-image-1", "2048x2048"), ("gpt-image-1", "256x256"), ("dall-e-2", "auto")],
)  # fmt: skip
def test_sizes_of_other_models_are_refused(cat: Catalogue, model: str, size: str) -> None:
    refused(lambda: gen(cat, model=model, size=size), "size", size, "choose")


@pytest.mark.parametrize(
    "size", ["1536x864", "2160x3840", "3840x2160", "2560x1440", "1024x640", "3072x1024", "auto"]
)
def test_gpt_image_2_free_sizes(cat: Catalogue, size: str) -> None:
    assert gen(cat, model="gpt-image-2", size=size).size == size


@pytest.mark.parametrize(
    ("size", "reason"),
    [("3840x3840", "8,294,400"), ("3072x768", "1:3 and 3:1"), ("3856x1296", "3,840 pixels"),
     ("512x512", "655,360"), ("0x1024", "above 0"), ("1024 by 1024", "WIDTHxHEIGHT")],
)  # fmt: skip
def test_gpt_image_2_refused_sizes(cat: Catalogue, size: str, reason: str) -> None:
    refused(lambda: gen(cat, model="gpt-image-2", size=size), "size", reason)


def test_size_message_suggests_a_fix(cat: Catalogue) -> None:
    message = refused(lambda: gen(cat, size="1000x1000"), "size")
    assert message == (
        "Size 1000x1000 is not allowed: its width and height must be multiples of 16. "
        "Try 1008x1008."
    )
    assert "Try 3840x2160." in refused(lambda: gen(cat, size="7680x4320"), "size")


def test_sizes_are_normalised(cat: Catalogue) -> None:
    assert gen(cat, model="gpt-image-1", size=" 1536X1024 ").size == "1536x1024"
    assert gen(cat, model="gpt-image-2", size="AUTO").size == "auto"
    assert gen(cat, model="gpt-image-2", size="1536 x 864").size == "1536x864"


def test_size_choices(cat: Catalogue) -> None:
    assert cat.size_choices("gpt-image-1", "") == ["1024x1024", "1536x1024", "1024x1536", "auto"]
    assert cat.size_choices("gpt-image-1", "1536") == ["1536x1024", "1024x1536"]
    assert cat.size_choices("dall-e-3", " 1792") == ["1792x1024", "1024x1792"]
    assert cat.size_choices("gpt-image-2", "1536x864") == ["1536x864"]
    assert cat.size_choices("gpt-image-2", "1000x1000") == ["1008x1008"]
    assert cat.size_choices("gpt-image-1", "1536x864") == []
    assert cat.size_choices("no-such-model", "auto") == ["auto"]  # falls back to the default
    assert cat.size_choices(None, "abc") == []
    assert all(len(cat.size_choices(m, "")) <= 25 for m in ALL)


# --- quality, style and the GPT extras -------------------------------------------------------


@pytest.mark.parametrize("model", ALL)
def test_qualities(cat: Catalogue, model: str) -> None:
    for quality in MODELS[model].qualities:
        assert gen(cat, model=model, quality=quality.upper()).quality == quality
    wrong = {"dall-e-3": "auto", "dall-e-2": "hd"}.get(model, "standard")
    refused(lambda: gen(cat, model=model, quality=wrong), "quality", "choose")


def test_style_only_on_dalle3(cat: Catalogue) -> None:
    assert gen(cat, model="dall-e-3", style="natural").style == "natural"
    refused(lambda: gen(cat, model="dall-e-3", style="anime"), "style", "vivid or natural")
    refused(lambda: gen(cat, style="vivid"), "style", "dall-e-3", "leave it unset")


GPT_EXTRAS = [("background", "opaque"), ("output_format", "webp"), ("moderation", "low"),
              ("output_compression", 50)]  # fmt: skip


@pytest.mark.parametrize("model", ["dall-e-3", "dall-e-2"])
@pytest.mark.parametrize(("field", "value"), GPT_EXTRAS)
def test_gpt_extras_refused_on_dalle(cat: Catalogue, model: str, field: str, value: Any) -> None:
    shown = {"output_format": "format"}.get(field, field)  # the option's name in Discord
    refused(lambda: gen(cat, model=model, **{field: value}), shown, "leave it unset", model)


@pytest.mark.parametrize("model", ["gpt-image-2", "gpt-image-1"])
def test_gpt_extras_accepted(cat: Catalogue, model: str) -> None:
    request = gen(
        cat, model=model, background="opaque", output_format="webp", output_compression=0,
        moderation="low",
    )  # fmt: skip
    assert (request.background, request.output_format, request.output_compression) == (
        "opaque", "webp", 0,
    )  # fmt: skip
    assert request.moderation == "low"
    assert (
        gen(cat, model=model, output_format="jpg", output_compression=100).output_format == "jpeg"
    )
    refused(lambda: gen(cat, model=model, background="clear"), "background", "choose")
    refused(lambda: gen(cat, model=model, output_format="gif"), "format", "choose")
    refused(lambda: gen(cat, model=model, moderation="off"), "moderation", "auto or low")


def test_output_compression_rules(cat: Catalogue) -> None:
    for bad in (-1, 101):
        refused(
            partial(gen, cat, output_format="jpeg", output_compression=bad),
            "output_compression",
        )
    for fmt in (None, "png"):
        refused(
            partial(gen, cat, output_format=fmt, output_compression=80),
            "output_compression", "set format to jpeg or webp",
        )  # fmt: skip


def test_transparent_background_needs_png_or_webp(cat: Catalogue) -> None:
    one = "gpt-image-1"
    assert gen(cat, model=one, background="transparent").output_format is None  # png
    assert gen(cat, model=one, background="transparent", output_format="png").background == (
        "transparent"
    )
    refused(
        lambda: gen(cat, model=one, background="transparent", output_format="jpeg"),
        "format", "set format to png or webp",
    )  # fmt: skip


def test_transparency_is_refused_where_the_profile_lacks_it_naming_who_has_it(
    cat: Catalogue,
) -> None:
    # gpt-image-2's transparent backgrounds were shut on 2026-09-30 (the API answers 400).
    message = refused(lambda: gen(cat, background="transparent"), "background")
    assert message == (
        "gpt-image-2 cannot make transparent backgrounds: choose gpt-image-1 for one, or leave "
        "background unset."
    )


def test_unset_options_stay_none(cat: Catalogue) -> None:
    request = gen(cat, prompt="  a fox  ")
    assert request == ImageRequest(kind="generate", model="gpt-image-2", prompt="a fox")


# --- edits: kinds, counts, bytes --------------------------------------------------------------


def test_edit_needs_an_editing_model(cat: Catalogue) -> None:
    message = refused(lambda: edit(cat, [up(PNG)], model="dall-e-3"), "model")
    assert (
        message
        == "dall-e-3 cannot edit images: choose gpt-image-2, gpt-image-1 or dall-e-2 for /edit."
    )
    only = Catalogue(MODELS, ["dall-e-3"], "dall-e-3")
    refused(lambda: edit(only, [up(PNG)]), "model", "no model here can")


def test_edit_image_counts(cat: Catalogue) -> None:
    refused(lambda: edit(cat, []), "image", "Attach at least one image")
    assert len(edit(cat, [up(PNG)] * 16, model="gpt-image-1").images) == 16
    refused(lambda: edit(cat, [up(PNG)] * 17), "image", "at most 16", "remove 1")
    refused(lambda: edit(cat, [up(PNG)] * 2, model="dall-e-2"), "image", "attach a single image")


def test_generate_takes_no_files(cat: Catalogue) -> None:
    raw = RawOptions(prompt="fox")
    refused(lambda: cat.validate(raw, kind="generate", images=[up(PNG)]), "image", "/edit")
    refused(lambda: cat.validate(raw, kind="generate", mask=up(make_mask(64, 64))), "image")


def test_bytes_beat_file_names(cat: Catalogue) -> None:
    jpeg, webp = make_image(48, 32, "jpeg"), make_image(32, 48, "webp", alpha=True)
    request = edit(cat, [up(PNG, "x.jpg"), up(jpeg, "photo.png"), up(webp, "noext")])
    assert [(i.format, i.filename) for i in request.images] == [
        ("png", "x.jpg"), ("jpeg", "photo.png"), ("webp", "noext"),
    ]  # fmt: skip
    assert [(i.width, i.height, i.has_alpha) for i in request.images] == [
        (64, 64, False), (48, 32, False), (32, 48, False),
    ]  # fmt: skip
    assert request.images[1].content_type == "image/jpeg"
    refused(lambda: edit(cat, [up(b"hello, not an image", "x.png")]), "image", "x.png", "not a PNG")


def test_other_image_formats_and_damage_are_refused(cat: Catalogue) -> None:
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, "GIF")
    refused(lambda: edit(cat, [up(gif.getvalue(), "a.png")]), "image", "not a PNG, JPEG or WebP")
    refused(lambda: edit(cat, [up(PNG[: len(PNG) // 2], "cut.png")]), "image", "damaged")
    refused(lambda: edit(cat, [up(b"", "")]), "image", "The attachment")


def test_fifty_megabyte_limit(cat: Catalogue) -> None:
    assert edit(cat, [up(padded(PNG, 50 * MB - 1))]).images[0].width == 64
    refused(lambda: edit(cat, [up(padded(PNG, 50 * MB))]), "image", "under 50 MB")


def test_dalle2_edits_one_square_png_under_4mb(cat: Catalogue) -> None:
    assert edit(cat, [up(padded(PNG, 4 * MB - 1))], model="dall-e-2").images[0].format == "png"
    refused(lambda: edit(cat, [up(padded(PNG, 4 * MB))], model="dall-e-2"), "image", "under 4 MB")
    jpeg = make_image(64, 64, "jpeg")
    refused(lambda: edit(cat, [up(jpeg, "a.png")], model="dall-e-2"), "image", "PNG only", "JPEG")
    wide = make_image(64, 32)
    refused(lambda: edit(cat, [up(wide)], model="dall-e-2"), "image", "square", "64x32")


def test_too_many_pixels_is_refused_from_the_header(
    cat: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(input_files, "INPUT_MAX_PIXELS", 1000)
    big, fits = make_image(40, 40), make_image(30, 30)
    refused(lambda: edit(cat, [up(big)]), "image", "40x40", "1,600 pixels", "at most 1,000")
    assert edit(cat, [up(fits)]).images[0].width == 30
    mask = up(make_mask(40, 40))
    refused(lambda: edit(cat, [up(fits)], mask=mask), "mask", "at most 1,000")


def test_too_many_pixels_is_refused_from_the_declaration(
    cat: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(input_files, "INPUT_MAX_PIXELS", 1000)
    declared = DeclaredFile("bomb.png", "image/png", 300, 9456, 9456)
    with pytest.raises(InvalidRequest, match="9456x9456") as caught:
        cat.precheck(RawOptions(prompt="x"), kind="edit", files=[declared])
    assert caught.value.field == "image"


def test_pillows_own_bomb_limit_still_refuses(
    cat: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # above 2x, Pillow raises on open
    refused(lambda: edit(cat, [up(make_image(64, 64))]), "image", "too many pixels")


def test_input_fidelity_only_for_gpt_image_1_edits(cat: Catalogue) -> None:
    assert edit(cat, [up(PNG)], model="gpt-image-1", input_fidelity="high").input_fidelity == "high"
    refused(lambda: edit(cat, [up(PNG)], input_fidelity="high"), "input_fidelity", "gpt-image-1")
    refused(lambda: gen(cat, model="gpt-image-1", input_fidelity="low"), "input_fidelity", "/edit")
    bad = lambda: edit(cat, [up(PNG)], model="gpt-image-1", input_fidelity="max")  # noqa: E731
    refused(bad, "input_fidelity", "low or high")


def test_moderation_is_for_new_images_only(cat: Catalogue) -> None:
    refused(
        lambda: edit(cat, [up(PNG)], moderation="low"), "moderation", "leave it unset for /edit"
    )


# --- masks --------------------------------------------------------------------------------------


def test_mask_accepted_and_kept(cat: Catalogue) -> None:
    request = edit(cat, [up(PNG), up(make_image(32, 32))], mask=up(make_mask(64, 64), "m.png"))
    assert request.mask is not None and request.mask.has_alpha and request.mask.format == "png"
    assert edit(cat, [up(PNG)], mask=up(make_mask(64, 64)), model="dall-e-2").mask is not None


def test_palette_png_with_transparency_is_a_mask(cat: Catalogue) -> None:
    buffer = io.BytesIO()
    Image.new("P", (64, 64), 0).save(buffer, "PNG", transparency=0)
    assert edit(cat, [up(PNG)], mask=up(buffer.getvalue())).mask is not None


def test_mask_rules(cat: Catalogue) -> None:
    no_alpha, jpeg = make_image(64, 64), make_image(64, 64, "jpeg")
    refused(lambda: edit(cat, [up(PNG)], mask=up(no_alpha)), "mask", "alpha channel")
    refused(lambda: edit(cat, [up(PNG)], mask=up(jpeg, "m.png")), "mask", "must be a PNG")
    message = refused(lambda: edit(cat, [up(PNG)], mask=up(make_mask(32, 64))), "mask")
    assert message == "The mask is 32x64 but the first image is 64x64: make them the same size."
    big = padded(make_mask(64, 64), 4 * MB)
    refused(lambda: edit(cat, [up(PNG)], mask=up(big)), "mask", "under 4 MB")
    refused(lambda: edit(cat, [up(PNG)], mask=up(b"junk", "m.png")), "mask", "m.png")


def test_sniff_image_reads_bytes() -> None:
    image = sniff_image(make_image(20, 10, "webp"), "a.png")
    assert (image.format, image.width, image.height, image.filename) == ("webp", 20, 10, "a.png")
    refused(lambda: sniff_image(b"GIF89a", "a.gif"), "image", "a.gif")


# --- precheck -----------------------------------------------------------------------------------


def declared(ctype: str | None = "image/png", size: int = 1000, w: int | None = 64,
             h: int | None = 64, name: str = "a.png") -> DeclaredFile:  # fmt: skip
    return DeclaredFile(name, ctype, size, w, h)


def pre(
    cat: Catalogue, files: list[DeclaredFile], mask: DeclaredFile | None = None, **o: Any
) -> None:
    raw = RawOptions(**{"prompt": "a fox", **o})
    cat.precheck(raw, kind="edit", files=files, mask=mask)


def test_precheck_runs_the_option_rules(cat: Catalogue) -> None:
    cat.precheck(RawOptions(prompt="fox", model="dall-e-3", style="vivid"), kind="generate")
    refused(lambda: cat.precheck(RawOptions(prompt=" "), kind="generate"), "prompt")
    refused(
        lambda: cat.precheck(RawOptions("fox", model="dall-e-3", n=3), kind="generate"), "count"
    )
    refused(lambda: cat.precheck(RawOptions("fox", size="1000x1000"), kind="generate"), "size")
    refused(lambda: pre(cat, [], model="gpt-image-1"), "image", "at least one")
    refused(lambda: pre(cat, [declared()] * 17), "image", "remove 1")
    refused(lambda: pre(cat, [declared()], model="dall-e-3"), "model")


def test_precheck_declared_types(cat: Catalogue) -> None:
    for ok in (
        "image/png",
        "image/jpeg",
        "image/webp",
        "IMAGE/PNG; x=y",
        None,
        "application/octet-stream",
    ):
        pre(cat, [declared(ok)])
    for bad in ("text/plain", "image/gif", "video/mp4"):
        refused(partial(pre, cat, [declared(bad, name="a.png")]), "image", "a.png", "not a PNG")
    refused(lambda: pre(cat, [declared()], mask=declared("image/gif")), "mask")


def test_precheck_declared_sizes_and_dimensions(cat: Catalogue) -> None:
    pre(cat, [declared(size=50 * MB - 1)])
    refused(lambda: pre(cat, [declared(size=50 * MB)]), "image", "under 50 MB")
    refused(lambda: pre(cat, [declared(size=4 * MB)], model="dall-e-2"), "image", "under 4 MB")
    refused(lambda: pre(cat, [declared(w=64, h=32)], model="dall-e-2"), "image", "square")
    pre(cat, [declared(w=None, h=None)], model="dall-e-2")
    refused(lambda: pre(cat, [declared()], mask=declared(size=4 * MB)), "mask", "under 4 MB")
    refused(lambda: pre(cat, [declared()], mask=declared(w=32)), "mask", "32x64", "64x64")
    pre(cat, [declared(w=None)], mask=declared(w=32))
    pre(cat, [declared()], mask=declared())

"""The fake server's independent request checker accepts what the API takes and refuses the rest."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import pytest
from PIL import Image

from tests.fakes import image_rules
from tests.fakes.image_rules import (
    DEFAULT_REGISTRY,
    KNOWN_MODELS,
    TRANSPARENCY_REFUSED,
    FilePart,
    ModelRegistry,
    RuleViolation,
    check_edit,
    check_generation,
)
from tests.fakes.images import make_image, make_mask

MIB = 1024 * 1024
PNG = make_image(64, 64)


def violation(call: Any, *args: Any, **kwargs: Any) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        call(*args, **kwargs)
    return caught.value


def gen(**body: Any) -> None:
    check_generation({"model": "gpt-image-2", "prompt": "a fox", **body})


def part(data: bytes = PNG, ctype: str | None = "image/png", field: str = "image") -> FilePart:
    return FilePart(field, "in.png", ctype, data)


def edit(files: list[FilePart] | None = None, **fields: str) -> None:
    check_edit(
        {"model": "gpt-image-1", "prompt": "a fox", **fields}, [part()] if files is None else files
    )


def test_error_body_shape_and_known_models() -> None:
    error = RuleViolation("nope", param="n")
    assert (error.status, error.code) == (400, "invalid_value")
    assert error.body() == {
        "error": {
            "message": "nope",
            "type": "invalid_request_error",
            "param": "n",
            "code": "invalid_value",
        }
    }
    assert {"gpt-image-2", "gpt-image-1", "dall-e-3", "dall-e-2"} == KNOWN_MODELS


@pytest.mark.parametrize(
    "body",
    [
        {"model": "gpt-image-2", "prompt": "x", "size": "2160x3840", "quality": "high", "n": 10},
        {"model": "gpt-image-2", "prompt": "x", "size": "1536x864", "stream": True,
         "partial_images": 3},
        {"model": "gpt-image-1", "prompt": "x", "background": "transparent",
         "output_format": "webp", "output_compression": 0, "moderation": "low", "user": "u1"},
        {"model": "gpt-image-1", "prompt": "x", "size": None, "quality": None, "n": None},
        {"model": "dall-e-3", "prompt": "p" * 4000, "size": "1792x1024", "quality": "hd",
         "style": "natural", "response_format": "b64_json"},
        {"model": "dall-e-2", "prompt": "p" * 1000, "size": "256x256", "n": 10,
         "quality": "standard"},
    ],
)  # fmt: skip
def test_valid_generation_bodies(body: dict[str, Any]) -> None:
    check_generation(body)


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"model": "dall-e-3", "n": 2}, "n", "invalid_value"),
        ({"n": 11}, "n", "invalid_value"),
        ({"n": "2"}, "n", "invalid_type"),
        ({"prompt": "   "}, "prompt", "invalid_value"),
        ({"prompt": "p" * 32001}, "prompt", "string_above_max_length"),
        ({"model": "dall-e-3", "prompt": "p" * 4001}, "prompt", "string_above_max_length"),
        ({"model": "dall-e-2", "prompt": "p" * 1001}, "prompt", "string_above_max_length"),
        ({"response_format": "b64_json"}, "response_format", "unknown_parameter"),
        (
            {"model": "gpt-image-1", "response_format": "url"},
            "response_format",
            "unknown_parameter",
        ),
        ({"foo": 1}, "foo", "unknown_parameter"),
        ({"input_fidelity": "high"}, "input_fidelity", "unknown_parameter"),
        ({"style": "vivid"}, "style", "invalid_value"),
        ({"model": "dall-e-3", "style": "anime"}, "style", "invalid_value"),
        ({"quality": "hd"}, "quality", "invalid_value"),
        ({"model": "dall-e-3", "quality": "auto"}, "quality", "invalid_value"),
        ({"model": "dall-e-2", "quality": "hd"}, "quality", "invalid_value"),
        ({"quality": "ultra"}, "quality", "invalid_value"),
        ({"model": "dall-e-3", "background": "opaque"}, "background", "invalid_value"),
        ({"model": "dall-e-2", "output_format": "png"}, "output_format", "invalid_value"),
        ({"model": "dall-e-2", "moderation": "low"}, "moderation", "invalid_value"),
        ({"model": "dall-e-3", "stream": True}, "stream", "invalid_value"),
        ({"partial_images": 4, "stream": True}, "partial_images", "invalid_value"),
        ({"output_compression": 50}, "output_compression", "invalid_value"),
        ({"output_format": "png", "output_compression": 50}, "output_compression", "invalid_value"),
        (
            {"output_format": "jpeg", "output_compression": 101},
            "output_compression",
            "invalid_value",
        ),
        (
            {"model": "gpt-image-1", "background": "transparent", "output_format": "jpeg"},
            "background",
            "invalid_value",
        ),
        ({"model": None}, "model", "missing_required_parameter"),
        ({"prompt": None}, "prompt", "invalid_type"),
    ],
)
def test_invalid_generation_bodies(body: dict[str, Any], param: str, code: str) -> None:
    error = violation(gen, **body)
    assert (error.param, error.code, error.status) == (param, code, 400)


@pytest.mark.parametrize(
    ("model", "size", "ok"),
    [("gpt-image-2", "3840x2160", True), ("gpt-image-2", "2160x3840", True),
     ("gpt-image-2", "1024x640", True), ("gpt-image-2", "3072x1024", True),
     ("gpt-image-2", "auto", True), ("gpt-image-2", "1000x1000", False),
     ("gpt-image-2", "3840x2176", False), ("gpt-image-2", "3584x1024", False),
     ("gpt-image-2", "1008x640", False), ("gpt-image-2", "01024x1024", False),
     ("gpt-image-2", "1024X1024", False), ("gpt-image-1", "1536x864", False),
     ("gpt-image-1", "auto", True), ("dall-e-3", "auto", False), ("dall-e-3", "1024x1792", True),
     ("dall-e-2", "512x512", True), ("dall-e-2", "1024x1536", False)],
)  # fmt: skip
def test_sizes(model: str, size: str, ok: bool) -> None:
    if ok:
        gen(model=model, size=size)
    else:
        assert violation(gen, model=model, size=size).param == "size"


def test_unknown_model_is_404() -> None:
    error = violation(gen, model="gpt-image-9")
    assert (error.status, error.code, error.param) == (404, "model_not_found", None)
    message = "The model `gpt-image-9` does not exist or you do not have access to it."
    assert error.body()["error"]["message"] == message
    error = violation(check_edit, {"model": "dall-e-9", "prompt": "x"}, [part()])
    assert (error.status, error.code) == (404, "model_not_found")
    assert violation(check_generation, ["not", "an", "object"]).code == "invalid_json"


# --- edits ----------------------------------------------------------------------------------


def test_valid_edits_and_multipart_coercion() -> None:
    edit(n="2", stream="true", partial_images="1", output_format="jpeg", output_compression="70")
    edit(input_fidelity="high", background="transparent", size="1024x1536", quality="low")
    edit([part(make_image(64, 64, "jpeg"), "image/jpeg", "image[]")] * 16)
    mask = part(make_mask(64, 64), field="mask")
    check_edit({"model": "gpt-image-2", "prompt": "x", "size": "1536x864"}, [part(), mask])
    check_edit(
        {"model": "dall-e-2", "prompt": "x", "n": "3", "response_format": "b64_json"},
        [part(PNG, "image/png; charset=binary"), mask],
    )


@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        ({"n": "two"}, "n", "invalid_type"),
        ({"n": "11"}, "n", "invalid_value"),
        ({"stream": "yes"}, "stream", "invalid_type"),
        ({"moderation": "low"}, "moderation", "unknown_parameter"),
        ({"style": "vivid"}, "style", "unknown_parameter"),
        ({"response_format": "b64_json"}, "response_format", "unknown_parameter"),
        ({"model": "gpt-image-2", "input_fidelity": "high"}, "input_fidelity", "invalid_value"),
        ({"input_fidelity": "max"}, "input_fidelity", "invalid_value"),
        ({"model": "dall-e-3"}, "model", "invalid_value"),
        ({"model": "dall-e-2", "quality": "high"}, "quality", "invalid_value"),
        ({"output_compression": "50"}, "output_compression", "invalid_value"),
        ({"image": "not a file"}, "image", "invalid_value"),
    ],
)
def test_invalid_edit_fields(fields: dict[str, str], param: str, code: str) -> None:
    error = violation(edit, None, **fields)
    assert (error.param, error.code) == (param, code)


def test_every_file_part_needs_a_real_image_type() -> None:
    for ctype in (None, "application/octet-stream", "image/gif", "text/plain"):
        error = violation(edit, [part(PNG, ctype)])
        assert (error.status, error.code, error.param) == (
            400,
            "unsupported_file_mimetype",
            "image",
        )
    assert violation(edit, [part(PNG, "image/jpeg")]).code == "invalid_image_format"
    assert violation(edit, [part(b"not an image")]).code == "invalid_image"
    assert violation(edit, [part(PNG[:80])]).code == "invalid_image"


def test_image_counts_and_fields() -> None:
    assert violation(edit, []).code == "missing_required_parameter"  # [] means: send no files
    assert violation(edit, [part(field="image[]")] * 17).param == "image"
    assert violation(edit, [part(), part(field="image[]")]).param == "image"
    assert violation(edit, [part(field="picture")]).code == "unknown_parameter"
    mask = part(make_mask(64, 64), field="mask")
    assert violation(edit, [part(), mask, mask]).param == "image"


def test_fifty_mib_limit_for_gpt_inputs() -> None:
    edit([part(PNG + bytes(50 * MIB - 1 - len(PNG)))])
    assert violation(edit, [part(PNG + bytes(50 * MIB - len(PNG)))]).param == "image"


@pytest.mark.parametrize(
    "files",
    [
        [part(make_image(64, 32))],
        [part(make_image(64, 64, "jpeg"), "image/jpeg")],
        [part(make_image(64, 64, "webp"), "image/webp")],
        [part(PNG + bytes(4 * MIB - len(PNG)))],
        [part(), part()],
    ],
    ids=["not square", "jpeg", "webp", "4 MiB", "two images"],
)
def test_dalle2_takes_one_square_png_under_4_mib(files: list[FilePart]) -> None:
    check_edit({"model": "dall-e-2", "prompt": "x"}, [part(PNG + bytes(4 * MIB - 1 - len(PNG)))])
    assert violation(check_edit, {"model": "dall-e-2", "prompt": "x"}, files).param == "image"


def _palette_mask() -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (64, 64)).save(buffer, "PNG", transparency=0)
    return buffer.getvalue()


def test_mask_rules() -> None:
    edit([part(), part(make_mask(64, 64), field="mask")])
    edit([part(), part(_palette_mask(), field="mask")])
    bad_masks = [
        part(make_mask(32, 64), field="mask"),
        part(make_image(64, 64), field="mask"),
        part(make_image(64, 64, "webp", alpha=True), "image/webp", field="mask"),
        part(make_mask(64, 64) + bytes(4 * MIB), field="mask"),
    ]
    for mask in bad_masks:
        assert violation(edit, [part(), mask]).param == "mask"
    # The mask matches the FIRST image.
    second = part(make_image(32, 32), field="image[]")
    edit([part(field="image[]"), second, part(make_mask(64, 64), field="mask")])
    error = violation(edit, [second, part(field="image[]"), part(make_mask(64, 64), field="mask")])
    assert error.param == "mask"


# --- transparency and models derived at run time ---------------------------------------------


def test_gpt_image_2_refuses_transparency_in_generations_and_edits() -> None:
    expected = {
        "error": {
            "message": "Transparent background is not supported for this model.",
            "type": "invalid_request_error",
            "param": "background",
            "code": "invalid_value",
        }
    }
    for output_format in ("png", "webp", "jpeg"):
        error = violation(gen, background="transparent", output_format=output_format)
        assert (error.status, error.body()) == (400, expected)
    fields = {"model": "gpt-image-2", "prompt": "x", "background": "transparent"}
    error = violation(check_edit, fields, [part()])
    assert (error.status, error.body()) == (400, expected)
    gen(background="opaque")
    gen(background="auto")
    edit(background="transparent", output_format="webp")  # gpt-image-1 still takes it


def test_transparency_is_a_rule_per_model() -> None:
    assert TRANSPARENCY_REFUSED == "Transparent background is not supported for this model."
    assert [
        DEFAULT_REGISTRY.rules(name).transparent for name in ("gpt-image-1", "gpt-image-2")
    ] == [
        True,
        False,
    ]
    # dall-e models refuse `background` altogether, with their own message.
    error = violation(check_generation, {"model": "dall-e-3", "prompt": "x", "background": "auto"})
    assert "not supported with dall-e-3" in error.message


FLARE = "gpt-image-2.5-flare"


def test_a_derived_model_is_checked_like_its_parent_with_its_changes() -> None:
    registry = ModelRegistry()
    rules = registry.derive(FLARE, like="gpt-image-2", transparent=True)
    assert rules == dataclasses.replace(registry.rules("gpt-image-2"), transparent=True)
    assert FLARE in registry and registry.names == KNOWN_MODELS | {FLARE}
    body = {"model": FLARE, "prompt": "x", "background": "transparent", "size": "3840x2160"}
    registry.check_generation(body)
    check_generation(body, registry=registry)
    fields = {"model": FLARE, "prompt": "x", "background": "transparent", "output_format": "webp"}
    registry.check_edit(fields, [part()])
    # Same rules as gpt-image-2 otherwise: png/webp for transparency, no input_fidelity.
    error = violation(registry.check_generation, {**body, "output_format": "jpeg"})
    assert (error.param, error.message) == (
        "background",
        "Transparent background needs png or webp.",
    )
    error = violation(registry.check_edit, {**fields, "input_fidelity": "high"}, [part()])
    assert error.param == "input_fidelity"
    # The default registry never saw it.
    assert violation(check_generation, body).code == "model_not_found"


def test_derive_refuses_what_it_cannot_do() -> None:
    registry = ModelRegistry()
    with pytest.raises(KeyError):
        registry.derive(FLARE, like="gpt-image-9")
    with pytest.raises(TypeError):
        registry.derive(FLARE, like="gpt-image-2", sparkles=True)
    assert FLARE not in registry
    # A registry's copy is independent of it.
    copy = registry.copy()
    copy.derive(FLARE, like="gpt-image-2")
    assert FLARE in copy and FLARE not in registry


def test_the_default_registry_is_sealed_and_restoring_scopes_changes() -> None:
    with pytest.raises(RuntimeError, match="sealed"):
        image_rules.derive(FLARE, like="gpt-image-2", transparent=True)
    body = {"model": FLARE, "prompt": "x", "background": "transparent"}
    with image_rules.restoring() as registry:
        assert registry is DEFAULT_REGISTRY
        image_rules.derive(FLARE, like="gpt-image-2", transparent=True)
        image_rules.derive("gpt-image-2", like="gpt-image-2", transparent=True)
        check_generation(body)
        gen(background="transparent")
    assert DEFAULT_REGISTRY.names == KNOWN_MODELS and DEFAULT_REGISTRY.sealed
    assert violation(check_generation, body).status == 404
    assert violation(gen, background="transparent").message == TRANSPARENCY_REFUSED
    with pytest.raises(ZeroDivisionError), image_rules.restoring():
        image_rules.derive(FLARE, like="gpt-image-2")
        raise ZeroDivisionError
    assert DEFAULT_REGISTRY.names == KNOWN_MODELS and DEFAULT_REGISTRY.sealed

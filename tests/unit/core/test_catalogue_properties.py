"""Hypothesis: the catalogue against the fake server's independent checker, for any input.

A. Whatever `Catalogue.validate` accepts, the body `bot.wisgate.payload` builds from it passes
   `tests.fakes.image_rules` (OpenAI's schema plus the per-model rules, written separately).
B. Whatever it refuses, it refuses with InvalidRequest and nothing else, for any input at all.
C. `precheck` never refuses what `validate` accepts for the same options and truthful metadata.
"""

from __future__ import annotations

import contextlib
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import currently_in_test_context, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from bot.core.catalogue import Catalogue, RawOptions
from bot.core.errors import InvalidRequest
from bot.core.input_files import DeclaredFile, UploadedFile
from bot.core.models import ImageRequest, InputImage, JobKind
from bot.core.profile_files import parse_profiles
from bot.images.fitting import choose_output
from bot.wisgate.payload import edit_fields, edit_files, generation_body
from tests.fakes.image_rules import (
    DEFAULT_REGISTRY,
    FilePart,
    RuleViolation,
    check_edit,
    check_generation,
)
from tests.fakes.images import make_image, make_mask

MODELS = ("gpt-image-2", "gpt-image-1", "dall-e-3", "dall-e-2")
# A model from an operator's file, as the fake serves it: gpt-image-2 with transparency.
FLARE = "gpt-image-2.5-flare"
PROFILES = parse_profiles(f'[models."{FLARE}"]\nlike = "gpt-image-2"\ntransparent = true\n', "test")
RULES = DEFAULT_REGISTRY.copy()
RULES.derive(FLARE, like="gpt-image-2", transparent=True)
MODELS = (*MODELS, FLARE)
EVERYTHING = Catalogue(PROFILES, MODELS, "gpt-image-2")
SOME = Catalogue(PROFILES, ("dall-e-2", "gpt-image-1"), "dall-e-2")
KINDS: tuple[JobKind, ...] = ("generate", "edit")
MIB = 1024 * 1024
SETTINGS = settings(max_examples=60, deadline=None)

# Literal per-model values (not read from bot.core.catalogue: the strategy cannot share its
# bugs).
GPT: dict[str, list[Any]] = {
    "quality": ["auto", "low", "medium", "high"],
    "size": ["1024x1024", "1536x1024", "1024x1536", "auto"],
    "background": ["transparent", "opaque", "auto"],
    "output_format": ["png", "jpeg", "webp"],
    "output_compression": [0, 55, 100],
    "moderation": ["auto", "low"],
    "input_fidelity": ["low", "high"],
    "aspect": ["square", "portrait", "landscape", "wide", "tall"],
}
FREE = [*GPT["size"], "1536x864", "2160x3840", "3840x2160"]
VALID: dict[str, dict[str, list[Any]]] = {
    # Transparent backgrounds were shut for gpt-image-2 (2026-09-30); its successor has them.
    "gpt-image-2": {**GPT, "size": FREE, "background": ["opaque", "auto"]},
    "gpt-image-2.5-flare": {**GPT, "size": FREE},
    "gpt-image-1": GPT,
    "dall-e-3": {
        "quality": ["standard", "hd"],
        "size": ["1024x1024", "1792x1024", "1024x1792"],
        "style": ["vivid", "natural"],
        "aspect": ["square", "portrait", "landscape", "wide", "tall"],
    },
    "dall-e-2": {
        "quality": ["standard"],
        "size": ["256x256", "512x512", "1024x1024"],
        "aspect": ["square"],
    },
}
for name in ("gpt-image-2", "gpt-image-2.5-flare", "gpt-image-1", "dall-e-2"):
    VALID[name]["n"] = [1, 2, 10]
VALID["dall-e-3"]["n"] = [1]
# Every value worth trying per field: valid for some model, near a boundary, or plain wrong.
ANY_VALUES: dict[str, list[Any]] = {
    "quality": ["auto", "low", "medium", "high", "standard", "hd", "HIGH", "ultra", ""],
    "size": ["1024x1024", "1536x1024", "1024x1536", "1792x1024", "1024x1792", "256x256",
             "512x512", "auto", "AUTO", " 1536X1024 ", "01024x1024", "1000x1000", "1008x1008",
             "1536x864", "3072x1024", "1024x3072", "3584x1024", "3840x2160", "2160x3840",
             "3856x2160", "3840x2176", "1024x640", "1008x640", "4096x1024", "3840x3840", "0x0",
             "16x16", "abc", "", "16:9", "9:16", "21:9", "3:1", "4:1", "1:1", "0:9", "4:3"],
    "aspect": ["square", "portrait", "landscape", "wide", "tall", "WIDE", "panorama", ""],
    "background": ["transparent", "opaque", "auto", "clear"],
    "output_format": ["png", "jpeg", "jpg", "webp", "gif", "PNG"],
    "output_compression": [-1, 0, 50, 100, 101],
    "style": ["vivid", "natural", "anime"],
    "moderation": ["auto", "low", "off"],
    "input_fidelity": ["low", "high", "max"],
    "n": [-1, 0, 1, 2, 10, 11],
}  # fmt: skip
SIDES = st.integers(0, 250).map(lambda k: 16 * k) | st.integers(0, 5000)
SIZES = st.builds("{}x{}".format, SIDES, SIDES)
ANY = {name: st.sampled_from(values) for name, values in ANY_VALUES.items()}
ANY["size"] = ANY["size"] | SIZES
TAME_PROMPTS = st.sampled_from(["a red fox", "  padded  ", "p" * 1000])
PROMPTS = st.one_of(
    st.sampled_from(["a red fox", "", "   ", "  padded  "]),
    st.text(max_size=20),
    st.sampled_from([999, 1000, 1001, 4000, 4001, 32000, 32001]).map(lambda k: "p" * k + " "),
)


def _png(width: int, height: int, mode: str) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


PNG64 = make_image(64, 64)
GIF = io.BytesIO()
Image.new("RGB", (8, 8)).save(GIF, "GIF")
# The first four are real 64x64 inputs every GPT model takes; the rest break some rule.
IMAGES = [PNG64, make_image(64, 64, "jpeg"), make_image(64, 64, "webp"),
          make_image(64, 64, alpha=True), make_image(64, 32), make_image(32, 64, "webp"),
          _png(64, 64, "L"), b"not an image", PNG64[:100], GIF.getvalue()]  # fmt: skip
MASKS = [make_mask(64, 64), make_mask(64, 64, hole=False), make_mask(32, 64), PNG64,
         make_image(64, 64, "jpeg"), _png(64, 64, "LA"), b"\x89PNG junk"]  # fmt: skip
NAMES = st.sampled_from(["a.png", "b.jpg", "c.webp", "notes.txt", ""])
FIELDS = (*ANY, "prompt", "images", "mask", "kind", "catalogue")


@dataclass
class Case:
    """One drawn request: options, kind, files, and how it would be streamed."""

    options: RawOptions
    kind: JobKind
    catalogue: Catalogue = EVERYTHING
    images: list[UploadedFile] = field(default_factory=list)
    mask: UploadedFile | None = None
    stream: bool = False
    partial_images: int = 2


def _tamed(draw: st.DrawFn, model: str | None, kind: JobKind, values: dict[str, Any]) -> None:
    """Repair the cross-field rules, so unperturbed cases are accepted and reach the checker."""
    if kind == "generate" or model != "gpt-image-1":
        values["input_fidelity"] = None
    if kind == "edit":
        values["moderation"] = None
    if values["output_compression"] is not None and values["output_format"] not in ("jpeg", "webp"):
        values["output_format"] = draw(st.sampled_from(["jpeg", "webp"]))
    if values["background"] == "transparent" and values["output_format"] == "jpeg":
        values["background"] = "opaque"
    if values["aspect"] is not None:
        values["size"] = None  # the aspect picks the size


@st.composite
def cases(draw: st.DrawFn, model: str | None, kind: JobKind) -> Case:
    """A request valid for `model` and `kind`, then with one or two things changed."""
    valid = VALID[model or "gpt-image-2"]
    values = {name: draw(st.none() | st.sampled_from(valid.get(name) or [None])) for name in ANY}
    _tamed(draw, model, kind, values)
    prompt = draw(TAME_PROMPTS)
    tame_files = st.builds(UploadedFile, NAMES, st.sampled_from(IMAGES[:4]))
    images = draw(st.lists(tame_files, min_size=1, max_size=3))
    mask = draw(st.none() | st.builds(UploadedFile, NAMES, st.just(MASKS[0])))
    images = [UploadedFile("a.png", PNG64)] if model == "dall-e-2" else images
    images, mask = (images, mask) if kind == "edit" else ([], None)
    case = Case(RawOptions(prompt, model), kind, EVERYTHING, images, mask, draw(st.booleans()),
                draw(st.integers(0, 3)))  # fmt: skip
    for name in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=2, unique=True)):
        _perturb(draw, case, values, name)
    case.options = RawOptions(case.options.prompt, model, **values)
    return case


def _perturb(draw: st.DrawFn, case: Case, values: dict[str, Any], name: str) -> None:
    wild_files = st.builds(UploadedFile, NAMES, st.sampled_from(IMAGES))
    if name in ANY:
        values[name] = draw(ANY[name])
    elif name == "prompt":
        case.options.prompt = draw(PROMPTS)
    elif name == "images":
        many = st.just([UploadedFile("a.png", PNG64)] * draw(st.sampled_from([16, 17])))
        case.images = draw(st.lists(wild_files, max_size=3) | many)
    elif name == "mask":
        case.mask = draw(st.none() | st.builds(UploadedFile, NAMES, st.sampled_from(MASKS)))
    elif name == "kind":
        case.kind = "edit" if case.kind == "generate" else "generate"
    else:
        case.catalogue = SOME


def _validate(case: Case) -> ImageRequest | None:
    try:
        request = case.catalogue.validate(
            case.options, kind=case.kind, images=case.images, mask=case.mask
        )
    except InvalidRequest as refusal:
        _event(f"refused on {refusal.field}")
        assert refusal.field and refusal.user_message.strip()
        return None
    _event("accepted")
    return request


def _event(name: str) -> None:
    if currently_in_test_context():
        event(name)


def _part(name: str, image: InputImage) -> FilePart:
    return FilePart(name, image.filename, image.content_type, image.data)


def _check_upstream(request: ImageRequest, case: Case) -> None:
    """What the client would send, as validated and after delivery picks an output format."""
    _check_body(request, case)
    for limit in (10 * MIB, 100 * MIB):  # Discord's unboosted and tier-3 upload limits
        _check_body(choose_output(request, limit), case)


def _check_body(request: ImageRequest, case: Case) -> None:
    stream, partial = case.stream, case.partial_images
    try:
        if request.kind == "generate":
            body = generation_body(request, stream=stream, partial_images=partial)
            check_generation(body, registry=RULES)
        else:
            fields = dict(edit_fields(request, stream=stream, partial_images=partial))
            files = [_part(name, image) for name, image in edit_files(request)]
            check_edit(fields, files, registry=RULES)
    except RuleViolation as violation:
        message = f"accepted {request!r} but the API would refuse: {violation.body()}"
        raise AssertionError(message) from violation


GOOD = [
    Case(RawOptions("a fox", "gpt-image-1", "1536x1024", "high", 3, "transparent", "webp", 80,
                    input_fidelity="high"), "edit", images=[UploadedFile("x.jpg", PNG64)] * 2,
         mask=UploadedFile("m.png", make_mask(64, 64)), stream=True),
    Case(RawOptions("a fox", "gpt-image-2", "2160x3840", output_format="jpeg",
                    output_compression=0, moderation="low"), "generate", stream=True),
    Case(RawOptions("a fox", "dall-e-2", "512x512", "standard", 2), "edit",
         images=[UploadedFile("a.png", PNG64)], mask=UploadedFile("m.png", make_mask(64, 64))),
    Case(RawOptions("  a fox ", "dall-e-3", "1024x1792", "hd", style="natural"), "generate"),
]  # fmt: skip
MODEL_KINDS = [(model, kind) for model in (*MODELS, None) for kind in KINDS]


@pytest.mark.parametrize("case", GOOD)
def test_known_good_requests_pass_both(case: Case) -> None:
    """The properties below are not vacuous: these are accepted by both implementations."""
    request = case.catalogue.validate(
        case.options, kind=case.kind, images=case.images, mask=case.mask
    )
    _check_upstream(request, case)


def _variants(model: str | None, kind: JobKind) -> Iterator[Case]:
    """A valid request for `model` and `kind`, changed in each listed way, one thing at a time."""
    images = [UploadedFile("a.png", PNG64)] if kind == "edit" else []

    def case(images: list[UploadedFile] = images, **changes: Any) -> Case:
        options = RawOptions(**{"prompt": "a red fox", "model": model, **changes})
        return Case(options, kind, images=images)

    for name, values in ANY_VALUES.items():
        yield from (case(**{name: value}) for value in values)
    for background, fmt, compression in itertools.product(
        ANY_VALUES["background"], ANY_VALUES["output_format"], [None, 0, 100, 101]
    ):
        yield case(background=background, output_format=fmt, output_compression=compression)
    yield from (case(prompt="p" * k + " ") for k in (1000, 1001, 4000, 4001, 32000, 32001))
    if kind == "edit":
        yield from (case([UploadedFile("a.png", data)]) for data in IMAGES)
        yield from (case([UploadedFile("a.png", PNG64)] * count) for count in (0, 2, 16, 17))
        for data in MASKS:
            mask = UploadedFile("m.png", data)
            yield Case(RawOptions("a red fox", model), kind, images=images, mask=mask)


@pytest.mark.parametrize(("model", "kind"), MODEL_KINDS)
def test_every_single_change_agrees(model: str | None, kind: JobKind) -> None:
    """Property A, exhaustively over one-field changes: accepted means the checker accepts."""
    accepted = 0
    for case in _variants(model, kind):
        request = _validate(case)
        if request is not None:
            accepted += 1
            _check_upstream(request, case)
    assert accepted >= 5 or (model, kind) == ("dall-e-3", "edit")


@pytest.mark.parametrize(("model", "kind"), MODEL_KINDS)
@SETTINGS
@given(data=st.data())
def test_accepted_requests_pass_the_independent_checker(
    model: str | None, kind: JobKind, data: st.DataObject
) -> None:
    """Property A: the body the client would send for an accepted request is valid upstream."""
    case = data.draw(cases(model, kind))
    request = _validate(case)
    if request is not None:
        _check_upstream(request, case)


TEXT = st.text(max_size=12)
WILD_OPTIONS = st.builds(
    RawOptions, prompt=st.text(max_size=40), model=st.none() | st.sampled_from(MODELS) | TEXT,
    size=st.none() | TEXT | st.from_regex(r"[0-9]{1,7}[xX×:][0-9]{1,7}", fullmatch=True),
    quality=st.none() | TEXT, n=st.none() | st.integers(), background=st.none() | TEXT,
    output_format=st.none() | TEXT, output_compression=st.none() | st.integers(),
    style=st.none() | TEXT, moderation=st.none() | TEXT, input_fidelity=st.none() | TEXT,
    aspect=st.none() | TEXT | st.sampled_from(ANY_VALUES["aspect"]),
)  # fmt: skip
WILD_BYTES = st.one_of(
    st.binary(max_size=64),
    st.sampled_from(IMAGES + MASKS).flatmap(
        lambda data: st.integers(0, len(data)).map(lambda cut: data[:cut] + b"\x00" * (cut % 3))
    ),
)
WILD_FILES = st.lists(st.builds(UploadedFile, TEXT, WILD_BYTES), max_size=3)


@pytest.mark.parametrize(("model", "kind"), MODEL_KINDS)
@SETTINGS
@given(data=st.data())
def test_refusals_are_invalid_request_only(
    model: str | None, kind: JobKind, data: st.DataObject
) -> None:
    """Property B, on drawn requests: refusals are InvalidRequest with a field and a message."""
    _validate(data.draw(cases(model, kind)))  # any other exception type fails the test


@SETTINGS
@given(
    options=WILD_OPTIONS,
    kind=st.sampled_from(["generate", "edit"]),
    images=WILD_FILES,
    mask=st.none() | st.builds(UploadedFile, TEXT, WILD_BYTES),
)
def test_wild_input_only_ever_raises_invalid_request(
    options: RawOptions, kind: JobKind, images: list[UploadedFile], mask: UploadedFile | None
) -> None:
    """Property B, on anything at all: arbitrary text, integers and damaged bytes."""
    _validate(Case(options, kind, images=images, mask=mask))
    declared = [DeclaredFile(f.filename, None, len(f.data), None, None) for f in images]
    with contextlib.suppress(InvalidRequest):
        EVERYTHING.precheck(options, kind=kind, files=declared)


def _declared(image: InputImage, style: str) -> DeclaredFile:
    content_type = {"exact": image.content_type, "unknown": None}.get(
        style, "application/octet-stream"
    )
    dims = (None, None) if style == "unknown" else (image.width, image.height)
    return DeclaredFile(image.filename, content_type, len(image.data), *dims)


@pytest.mark.parametrize(("model", "kind"), MODEL_KINDS)
@SETTINGS
@given(data=st.data(), style=st.sampled_from(["exact", "unknown", "octet"]))
def test_precheck_never_refuses_what_validate_accepts(
    model: str | None, kind: JobKind, data: st.DataObject, style: str
) -> None:
    """Property C: the fast precheck is never stricter than the full validation."""
    case = data.draw(cases(model, kind))
    request = _validate(case)
    if request is None:
        return
    files = [_declared(image, style) for image in request.images]
    mask = _declared(request.mask, style) if request.mask is not None else None
    case.catalogue.precheck(case.options, kind=case.kind, files=files, mask=mask)

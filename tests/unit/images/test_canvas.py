"""Hypothesis: the canvas geometry of the actions (bot/images/canvas.py) for any result size,
model profile (a models-file one included) and action.

A. The size asked obeys the model's rules, as the fake WisGate's own checker reads them.
B. The original keeps its shape inside the canvas (within a pixel of rounding), sits inside it,
   at 1/zoom of it, at the edge a pan grows away from, and the canvas really grows.
C. The mask is transparent exactly outside the placed original (checked on the mask drawn).
D. An upscale keeps the shape (the short edge is the exact one rounded to the step) and brings
   at least 1.25 times the pixels; Vary keeps a size the model makes as it is.
E. Through the catalogue and payload, the edit the bot would send passes the fake's checks.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from PIL import Image

from bot.core.actions import ACTIONS, Action
from bot.core.catalogue import Catalogue, RawOptions
from bot.core.input_files import UploadedFile
from bot.core.profile_files import parse_profiles
from bot.core.profiles import ModelProfile
from bot.images.canvas import UPSCALE_MIN, Plan, plan_for
from bot.images.outpaint import mask_image, prepare
from bot.wisgate.payload import edit_fields, edit_files
from tests.fakes.image_rules import DEFAULT_REGISTRY, FilePart, check_generation
from tests.fakes.images import make_image

FLARE = "gpt-image-2.5-flare"  # a model from an operator's file, as in the catalogue's tests
PROFILES = parse_profiles(f'[models."{FLARE}"]\nlike = "gpt-image-2"\ntransparent = true\n', "test")
RULES = DEFAULT_REGISTRY.copy()
RULES.derive(FLARE, like="gpt-image-2", transparent=True)
MODELS = ("gpt-image-2", FLARE, "gpt-image-1", "dall-e-2", "dall-e-3")
CATALOGUE = Catalogue(PROFILES, MODELS, "gpt-image-2")
SIDES = st.integers(1, 5000) | st.integers(1, 240).map(lambda k: 16 * k)
ACTION = st.sampled_from(list(ACTIONS.values()))
SETTINGS = settings(max_examples=300, deadline=None)


def assert_size_allowed(profile: ModelProfile, plan: Plan) -> None:
    """A: the fake's independent per-model rules accept the size (and a square one where the
    model edits squares only, the canvas being the image it edits)."""
    check_generation({"model": profile.name, "prompt": "p", "size": plan.size}, registry=RULES)
    if profile.edit is not None and profile.edit.square:
        assert plan.width == plan.height


def assert_mask(plan: Plan) -> None:
    """C: alpha 0 exactly outside the placed original, 255 exactly inside."""
    assert plan.placed is not None
    box = plan.placed
    alpha = mask_image(plan.width, plan.height, box).getchannel("A")
    inside = box.width * box.height
    histogram = alpha.histogram()
    assert histogram[255] == inside and histogram[0] == plan.width * plan.height - inside
    assert alpha.getbbox() == (box.left, box.top, box.right, box.bottom)


@SETTINGS
@given(model=st.sampled_from(MODELS), action=ACTION, width=SIDES, height=SIDES)
def test_a_plan_obeys_the_model_and_keeps_the_original(
    model: str, action: Action, width: int, height: int
) -> None:
    profile = PROFILES[model]
    plan = plan_for(profile, action, width, height)
    if profile.edit is None or plan is None:
        assert profile.edit is not None or plan is None  # a model that cannot edit: nothing
        event(f"{action.name} not possible on {model}")
        return
    assert_size_allowed(profile, plan)
    if action.kind == "outpaint":
        assert_placed(plan, action, width, height)
        if plan.width * plan.height <= 1_100_000:  # drawing 8-megapixel masks 300 times: slow
            assert_mask(plan)
    elif action.kind == "upscale":
        assert plan.placed is None
        assert plan.width * plan.height >= UPSCALE_MIN * width * height
        step = profile.free_size.step if profile.free_size is not None else 0
        assert abs(plan.width * height - plan.height * width) <= step / 2 * max(width, height)
    else:
        assert plan.placed is None
        fits = f"{width}x{height}" in profile.sizes
        if fits or (profile.free_size is not None and _free_ok(profile, width, height)):
            assert plan.size == f"{width}x{height}"  # kept as it is


def assert_placed(plan: Plan, action: Action, width: int, height: int) -> None:
    """B for a zoom or a pan."""
    box = plan.placed
    assert box is not None
    assert box.left >= 0 and box.top >= 0
    assert box.right <= plan.width and box.bottom <= plan.height
    # The shape kept: each edge within half a pixel of the same scale (a whole pixel where it
    # was kept at the 1-pixel minimum), so the cross products differ by at most that much.
    off_across = 1.0 if box.width == 1 else 0.5
    off_down = 1.0 if box.height == 1 else 0.5
    assert abs(box.width * height - box.height * width) <= off_across * height + off_down * width
    assert plan.width * plan.height > box.width * box.height  # the canvas grew
    across, down = action.extend
    for extend, canvas, placed in (
        (across, plan.width, box.width),
        (down, plan.height, box.height),
    ):
        if extend > 1:
            assert canvas >= 1.1 * placed  # it grows this way
            if not action.pans:
                assert placed <= canvas / extend + 1  # at 1/zoom of the canvas, at most
        else:
            assert canvas - placed <= 0.05 * canvas  # a pan grows one way only
    if action.name == "pan_left":
        assert box.right == plan.width
    elif action.name == "pan_right":
        assert box.left == 0
    elif action.name == "pan_up":
        assert box.bottom == plan.height
    elif action.name == "pan_down":
        assert box.top == 0
    else:  # a zoom: centred, within a pixel
        assert abs(box.left - (plan.width - box.right)) <= 1
        assert abs(box.top - (plan.height - box.bottom)) <= 1


def _free_ok(profile: ModelProfile, width: int, height: int) -> bool:
    try:
        check_generation(
            {"model": profile.name, "prompt": "p", "size": f"{width}x{height}"}, registry=RULES
        )
    except Exception:
        return False
    return True


SMALL = st.integers(1, 48).map(lambda k: 16 * k)


@settings(max_examples=40, deadline=None)
@given(model=st.sampled_from(MODELS[:4]), action=ACTION, width=SMALL, height=SMALL)
def test_the_edit_sent_passes_the_fakes_checks(
    model: str, action: Action, width: int, height: int
) -> None:
    """E: prepare (canvas and mask drawn), the catalogue, the payload, the fake's checker."""
    profile = PROFILES[model]
    plan = plan_for(profile, action, width, height)
    if plan is None:
        return
    source = UploadedFile("imagine-1-1.png", make_image(width, height, "png", seed=width))
    prepared = prepare(profile, action, source)
    assert prepared.size == plan.size
    options = RawOptions(prompt="a red fox", model=model, size=prepared.size)
    request = CATALOGUE.validate(options, kind="edit", images=[prepared.image], mask=prepared.mask)
    files = [
        FilePart(name, image.filename, image.content_type, image.data)
        for name, image in edit_files(request)
    ]
    RULES.check_edit(dict(edit_fields(request)), files)
    if plan.placed is None:
        assert prepared.image.data == source.data and prepared.mask is None  # sent as it is
    else:
        assert prepared.mask is not None
        with Image.open(io.BytesIO(prepared.mask.data)) as mask:
            box = plan.placed
            assert mask.getchannel("A").getbbox() == (box.left, box.top, box.right, box.bottom)


CASES: list[tuple[str, str, tuple[int, int], Any]] = [
    # model, action, result size, (size asked, where the original goes) written out by hand
    ("gpt-image-2", "zoom_2", (1024, 1024), ("2048x2048", (512, 512, 1024, 1024))),
    ("gpt-image-2", "zoom_2", (3840, 2160), ("3840x2160", (960, 540, 1920, 1080))),
    ("gpt-image-2", "pan_left", (1536, 1024), ("2304x1024", (768, 0, 1536, 1024))),
    ("gpt-image-2", "upscale", (1536, 864), ("3840x2160", None)),
    ("gpt-image-2", "upscale", (1024, 1024), ("2880x2880", None)),
    ("gpt-image-2", "upscale", (3840, 2160), None),  # already the largest
    ("gpt-image-1", "pan_up", (1536, 1024), ("1024x1024", (0, 341, 1024, 683))),
    ("gpt-image-1", "pan_left", (1536, 1024), None),  # no wider size
    ("gpt-image-1", "upscale", (1024, 1024), None),
    ("dall-e-2", "upscale", (512, 512), ("1024x1024", None)),
    ("dall-e-2", "pan_left", (1024, 1024), None),  # squares only
    ("dall-e-3", "vary_subtle", (1024, 1024), None),  # does not edit
]


@pytest.mark.parametrize(("model", "name", "size", "expected"), CASES)
def test_known_plans(model: str, name: str, size: tuple[int, int], expected: Any) -> None:
    plan = plan_for(PROFILES[model], ACTIONS[name], *size)
    if expected is None:
        assert plan is None
        return
    assert plan is not None and plan.size == expected[0]
    box = plan.placed
    shown = None if box is None else (box.left, box.top, box.width, box.height)
    assert shown == expected[1]

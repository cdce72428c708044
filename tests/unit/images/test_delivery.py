"""Fitting images to the upload limit, packing them into messages, naming and describing them."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import math
import time
from collections.abc import Sequence

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

from bot.core.errors import BotError
from bot.core.models import GeneratedImage, ImageRequest, ImageResult, InputImage
from bot.core.text import shorten
from bot.discord.texts import result_embed, rough_duration, status_line, usual_range
from bot.images import fitting as delivery
from bot.images import packing
from bot.images.encoding import DeliveryError, ImageTooLarge, bytes_per_pixel
from bot.images.fitting import (
    OutgoingFile,
    choose_output,
    file_name,
    fit_images,
    outgoing_files,
    pack_messages,
    upload_budget,
)
from bot.jobs.durations import Typical
from tests.fakes.images import make_image

MIB = 1024 * 1024
LIMIT = 10 * MIB  # Discord's unboosted attachment_size_limit


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# --- names --------------------------------------------------------------------------------


def test_file_names_count_from_one_with_the_right_extension() -> None:
    assert file_name("generate", 42, 0, "png") == "imagine-42-1.png"
    assert file_name("edit", 7, 2, "jpeg") == "edit-7-3.jpg"
    assert file_name("generate", 1, 9, "webp") == "imagine-1-10.webp"


def test_outgoing_files_keep_order_and_short_alt_text() -> None:
    images = [GeneratedImage(b"a", "png"), GeneratedImage(b"bb", "jpeg")]
    files = outgoing_files("generate", 5, images, alt_text="a cat\nin   space " * 200)
    assert [f.filename for f in files] == ["imagine-5-1.png", "imagine-5-2.jpg"]
    assert [f.data for f in files] == [b"a", b"bb"]
    description = files[0].description
    assert description is not None
    assert _units(description) <= delivery.DESCRIPTION_MAX
    assert "\n" not in description and "  " not in description


# --- packing ------------------------------------------------------------------------------


def _check_packing(
    groups: Sequence[Sequence[int]], sizes: Sequence[int], cap: int, most: int
) -> None:
    flat = sorted(i for group in groups for i in group)
    assert flat == list(range(len(sizes))), "every file exactly once"
    for group in groups:
        assert 0 < len(group) <= most
        assert sum(sizes[i] for i in group) <= cap
        assert list(group) == sorted(group), "files keep their order within a message"
    firsts = [group[0] for group in groups]
    assert firsts == sorted(firsts), "messages ordered by their first file"
    for a in range(len(groups)):
        for b in range(a + 1, len(groups)):
            merged = [*groups[a], *groups[b]]
            mergeable = len(merged) <= most and sum(sizes[i] for i in merged) <= cap
            assert not mergeable, f"messages {a} and {b} could be one"


def _optimum(sizes: Sequence[int], cap: int, most: int) -> int:
    """Fewest bins by dynamic programming over subsets: independent of the code under test."""
    n = len(sizes)
    full = (1 << n) - 1
    fits = [
        bin(mask).count("1") <= most and sum(sizes[i] for i in range(n) if mask >> i & 1) <= cap
        for mask in range(full + 1)
    ]
    best = [0] + [n + 1] * full
    for mask in range(1, full + 1):
        low = mask & -mask
        sub = mask
        while sub:
            if sub & low and fits[sub]:
                best[mask] = min(best[mask], best[mask ^ sub] + 1)
            sub = (sub - 1) & mask
    return best[full]


def test_ten_photo_sized_pngs_take_the_minimum_three_messages() -> None:
    files = [
        OutgoingFile(f"imagine-1-{k}.png", make_image(1024, 1024, noisy=True, seed=k))
        for k in range(10)
    ]
    sizes = [f.size for f in files]
    assert min(sizes) > 1.5 * MIB and max(sizes) < 3 * MIB
    messages = pack_messages(files, lambda f: f.size, limit=LIMIT)
    budget = upload_budget(LIMIT)
    assert len(messages) == math.ceil(sum(sizes) / budget) == 3
    assert [f for message in messages for f in message] == files  # in order: it costs nothing
    for message in messages:
        assert len(message) <= 10 and sum(f.size for f in message) <= budget


def test_many_small_files_split_by_count_in_order() -> None:
    files = [OutgoingFile(f"f{k}.png", make_image(64, 64, seed=k)) for k in range(23)]
    messages = pack_messages(files, lambda f: f.size, limit=LIMIT)
    assert [len(m) for m in messages] == [10, 10, 3]
    assert [f for message in messages for f in message] == files


def test_packing_beats_the_in_order_split_when_it_saves_a_message() -> None:
    sizes = [6, 5, 5, 4]  # in order: [6] [5,5] [4]; best: [6,4] [5,5]
    messages = pack_messages(sizes, lambda s: s, limit=10, overhead=0)
    assert messages == [[6, 4], [5, 5]]


def test_packing_searches_when_first_fit_decreasing_falls_short() -> None:
    sizes = [4, 4, 3, 3, 2, 2]  # first-fit decreasing: [4,4] [3,3,2] [2]; best: 2 messages
    assert len(packing.first_fit_decreasing(sizes, 9, 10)) == 3
    assert pack_messages(sizes, lambda s: s, limit=9, overhead=0) == [[4, 3, 2], [4, 3, 2]]
    # The same with the file count binding: three a message.
    assert len(pack_messages([1] * 9, lambda s: s, limit=9, max_files=3, overhead=0)) == 3


def test_packing_refuses_a_file_that_cannot_fit_alone() -> None:
    with pytest.raises(ValueError):
        pack_messages([LIMIT], lambda s: s, limit=LIMIT)  # the overhead leaves less room
    assert pack_messages([], lambda s: s, limit=LIMIT) == []


@settings(max_examples=200, deadline=None)
@example(cap=9, most=10, sizes=[4, 4, 3, 3, 2, 2])  # first-fit decreasing needs 3 here
@given(
    cap=st.integers(1, 100),
    most=st.integers(1, 10),
    sizes=st.lists(st.integers(1, 100), max_size=9),
)
def test_packing_is_optimal_on_small_inputs(cap: int, most: int, sizes: list[int]) -> None:
    sizes = [min(size, cap) for size in sizes]
    groups = packing.pack(sizes, cap, most)
    _check_packing(groups, sizes, cap, most)
    assert len(groups) == _optimum(sizes, cap, most)
    messages = pack_messages(sizes, lambda s: s, limit=cap, max_files=most, overhead=0)
    assert messages == [[sizes[i] for i in group] for group in groups]


@settings(max_examples=60, deadline=None)
@given(cap=st.integers(10, 10_000), most=st.integers(1, 10), data=st.data())
def test_packing_holds_its_limits_on_larger_inputs(
    cap: int, most: int, data: st.DataObject
) -> None:
    sizes = data.draw(st.lists(st.integers(1, cap), max_size=40))
    started = time.perf_counter()
    groups = packing.pack(sizes, cap, most)
    assert time.perf_counter() - started < 1.0
    _check_packing(groups, sizes, cap, most)
    if sizes:
        assert len(groups) >= packing.lower_bound(sizes, cap, most)


# --- fitting to the limit -----------------------------------------------------------------


def _big(alpha: bool) -> GeneratedImage:
    data = make_image(3840, 2160, "png", alpha=alpha, noisy=True)  # cached: ~1 s to make
    assert len(data) > LIMIT
    return GeneratedImage(data, "png", 3840, 2160, revised_prompt="kept")


async def test_images_that_fit_are_returned_untouched() -> None:
    small = GeneratedImage(make_image(1024, 1024, noisy=True), "png")
    also = GeneratedImage(b"not even an image: never decoded", "png")
    fitted = await fit_images([small, also], LIMIT, keep_alpha=True)
    assert fitted[0] is small and fitted[1] is also


async def test_an_oversized_png_becomes_a_jpeg_under_the_limit() -> None:
    small = GeneratedImage(make_image(1024, 1024, noisy=True), "png")
    big = _big(alpha=False)
    fitted = await fit_images([small, big], LIMIT, keep_alpha=True)  # no alpha to keep
    assert fitted[0] is small
    out = fitted[1]
    assert out.format == "jpeg" and len(out.data) <= upload_budget(LIMIT)
    assert (out.width, out.height, out.revised_prompt) == (3840, 2160, "kept")
    image = _decode(out.data)
    assert image.format == "JPEG" and image.size == (3840, 2160)


async def test_an_oversized_png_with_alpha_becomes_webp_off_the_event_loop() -> None:
    big = _big(alpha=True)
    gaps: list[float] = []

    async def tick() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    try:
        [out] = await fit_images([big], LIMIT, keep_alpha=False)  # real transparency: kept
    finally:
        ticker.cancel()
    assert len(gaps) > 10 and max(gaps) < 0.5, "Pillow ran on the event loop"
    assert out.format == "webp" and len(out.data) <= upload_budget(LIMIT)
    image = _decode(out.data)
    assert image.format == "WEBP" and image.size == (3840, 2160) and image.mode == "RGBA"


async def test_downscales_as_a_last_resort() -> None:
    limit = 2 * MIB  # below even JPEG q60 of this picture (~2.5 MiB)
    [out] = await fit_images([_big(alpha=False)], limit, keep_alpha=False)
    image = _decode(out.data)
    assert len(out.data) <= upload_budget(limit)
    assert image.size == (out.width, out.height)
    assert 256 <= image.width < 3840
    assert abs(image.width / image.height - 16 / 9) < 0.01


async def test_too_large_even_shrunk_is_a_member_facing_error() -> None:
    with pytest.raises(ImageTooLarge) as caught:
        await fit_images([_big(alpha=False)], 100 * 1024, keep_alpha=False)
    assert isinstance(caught.value, BotError)
    assert "100 KiB" in caught.value.user_message


async def test_undecodable_oversized_bytes_are_a_member_facing_error() -> None:
    junk = GeneratedImage(b"\x89PNG not really" * 1_000_000, "png")
    with pytest.raises(DeliveryError):
        await fit_images([junk], LIMIT, keep_alpha=False)


# --- choosing the output format upstream ---------------------------------------------------


def _request(model: str = "gpt-image-1", **changes: object) -> ImageRequest:
    return dataclasses.replace(ImageRequest("generate", model, "a cat"), **changes)  # type: ignore[arg-type]


def test_small_requests_stay_png() -> None:
    for request in (_request(size="1024x1024"), _request(size="auto", n=4), _request()):
        chosen = choose_output(request, LIMIT)
        assert chosen.output_format == "png" and chosen.output_compression is None
        assert dataclasses.replace(chosen, output_format=None) == request


def test_big_requests_get_a_lossy_format_that_fits() -> None:
    budget = upload_budget(LIMIT)
    chosen = choose_output(_request("gpt-image-2", size="3840x2160"), LIMIT)
    assert chosen.output_format == "jpeg"
    assert chosen.output_compression is not None and chosen.output_compression >= 90
    assert 3840 * 2160 * bytes_per_pixel("jpeg", chosen.output_compression) < budget
    transparent = choose_output(
        _request("gpt-image-2", size="3840x2160", background="transparent"), LIMIT
    )
    assert transparent.output_format == "webp" and transparent.output_compression


def test_auto_size_stays_png_on_an_unboosted_server() -> None:
    # "auto" picks among the standard sizes (at most 1536x1024): one PNG fits 10 MiB.
    for size in ("auto", None):
        assert choose_output(_request("gpt-image-2", size=size), LIMIT).output_format == "png"


def test_many_images_trade_png_for_fewer_messages() -> None:
    chosen = choose_output(_request(size="1536x1024", n=10), LIMIT)
    assert chosen.output_format == "jpeg"
    # A tier-3 server (100 MiB) takes a 4K PNG without trouble.
    assert (
        choose_output(_request("gpt-image-2", size="3840x2160"), 100 * MIB).output_format == "png"
    )


def test_edits_of_transparent_images_keep_alpha() -> None:
    cutout = InputImage(b"x", "cutout.png", "png", 2048, 2048, has_alpha=True)
    edit = ImageRequest("edit", "gpt-image-2", "add a hat", size="2048x2048", images=(cutout,))
    assert choose_output(edit, LIMIT).output_format == "webp"
    opaque = dataclasses.replace(edit, background="opaque")
    assert choose_output(opaque, LIMIT).output_format == "jpeg"


def test_explicit_choices_and_dall_e_are_left_alone() -> None:
    untouched = [
        _request("gpt-image-2", size="3840x2160", output_format="png"),
        _request("gpt-image-2", output_format="webp", output_compression=100),
        _request("gpt-image-2", output_compression=40),
        _request("dall-e-3", size="1792x1024"),
        _request("dall-e-2", n=10),
    ]
    for request in untouched:
        assert choose_output(request, LIMIT) is request
    # A lossy format chosen without a compression gets one; the format stays.
    chosen = choose_output(_request("gpt-image-2", output_format="webp"), LIMIT)
    assert chosen.output_format == "webp" and chosen.output_compression is not None


# --- what the member sees -----------------------------------------------------------------


def test_status_lines() -> None:
    assert status_line("queued", 12.7, 3) == "⏳ Queued — position 3 · 12 s"
    assert status_line("queued", 0, None) == "⏳ Queued · 0 s"
    assert status_line("generating", 45.2, None) == "🎨 Generating… 45 s"
    assert status_line("generating", 125, 1) == "🎨 Generating… 2 min 05 s"
    assert status_line("generating", 3725, None) == "🎨 Generating… 1 h 02 min"


def test_status_lines_with_what_recent_jobs_took() -> None:
    """The queued line's wait and the generating line's usual range, rounded as said aloud;
    a rate limit's wait has no estimate."""
    assert (
        status_line("queued", 12, 3, wait=41)
        == "⏳ Queued — position 3 · 12 s · starts in about 40 s"
    )
    assert status_line("queued", 1, 1, wait=0.3).endswith("· starts in about 1 s")
    assert status_line("queued", 1, 9, wait=250).endswith("· starts in about 4 min")
    assert (
        status_line("paced", 40, 3, wait=41)
        == "⏳ Waiting for WisGate's rate limit — position 3 · 40 s"
    )
    usual = Typical(21.0, 33.0)
    assert (
        status_line("generating", 15, None, typical=usual)
        == "🎨 Generating… 15 s · usually 20–35 s"
    )
    assert usual_range(Typical(45, 130)) == "usually 45 s–2 min"
    assert usual_range(Typical(29, 31)) == "usually about 30 s"
    assert usual_range(Typical(240, 3900)) == "usually 4 min–1 h 05 min"
    assert [rough_duration(s) for s in (0.2, 7.4, 12, 58, 95, 3 * 3600 + 700)] == [
        "1 s", "7 s", "10 s", "1 min", "2 min", "3 h 10 min"
    ]  # fmt: skip


def test_result_embed_stays_within_discord_limits() -> None:
    prompt = "@everyone <@&123456789012345678> **bold** `tick` 👩‍👩‍👧 " * 2000
    request = ImageRequest("generate", "dall-e-3", prompt, size="1792x1024", quality="hd")
    image = GeneratedImage(b"x", "png", 1792, 1024, revised_prompt="🎨 " * 3000)
    result = ImageResult((image,), quality="hd")
    embed = result_embed(request, elapsed=83.4, result=result, remaining_today=1)
    assert len(embed) <= 6000
    assert embed.title and _units(embed.title) <= 256
    assert embed.description and _units(embed.description) <= 4096
    assert embed.description.endswith("…")
    fields = {f.name: f.value or "" for f in embed.fields}
    assert all(value and _units(value) <= 1024 for value in fields.values())
    assert fields["Model"] == "dall-e-3"
    assert fields["Size"] == "1792×1024" and fields["Quality"] == "hd"
    assert fields["Time"] == "1 min 23 s" and fields["Left today"] == "1 image"
    assert fields["Revised prompt"].startswith("🎨") and fields["Revised prompt"].endswith("…")
    for text in (embed.description, fields["Revised prompt"]):
        assert "@everyone" not in text and "<@&" not in text
    assert "\\*\\*bold\\*\\*" in embed.description and "\\`tick\\`" in embed.description


def test_result_embed_for_a_short_prompt() -> None:
    request = ImageRequest("edit", "gpt-image-1", "a *tiny* hat", n=2)
    embed = result_embed(request, elapsed=9.9)
    assert embed.description == "a \\*tiny\\* hat"
    assert embed.title == "🖌️ Edited · 2 images"
    # Nothing known of the size or quality gpt-image-1 picked ("auto"): neither is claimed.
    assert {f.name for f in embed.fields} == {"Model", "Time"}


def test_shorten_never_splits_a_character() -> None:
    family = "👩\u200d👩\u200d👧"  # one grapheme, 8 UTF-16 units
    assert shorten("ab" + family, 9) == "ab…"
    assert shorten("ab" + family + "cd", 11) == "ab" + family + "…"
    assert shorten("e\u0301e\u0301e\u0301", 4) == "e\u0301…"  # accent stays on its letter
    assert shorten("🇫🇷🇩🇪", 6) == "🇫🇷…"  # a flag is two regional indicators
    assert shorten("abc\\d", 5) == "abc\\d"
    assert shorten("abc\\def", 5) == "abc…"  # no lone backslash escaping the ellipsis
    assert shorten("x\ud83d", 10) == "x\ufffd"  # a lone surrogate cannot be sent


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300), limit=st.integers(1, 120))
def test_shorten_respects_any_limit(text: str, limit: int) -> None:
    short = shorten(text, limit)
    assert _units(short) <= limit
    short.encode("utf-8")  # sendable: no lone surrogates
    if _units(text) <= limit:
        assert short == text
    else:
        assert short.endswith("…") and text.startswith(short[:-1])

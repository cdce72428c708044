"""The month's picture: bar geometry to scale, and a PNG whose pixels are those bars."""

from __future__ import annotations

import io
from itertools import pairwise

from PIL import Image

from bot.images.chart import (
    BAR,
    BUDGET,
    DAILY_PLOT,
    TOP,
    MonthChart,
    TopEntry,
    bar_height,
    daily_geometry,
    draw,
    nice_ceiling,
)


def money(micros: int) -> str:
    return f"${micros / 1_000_000:.3f}"


def bar_pixels_in_column(image: Image.Image, x: int) -> int:
    """How many pixels of the bars' colour the column holds inside the daily plot."""
    return sum(1 for y in range(DAILY_PLOT.top, DAILY_PLOT.bottom) if image.getpixel((x, y)) == BAR)


def test_nice_ceiling_rounds_up_to_one_two_or_five() -> None:
    cases = {0: 1, 1: 1, 3: 5, 10: 10, 11: 20, 180_000: 200_000, 210_001: 500_000}
    assert {value: nice_ceiling(value) for value in cases} == cases


def test_bars_are_to_scale_and_empty_days_have_none() -> None:
    daily = [0, 16_000, 48_000, 0, 160_000, 1, *([0] * 25)]
    geometry = daily_geometry(daily, budget_micros=3_100_000)
    assert geometry.scale_micros == 200_000  # the tallest bar (0.16) and the pace (0.10)
    assert geometry.pace_y == DAILY_PLOT.bottom - DAILY_PLOT.height // 2
    assert [bar.day for bar in geometry.bars] == list(range(1, 32))
    assert [bar.micros for bar in geometry.bars] == daily
    for bar in geometry.bars:
        if bar.micros == 0:
            assert bar.box is None
            continue
        assert bar.box is not None and bar.box.bottom == DAILY_PLOT.bottom
        assert bar.box.height == bar_height(bar.micros, 200_000, DAILY_PLOT.height)
    heights = {bar.day: bar.box.height for bar in geometry.bars if bar.box is not None}
    assert heights == {2: 19, 3: 58, 5: 192, 6: 1}  # a micro-dollar still shows
    boxes = [bar.box for bar in geometry.bars if bar.box is not None]
    assert all(a.right <= b.left for a, b in pairwise(boxes))


def test_the_png_shows_exactly_the_bars_it_reports() -> None:
    daily = [70_000, 0, 0, 250_000, 30_000, *([0] * 23)]
    top = [TopEntry("alice", 9, 280_000), TopEntry("bob\n\x00", 1, 70_000)]
    chart = MonthChart("February", daily, 1_400_000, top, through_day=5)
    drawn = draw(chart, money)
    assert drawn.daily == daily_geometry(daily, 1_400_000)
    image = Image.open(io.BytesIO(drawn.png))
    assert image.format == "PNG" and image.size == (1200, 660)
    image = image.convert("RGB")
    for bar in drawn.daily.bars:
        slot = DAILY_PLOT.width / len(daily)
        middle = DAILY_PLOT.left + int((bar.day - 1) * slot + slot / 2)
        measured = bar_pixels_in_column(image, middle)
        if bar.box is None:
            assert measured == 0, bar
            continue
        assert measured == bar.box.height, bar
        # Measured back into money, within one pixel's worth of what the ledger said.
        per_pixel = drawn.daily.scale_micros / DAILY_PLOT.height
        assert abs(measured * per_pixel - bar.micros) <= per_pixel, bar
        assert image.getpixel((middle, bar.box.top - 1)) != BAR
    # The pace line runs where the geometry says, between the bars.
    assert drawn.daily.pace_y is not None
    gap = DAILY_PLOT.left + int(DAILY_PLOT.width / len(daily) * 8) + 1
    row = [image.getpixel((x, drawn.daily.pace_y)) for x in range(gap, gap + 24)]
    assert BUDGET in row
    # The top members' bars: the first spans the column, the second a quarter of it.
    greens = [sum(1 for x in range(860, 1200) if image.getpixel((x, y)) == TOP)
              for y in range(60, 660)]  # fmt: skip
    assert sorted({count for count in greens if count}) == [79, 316]


def test_an_empty_month_without_budget_still_draws() -> None:
    drawn = draw(MonthChart("Quiet", [0] * 30, None, [], through_day=1), money)
    assert drawn.daily.pace_y is None and all(bar.box is None for bar in drawn.daily.bars)
    image = Image.open(io.BytesIO(drawn.png)).convert("RGB")
    assert BAR not in {image.getpixel((x, y)) for x in range(0, 1200, 3) for y in range(0, 660, 3)}

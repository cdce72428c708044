"""A picture of a server's month: spend per UTC day, spend so far against the budget, and
the top members; drawn with Pillow from plain data (no Discord, no database).

Two panels, because one scale cannot show both honestly: a monthly budget next to daily bars
is off the chart. The upper panel has a bar per day against the even pace (the budget spread
over the month's days: a bar above the line spent faster than the budget allows); the lower
one the running total against the budget itself, which says at a glance whether the month will
fit. The right column ranks the top members.

`draw` is CPU work (tens of milliseconds): callers run it off the event loop. It returns the
PNG and the geometry it drew, so tests can check the bars against the ledger, then the pixels
against the bars. Bars are solid BAR pixels drawn last in their panel; nothing else uses BAR.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

Colour = tuple[int, int, int]
Money = Callable[[int], str]  # micro-dollars as people read them
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

WIDTH, HEIGHT = 1200, 660
BACKGROUND: Colour = (43, 45, 49)
TEXT: Colour = (219, 222, 225)
MUTED: Colour = (148, 155, 164)
GRID: Colour = (63, 65, 71)
BAR: Colour = (88, 101, 242)
BUDGET: Colour = (237, 66, 69)
RUNNING: Colour = (254, 231, 92)
TOP: Colour = (87, 242, 135)
TOP_ROWS = 5
LABEL_CHARS = 24
TITLE_CHARS = 90


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle of pixels; right and bottom are exclusive."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        """Pixels across."""
        return self.right - self.left

    @property
    def height(self) -> int:
        """Pixels down."""
        return self.bottom - self.top


DAILY_PLOT = Box(90, 90, 820, 330)
RUNNING_PLOT = Box(90, 410, 820, 610)


@dataclass(frozen=True, slots=True)
class TopEntry:
    """A member in the right column: a name to show, their images and their spend."""

    label: str
    images: int
    micros: int


@dataclass(frozen=True, slots=True)
class MonthChart:
    """What to draw: one amount per day of the month (index 0 is the 1st), in micro-dollars."""

    title: str
    daily_micros: Sequence[int]
    budget_micros: int | None
    top: Sequence[TopEntry]
    through_day: int  # the last day the running total is drawn to (today, or the month's end)


@dataclass(frozen=True, slots=True)
class DayBar:
    """A day's bar: its amount, and its pixels (None when nothing was spent)."""

    day: int
    micros: int
    box: Box | None


@dataclass(frozen=True, slots=True)
class DailyGeometry:
    """The upper panel: its plot area, the amount at its top, the bars, the pace line's row."""

    plot: Box
    scale_micros: int
    bars: tuple[DayBar, ...]
    pace_y: int | None  # the even pace (budget / days); None without a budget


@dataclass(frozen=True, slots=True)
class Drawn:
    """The chart as a PNG, and the geometry of its daily bars."""

    png: bytes
    daily: DailyGeometry


def nice_ceiling(micros: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above `micros` (at least 1)."""
    step = 1
    while step * 10 <= micros:
        step *= 10
    for factor in (1, 2, 5, 10):
        if factor * step >= micros:
            return factor * step
    return 10 * step  # not reached: 10 * step > micros by the loop above


def bar_height(micros: int, scale_micros: int, pixels: int) -> int:
    """Pixels for `micros` on a plot `pixels` tall topped by `scale_micros`; spend shows."""
    if micros <= 0:
        return 0
    return max(1, min(pixels, round(micros * pixels / scale_micros)))


def daily_geometry(daily_micros: Sequence[int], budget_micros: int | None) -> DailyGeometry:
    """Where each day's bar goes: one slot per day, heights to a common scale."""
    plot, days = DAILY_PLOT, max(1, len(daily_micros))
    pace = None if budget_micros is None else budget_micros // days
    top = max([*daily_micros, pace or 0, 1])
    scale = nice_ceiling(top + top // 20)  # a little headroom above the tallest bar
    slot = plot.width / days
    bars = []
    for index, micros in enumerate(daily_micros):
        height = bar_height(micros, scale, plot.height)
        left = plot.left + int(index * slot + slot * 0.15)
        right = max(left + 1, plot.left + int(index * slot + slot * 0.85))
        box = Box(left, plot.bottom - height, right, plot.bottom) if height else None
        bars.append(DayBar(index + 1, micros, box))
    pace_y = None if pace is None else plot.bottom - bar_height(pace, scale, plot.height)
    return DailyGeometry(plot, scale, tuple(bars), pace_y)


def draw(chart: MonthChart, money: Money) -> Drawn:
    """The chart as a PNG (CPU work: run it in a thread), with the geometry of its bars."""
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    pen = ImageDraw.Draw(image)
    fonts = {size: _font(size) for size in (13, 15, 22)}
    pen.text((24, 18), _clip(chart.title, TITLE_CHARS), fill=TEXT, font=fonts[22])
    geometry = daily_geometry(chart.daily_micros, chart.budget_micros)
    _daily_panel(pen, geometry, chart, money, fonts)
    _running_panel(pen, chart, money, fonts)
    _top_column(pen, chart.top, money, fonts)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return Drawn(out.getvalue(), geometry)


def _font(size: int) -> Font:
    # Pillow's own font (FreeType), so the chart looks the same on every machine.
    return ImageFont.load_default(size=size)


def _daily_panel(
    pen: ImageDraw.ImageDraw,
    geometry: DailyGeometry,
    chart: MonthChart,
    money: Money,
    fonts: dict[int, Font],
) -> None:
    plot = geometry.plot
    legend = "Spend per UTC day"
    if chart.budget_micros is not None:
        pace = chart.budget_micros // max(1, len(chart.daily_micros))
        legend += f"   · dashed: the budget's even pace, {money(pace)} a day"
    pen.text((plot.left, plot.top - 30), legend, fill=TEXT, font=fonts[15])
    _axes(pen, plot, geometry.scale_micros, len(chart.daily_micros), money, fonts[13])
    if geometry.pace_y is not None:
        _dashed(pen, plot.left, plot.right, geometry.pace_y, BUDGET)
    for bar in geometry.bars:  # last: nothing is drawn over a bar
        if bar.box is not None:
            box = bar.box
            pen.rectangle((box.left, box.top, box.right - 1, box.bottom - 1), fill=BAR)


def _running_panel(
    pen: ImageDraw.ImageDraw, chart: MonthChart, money: Money, fonts: dict[int, Font]
) -> None:
    plot, days = RUNNING_PLOT, max(1, len(chart.daily_micros))
    through = max(0, min(chart.through_day, len(chart.daily_micros)))
    totals, running = [], 0
    for micros in chart.daily_micros[:through]:
        running += micros
        totals.append(running)
    budget = chart.budget_micros
    top = max([*totals, budget or 0, 1])
    scale = nice_ceiling(top + top // 20)
    spent = totals[-1] if totals else 0
    legend = f"Spent so far this month: {money(spent)}"
    legend += "   · no budget" if budget is None else f"   · budget: {money(budget)} (red line)"
    pen.text((plot.left, plot.top - 30), legend, fill=TEXT, font=fonts[15])
    _axes(pen, plot, scale, days, money, fonts[13])
    if budget is not None:
        y = plot.bottom - bar_height(budget, scale, plot.height)
        pen.line((plot.left, y, plot.right, y), fill=BUDGET, width=2)
    slot = plot.width / days
    points = [
        (plot.left + int(index * slot + slot / 2), plot.bottom - bar_height(t, scale, plot.height))
        for index, t in enumerate(totals)
    ]
    if len(points) > 1:
        pen.line(points, fill=RUNNING, width=3)
    for x, y in points:
        pen.ellipse((x - 3, y - 3, x + 3, y + 3), fill=RUNNING)


def _axes(
    pen: ImageDraw.ImageDraw, plot: Box, scale: int, days: int, money: Money, font: Font
) -> None:
    """Grid lines at 0, half and full scale with their amounts; day numbers underneath."""
    for share in (0, 1, 2):
        y = plot.bottom - round(plot.height * share / 2)
        pen.line((plot.left, y, plot.right, y), fill=GRID, width=1)
        text = money(scale * share // 2) if share else "$0"
        width = pen.textlength(text, font=font)
        pen.text((plot.left - 8 - width, y - 8), text, fill=MUTED, font=font)
    slot = plot.width / days
    for day in range(1, days + 1):
        if day == 1 or day % 5 == 0:
            x = plot.left + int((day - 1) * slot + slot / 2)
            label = str(day)
            width = pen.textlength(label, font=font)
            pen.text((x - width / 2, plot.bottom + 6), label, fill=MUTED, font=font)


def _dashed(pen: ImageDraw.ImageDraw, left: int, right: int, y: int, colour: Colour) -> None:
    for x in range(left, right, 12):
        pen.line((x, y, min(x + 6, right), y), fill=colour, width=2)


def _top_column(
    pen: ImageDraw.ImageDraw, top: Sequence[TopEntry], money: Money, fonts: dict[int, Font]
) -> None:
    left, right, y = 860, WIDTH - 24, 60
    pen.text((left, y), "Top members this month", fill=TEXT, font=fonts[15])
    if not top:
        pen.text((left, y + 40), "Nobody has made images yet.", fill=MUTED, font=fonts[13])
        return
    most = max(1, *(entry.micros for entry in top))
    for rank, entry in enumerate(top[:TOP_ROWS], start=1):
        y += 52
        name = _clip(entry.label, LABEL_CHARS)
        pen.text((left, y), f"{rank}. {name}", fill=TEXT, font=fonts[15])
        images = f"{entry.images} image" + ("" if entry.images == 1 else "s")
        figures = f"{images} · {money(entry.micros)}"
        width = pen.textlength(figures, font=fonts[13])
        pen.text((right - width, y + 2), figures, fill=MUTED, font=fonts[13])
        length = round((right - left) * entry.micros / most)
        if length:
            pen.rectangle((left, y + 24, left + length - 1, y + 35), fill=TOP)


def _clip(text: str, limit: int) -> str:
    """A member's name for the picture: printable, one line, at most `limit` characters."""
    clean = "".join(char if char.isprintable() else " " for char in text).strip()
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"

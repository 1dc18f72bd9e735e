"""A line chart drawn in braille dots: one line per series over simulated time."""

from __future__ import annotations

import math
from typing import ClassVar

from rich.text import Text
from textual.widget import Widget

from tui.render.formatting import clock, count

# Bit of each dot in a braille cell, by [row][column] (two columns, four rows per cell).
_DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))

PALETTE = ("red", "green", "cyan", "magenta", "yellow", "blue")
"""Series colours in the order series are added."""


class LineChart(Widget):
    """Step lines of a value over simulated time, one per series, with a legend and axes.

    The parent adds points with :meth:`add_point`; each series keeps at most ``capacity``
    points (older ones are thinned, not dropped, so the whole run stays drawn).
    """

    DEFAULT_CSS = """
    LineChart {
        height: 1fr;
        min-height: 6;
        padding: 0 1;
    }
    """

    capacity: ClassVar[int] = 2000

    def __init__(self, *, x_max: float = 1.0, name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.x_max = x_max
        self.series: dict[str, list[tuple[float, float]]] = {}
        self.colours: dict[str, str] = {}

    def add_point(self, series: str, x: float, y: float) -> None:
        """Record ``y`` at ``x`` for a series (a repeated value only moves the line on)."""
        points = self.series.get(series)
        if points is None:
            points = self.series[series] = []
            self.colours[series] = PALETTE[(len(self.series) - 1) % len(PALETTE)]
        if len(points) >= 2 and points[-1][1] == y and points[-2][1] == y:
            points[-1] = (x, y)
        else:
            points.append((x, y))
        if len(points) > self.capacity:
            # Thin the older half; keep the newest points exactly.
            half = len(points) // 2
            points[:half] = points[:half:2]

    def latest(self, series: str) -> float | None:
        """The newest value of a series."""
        points = self.series.get(series)
        return points[-1][1] if points else None

    def render(self) -> Text:
        """Legend line, the plot with a y-axis label column, and a time axis line."""
        width, height = self.content_size.width, self.content_size.height
        legend = Text(no_wrap=True, overflow="ellipsis")
        for name, colour in self.colours.items():
            value = self.latest(name)
            legend.append("━━ ", style=colour)
            legend.append(f"{name} {count(value)}  ")
        if width < 12 or height < 4:
            return legend
        y_max = max((y for pts in self.series.values() for _, y in pts), default=0.0)
        y_top = _nice(y_max)
        label_w = max(len(count(y_top)), 1) + 1
        plot_w, plot_h = width - label_w, height - 2
        dots_w, dots_h = plot_w * 2, plot_h * 4
        cells: list[list[int]] = [[0] * plot_w for _ in range(plot_h)]
        owner: list[list[str | None]] = [[None] * plot_w for _ in range(plot_h)]
        x_max = max(self.x_max, 1e-9)

        def to_dot(x: float, y: float) -> tuple[int, int]:
            dx = int(min(max(x / x_max, 0.0), 1.0) * (dots_w - 1))
            dy = round((1.0 - min(max(y / y_top, 0.0), 1.0)) * (dots_h - 1))
            return dx, dy

        def plot(dx: int, dy: int, colour: str) -> None:
            cy, cx = dy // 4, dx // 2
            cells[cy][cx] |= _DOTS[dy % 4][dx % 2]
            owner[cy][cx] = colour

        for name, points in self.series.items():
            colour = self.colours[name]
            prev: tuple[int, int] | None = None
            for x, y in points:
                dot = to_dot(x, y)
                if prev is None:
                    plot(*dot, colour)
                else:
                    # A step: along at the old value, then up or down to the new one.
                    for dx in range(prev[0], dot[0] + 1):
                        plot(dx, prev[1], colour)
                    lo, hi = sorted((prev[1], dot[1]))
                    for dy in range(lo, hi + 1):
                        plot(dot[0], dy, colour)
                prev = dot
        text = Text(no_wrap=True)
        text.append_text(legend)
        text.append("\n")
        for row in range(plot_h):
            label = count(y_top) if row == 0 else ("0" if row == plot_h - 1 else "")
            text.append(label.rjust(label_w - 1) + "┤" if label else " " * (label_w - 1) + "│",
                        style="dim")
            for col in range(plot_w):
                bits = cells[row][col]
                text.append(chr(0x2800 + bits) if bits else " ",
                            style=owner[row][col] or "")
            text.append("\n")
        axis = " " * label_w + "0"
        end = clock(self.x_max)
        axis += end.rjust(max(0, plot_w - 1))
        text.append(axis, style="dim")
        return text


def _nice(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    exp = math.floor(math.log10(value))
    for m in (1, 2, 5, 10):
        top = m * 10 ** exp
        if top >= value:
            return float(top)
    return float(10 ** (exp + 1))

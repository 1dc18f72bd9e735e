"""The sweep screen: a saved sweep's harm against cost per combination, and its trade-off table.

Opened by ``agentrange tui --sweep RESULT.json`` (the JSON of ``agentrange sweep --format
json``). The chart is a plotext scatter in a ``PlotextPlot`` (textual-plotext, from the
optional extra ``agentrange[plot]``): frontier combinations as dots, dominated ones as
crosses. ``x`` and ``y`` step through the sweep's cost and harm metrics; the table below lists
every combination with its standing on the frontier and its pass^k (numbers from
:mod:`sim.tradeoff`, laid out by :mod:`tui.render.tradeoff`).
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot

from sim.tradeoff import TradeOff
from tui.render import tradeoff as view
from tui.widgets.key_footer import KeyFooter


class SweepPlotScreen(Screen[None]):
    """Harm against cost for every combination of one sweep.

    Args:
        tradeoff: The sweep's trade-off.
        title: What the sweep was (scenario, runs, seeds).
    """

    DEFAULT_CSS = """
    SweepPlotScreen #sweep-title { height: 1; padding: 0 1; text-style: bold; }
    SweepPlotScreen #sweep-plot { height: 2fr; min-height: 12; }
    SweepPlotScreen #sweep-table { height: 1fr; min-height: 4; }
    SweepPlotScreen #sweep-legend { height: auto; padding: 0 1; color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x", "next_x", "Cost axis"),
        Binding("y", "next_y", "Harm axis"),
        Binding("escape,q", "app.quit", "Quit"),
    ]

    def __init__(self, tradeoff: TradeOff, title: str) -> None:
        super().__init__()
        self.tradeoff = tradeoff
        self.sweep_title = title
        axes = tradeoff.chart_axes()
        self.x: str | None = axes[0] if axes is not None else None
        self.y: str | None = axes[1] if axes is not None else None

    def compose(self) -> ComposeResult:
        """Title, chart, table, legend and keys."""
        with Vertical():
            yield Static(self.sweep_title, id="sweep-title", markup=False)
            yield PlotextPlot(id="sweep-plot")
            yield DataTable(id="sweep-table", zebra_stripes=True, cursor_type="row")
            yield Static(view.legend(self.tradeoff), id="sweep-legend", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        """Fill the table and draw the chart."""
        table = self.query_one(DataTable)
        table.add_columns(*view.header(self.tradeoff))
        table.add_rows(view.rows(self.tradeoff))
        self.draw()

    def draw(self) -> None:
        """Plot the current axes (or say why there is nothing to plot)."""
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        if self.x is None or self.y is None:
            plt.title("no harm or no cost metric in this sweep: nothing to plot")
            plot.refresh()
            return
        points = view.chart_points_on(self.tradeoff, self.x, self.y)
        for name, on, marker in (("frontier", True, "dot"), ("dominated", False, "x")):
            pts = [p for p in points if p[3] == on]
            if pts:
                plt.scatter([p[1] for p in pts], [p[2] for p in pts], marker=marker,
                            label=name)
        plt.xlabel(view.label(self.x))
        plt.ylabel(view.label(self.y))
        plt.title(f"{view.label(self.y)} against {view.label(self.x)}")
        plot.refresh()

    def action_next_x(self) -> None:
        """Plot the next cost metric along x."""
        if self.x is not None:
            self.x = _next(self.tradeoff.cost, self.x)
            self.draw()

    def action_next_y(self) -> None:
        """Plot the next harm metric along y."""
        if self.y is not None:
            self.y = _next(self.tradeoff.harm, self.y)
            self.draw()


def _next(axes: tuple[str, ...], current: str) -> str:
    return axes[(axes.index(current) + 1) % len(axes)]

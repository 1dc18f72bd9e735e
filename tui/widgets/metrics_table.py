"""The compare metrics table: one column per profile, the rows of :mod:`tui.render.metrics`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui.render.metrics import STORY_ORDER, MetricRow, best_of, select_rows

LABEL_WIDTH = 18
"""Columns a row's label keeps in a narrow panel."""

FIGURE_WIDTH = 8
"""Columns each profile's figures keep in a narrow panel (``250,001``, ``5m 20s``)."""


class MetricsTable(Widget):
    """Security gain next to delivery cost, per profile; the best value of a row is marked.

    The parent sets :attr:`results` to each run's figures as its metrics collector folded
    them; the table formats them with the shared rows and computes nothing itself.
    """

    DEFAULT_CSS = """
    MetricsTable {
        height: auto;
        padding: 0 1;
    }
    """

    results: reactive[dict[str, Mapping[str, Any]]] = reactive(dict, layout=True)
    """Profile id -> its run's figures (``RunResult.to_dict()`` shape), in column order."""

    running: reactive[bool] = reactive(False)
    """The runs are still going: a time not reached yet reads "not yet" rather than "never"."""

    rows: tuple[MetricRow, ...] = select_rows(STORY_ORDER)
    """The rows shown, in order: every row of the metrics table, the figures at stake first."""

    def cells(self) -> list[list[str]]:
        """What the table shows: per row, its label then one cell per profile."""
        figures = list(self.results.values())
        return [[row.label, *(row.cell(f, running=self.running) for f in figures)]
                for row in self.rows]

    def _widths(self, cells: list[list[str]], headers: list[str]) -> tuple[int, list[int]]:
        """Column widths that fit the panel: labels give way first, then long figures."""
        label = max((len(row[0]) for row in cells), default=0)
        figures = [max([len(h), *(len(row[i]) for row in cells)])
                   for i, h in enumerate(headers, start=1)]
        room = self.content_size.width - 2 * (len(figures) + 1)  # each column's padding
        if room <= 0 or label + sum(figures) <= room:
            return label, figures
        label = max(LABEL_WIDTH, min(label, room - sum(figures)))
        share = max(FIGURE_WIDTH, (room - label) // max(1, len(figures)))
        return label, [min(width, share) for width in figures]

    def render(self) -> Table:
        """One row per metric, one column per profile."""
        table = Table(box=None, expand=True, padding=(0, 1), show_edge=False,
                      header_style="bold")
        cells = self.cells()
        headers = list(self.results)
        label, figures = self._widths(cells, headers)
        table.add_column("", style="dim", no_wrap=True, overflow="ellipsis", width=label)
        for profile, width in zip(headers, figures, strict=True):
            table.add_column(profile, justify="right", no_wrap=True, overflow="ellipsis",
                             width=width)
        results = list(self.results.values())
        for row, (name, *values) in zip(self.rows, cells, strict=True):
            best = best_of(row, results)
            table.add_row(name, *(Text(v, style="bold green") if i in best else v
                                  for i, v in enumerate(values)))
        return table

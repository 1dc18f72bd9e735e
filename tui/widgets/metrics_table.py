"""The compare metrics table: one column per profile, rows read from each run's metrics."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui.widgets.formatting import count, duration


def metric(result: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of a result mapping (None when absent)."""
    node: Any = result
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _size(value: Any) -> str:
    """A count, or how many names a list holds."""
    if isinstance(value, list | tuple):
        return count(len(value))
    return count(value)


def _ratio(result: Mapping[str, Any]) -> str:
    stopped = metric(result, "out_of_scope.stopped")
    attempts = metric(result, "out_of_scope.attempts")
    if attempts is None:
        return "-"
    return f"{count(stopped or 0)}/{count(attempts)}"


def _percent(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f}%"


def _seconds(value: Any) -> str:
    return "never" if value is None else duration(float(value))


def _seconds_so_far(value: Any) -> str:
    return "not yet" if value is None else duration(float(value))


ROWS: tuple[tuple[str, Callable[[Mapping[str, Any]], str], str | None], ...] = (
    ("records exposed", lambda r: count(metric(r, "blast_radius.records")),
     "blast_radius.records"),
    ("money moved", lambda r: count(metric(r, "blast_radius.amount")), "blast_radius.amount"),
    ("could reach", lambda r: count(metric(r, "blast_radius.potential_records")),
     "blast_radius.potential_records"),
    ("data classes / systems", lambda r: f"{_size(metric(r, 'blast_radius.data_classes'))} / "
     f"{_size(metric(r, 'blast_radius.systems'))}", None),
    ("exposure window", lambda r: _seconds(metric(r, "blast_radius.exposure_window")),
     "blast_radius.exposure_window"),
    ("time to detect", lambda r: _seconds(metric(r, "time_to_detect")), "time_to_detect"),
    ("time to contain", lambda r: _seconds(metric(r, "time_to_contain")), "time_to_contain"),
    ("out-of-scope stopped", _ratio, None),
    ("decisions (denied)", lambda r: f"{count(metric(r, 'decisions.total'))} "
     f"({count(metric(r, 'decisions.deny'))})", None),
    ("tasks completed", lambda r: count(metric(r, "delivery.tasks_completed")),
     "delivery.tasks_completed"),
    ("task latency p50 / p95", lambda r: f"{duration(metric(r, 'delivery.task_latency_p50'))}"
     f" / {duration(metric(r, 'delivery.task_latency_p95'))}", None),
    ("approval wait (mean)", lambda r: duration(metric(r, "delivery.approval_wait_mean")),
     "delivery.approval_wait_mean"),
    ("benign steps denied", lambda r: _percent(metric(r, "delivery.benign_denied_rate")),
     "delivery.benign_denied_rate"),
)
"""(label, how to show it, the metric that ranks profiles: lower is better) per row."""

SO_FAR: dict[str, str] = {"time to detect": "time_to_detect",
                          "time to contain": "time_to_contain"}
"""Rows whose missing value reads "not yet" while the runs go on (label -> metric)."""


class MetricsTable(Widget):
    """Security gain next to delivery cost, per profile; the best value of a row is marked."""

    DEFAULT_CSS = """
    MetricsTable {
        height: auto;
        padding: 0 1;
    }
    """

    results: reactive[dict[str, Mapping[str, Any]]] = reactive(dict, layout=True)
    """Profile id -> its run's metrics (``RunResult.to_dict()`` shape), in column order."""

    running: reactive[bool] = reactive(False)
    """The runs are still going: a time not reached yet reads "not yet" rather than "never"."""

    def render(self) -> Table:
        """One row per metric, one column per profile."""
        table = Table(box=None, expand=True, padding=(0, 1), show_edge=False,
                      header_style="bold")
        table.add_column("", style="dim", no_wrap=True, overflow="ellipsis")
        for profile in self.results:
            table.add_column(profile, justify="right", no_wrap=True, overflow="ellipsis")
        for label, show, rank in ROWS:
            if self.running and label in SO_FAR:
                values = [_seconds_so_far(metric(r, SO_FAR[label]))
                          for r in self.results.values()]
            else:
                values = [show(r) for r in self.results.values()]
            cells: list[str | Text] = list(values)
            if rank is not None and len(self.results) > 1:
                raw = [metric(r, rank) for r in self.results.values()]
                known = [v for v in raw if isinstance(v, int | float)]
                if known and len(set(known)) > 1:
                    best = min(known)
                    cells = [Text(v, style="bold green") if raw[i] == best else v
                             for i, v in enumerate(values)]
            table.add_row(label, *cells)
        return table

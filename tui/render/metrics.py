"""The one metrics table: how each figure of a run is labelled and shown, wherever it is shown.

``agentrange run`` / ``compare`` print these rows (Rich or Markdown), the dashboard's compare
screen draws them (:class:`tui.widgets.metrics_table.MetricsTable`) and the debrief scores a
run with some of them. Each row reads a run's figures in the ``RunResult.to_dict()`` shape
(see :mod:`sim.result`) and computes nothing: it only formats what the metrics collector folded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from tui.render.formatting import count, metric, percent, seconds

Figures = Mapping[str, Any]
"""A run's figures, ``RunResult.to_dict()`` shape."""


class MetricRow(NamedTuple):
    """One row of the metrics table.

    Attributes:
        label: What the row shows, for people.
        show: The cell text for one run's figures.
        value: The figure that ranks runs on this row (None: the row is not ranked).
        lower_is_better: How ``value`` ranks (fewer records exposed is better; more
            out-of-scope attempts stopped is better).
        pending: A time that may still come while the run goes on ("not yet", not "never").
    """

    label: str
    show: Callable[[Figures], str]
    value: str | None = None
    lower_is_better: bool = True
    pending: bool = False

    def cell(self, figures: Figures, *, running: bool = False) -> str:
        """The cell text; a time not reached yet reads ``not yet`` while the run goes on."""
        if running and self.pending and self.value is not None:
            return seconds(metric(figures, self.value), "not yet")
        return self.show(figures)

    def ranked(self, figures: Figures) -> float | None:
        """The number this row ranks runs by (None: not ranked, or not known)."""
        if self.value is None:
            return None
        value = metric(figures, self.value)
        return value if isinstance(value, int | float) else None


def _n(path: str) -> Callable[[Figures], str]:
    return lambda d: count(metric(d, path))


def _t(path: str) -> Callable[[Figures], str]:
    return lambda d: seconds(metric(d, path))


def _of(part: str, whole: str) -> Callable[[Figures], str]:
    return lambda d: f"{count(metric(d, part))} of {count(metric(d, whole))}"


def _slash(*paths: str, show: Callable[[Any], str] = count) -> Callable[[Figures], str]:
    return lambda d: " / ".join(show(metric(d, p)) for p in paths)


def _approval_wait(d: Figures) -> str:
    wait = metric(d, "delivery.approval_wait_mean")
    return "-" if wait is None else seconds(wait)


def _benign_denied(d: Figures) -> str:
    return (f"{percent(metric(d, 'delivery.benign_denied_rate'))} "
            f"({count(metric(d, 'delivery.benign_denied'))} of "
            f"{count(metric(d, 'delivery.benign_steps'))})")


METRIC_ROWS: tuple[MetricRow, ...] = (
    MetricRow("decisions", _n("decisions.total")),
    MetricRow("  allow / deny / approval",
              _slash("decisions.allow", "decisions.deny", "decisions.require_approval")),
    MetricRow("out-of-scope attempts stopped", _of("out_of_scope.stopped",
                                                   "out_of_scope.attempts"),
              "out_of_scope.stopped", lower_is_better=False),
    MetricRow("records exposed", _n("blast_radius.records"), "blast_radius.records"),
    MetricRow("records sent out", _n("blast_radius.egress_records"),
              "blast_radius.egress_records"),
    MetricRow("money moved", _n("blast_radius.amount"), "blast_radius.amount"),
    MetricRow("data classes / systems touched",
              _slash("blast_radius.data_classes", "blast_radius.systems")),
    MetricRow("records reachable", _n("blast_radius.potential_records"),
              "blast_radius.potential_records"),
    MetricRow("exposure window", _t("blast_radius.exposure_window"),
              "blast_radius.exposure_window"),
    MetricRow("time to detect", _t("time_to_detect"), "time_to_detect", pending=True),
    MetricRow("time to contain", _t("time_to_contain"), "time_to_contain", pending=True),
    MetricRow("tasks completed / started",
              _slash("delivery.tasks_completed", "delivery.tasks_started")),
    MetricRow("task latency p50 / p95",
              _slash("delivery.task_latency_p50", "delivery.task_latency_p95", show=seconds)),
    MetricRow("approval wait (mean)", _approval_wait, "delivery.approval_wait_mean"),
    MetricRow("benign steps denied", _benign_denied, "delivery.benign_denied_rate"),
    MetricRow("alerts", _n("alerts.total")),
    MetricRow("tokens issued / revoked / expired",
              _slash("tokens.issued", "tokens.revoked", "tokens.expired")),
    MetricRow("decisions attributable", _of("audit.attributable", "audit.decisions")),
)
"""Every row, in the order the command line prints them."""

ROWS_BY_LABEL: dict[str, MetricRow] = {row.label: row for row in METRIC_ROWS}

STORY_ORDER: tuple[str, ...] = (
    "records exposed", "records sent out", "money moved", "records reachable",
    "data classes / systems touched", "exposure window", "time to detect", "time to contain",
    "out-of-scope attempts stopped", "decisions", "  allow / deny / approval",
    "tasks completed / started", "task latency p50 / p95", "approval wait (mean)",
    "benign steps denied", "alerts", "tokens issued / revoked / expired",
    "decisions attributable",
)
"""Every row, security gain first and delivery cost after: the dashboard's order."""


def select_rows(labels: Sequence[str]) -> tuple[MetricRow, ...]:
    """The rows with these labels, in the order given (KeyError for an unknown label)."""
    return tuple(ROWS_BY_LABEL[label] for label in labels)


def metric_cells(results: Sequence[Figures], table: Sequence[MetricRow] = METRIC_ROWS, *,
                 running: bool = False) -> list[list[str]]:
    """Rows of cells: the label, then one cell per run.

    Args:
        results: Each run's figures, one column each.
        table: The rows to show (default: all of them).
        running: The runs go on (a time not reached yet reads ``not yet``).
    """
    return [[row.label, *(row.cell(r, running=running) for r in results)] for row in table]


def best_of(row: MetricRow, results: Sequence[Figures]) -> set[int]:
    """Which runs are best on a ranked row (none when all are equal or it is not ranked)."""
    values = [row.ranked(r) for r in results]
    known = [v for v in values if v is not None]
    if row.value is None or len(results) < 2 or not known or len(set(known)) < 2:
        return set()
    best = min(known) if row.lower_is_better else max(known)
    return {i for i, v in enumerate(values) if v == best}

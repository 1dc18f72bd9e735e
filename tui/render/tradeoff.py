"""The trade-off of a sweep as a table (rows of text) and as a chart file (HTML, PNG or SVG).

The numbers come from :mod:`sim.tradeoff`; this module only lays them out. The chart is
drawn by plotly (``.html``, its javascript inline so the file opens offline) or matplotlib
(``.png``, ``.svg``), both in the optional extra ``agentrange[plot]``; without it, a one-line
error names the extra.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from engine.errors import AgentrangeError
from sim.tradeoff import Point, TradeOff

PLOT_EXTRA = "agentrange[plot]"
PLOT_SUFFIXES = (".html", ".png", ".svg")

LABELS = {
    "blast_radius.records": "records exposed",
    "blast_radius.amount": "money moved",
    "time_to_contain": "time to contain",
    "delivery.task_latency_p95": "task latency p95",
    "delivery.approval_wait_mean": "approval wait",
    "delivery.benign_denied_rate": "benign denied",
}


class PlotError(AgentrangeError):
    """A chart file that cannot be written: its kind, the extra it needs, or the disk."""


def label(metric: str) -> str:
    """A metric's name for people."""
    return LABELS.get(metric, metric)


def header(t: TradeOff) -> list[str]:
    """The trade-off table's column names."""
    seeds = max((p.seeds for p in t.points), default=0)
    return ["combination", "frontier", "expect held", "pass^1",
            f"pass^{seeds}" if seeds > 1 else "pass^k"]


def rows(t: TradeOff) -> list[list[str]]:
    """One row per combination, in grid order."""
    return [[p.label, _status(p), _held(p), _share(p.pass_k(1)), _share(p.pass_k(p.seeds))]
            for p in t.points]


def legend(t: TradeOff) -> str:
    """What the trade-off table says, in one line."""
    harm = ", ".join(label(m) for m in t.harm) or "none"
    cost = ", ".join(label(m) for m in t.cost) or "none"
    return (f"trade-off on the medians (harm: {harm}; cost: {cost}; a run never contained "
            "counts as the worst): dominated = another combination is no worse on every axis "
            "and better on one; pass^k = the chance that k seeds drawn at random all hold "
            "the scenario's expect: assertions")


def _status(p: Point) -> str:
    if p.on_frontier:
        return "yes"
    more = f" (+{len(p.dominated_by) - 1})" if len(p.dominated_by) > 1 else ""
    return f"dominated by {p.dominated_by[0]}{more}"


def _held(p: Point) -> str:
    return "-" if p.seeds == 0 else f"{p.held}/{p.seeds}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


# --- the chart ----------------------------------------------------------------------------------


def check_plot_file(path: str) -> None:
    """Fail before the sweep runs if ``path`` cannot be drawn (its kind, the extra).

    Raises:
        PlotError: naming the file and what was expected.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in PLOT_SUFFIXES:
        raise PlotError(f"--plot {path}: expected a file ending in "
                        f"{', '.join(PLOT_SUFFIXES)}")
    _library(suffix, path)


def _library(suffix: str, path: str) -> Any:
    try:
        if suffix == ".html":
            import plotly.graph_objects as go

            return go
        import matplotlib

        matplotlib.use("Agg")  # a file, never a window
        import matplotlib.pyplot as plt

        return plt
    except ImportError:
        raise PlotError(f"--plot {path}: drawing the chart needs the optional extra "
                        f"{PLOT_EXTRA} (pip install '{PLOT_EXTRA}')") from None


def chart_points(t: TradeOff) -> tuple[str, str, list[tuple[str, float, float, bool]]] | None:
    """(x metric, y metric, [(label, x, y, on frontier)]) or None without both sides.

    An infinite value (never contained) is drawn a tenth above the largest finite one.
    """
    axes = t.chart_axes()
    if axes is None:
        return None
    x, y = axes
    return x, y, chart_points_on(t, x, y)


def chart_points_on(t: TradeOff, x: str, y: str) -> list[tuple[str, float, float, bool]]:
    """[(label, cost ``x``, harm ``y``, on frontier)], infinities drawn as in chart_points."""
    xs = _finite([p.cost[x] for p in t.points])
    ys = _finite([p.harm[y] for p in t.points])
    return [(p.label, xv, yv, p.on_frontier)
            for p, xv, yv in zip(t.points, xs, ys, strict=True)]


def _finite(values: list[float]) -> list[float]:
    top = max((v for v in values if math.isfinite(v)), default=0.0)
    return [v if math.isfinite(v) else (top * 1.1 or 1.0) for v in values]


def write_plot(t: TradeOff, path: str, title: str) -> str:
    """Draw harm against cost into ``path``; returns which axes were drawn, for people.

    Raises:
        PlotError: the kind of file, a missing extra, no harm or no cost metric, the disk.
    """
    check_plot_file(path)
    points = chart_points(t)
    if points is None:
        raise PlotError(f"--plot {path}: the sweep has no harm metric or no cost metric to "
                        "draw (--metric blast_radius.records, delivery.task_latency_p95 ...)")
    x, y, data = points
    suffix = Path(path).suffix.lower()
    lib = _library(suffix, path)
    never = any(not math.isfinite(p.harm[y]) for p in t.points)
    ytitle = label(y) + (" (top: never contained)" if never else "")
    try:
        if suffix == ".html":
            _plotly(lib, data, label(x), ytitle, title).write_html(
                path, include_plotlyjs=True, full_html=True)
        else:
            _matplotlib(lib, data, label(x), ytitle, title, path)
    except OSError as exc:
        raise PlotError(f"--plot {path}: cannot write it ({exc.strerror or exc})") from None
    return f"{label(y)} against {label(x)}"


def _plotly(go: Any, data: list[tuple[str, float, float, bool]], xtitle: str, ytitle: str,
            title: str) -> Any:
    fig = go.Figure()
    for name, on in (("frontier", True), ("dominated", False)):
        pts = [d for d in data if d[3] == on]
        fig.add_trace(go.Scatter(x=[d[1] for d in pts], y=[d[2] for d in pts], name=name,
                                 text=[d[0] for d in pts], mode="markers+text",
                                 textposition="top center",
                                 marker={"size": 11 if on else 8,
                                         "symbol": "circle" if on else "x"}))
    fig.update_layout(title=title, xaxis_title=xtitle, yaxis_title=ytitle,
                      template="plotly_white")
    return fig


def _matplotlib(plt: Any, data: list[tuple[str, float, float, bool]], xtitle: str,
                ytitle: str, title: str, path: str) -> None:
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    try:
        for name, on, marker in (("frontier", True, "o"), ("dominated", False, "x")):
            pts = [d for d in data if d[3] == on]
            ax.scatter([d[1] for d in pts], [d[2] for d in pts], marker=marker, label=name)
            for d in pts:
                ax.annotate(d[0], (d[1], d[2]), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
        ax.set(title=title, xlabel=xtitle, ylabel=ytitle)
        ax.legend()
        fig.tight_layout()
        # Fixed metadata: the same sweep draws the same bytes.
        fig.savefig(path, metadata={"Software": None} if path.lower().endswith(".png")
                    else {"Date": None, "Creator": None})
    finally:
        plt.close(fig)

"""The trade-off a sweep exists to show: harm stopped against work slowed, per combination.

Each combination of a sweep (a profile and one value of each varied parameter) becomes a
:class:`Point`: its harm metrics (records exposed, money moved, time to contain) beside its
cost metrics (benign steps denied, task latency, approval wait), each the median over the
seeds. A run in which an incident was never contained counts as the worst time to contain
(infinite); a cost a run never had (no approval waited) counts as none (zero).

A combination is **dominated** when another is no worse on every axis and better on at least
one (Pareto dominance); the others are the **frontier**, the choices worth arguing about.

Reliability across seeds follows tau-bench's pass^k: with ``n`` seeds of which ``c`` satisfied
every ``expect:`` assertion about the profile (:mod:`sim.expectations`), pass^k is the chance
that ``k`` seeds drawn without replacement all do, ``C(c, k) / C(n, k)``; pass^1 is the share.

Everything here is plain data, so the command line, the dashboard and the chart files read the
same numbers; :func:`from_sweep_dict` rebuilds it from ``agentrange sweep --format json``.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import AgentrangeError

HARM = ("blast_radius.records", "blast_radius.amount", "time_to_contain")
"""Harm metrics, in the order they are shown (only those the sweep summarised count)."""

COST = ("delivery.benign_denied_rate", "delivery.task_latency_p95",
        "delivery.approval_wait_mean")
"""Cost-of-governance metrics, in the order they are shown."""


class TradeOffError(AgentrangeError):
    """A file that is not a sweep result (``agentrange sweep --format json``)."""


@dataclass(frozen=True)
class Point:
    """One combination of the sweep on the trade-off.

    Attributes:
        label: The combination (``jit-context ttl=5m``).
        harm: Harm metric -> median over the seeds (``math.inf``: never contained).
        cost: Cost metric -> median over the seeds.
        dominated_by: Labels of the combinations that dominate this one (empty: frontier).
        seeds: Seeds on which the profile had ``expect:`` assertions (0: it has none).
        held: Of those, seeds on which every assertion held.
    """

    label: str
    harm: Mapping[str, float]
    cost: Mapping[str, float]
    dominated_by: tuple[str, ...]
    seeds: int
    held: int

    @property
    def on_frontier(self) -> bool:
        """No other combination dominates this one."""
        return not self.dominated_by

    def pass_k(self, k: int) -> float | None:
        """tau-bench's pass^k over the seeds (None: no assertions, or k out of 1..seeds)."""
        if self.seeds == 0 or not 1 <= k <= self.seeds:
            return None
        return pass_hat_k(self.seeds, self.held, k)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (``null`` for an infinite time: never contained)."""
        return {"label": self.label, "harm": {m: _finite(v) for m, v in self.harm.items()},
                "cost": {m: _finite(v) for m, v in self.cost.items()},
                "frontier": self.on_frontier, "dominated_by": list(self.dominated_by),
                "expect": None if self.seeds == 0 else {
                    "seeds": self.seeds, "held": self.held,
                    "pass_k": {str(k): self.pass_k(k) for k in range(1, self.seeds + 1)}}}


@dataclass(frozen=True)
class TradeOff:
    """Every combination of a sweep on the harm/cost trade-off, in grid order."""

    harm: tuple[str, ...]
    """The harm metrics the sweep summarised."""
    cost: tuple[str, ...]
    """The cost metrics the sweep summarised."""
    points: tuple[Point, ...]

    @property
    def frontier(self) -> tuple[Point, ...]:
        """The combinations no other dominates, in grid order."""
        return tuple(p for p in self.points if p.on_frontier)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (the ``tradeoff`` key of a sweep's JSON)."""
        return {"harm": list(self.harm), "cost": list(self.cost),
                "frontier": [p.label for p in self.frontier],
                "cells": [p.to_dict() for p in self.points]}

    def chart_axes(self) -> tuple[str, str] | None:
        """(cost metric for x, harm metric for y) to plot, or None without one of each.

        The first metric of each side whose medians differ between combinations, preferring
        ones with no infinite value; else the first of the side.
        """
        if not self.harm or not self.cost:
            return None
        return (_pick(self.cost, [p.cost for p in self.points]),
                _pick(self.harm, [p.harm for p in self.points]))


def _pick(axes: Sequence[str], values: Sequence[Mapping[str, float]]) -> str:
    def varies(m: str) -> bool:
        return len({v[m] for v in values}) > 1

    def finite(m: str) -> bool:
        return all(math.isfinite(v[m]) for v in values)

    for wanted in ((lambda m: varies(m) and finite(m)), varies, finite):
        for m in axes:
            if wanted(m):
                return m
    return axes[0]


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def pass_hat_k(n: int, c: int, k: int) -> float:
    """The chance that ``k`` of ``n`` trials, ``c`` of which passed, drawn at random all passed.

    ``C(c, k) / C(n, k)`` (tau-bench's unbiased pass^k estimator for one task).

    Raises:
        ValueError: unless 0 <= c <= n and 1 <= k <= n.
    """
    if not (0 <= c <= n and 1 <= k <= n):
        raise ValueError(f"pass^k needs 0 <= c <= n and 1 <= k <= n; found n={n} c={c} k={k}")
    return math.comb(c, k) / math.comb(n, k)


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """``a`` is no worse than ``b`` on every axis and better on one (lower is better)."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True))


def dominators(points: Sequence[Sequence[float]]) -> list[list[int]]:
    """For each point, the indexes of the points that dominate it (lower is better).

    Points are visited in lexicographic order: a point can only be dominated by one that
    sorts before it, and if it is dominated at all, then by one on the frontier; so each
    point is checked against the frontier found so far, and only a dominated one against
    every earlier point (to name them all).
    """
    order = sorted(range(len(points)), key=lambda i: tuple(points[i]))
    out: list[list[int]] = [[] for _ in points]
    frontier: list[int] = []
    for rank, i in enumerate(order):
        if any(dominates(points[j], points[i]) for j in frontier):
            out[i] = sorted(j for j in order[:rank] if dominates(points[j], points[i]))
        else:
            frontier.append(i)
    return out


def tradeoff(labels: Sequence[str], runs: Sequence[Mapping[str, Sequence[float | None]]],
             held: Sequence[Sequence[bool | None]]) -> TradeOff:
    """The trade-off of a sweep's combinations.

    Args:
        labels: Each combination's label, in grid order.
        runs: Each combination's metric -> value per seed (None: the run had none).
        held: Each combination's verdict per seed on its ``expect:`` assertions (None: none).
    """
    metrics = list(runs[0]) if runs else []
    harm = tuple(m for m in HARM if m in metrics)
    cost = tuple(m for m in COST if m in metrics)
    harms = [{m: _median(m, r[m]) for m in harm} for r in runs]
    costs = [{m: _median(m, r[m]) for m in cost} for r in runs]
    vectors = [[*h.values(), *c.values()] for h, c in zip(harms, costs, strict=True)]
    by = dominators(vectors) if harm or cost else [[] for _ in runs]
    points = []
    for i, label in enumerate(labels):
        verdicts = [v for v in held[i] if v is not None]
        points.append(Point(label, harms[i], costs[i], tuple(labels[j] for j in by[i]),
                            len(verdicts), sum(verdicts)))
    return TradeOff(harm, cost, tuple(points))


def _median(metric: str, values: Sequence[float | None]) -> float:
    never = math.inf if metric.rsplit(".", 1)[-1].startswith("time_to_") else 0.0
    return float(statistics.median([never if v is None else float(v) for v in values]))


def from_sweep_dict(data: Any, where: str) -> TradeOff:
    """The trade-off of a sweep result as ``agentrange sweep --format json`` printed it.

    Raises:
        TradeOffError: naming ``where`` (the file) and what it lacks.
    """
    try:
        cells = data["cells"]
        metrics = list(data["metrics"])
        seeds = len(data["seeds"])
        labels = [str(c["label"]) for c in cells]
        runs = [{m: [_number(v) for v in c["metrics"][m]["values"]] for m in metrics}
                for c in cells]
        held = [list(c.get("expect") or [None] * seeds) for c in cells]
        if any(v is not None and not isinstance(v, bool) for h in held for v in h):
            raise ValueError("an expect verdict is not true, false or null")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TradeOffError(f"{where}: not a sweep result (expected the JSON of agentrange "
                            f"sweep --format json; {type(exc).__name__}: {exc})") from None
    if not cells:
        raise TradeOffError(f"{where}: the sweep result has no combinations")
    return tradeoff(labels, runs, held)


def load_sweep_file(path: str) -> tuple[TradeOff, str]:
    """The trade-off in a saved sweep result, and a title saying what the sweep was.

    Raises:
        TradeOffError: a file that cannot be read, is not JSON or not a sweep result.
    """
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read())
    except OSError as exc:
        raise TradeOffError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise TradeOffError(f"{path}: not JSON ({exc}); expected the output of agentrange "
                            "sweep --format json") from None
    t = from_sweep_dict(data, path)
    seeds = len(data["seeds"])
    return t, (f"{data.get('scenario', '?')}: {len(t.points)} combination"
               f"{'' if len(t.points) == 1 else 's'} x {seeds} seed{'' if seeds == 1 else 's'}")


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"a metric value {value!r} is not a number")
    return float(value)

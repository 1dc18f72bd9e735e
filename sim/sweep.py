"""Sweep: one scenario over many seeds, profiles and parameter values, in parallel, summarised.

A single run answers "what happened with this seed"; a sweep answers what a policy choice does
across seeds: a grid of profiles x parameter combinations x seeds, each cell summarised per
metric (median, mean, min, max, p95 and how many runs had no value, e.g. never contained).

The grid comes from :mod:`sim.sweep_grid` (the varied parameters, by dotted path, and the
seeds; each cell's scenario and policy variant, validated before anything runs); its runs go
through an executor (:mod:`sim.sweep_pool`: a local process pool when ``jobs`` > 1, else this
process; :mod:`sim.sweep_dask`: a Dask cluster). This module checks the metrics, runs the grid
and summarises each cell. Every run owns its seed, so the results, kept in grid order, are the
same whatever the number of jobs or the executor. :meth:`SweepResult.tradeoff` puts the cells
on the harm/cost trade-off (:mod:`sim.tradeoff`).

``SweepResult.to_dict()`` is the JSON shape ``agentrange sweep --format json`` prints; keys are
only ever added::

    {"scenario": str, "seeds": [int], "runs": int,
     "vary": {name: [value, ...]}, "metrics": [path],
     "cells": [{"profile": str, "values": {name: value}, "label": str,
                "metrics": {path: {"median", "mean", "min", "max", "p95", "missing",
                                   "values": [one per seed, null where the run had none]}},
                "expect": [per seed: every expect: assertion about the profile held] | null}],
     "tradeoff": {"harm": [path], "cost": [path], "frontier": [label],
                  "cells": [{"label", "harm": {path: median}, "cost": {path: median},
                             "frontier": bool, "dominated_by": [label],
                             "expect": {"seeds", "held", "pass_k": {"1": share, ...}}
                                       | null}]}}

(``null`` for a trade-off time: never contained.)
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

from engine.model import Scenario
from engine.policy import CompiledPolicy
from sim.budget import RunBudget
from sim.result import percentile
from sim.runner import Simulation
from sim.sweep_grid import MAX_RUNS, Cell, SweepError, Variation, policy_variant, variant
from sim.sweep_pool import Grid, LocalExecutor, SweepExecutor
from sim.tradeoff import TradeOff, tradeoff

DEFAULT_METRICS = (
    "blast_radius.records",
    "blast_radius.amount",
    "blast_radius.exposure_window",
    "time_to_contain",
    "delivery.task_latency_p95",
    "delivery.approval_wait_mean",
    "delivery.benign_denied_rate",
)
"""What a sweep summarises by default: harm on one side, the cost of governance on the other
(``blast_radius.amount`` only where the scenario's steps move money)."""


@dataclass(frozen=True)
class Summary:
    """One metric over the runs of one cell.

    Attributes:
        values: The value of each run, in seed order (None: the run had none).
        median, mean, low, high, p95: Over the runs that had a value (None if none did).
        missing: Runs without a value (never detected or contained, no approvals...).
    """

    values: tuple[float | None, ...]
    median: float | None
    mean: float | None
    low: float | None
    high: float | None
    p95: float | None
    missing: int

    @staticmethod
    def of(values: Sequence[float | None]) -> Summary:
        """Summarise the values of one metric over a cell's runs."""
        present = [float(v) for v in values if v is not None]
        if not present:
            return Summary(tuple(values), None, None, None, None, None, len(values))
        return Summary(tuple(values), statistics.median(present), statistics.fmean(present),
                       min(present), max(present), percentile(present, 0.95),
                       len(values) - len(present))

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (see :meth:`SweepResult.to_dict`)."""
        return {"median": self.median, "mean": self.mean, "min": self.low, "max": self.high,
                "p95": self.p95, "missing": self.missing, "values": list(self.values)}


@dataclass(frozen=True)
class SweepResult:
    """Every cell of a sweep with its per-metric summaries, in grid order."""

    scenario: str
    seeds: tuple[int, ...]
    variations: tuple[Variation, ...]
    metrics: tuple[str, ...]
    cells: tuple[Cell, ...]
    summaries: tuple[dict[str, Summary], ...]
    """One mapping metric -> summary per cell, same order as ``cells``."""
    held: tuple[tuple[bool | None, ...], ...] = ()
    """Per cell, per seed: whether the ``expect:`` assertions about its profile all held
    (None: there are none)."""

    def expectations(self, cell: int) -> list[bool | None] | None:
        """Cell ``cell``'s verdict per seed, or None when its profile has no assertions."""
        held = list(self.held[cell]) if self.held else []
        return held if any(v is not None for v in held) else None

    def tradeoff(self) -> TradeOff:
        """The cells on the harm/cost trade-off, with their pass^k (:mod:`sim.tradeoff`)."""
        return tradeoff([c.label for c in self.cells],
                        [{m: s[m].values for m in self.metrics} for s in self.summaries],
                        [self.expectations(i) or [] for i in range(len(self.cells))])

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON shape (see the module docstring)."""
        return {
            "scenario": self.scenario, "seeds": list(self.seeds),
            "runs": len(self.cells) * len(self.seeds),
            "vary": {v.name: list(v.values) for v in self.variations},
            "metrics": list(self.metrics),
            "cells": [{"profile": c.profile, "values": dict(c.values), "label": c.label,
                       "metrics": {m: s[m].to_dict() for m in self.metrics},
                       "expect": self.expectations(i)}
                      for i, (c, s) in enumerate(zip(self.cells, self.summaries, strict=True))],
            "tradeoff": self.tradeoff().to_dict(),
        }

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per run (profile, varied values, seed, each metric): for CSV."""
        out = []
        for cell, summary in zip(self.cells, self.summaries, strict=True):
            for i, seed in enumerate(self.seeds):
                row: dict[str, Any] = {"profile": cell.profile, **dict(cell.values),
                                       "seed": seed}
                row.update({m: summary[m].values[i] for m in self.metrics})
                out.append(row)
        return out

def check_metrics(scenario: Scenario, profile: str, metrics: Sequence[str]) -> None:
    """Every metric path names a number (or null) of a run's result.

    Raises:
        SweepError: naming the first path that does not, and the metrics there are.
    """
    shape = Simulation(scenario, profile, until=0.0, record_decisions=False).result()
    data = shape.to_dict()
    for path in metrics:
        try:
            value = shape.metric(path)
        except KeyError:
            value = KeyError
        if value is KeyError or isinstance(value, Mapping | list | tuple | str):
            raise SweepError(f"--metric {path}: not a number of a run's result; metrics are "
                             f"{', '.join(_number_paths(data))}")


def _number_paths(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out += _number_paths(value, path + ".")
        elif value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            out.append(path)
    return out


def default_metrics(scenario: Scenario) -> tuple[str, ...]:
    """DEFAULT_METRICS, without money where no step of the scenario moves any."""
    moves_money = "'amount': " in str(scenario.model_dump(exclude_none=True))
    return tuple(m for m in DEFAULT_METRICS if moves_money or m != "blast_radius.amount")


def sweep(scenario: Scenario, *, profiles: Sequence[str], seeds: Sequence[int],
          variations: Sequence[Variation] = (), metrics: Sequence[str] | None = None,
          until: float | None = None, jobs: int = 1,
          progress: Callable[[int, int], None] | None = None,
          max_events: int | None = None, max_memory_mb: int | None = None,
          executor: SweepExecutor | None = None) -> SweepResult:
    """Run the grid profiles x variation values x seeds and summarise each cell.

    Args:
        scenario: The scenario as loaded.
        profiles: Profile ids to sweep (each must exist).
        seeds: Seeds, each run once per cell.
        variations: Parameters to vary (every combination of their values is a cell).
        metrics: Dotted paths of the result to summarise (default: :func:`default_metrics`).
        until: Stop each run at this simulated time.
        jobs: Worker processes of the local executor (1: run here, one after another).
        progress: Called with (runs done, runs in all) as runs finish.
        max_events: Each run's event budget (None: the default; see :mod:`sim.budget`).
        max_memory_mb: Each run's memory budget in MiB, what it may add to its worker's
            resident memory (None: the default).
        executor: Where the runs go (None: ``LocalExecutor(jobs)``); the result is the same.

    Raises:
        SweepError: a bad profile, variation value, metric or grid size, or a policy that
            does not compile against a variant; an executor that cannot run the sweep.
        SweepStoppedError: a run crossed its budget, which stops the sweep.
        BudgetError: a budget that is not a positive whole number.
    """
    budget = RunBudget.of(max_events, max_memory_mb)
    known = {p.id for p in scenario.profiles}
    unknown = [p for p in profiles if p not in known]
    if unknown or not profiles:
        raise SweepError(f"--profiles: scenario {scenario.name} has no profile "
                         f"{', '.join(map(repr, unknown)) or '(none named)'} (profiles: "
                         f"{', '.join(sorted(known))})")
    if not seeds:
        raise SweepError("--seeds: name at least one seed")
    names = [v.name for v in variations]
    if len(set(names)) != len(names):
        raise SweepError("--vary: a parameter is varied twice")
    metrics = tuple(metrics) if metrics else default_metrics(scenario)
    combos = list(product(*(v.values for v in variations)))
    total = len(profiles) * len(combos) * len(seeds)
    if total > MAX_RUNS:
        raise SweepError(f"the sweep asks for {total:,} runs; at most {MAX_RUNS:,}")
    cells: list[Cell] = []
    variants: list[Scenario] = []
    documents: list[dict[str, Any] | None] = []
    policies: list[CompiledPolicy] = []
    for profile in profiles:
        for combo in combos:
            assignment = tuple(zip(variations, combo, strict=True))
            cells.append(Cell(profile, tuple((v.name, value) for v, value in assignment)))
            variants.append(variant(scenario, profile, assignment))
            # Compiled here, before any run: a bad value fails now, with its file and line.
            data, policy = policy_variant(variants[-1], profile, assignment)
            documents.append(data)
            policies.append(policy)
    check_metrics(variants[0], cells[0].profile, metrics)
    tasks = [(c, cells[c].profile, seed, until, metrics)
             for c in range(len(cells)) for seed in seeds]
    grid = Grid(variants, documents, policies, budget, [c.label for c in cells])
    outcomes = (executor or LocalExecutor(jobs)).run(grid, tasks, progress)
    summaries = []
    held = []
    for c in range(len(cells)):
        runs = outcomes[c * len(seeds):(c + 1) * len(seeds)]
        summaries.append({m: Summary.of([run.values[i] for run in runs])
                          for i, m in enumerate(metrics)})
        held.append(tuple(run.held for run in runs))
    return SweepResult(scenario.name, tuple(seeds), tuple(variations), metrics, tuple(cells),
                       tuple(summaries), tuple(held))

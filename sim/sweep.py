"""Sweep: one scenario over many seeds, profiles and parameter values, in parallel, summarised.

A single run answers "what happened with this seed"; a sweep answers what a policy choice does
across seeds: a grid of profiles x parameter combinations x seeds, each cell summarised per
metric (median, mean, min, max, p95 and how many runs had no value, e.g. never contained).

Parameters are varied by dotted path (``--vary`` on the command line):

- ``profile.<path>`` changes each swept profile, e.g. ``profile.credentials.ttl=5m,15m,1h``;
- ``policy.<path>`` changes each swept profile's policy document, e.g. an approval threshold:
  ``policy.rules.large-refund-approval.when.gt=250,500,1000``;
- any other path changes the scenario document, e.g. ``approvers.count=1,2,4`` or
  ``approvers.fatigue.per_queued=0.02,0.06``.

In a list, a segment is an index (``incidents.0.at=1h,3h``) or the ``id`` (or ``name``) of an
element (``rules.large-refund-approval``). Each variant is re-validated like a loaded scenario
and its policies compiled against it before anything runs, so a bad value is an error naming
the parameter and what was expected (for a policy value, with the file and line it replaces).
Runs go to a local process pool (``jobs`` > 1) or run in this process; every run owns its seed,
so the results, kept in grid order, are the same whatever the number of jobs.

``SweepResult.to_dict()`` is the JSON shape ``agentrange sweep --format json`` prints; keys are
only ever added::

    {"scenario": str, "seeds": [int], "runs": int,
     "vary": {name: [value, ...]}, "metrics": [path],
     "cells": [{"profile": str, "values": {name: value}, "label": str,
                "metrics": {path: {"median", "mean", "min", "max", "p95", "missing",
                                   "values": [one per seed, null where the run had none]}}}]}
"""

from __future__ import annotations

import copy
import dataclasses
import os
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import product
from multiprocessing import get_context
from typing import Any

from pydantic import ValidationError

from engine.errors import AgentrangeError, LoadError
from engine.loader import as_tuples, read_document
from engine.model import Scenario
from engine.policy import (
    CompiledPolicy,
    PolicyDocument,
    compile_document,
    compile_policy,
    load_profile_policy,
    profile_policy_file,
)
from engine.references import reference_problems
from sim.result import percentile
from sim.runner import Simulation

DEFAULT_SEEDS = 10
"""Seeds swept when none are given: the scenario's own and the next ones."""
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
MAX_RUNS = 10_000
"""Runs one sweep may ask for (a typo in a seed range should not start a million runs)."""


class SweepError(AgentrangeError):
    """A bad sweep option: a parameter path or value, a seed list, a metric, a profile."""


@dataclass(frozen=True)
class Variation:
    """One varied parameter: where (a dotted path) and the values to try.

    Attributes:
        name: The path as written (``profile.credentials.ttl``).
        path: Its segments after the ``profile.`` or ``policy.`` prefix (indexes as ints).
        target: ``scenario``, ``profile`` (each swept profile) or ``policy`` (each swept
            profile's policy document).
        values: The values to try, in order.
    """

    name: str
    path: tuple[str | int, ...]
    target: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Cell:
    """One point of the grid: a profile and one value of each variation."""

    profile: str
    values: tuple[tuple[str, Any], ...]
    """(variation name, value), in the variations' order."""

    @property
    def label(self) -> str:
        """``jit-context ttl=5m``: the profile, then each varied value by its last segment."""
        parts = [self.profile]
        parts += [f"{name.rsplit('.', 1)[-1]}={_text(v)}" for name, v in self.values]
        return " ".join(parts)


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

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON shape (see the module docstring)."""
        return {
            "scenario": self.scenario, "seeds": list(self.seeds),
            "runs": len(self.cells) * len(self.seeds),
            "vary": {v.name: list(v.values) for v in self.variations},
            "metrics": list(self.metrics),
            "cells": [{"profile": c.profile, "values": dict(c.values), "label": c.label,
                       "metrics": {m: s[m].to_dict() for m in self.metrics}}
                      for c, s in zip(self.cells, self.summaries, strict=True)],
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


# --- options ------------------------------------------------------------------------------------


def parse_variation(text: str) -> Variation:
    """Parse ``path=v1,v2,...``; values are numbers, booleans, ``null`` or text.

    Raises:
        SweepError: when it is not of that form.
    """
    name, sep, values = text.partition("=")
    name = name.strip()
    if not sep or not name or not values.strip():
        raise SweepError(f"--vary {text!r}: expected PATH=VALUE[,VALUE...], e.g. "
                         "profile.credentials.ttl=5m,15m,1h")
    parts = name.split(".")
    if any(not p for p in parts):
        raise SweepError(f"--vary {text!r}: the path {name!r} has an empty segment")
    target = parts[0] if parts[0] in ("profile", "policy") else "scenario"
    segments = parts[1:] if target != "scenario" else parts
    if not segments:
        raise SweepError(f"--vary {text!r}: name a field of the {target}, e.g. "
                         + ("profile.credentials.ttl" if target == "profile"
                            else "policy.rules.RULE-ID.when.gt"))
    path = tuple(int(p) if p.isdigit() else p for p in segments)
    items = tuple(_scalar(v.strip()) for v in values.split(","))
    if any(v == "" for v in items):
        raise SweepError(f"--vary {text!r}: an empty value")
    unique = {(type(v), v): v for v in items}  # 1 and True are different values here
    return Variation(name, path, target, tuple(unique.values()))


def parse_seeds(text: str | None, first: int) -> tuple[int, ...]:
    """``1-20`` (inclusive), ``3,7,11`` or one seed; None: DEFAULT_SEEDS from ``first``.

    Raises:
        SweepError: on anything else, an empty or reversed range, or too many seeds.
    """
    if text is None:
        return tuple(range(first, first + DEFAULT_SEEDS))
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        lo, dash, hi = part.partition("-")
        try:
            if dash and lo:
                start, end = int(lo), int(hi)
                if end < start:
                    raise SweepError(f"--seeds {text!r}: the range {part!r} runs backwards")
                if end - start >= MAX_RUNS:
                    raise SweepError(f"--seeds {text!r}: more than {MAX_RUNS:,} seeds")
                seeds.extend(range(start, end + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise SweepError(f"--seeds {text!r}: expected seeds such as 1-20 or 3,7,11, "
                             f"found {part!r}") from None
    return tuple(dict.fromkeys(seeds))


def _scalar(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "none"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- variants -----------------------------------------------------------------------------------


def variant(base: Scenario, profile: str, assignment: Iterable[tuple[Variation, Any]]
            ) -> Scenario:
    """``base`` with each variation set to its value (profile paths in ``profile`` only).

    Policy variations are left to :func:`policy_variant`.

    The result is validated like a loaded scenario and keeps the base's source, so its
    profiles' policy files are found next to it.

    Raises:
        SweepError: a path that names no field, or a value the field does not accept.
    """
    assignment = tuple((v, value) for v, value in assignment if v.target != "policy")
    if not assignment:
        return base
    data = _mutable(base.model_dump())
    for var, value in assignment:
        if var.target == "profile":
            target = next((p for p in data["profiles"] if p["id"] == profile), None)
            if target is None:
                raise SweepError(f"--vary {_assignment(assignment)}: the scenario no longer "
                                 f"has a profile {profile!r} to change")
            where = f"profile {profile}"
        else:
            target, where = data, f"scenario {base.name}"
        _assign(target, var, value, where)
    try:
        scenario = Scenario.model_validate(as_tuples(data))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ").replace("Input should be",
                                                                   "expected")
        raise SweepError(f"--vary {_assignment(assignment)}: scenario {base.name} under "
                         f"{profile} does not validate at {loc}: {msg}") from None
    problems = reference_problems(scenario)
    if problems:
        path, expected, found = problems[0]
        loc = ".".join(str(p) for p in path)
        raise SweepError(f"--vary {_assignment(assignment)}: at {loc} expected {expected}"
                         + (f", found {found}" if found else ""))
    if profile not in {p.id for p in scenario.profiles}:
        raise SweepError(f"--vary {_assignment(assignment)}: the variant has no profile "
                         f"{profile!r} left to run")
    scenario._source = base._source
    scenario._base = base._base
    return scenario


def _assignment(assignment: Sequence[tuple[Variation, Any]]) -> str:
    return " ".join(f"{v.name}={_text(value)}" for v, value in assignment)


def _assign(data: Any, var: Variation, value: Any, where: str) -> None:
    """Set ``var``'s path in ``data`` to ``value`` (list elements by index, id or name)."""
    node = data
    for depth, key in enumerate(var.path):
        at = ".".join(str(k) for k in var.path[:depth]) or "the top level"
        if isinstance(node, dict):
            if key not in node:
                known = ", ".join(sorted(map(str, node)))
                raise SweepError(f"--vary {var.name}: {where} has no field {key!r} at {at} "
                                 f"(fields: {known})")
        elif isinstance(node, list):
            key = _element(node, key, var, at)
        else:
            raise SweepError(f"--vary {var.name}: {at} is a single value, not a mapping or "
                             "a list")
        if depth == len(var.path) - 1:
            node[key] = value
        else:
            node = node[key]


def _element(items: list[Any], key: str | int, var: Variation, at: str) -> int:
    """The index of list element ``key``: an index, or the element whose id (or name) it is."""
    if isinstance(key, int):
        if key < len(items):
            return key
        raise SweepError(f"--vary {var.name}: {at} is a list of {len(items)}; expected an "
                         f"index from 0 to {len(items) - 1} or an element's id, found {key}")
    for field in ("id", "name"):
        for i, item in enumerate(items):
            if isinstance(item, dict) and item.get(field) == key:
                return i
    ids = [str(item.get("id", item.get("name"))) for item in items if isinstance(item, dict)]
    raise SweepError(f"--vary {var.name}: {at} has no element {key!r}"
                     + (f" (ids: {', '.join(ids)})" if ids else ""))


def _mutable(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_mutable(v) for v in value]
    if isinstance(value, dict):
        return {k: _mutable(v) for k, v in value.items()}
    return value


# --- running ------------------------------------------------------------------------------------


def policy_variant(scenario: Scenario, profile: str,
                   assignment: Iterable[tuple[Variation, Any]]
                   ) -> tuple[dict[str, Any] | None, CompiledPolicy]:
    """The profile's policy with each ``policy.`` variation set, compiled against ``scenario``.

    Returns:
        (the varied policy document as plain data, or None when nothing in it varies; the
        compiled policy).

    Raises:
        SweepError: a path that names nothing in the policy file, or a value that does not
            validate or compile (with the file and line of the value it replaces).
    """
    everything = tuple(assignment)
    label = _assignment(everything)  # errors name the whole cell: any variation may be why
    assignment = tuple((v, value) for v, value in everything if v.target == "policy")
    try:
        if not assignment:
            return None, load_profile_policy(scenario, profile)
        if scenario.base is None:
            raise SweepError(f"--vary {label}: the scenario was not loaded from a file; its "
                             "policies cannot be varied")
        file = scenario.profile(profile).policy
        doc = read_document(*profile_policy_file(scenario, profile))
        data = copy.deepcopy(doc.data)
        for var, value in assignment:
            _assign(data, var, value, f"policy {file} of {profile}")
        return data, compile_document(dataclasses.replace(doc, data=data), scenario)
    except LoadError as exc:
        detail = f"--vary {label}: " if everything else ""
        raise SweepError(f"{detail}{profile}: {exc}") from None


class _Runner:
    """Runs the grid's cells, compiling each cell's policy once (per process)."""

    def __init__(self, variants: Sequence[Scenario], documents: Sequence[dict[str, Any] | None],
                 policies: Sequence[CompiledPolicy] | None = None) -> None:
        self.variants = variants
        self.documents = documents
        self.policies: list[CompiledPolicy | None] = (
            list(policies) if policies is not None else [None] * len(variants))

    def run(self, cell: int, profile: str, seed: int, until: float | None,
            metrics: tuple[str, ...]) -> tuple[float | None, ...]:
        """One run's value of each metric."""
        scenario = self.variants[cell]
        policy = self.policies[cell]
        if policy is None:
            policy = self.policies[cell] = self._compile(cell, profile)
        result = Simulation(scenario, profile, seed=seed, until=until, policy=policy,
                            record_decisions=False).run()
        return tuple(_number(result.metric(m)) for m in metrics)

    def _compile(self, cell: int, profile: str) -> CompiledPolicy:
        scenario, data = self.variants[cell], self.documents[cell]
        if data is None:
            return load_profile_policy(scenario, profile)
        # Already compiled once in the caller, where any error was reported.
        _file, source = profile_policy_file(scenario, profile)
        return compile_policy(PolicyDocument.model_validate(as_tuples(data)), scenario,
                              source=source)


_WORKER: list[_Runner] = []
"""The runner of a worker process, set once by :func:`_start_worker` (never in the caller)."""


def _start_worker(variants: Sequence[Scenario], documents: Sequence[dict[str, Any] | None]
                  ) -> None:
    _WORKER.append(_Runner(variants, documents))


def _worker_run(cell: int, profile: str, seed: int, until: float | None,
                metrics: tuple[str, ...]) -> tuple[float | None, ...]:
    return _WORKER[0].run(cell, profile, seed, until, metrics)


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None if value is None else float(value)
    return float(value)


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
          progress: Callable[[int, int], None] | None = None) -> SweepResult:
    """Run the grid profiles x variation values x seeds and summarise each cell.

    Args:
        scenario: The scenario as loaded.
        profiles: Profile ids to sweep (each must exist).
        seeds: Seeds, each run once per cell.
        variations: Parameters to vary (every combination of their values is a cell).
        metrics: Dotted paths of the result to summarise (default: :func:`default_metrics`).
        until: Stop each run at this simulated time.
        jobs: Worker processes (1: run here, one after another).
        progress: Called with (runs done, runs in all) as runs finish.

    Raises:
        SweepError: a bad profile, variation value, metric or grid size, or a policy that
            does not compile against a variant.
    """
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
    values = _execute(variants, documents, policies, tasks, max(1, min(jobs, total)),
                      progress)
    summaries = []
    for c in range(len(cells)):
        runs = values[c * len(seeds):(c + 1) * len(seeds)]
        summaries.append({m: Summary.of([run[i] for run in runs])
                          for i, m in enumerate(metrics)})
    return SweepResult(scenario.name, tuple(seeds), tuple(variations), metrics, tuple(cells),
                       tuple(summaries))


Task = tuple[int, str, int, "float | None", tuple[str, ...]]
"""(cell index, profile, seed, until, metrics): one run of the grid."""


def _execute(variants: Sequence[Scenario], documents: Sequence[dict[str, Any] | None],
             policies: Sequence[CompiledPolicy], tasks: Sequence[Task], jobs: int,
             progress: Callable[[int, int], None] | None) -> list[tuple[float | None, ...]]:
    total = len(tasks)
    if jobs == 1:
        runner = _Runner(variants, documents, policies)
        out = []
        for n, task in enumerate(tasks, 1):
            out.append(runner.run(*task))
            if progress is not None:
                progress(n, total)
        return out
    # spawn, not fork: a worker starts clean (no threads or locks inherited from the caller,
    # a dashboard for instance). Each receives the variants once and compiles what it runs.
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"),
                                 initializer=_start_worker,
                                 initargs=(variants, documents)) as pool:
            futures: list[Future[tuple[float | None, ...]]] = [
                pool.submit(_worker_run, *task) for task in tasks]
            for done, future in enumerate(futures, 1):  # grid order, whatever finishes first
                future.result()
                if progress is not None:
                    progress(done, total)
            return [f.result() for f in futures]
    except BrokenProcessPool as exc:
        raise SweepError(f"a sweep worker process died ({exc}); a script that sweeps with "
                         "jobs > 1 must guard its entry point with if __name__ == "
                         "'__main__'; jobs=1 runs in this process") from None


def default_jobs() -> int:
    """Worker processes by default: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on every platform
        return max(1, os.cpu_count() or 1)

"""Compare profiles: the same scenario and seed under several profiles, and a decision diff.

Requests line up across profiles by their logical key (agent, task, run, step, incident),
not by time: run ids are stable (``<agent>/<task>#<n>`` for the n-th arrival, delegated runs
under their parent's id, incident runs by incident), and arrivals are the same under every
profile for a seed. A request made under one profile but not another (its run stopped
earlier there) shows ``None`` for the profile where it was never made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.model import Scenario
from sim.events import Sink
from sim.result import DecisionKey, RunResult
from sim.runner import Simulation, SimulationError, fewer_gc_passes


@dataclass(frozen=True)
class DiffEntry:
    """One logical request whose effect differs between profiles.

    Attributes:
        key: (agent, task, run, step, incident).
        tool: The tool requested.
        effects: The effect under each profile, in the comparison's order (None: not made).
    """

    key: DecisionKey
    tool: str
    effects: tuple[str | None, ...]

    @property
    def request(self) -> str:
        """A readable label: run, step, tool and incident."""
        _agent, _task, run, step, incident = self.key
        label = f"{run} step {step} {self.tool}"
        return f"{label} [{incident}]" if incident else label

    def to_dict(self, profiles: Sequence[str]) -> dict[str, Any]:
        """JSON-compatible form with the effect per profile id."""
        agent, task, run, step, incident = self.key
        return {"agent": agent, "task": task, "run": run, "step": step, "incident": incident,
                "tool": self.tool, "request": self.request,
                "effects": dict(zip(profiles, self.effects, strict=True))}


@dataclass(frozen=True)
class Comparison:
    """Runs of one scenario and seed under several profiles, side by side.

    Attributes:
        scenario: Scenario name.
        seed: The seed every run used.
        profiles: Profile ids, in order.
        results: One result per profile, same order.
        diff: Requests whose effect differs between profiles, including those made under
            only some of them (effect None where not made); changed effects first.
        total: Distinct logical requests made under any profile.
        common: Requests made under every profile.
    """

    scenario: str
    seed: int
    profiles: tuple[str, ...]
    results: tuple[RunResult, ...]
    diff: tuple[DiffEntry, ...]
    total: int
    common: int

    @property
    def changed(self) -> int:
        """Requests made under every profile whose effect differs."""
        return sum(1 for d in self.diff if None not in d.effects)

    @property
    def partial(self) -> int:
        """Requests made under some profiles only (their runs ended earlier elsewhere)."""
        return sum(1 for d in self.diff if None in d.effects)

    @property
    def summary(self) -> str:
        """e.g. ``12% of decisions changed (41/342); 17 made under only some profiles``."""
        pct = 100.0 * self.changed / self.common if self.common else 0.0
        text = f"{pct:.1f}".rstrip("0").rstrip(".") if pct < 10 else f"{pct:.0f}"
        line = f"{text}% of decisions changed ({self.changed}/{self.common})"
        if self.partial:
            line += f"; {self.partial} made under only some profiles"
        return line

    def examples(self, n: int = 10) -> tuple[DiffEntry, ...]:
        """The first ``n`` differing requests: changed effects first, incidents first."""
        ranked = sorted(self.diff, key=lambda d: (None in d.effects, d.key[4] is None))
        return tuple(ranked[:n])

    def to_dict(self, examples: int = 20) -> dict[str, Any]:
        """The documented JSON shape of ``agentrange compare --format json``.

        ``{"scenario", "seed", "profiles": [...], "results": {profile: RunResult shape},
        "diff": {"total", "common", "changed", "partial", "summary", "examples":
        [{agent, task, run, step, incident, tool, request, effects: {profile:
        effect|null}}]}}``
        """
        return {
            "scenario": self.scenario, "seed": self.seed, "profiles": list(self.profiles),
            "results": {p: r.to_dict() for p, r in zip(self.profiles, self.results,
                                                      strict=True)},
            "diff": {"total": self.total, "common": self.common, "changed": self.changed,
                     "partial": self.partial, "summary": self.summary,
                     "examples": [d.to_dict(self.profiles) for d in self.examples(examples)]},
        }


def comparison_of(scenario: Scenario, profiles: Sequence[str], seed: int,
                  results: Sequence[RunResult]) -> Comparison:
    """Build the comparison of runs that already happened (same scenario and seed).

    Args:
        scenario: The scenario the runs played.
        profiles: Their profile ids, in order.
        seed: The seed they used.
        results: Their results, in the same order.
    """
    if len(profiles) != len(results):
        raise SimulationError("one result per profile is needed to compare")
    keys: dict[DecisionKey, str] = {}
    for result in results:
        for key, (_effect, tool, _rule) in result.decisions.items():
            keys.setdefault(key, tool)
    diff: list[DiffEntry] = []
    common = 0
    for key, tool in keys.items():
        effects = tuple(
            (r.decisions[key][0] if key in r.decisions else None) for r in results)
        if None not in effects:
            common += 1
        if len(set(effects)) > 1:
            diff.append(DiffEntry(key, tool, effects))
    diff.sort(key=lambda d: None in d.effects)
    return Comparison(scenario.name, seed, tuple(profiles), tuple(results), tuple(diff),
                      len(keys), common)


def compare(scenario: Scenario, profiles: Sequence[str] | None = None, seed: int | None = None,
            *, until: float | None = None,
            sink_for: Callable[[str], Sink | None] | None = None,
            progress: Callable[[str, float], None] | None = None,
            max_events: int | None = None, max_memory_mb: int | None = None) -> Comparison:
    """Run a scenario under several profiles on one seed and compare them.

    Args:
        scenario: The loaded scenario.
        profiles: Profile ids (all of the scenario's when None).
        seed: The seed (the scenario's when None).
        until: Stop each run at this simulated time.
        sink_for: Gives the event sink of a profile's run (None: events discarded).
        progress: Called with (profile, simulated time) as each run advances.
        max_events: Each run's event budget (None: the default; see :mod:`sim.budget`).
        max_memory_mb: Each run's memory budget in MiB, what it may add to this process's
            resident memory (None: the default).

    Raises:
        SimulationError: for an unknown profile or an empty list.
        BudgetError: a budget that is not a positive whole number.
        BudgetExceededError: a run crossed its budget (the comparison stops there).
    """
    ids = list(profiles) if profiles is not None else [p.id for p in scenario.profiles]
    if not ids:
        raise SimulationError("name at least one profile to compare")
    seed = scenario.seed if seed is None else seed
    results = []
    for pid in ids:
        sim = Simulation(scenario, pid, seed=seed, until=until,
                         sink=sink_for(pid) if sink_for is not None else None,
                         max_events=max_events, max_memory_mb=max_memory_mb)
        results.append(drive(sim, progress, pid))
    return comparison_of(scenario, ids, seed, results)


def drive(sim: Simulation, progress: Callable[[str, float], None] | None = None,
          label: str = "", chunks: int = 100) -> RunResult:
    """Run a simulation to its end in ``chunks`` steps, reporting progress after each."""
    if progress is None:
        return sim.run()
    end = sim.end
    with fewer_gc_passes():  # as Simulation.run does
        for i in range(1, chunks + 1):
            sim.step_until(end * i / chunks)
            progress(label, sim.now)
        sim.step_until(end)
    return sim.result()

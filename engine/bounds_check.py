"""Static bounds: refuse, at load, a scenario whose run cannot end well.

The checks (limits in :mod:`engine.bounds`; the user's guide is the README's "Validation
bounds"):

- arrival intervals and incident repeat intervals of at least ``MIN_ARRIVAL_INTERVAL``,
  Poisson rates of at most ``MAX_ARRIVAL_RATE``, a duration of at most ``MAX_DURATION``;
- no delegation loop without a tool step before its delegation: it repeats in zero simulated
  time and no depth limit stops it (the limit denies tool steps, not delegations);
- a delegation cycle only under a profile whose policy sets ``delegation.max_depth`` (at most
  ``MAX_CYCLE_DEPTH``): only that limit ends it;
- an expected event count per run of at most ``DEFAULT_MAX_EVENTS`` (see
  :func:`expected_events`).

Each problem names the scenario path it is about, and the paths it was derived from, so a
loader can locate it and tell whether a part cut out of a broken document could have caused it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from engine.bounds import (
    DEFAULT_MAX_EVENTS,
    MAX_ARRIVAL_RATE,
    MAX_CYCLE_DEPTH,
    MAX_DURATION,
    MIN_ARRIVAL_INTERVAL,
)
from engine.delegation_graph import DelegationGraph, PathT
from engine.durations import format_duration
from engine.event_estimate import Estimate, expected_events, number_text, seconds_text
from engine.model import FixedArrival, PoissonArrival, Scenario, Task

__all__ = ["BoundProblem", "Estimate", "expected_events", "profile_problems",
           "scenario_problems"]


@dataclass(frozen=True)
class BoundProblem:
    """A bound a scenario crosses.

    Attributes:
        path: Where in the scenario (model paths, which are the document's when whole).
        expected: What was expected, with the bound.
        found: What was found.
        depends: The scenario parts the finding was derived from.
    """

    path: PathT
    expected: str
    found: str
    depends: tuple[PathT, ...] = ()


# --- scenario-wide checks ----------------------------------------------------------------------


def scenario_problems(s: Scenario) -> list[BoundProblem]:
    """Bounds any profile would cross: rates, intervals, duration, zero-time delegation loops."""
    problems: list[BoundProblem] = []
    if s.duration > MAX_DURATION:
        problems.append(BoundProblem(
            ("duration",), f"a duration of at most {format_duration(MAX_DURATION)} (the "
            "longest scenario a run simulates)", seconds_text(s.duration)))
    for i, agent in enumerate(s.agents):
        for j, task in enumerate(agent.tasks):
            problems.extend(_arrival_problems(("agents", i, "tasks", j, "arrival"), task))
    for i, inc in enumerate(s.incidents):
        if inc.repeat_every is not None and inc.repeat_every < MIN_ARRIVAL_INTERVAL:
            path = ("incidents", i, "repeat_every")
            problems.append(BoundProblem(
                path, f"a repeat interval of at least {format_duration(MIN_ARRIVAL_INTERVAL)} "
                "(a faster attacker is a load test, not a rehearsal)",
                seconds_text(inc.repeat_every), (path,)))
    graph = DelegationGraph(s)
    for scc in graph.cyclic(unguarded_only=True):
        edge = scc[0]
        problems.append(BoundProblem(
            edge.path, "a tool step before this delegation: "
            f"{graph.cycle_text(edge, unguarded_only=True)} delegates round a loop with no "
            "tool step before it, which repeats in zero time and which no delegation.max_depth "
            "stops (the limit denies tool steps, not delegations)",
            "a delegation loop without a tool step", graph.plan_paths(scc)))
    return problems


def _arrival_problems(path: PathT, task: Task) -> Iterator[BoundProblem]:
    arrival = task.arrival
    fastest = f"at least {format_duration(MIN_ARRIVAL_INTERVAL)} between arrivals"
    if isinstance(arrival, FixedArrival) and arrival.interval < MIN_ARRIVAL_INTERVAL:
        yield BoundProblem((*path, "interval"), f"an interval of {fastest} (the bound keeps "
                           "one task from flooding a run)", seconds_text(arrival.interval), (path,))
    elif isinstance(arrival, PoissonArrival):
        per_second = arrival.rate / arrival.per
        if not per_second <= MAX_ARRIVAL_RATE:
            yield BoundProblem(
                (*path, "rate"), f"at most {number_text(MAX_ARRIVAL_RATE)} arrival per second "
                f"({number_text(MAX_ARRIVAL_RATE * 3600)} per hour; is 'per' the unit you meant?)",
                f"rate {number_text(arrival.rate)} per {seconds_text(arrival.per)} = "
                f"{number_text(per_second)} per second", (path,))


# --- per-profile checks -------------------------------------------------------------------------


def profile_problems(s: Scenario, depths: Mapping[str, int | None],
                     policies: Mapping[str, str] | None = None) -> list[BoundProblem]:
    """Bounds that depend on each profile's delegation depth limit.

    Args:
        s: The scenario.
        depths: Profile id -> its policy's ``delegation.max_depth`` (None: no limit); profiles
            left out are not checked (their policy did not load).
        policies: Profile id -> how to name its policy file (default: the profile's ``policy``).
    """
    names = {p.id: p.policy for p in s.profiles}
    if policies:
        names.update(policies)
    problems: list[BoundProblem] = []
    graph = DelegationGraph(s)
    cycles = [scc for scc in graph.cyclic(unguarded_only=False)
              if not graph.has_unguarded_cycle(scc)]
    unlimited = [p for p in depths if depths[p] is None]
    too_deep: dict[int, list[str]] = {}
    for p, d in depths.items():
        if d is not None and d > MAX_CYCLE_DEPTH:
            too_deep.setdefault(d, []).append(p)
    for scc in cycles:
        edge = scc[0]
        text = graph.cycle_text(edge, unguarded_only=False)
        if unlimited:
            problems.append(BoundProblem(
                edge.path, f"a delegation depth limit (delegation.max_depth, at most "
                f"{MAX_CYCLE_DEPTH}) in the policy of {_profiles(unlimited, names)}: {text} "
                "delegates round a cycle, which only that limit ends",
                "no delegation.max_depth", graph.plan_paths(scc)))
        for depth, profiles in too_deep.items():
            problems.append(BoundProblem(
                edge.path, f"a delegation depth limit of at most {MAX_CYCLE_DEPTH} in the "
                f"policy of {_profiles(profiles, names)}: {text} delegates round a cycle, "
                "nesting a run per hop up to the limit", f"max_depth {depth:,}",
                graph.plan_paths(scc)))
    estimates: dict[str, Estimate] = {}
    by_depth: dict[int | None, Estimate | None] = {}
    for p, limit in depths.items():
        if cycles and (limit is None or limit > MAX_CYCLE_DEPTH):
            continue  # unbounded, reported above
        if limit not in by_depth:
            by_depth[limit] = expected_events(s, limit, graph)
        estimate = by_depth[limit]
        if estimate is not None and estimate.events > DEFAULT_MAX_EVENTS:
            estimates[p] = estimate
    by_figure: dict[tuple[int, PathT], list[str]] = {}
    for p, e in estimates.items():
        by_figure.setdefault((e.events, e.path), []).append(p)
    for (_events, _path), profiles in by_figure.items():
        e = estimates[profiles[0]]
        under = ("" if len(profiles) == len(s.profiles)
                 else f" under {_profiles(profiles, names)}")
        problems.append(BoundProblem(
            e.path, f"at most {DEFAULT_MAX_EVENTS:,} expected events in one run (the run "
            "budget)", f"about {number_text(e.events)} events{under}: {e.largest}", e.depends))
    return problems


def _profiles(ids: Sequence[str], names: Mapping[str, str]) -> str:
    shown = [f"{p} ({names.get(p, p)})" for p in ids]
    return ("profile " if len(ids) == 1 else "profiles ") + ", ".join(shown)

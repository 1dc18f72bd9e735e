"""How many events a run of a scenario is expected to emit, before it runs.

The estimate errs high (the built-ins emit a third to a half of it); the bounds checks
(:mod:`engine.bounds_check`) refuse a scenario whose estimate passes the run budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from engine.bounds import MAX_ARRIVAL_RATE, MAX_DURATION, MIN_ARRIVAL_INTERVAL
from engine.delegation_graph import DelegationGraph, Node, PathT, StepAt
from engine.durations import format_duration
from engine.model import (
    FixedArrival,
    Incident,
    PoissonArrival,
    Scenario,
    ScriptedArrival,
    Task,
    ToolStep,
)

RUN_EVENTS = 4
"""Events of a task run besides its steps: started, ended, its token issued and revoked."""
STEP_EVENTS = 3
"""Events of a tool step at most, typically: its decision, and an alert or an approval
request with its resolution (the built-ins average under 1.5)."""
INCIDENT_EVENTS = 6
"""Events an incident adds besides its runs: the incident, exposures, containment."""
_SATURATED = 2 ** 62


@dataclass(frozen=True)
class Estimate:
    """The expected events of one run, and where most of them come from.

    Attributes:
        events: Expected events in a run to the scenario's end.
        path: The arrival (or incident) contributing most.
        largest: That contribution, in words.
        depends: The scenario parts the figure was derived from (arrivals and incidents).
    """

    events: int
    path: PathT
    largest: str
    depends: tuple[PathT, ...]


def expected_events(s: Scenario, max_depth: int | None,
                    graph: DelegationGraph | None = None) -> Estimate | None:
    """The events a run is expected to emit, or None when they are unbounded.

    Each arrival of a task (over the scenario's duration: fixed and scripted arrivals counted,
    Poisson ones at their mean) starts a run of ``RUN_EVENTS`` plus ``STEP_EVENTS`` per tool
    step, and each delegation adds the delegate's run. Under ``max_depth`` a run deeper than
    the limit stops at its first tool step (denied). Incidents add their runs (every
    ``repeat_every`` from ``at``) and ``INCIDENT_EVENTS``; poisoned and rogue agents run their
    attacker's plan on top of their own. The figure errs high: the built-ins emit a third to
    a half of it.

    Args:
        s: The scenario.
        max_depth: The profile's delegation depth limit (None: no limit).
        graph: The scenario's delegation graph, when already built.
    """
    graph = graph or DelegationGraph(s)
    counter = _Counter(graph, max_depth)
    total = 2 + INCIDENT_EVENTS * len(s.incidents) + 2 * len(s.responses)
    best: tuple[int, PathT, str] = (-1, ("duration",), "")
    depends: list[PathT] = [("duration",)]
    try:
        for i, agent in enumerate(s.agents):
            for j, task in enumerate(agent.tasks):
                if task.arrival is None:
                    continue
                path: PathT = ("agents", i, "tasks", j, "arrival")
                depends.append(path)
                n = _arrivals(task, min(s.duration, MAX_DURATION))
                per_run = counter.node((agent.name, task.id), 0)
                share = _SATURATED if not n * per_run < _SATURATED else math.ceil(n * per_run)
                total = min(_SATURATED, total + share)
                if share > best[0]:
                    best = (share, path, f"task {agent.name}/{task.id} arrives about "
                            f"{number_text(n)} times in "
                            f"{seconds_text(min(s.duration, MAX_DURATION))}, "
                            f"{number_text(per_run)} events a run (the largest share)")
        for i, inc in enumerate(s.incidents):
            path = ("incidents", i)
            depends.append(path)
            runs, steps = _incident_runs(s, i, inc)
            if not runs:
                continue
            per_run = counter.steps(steps, 0)
            share = min(_SATURATED, runs * per_run)
            total = min(_SATURATED, total + share)
            if share > best[0]:
                where = (*path, "repeat_every") if inc.repeat_every is not None else path
                best = (share, where, f"incident {inc.id} runs about {number_text(runs)} times, "
                        f"{number_text(per_run)} events a run (the largest share)")
    except _Unbounded:
        return None
    return Estimate(total, best[1], best[2], tuple(depends))


def _arrivals(task: Task, until: float) -> float:
    arrival = task.arrival
    if isinstance(arrival, FixedArrival):
        if arrival.start >= until:
            return 0.0
        n = float(math.ceil((until - arrival.start)
                            / max(arrival.interval, MIN_ARRIVAL_INTERVAL)))
    elif isinstance(arrival, PoissonArrival):
        n = max(0.0, until - arrival.start) * min(arrival.rate / arrival.per, MAX_ARRIVAL_RATE)
    elif isinstance(arrival, ScriptedArrival):
        return float(sum(1 for t in arrival.at if t < until))
    else:
        return 0.0
    return n if arrival.count is None else min(n, float(arrival.count))


def _incident_runs(s: Scenario, i: int, inc: Incident) -> tuple[int, tuple[StepAt, ...]]:
    end = min(s.duration, MAX_DURATION)
    if inc.at >= end or inc.kind == "memory_poisoning":
        return 0, ()  # poisoning runs nothing of its own: see DelegationGraph
    steps: tuple[StepAt, ...] = tuple((step, ("incidents", i, "plan", k))
                                      for k, step in enumerate(inc.plan))
    if not steps and inc.kind in ("credential_theft", "vendor_compromise", "human_use",
                                  "federation_abuse"):
        agent = next((a for a in s.agents if a.name == inc.agent), None)
        if agent is None or not agent.tasks:
            return 0, ()
        steps = tuple((step, ("agents", s.agents.index(agent), "tasks", 0, "steps", k))
                      for k, step in enumerate(agent.tasks[0].steps))
    if not steps:
        return 0, ()
    runs = 1
    if inc.repeat_every is not None:
        runs += math.floor((end - inc.at) / max(inc.repeat_every, MIN_ARRIVAL_INTERVAL))
    return runs, steps


class _Unbounded(Exception):
    """A plan reaches itself with nothing to stop it."""


class _Counter:
    """Events of runs, memoised per (task, depth), depth clamped where it stops mattering."""

    def __init__(self, graph: DelegationGraph, max_depth: int | None) -> None:
        self.graph = graph
        self.max_depth = max_depth
        self.memo: dict[tuple[Node, int], int] = {}

    def _key(self, node: Node, depth: int) -> tuple[Node, int]:
        if self.max_depth is None:
            return node, 0
        return node, min(depth, self.max_depth + 1)

    def node(self, node: Node, depth: int) -> int:
        """Expected events of one run of ``node`` at delegation depth ``depth``."""
        key = self._key(node, depth)
        if key not in self.memo:
            self._evaluate(key)
        return self.memo[key]

    def steps(self, steps: Sequence[StepAt],
              depth: int) -> int:
        """Expected events of a run of these steps at ``depth`` (an incident's plan)."""
        total = RUN_EVENTS
        over = self.max_depth is not None and depth > self.max_depth
        for step, _path in steps:
            if isinstance(step, ToolStep):
                total += STEP_EVENTS
                if over:
                    break
            else:
                target = (step.delegate, step.task)
                if target in self.graph.plans:
                    total = min(_SATURATED, total + self.node(target, depth + 1))
        return total

    def _evaluate(self, root: tuple[Node, int]) -> None:
        # An explicit stack: delegation chains in a large file go deeper than Python recursion.
        stack: list[tuple[tuple[Node, int], int, int]] = [(root, 0, RUN_EVENTS)]
        active = {root}
        plans = self.graph.plans
        while stack:
            key, index, total = stack.pop()
            (node, depth) = key
            steps = plans[node].steps
            over = self.max_depth is not None and depth > self.max_depth
            pushed = False
            while index < len(steps):
                step = steps[index][0]
                index += 1
                if isinstance(step, ToolStep):
                    total += STEP_EVENTS
                    if over:
                        index = len(steps)
                    continue
                target = (step.delegate, step.task)
                if target not in plans:
                    continue
                child = self._key(target, depth + 1)
                if child in self.memo:
                    total = min(_SATURATED, total + self.memo[child])
                    continue
                if child in active:
                    raise _Unbounded
                stack.append((key, index - 1, total))
                stack.append((child, 0, RUN_EVENTS))
                active.add(child)
                pushed = True
                break
            if not pushed:
                self.memo[key] = total
                active.discard(key)


def seconds_text(value: float) -> str:
    """A duration for a message: "0.0001s", "1h30m", "3.15e+12s"."""
    if 1 <= value < 1e9:
        return format_duration(value)
    return f"{value:g}s" if value < 1 else f"{value:.3g}s"


def number_text(value: float) -> str:
    """A count or rate for a message: "1,024", "3.2e+30", "0.0001"."""
    if value != value or value in (math.inf, -math.inf):
        return str(value)
    if abs(value) >= 1e15:
        return f"{value:.3g}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.4g}"

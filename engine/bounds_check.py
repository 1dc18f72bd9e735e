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

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from engine.bounds import (
    DEFAULT_MAX_EVENTS,
    MAX_ARRIVAL_RATE,
    MAX_CYCLE_DEPTH,
    MAX_DURATION,
    MIN_ARRIVAL_INTERVAL,
)
from engine.durations import format_duration
from engine.model import (
    DelegateStep,
    FixedArrival,
    Incident,
    PoissonArrival,
    Scenario,
    ScriptedArrival,
    Task,
    ToolStep,
)

PathT = tuple[str | int, ...]
Node = tuple[str, str]
"""An agent's task: (agent name, task id)."""
StepAt = tuple[ToolStep | DelegateStep, PathT]
"""A step of a plan, and where it is written."""

RUN_EVENTS = 4
"""Events of a task run besides its steps: started, ended, its token issued and revoked."""
STEP_EVENTS = 3
"""Events of a tool step at most, typically: its decision, and an alert or an approval
request with its resolution (the built-ins average under 1.5)."""
INCIDENT_EVENTS = 6
"""Events an incident adds besides its runs: the incident, exposures, containment."""
_SATURATED = 2 ** 62


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


@dataclass(frozen=True)
class _Edge:
    source: Node
    target: Node
    guarded: bool
    """A tool step comes before the delegation in the source's plan."""
    path: PathT


@dataclass(frozen=True)
class _Plan:
    """A node's effective steps: its task's, then any poisoned or rogue incident's plan."""

    steps: tuple[StepAt, ...]
    path: PathT


# --- scenario-wide checks ----------------------------------------------------------------------


def scenario_problems(s: Scenario) -> list[BoundProblem]:
    """Bounds any profile would cross: rates, intervals, duration, zero-time delegation loops."""
    problems: list[BoundProblem] = []
    if s.duration > MAX_DURATION:
        problems.append(BoundProblem(
            ("duration",), f"a duration of at most {format_duration(MAX_DURATION)} (the "
            "longest scenario a run simulates)", _seconds(s.duration)))
    for i, agent in enumerate(s.agents):
        for j, task in enumerate(agent.tasks):
            problems.extend(_arrival_problems(("agents", i, "tasks", j, "arrival"), task))
    for i, inc in enumerate(s.incidents):
        if inc.repeat_every is not None and inc.repeat_every < MIN_ARRIVAL_INTERVAL:
            path = ("incidents", i, "repeat_every")
            problems.append(BoundProblem(
                path, f"a repeat interval of at least {format_duration(MIN_ARRIVAL_INTERVAL)} "
                "(a faster attacker is a load test, not a rehearsal)",
                _seconds(inc.repeat_every), (path,)))
    graph = _Graph(s)
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
                           "one task from flooding a run)", _seconds(arrival.interval), (path,))
    elif isinstance(arrival, PoissonArrival):
        per_second = arrival.rate / arrival.per
        if not per_second <= MAX_ARRIVAL_RATE:
            yield BoundProblem(
                (*path, "rate"), f"at most {_number(MAX_ARRIVAL_RATE)} arrival per second "
                f"({_number(MAX_ARRIVAL_RATE * 3600)} per hour; is 'per' the unit you meant?)",
                f"rate {_number(arrival.rate)} per {_seconds(arrival.per)} = "
                f"{_number(per_second)} per second", (path,))


def _seconds(value: float) -> str:
    """A duration for a message: "0.0001s", "1h30m", "3.15e+12s"."""
    if 1 <= value < 1e9:
        return format_duration(value)
    return f"{value:g}s" if value < 1 else f"{value:.3g}s"


def _number(value: float) -> str:
    if value != value or value in (math.inf, -math.inf):
        return str(value)
    if abs(value) >= 1e15:
        return f"{value:.3g}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.4g}"


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
    graph = _Graph(s)
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
            "budget)", f"about {_number(e.events)} events{under}: {e.largest}", e.depends))
    return problems


def _profiles(ids: Sequence[str], names: Mapping[str, str]) -> str:
    shown = [f"{p} ({names.get(p, p)})" for p in ids]
    return ("profile " if len(ids) == 1 else "profiles ") + ", ".join(shown)


# --- the event estimate -------------------------------------------------------------------------


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
                    graph: _Graph | None = None) -> Estimate | None:
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
    graph = graph or _Graph(s)
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
                            f"{_number(n)} times in "
                            f"{_seconds(min(s.duration, MAX_DURATION))}, "
                            f"{_number(per_run)} events a run (the largest share)")
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
                best = (share, where, f"incident {inc.id} runs about {_number(runs)} times, "
                        f"{_number(per_run)} events a run (the largest share)")
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
        return 0, ()  # poisoning runs nothing of its own: see _Graph
    steps: tuple[StepAt, ...] = tuple((step, ("incidents", i, "plan", k))
                                      for k, step in enumerate(inc.plan))
    if not steps and inc.kind in ("credential_theft", "vendor_compromise"):
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

    def __init__(self, graph: _Graph, max_depth: int | None) -> None:
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


# --- the delegation graph ------------------------------------------------------------------------


class _Graph:
    """Who delegates to whom: agents' tasks as nodes, delegation steps as edges."""

    def __init__(self, s: Scenario) -> None:
        self.plans: dict[Node, _Plan] = {}
        extra: dict[str, list[StepAt]] = {}
        for m, inc in enumerate(s.incidents):
            if inc.kind in ("memory_poisoning", "rogue_agent"):
                extra.setdefault(inc.agent, []).extend(
                    (step, ("incidents", m, "plan", k)) for k, step in enumerate(inc.plan))
        for i, agent in enumerate(s.agents):
            for j, task in enumerate(agent.tasks):
                node = (agent.name, task.id)
                if node in self.plans:
                    continue  # a duplicate task id: a reference problem
                base = ("agents", i, "tasks", j)
                own = tuple((step, (*base, "steps", k)) for k, step in enumerate(task.steps))
                self.plans[node] = _Plan(own + tuple(extra.get(agent.name, ())), base)
        self.edges: dict[Node, list[_Edge]] = {}
        for node, plan in self.plans.items():
            guarded = False
            for step, path in plan.steps:
                if isinstance(step, ToolStep):
                    guarded = True
                    continue
                target = (step.delegate, step.task)
                if target in self.plans:
                    self.edges.setdefault(node, []).append(
                        _Edge(node, target, guarded, path))

    def _out(self, node: Node, unguarded_only: bool) -> list[_Edge]:
        return [e for e in self.edges.get(node, ()) if not (unguarded_only and e.guarded)]

    def cyclic(self, *, unguarded_only: bool) -> list[list[_Edge]]:
        """Each strongly connected set of tasks that holds a cycle: its edges, in file order."""
        out: list[list[_Edge]] = []
        for component in _components(list(self.plans), lambda n: [
                e.target for e in self._out(n, unguarded_only)]):
            members = set(component)
            inner = [e for n in component for e in self._out(n, unguarded_only)
                     if e.target in members]
            if inner:
                out.append(sorted(inner, key=lambda e: _order(e.path)))
        return sorted(out, key=lambda edges: _order(edges[0].path))

    def has_unguarded_cycle(self, edges: list[_Edge]) -> bool:
        """Whether some cycle among these edges has no tool step before any delegation."""
        members = {e.source for e in edges}
        unguarded = [e for e in edges if not e.guarded]
        return any(
            e.target in members and self._path(e.target, e.source, unguarded) is not None
            for e in unguarded)

    def cycle_text(self, edge: _Edge, *, unguarded_only: bool) -> str:
        """``a/t → b/u → a/t``: a cycle through ``edge`` (long ones shortened)."""
        edges = [e for es in self.edges.values() for e in es
                 if not (unguarded_only and e.guarded)]
        path = self._path(edge.target, edge.source, edges) or [edge.target]
        nodes = [edge.source, *path]
        if nodes[-1] != edge.source:
            nodes.append(edge.source)
        names = [f"{a}/{t}" for a, t in nodes]
        if len(names) > 6:
            names = [*names[:3], f"({len(names) - 5} more)", *names[-2:]]
        return " → ".join(names)

    def plan_paths(self, edges: list[_Edge]) -> tuple[PathT, ...]:
        """The plans (task paths) of the tasks these edges leave."""
        return tuple(dict.fromkeys(self.plans[e.source].path for e in edges))

    def _path(self, start: Node, goal: Node, edges: list[_Edge]) -> list[Node] | None:
        """Nodes from ``start`` to ``goal`` (both included) over ``edges``, or None."""
        adjacent: dict[Node, list[Node]] = {}
        for e in edges:
            adjacent.setdefault(e.source, []).append(e.target)
        previous: dict[Node, Node | None] = {start: None}
        queue = [start]
        for node in queue:
            if node == goal:
                out = [node]
                while previous[out[-1]] is not None:
                    out.append(previous[out[-1]])  # type: ignore[arg-type]
                return out[::-1]
            for nxt in adjacent.get(node, ()):
                if nxt not in previous:
                    previous[nxt] = node
                    queue.append(nxt)
        return None


def _order(path: PathT) -> tuple[tuple[int, str], ...]:
    return tuple((0, f"{p:012d}") if isinstance(p, int) else (1, p) for p in path)


def _components(nodes: list[Node], succ: Callable[[Node], list[Node]]) -> list[list[Node]]:
    """Tarjan's strongly connected components, iteratively (no recursion limit)."""
    index: dict[Node, int] = {}
    low: dict[Node, int] = {}
    on_stack: set[Node] = set()
    stack: list[Node] = []
    out: list[list[Node]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[Node, Iterator[Node]]] = []
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work.append((root, iter(succ(root))))
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(succ(child))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[Node] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(component)
    return out

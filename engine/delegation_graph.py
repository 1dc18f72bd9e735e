"""The delegation graph of a scenario: agents' tasks as nodes, delegation steps as edges.

The bounds checks (:mod:`engine.bounds_check`) and the event estimate
(:mod:`engine.event_estimate`) read it: which tasks delegate round a cycle, whether a tool step
comes before each delegation, and the plan each task runs (poisoned and rogue incidents' plans
added to their agent's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from engine.model import DelegateStep, Scenario, ToolStep

PathT = tuple[str | int, ...]
Node = tuple[str, str]
"""An agent's task: (agent name, task id)."""
StepAt = tuple[ToolStep | DelegateStep, PathT]
"""A step of a plan, and where it is written."""


@dataclass(frozen=True)
class Edge:
    """A delegation step: from the task whose plan holds it to the task it delegates to."""

    source: Node
    target: Node
    guarded: bool
    """A tool step comes before the delegation in the source's plan."""
    path: PathT


@dataclass(frozen=True)
class Plan:
    """A node's effective steps: its task's, then any poisoned or rogue incident's plan."""

    steps: tuple[StepAt, ...]
    path: PathT


class DelegationGraph:
    """Who delegates to whom: agents' tasks as nodes, delegation steps as edges."""

    def __init__(self, s: Scenario) -> None:
        self.plans: dict[Node, Plan] = {}
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
                self.plans[node] = Plan(own + tuple(extra.get(agent.name, ())), base)
        self.edges: dict[Node, list[Edge]] = {}
        for node, plan in self.plans.items():
            guarded = False
            for step, path in plan.steps:
                if isinstance(step, ToolStep):
                    guarded = True
                    continue
                target = (step.delegate, step.task)
                if target in self.plans:
                    self.edges.setdefault(node, []).append(
                        Edge(node, target, guarded, path))

    def _out(self, node: Node, unguarded_only: bool) -> list[Edge]:
        return [e for e in self.edges.get(node, ()) if not (unguarded_only and e.guarded)]

    def cyclic(self, *, unguarded_only: bool) -> list[list[Edge]]:
        """Each strongly connected set of tasks that holds a cycle: its edges, in file order."""
        out: list[list[Edge]] = []
        for component in components(list(self.plans), lambda n: [
                e.target for e in self._out(n, unguarded_only)]):
            members = set(component)
            inner = [e for n in component for e in self._out(n, unguarded_only)
                     if e.target in members]
            if inner:
                out.append(sorted(inner, key=lambda e: order(e.path)))
        return sorted(out, key=lambda edges: order(edges[0].path))

    def has_unguarded_cycle(self, edges: list[Edge]) -> bool:
        """Whether some cycle among these edges has no tool step before any delegation."""
        members = {e.source for e in edges}
        unguarded = [e for e in edges if not e.guarded]
        return any(
            e.target in members and self._path(e.target, e.source, unguarded) is not None
            for e in unguarded)

    def cycle_text(self, edge: Edge, *, unguarded_only: bool) -> str:
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

    def plan_paths(self, edges: list[Edge]) -> tuple[PathT, ...]:
        """The plans (task paths) of the tasks these edges leave."""
        return tuple(dict.fromkeys(self.plans[e.source].path for e in edges))

    def _path(self, start: Node, goal: Node, edges: list[Edge]) -> list[Node] | None:
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


def order(path: PathT) -> tuple[tuple[int, str], ...]:
    """A sort key putting scenario paths in file order (indices numerically)."""
    return tuple((0, f"{p:012d}") if isinstance(p, int) else (1, p) for p in path)


def components(nodes: list[Node], succ: Callable[[Node], list[Node]]) -> list[list[Node]]:
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

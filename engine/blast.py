"""Blast radius of a compromise: what its credentials could reach and what it actually touched.

Pure functions and small accumulators, no simulation: the simulator (or any caller) tells a
:class:`Compromise` which credential scopes the compromised principal held and which steps
it executed, and reads the figures back.

- **Reachable set** (potential): every tool a credential's scope admits, the resources those
  tools act on whose data class the scope also admits, and the records, data classes and
  systems of those resources; the union over every credential held while the compromise
  lasted, and over the agents it could delegate to (like an attack-path graph).
- **Realised set**: what executed steps touched. Records are counted per resource as the
  cumulative records read, capped at the resource's size (reading the same table twice does
  not expose more customers than it holds); records carried by steps that touch no resource
  (an email with an attachment) are counted apart as ``egress_records``. Money moved by
  executed steps that carry an ``amount`` (refunds issued, payments sent) is summed as
  ``amount``: a refund bot's blast radius is measured in money, not rows.
- **Exposure window**: from the start of the compromise until its credentials stopped
  working (expiry, revocation) or it was contained, or until now while it is still open.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from engine.identity.scope import Scope
from engine.model import DelegateStep, Scenario, Tool

WILDCARD = "*"


def _admits(patterns: frozenset[str], value: str) -> bool:
    if value in patterns or WILDCARD in patterns:
        return True
    return any(fnmatchcase(value, p) for p in patterns if any(c in p for c in "*?["))


@dataclass(frozen=True)
class Reach:
    """A set of things a principal can reach or did touch.

    Attributes:
        tools: Tool ids.
        actions: Actions of those tools (read, export, send, ...).
        resources: Resource ids.
        data_classes: Data class ids.
        systems: System ids.
        records: Records held by the resources (potential) or touched (realised).
    """

    tools: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()
    resources: frozenset[str] = frozenset()
    data_classes: frozenset[str] = frozenset()
    systems: frozenset[str] = frozenset()
    records: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible, sorted lists."""
        return {"records": self.records, "tools": sorted(self.tools),
                "actions": sorted(self.actions), "resources": sorted(self.resources),
                "data_classes": sorted(self.data_classes), "systems": sorted(self.systems)}


def scope_reach(scenario: Scenario, scopes: Iterable[Scope]) -> Reach:
    """What the union of credential scopes can reach in a scenario.

    Args:
        scenario: The estate (tools, resources, data classes, systems).
        scopes: Credential scopes; ``*`` in ``tools`` or ``data_classes`` admits everything.
    """
    tools: set[str] = set()
    actions: set[str] = set()
    resources: set[str] = set()
    scopes = tuple(scopes)
    for tool in scenario.tools:
        for scope in scopes:
            if not _admits(scope.tools, tool.id):
                continue
            tools.add(tool.id)
            actions.add(tool.action)
            for rid in tool.resources:
                res = scenario.resource(rid)
                if _admits(scope.data_classes, res.data_class):
                    resources.add(rid)
    return _reach_of(scenario, tools, actions, resources)


def _reach_of(scenario: Scenario, tools: set[str], actions: set[str],
              resources: set[str]) -> Reach:
    res = [scenario.resource(r) for r in resources]
    return Reach(frozenset(tools), frozenset(actions), frozenset(resources),
                 frozenset(r.data_class for r in res), frozenset(r.system for r in res),
                 sum(r.records for r in res))


def union(reaches: Iterable[Reach], scenario: Scenario) -> Reach:
    """The union of several reaches (records re-summed over distinct resources)."""
    tools: set[str] = set()
    actions: set[str] = set()
    resources: set[str] = set()
    for r in reaches:
        tools |= r.tools
        actions |= r.actions
        resources |= r.resources
    return _reach_of(scenario, tools, actions, resources)


def delegates_of(scenario: Scenario, agent: str) -> tuple[str, ...]:
    """Agents ``agent`` can hand work to, directly or through them, in delegation order."""
    seen: dict[str, None] = {}
    frontier = [agent]
    while frontier:
        current = frontier.pop(0)
        for task in scenario.agent(current).tasks:
            for step in task.steps:
                if isinstance(step, DelegateStep) and step.delegate != agent \
                        and step.delegate not in seen:
                    seen[step.delegate] = None
                    frontier.append(step.delegate)
    return tuple(seen)


class Realised:
    """Accumulates what executed steps touched (see the module docstring for counting)."""

    __slots__ = ("_by_resource", "_scenario", "actions", "amount", "data_classes",
                 "egress_records", "resources", "steps", "systems", "tools")

    def __init__(self, scenario: Scenario) -> None:
        self._scenario = scenario
        self._by_resource: dict[str, int] = {}
        self.tools: set[str] = set()
        self.actions: set[str] = set()
        self.resources: set[str] = set()
        self.data_classes: set[str] = set()
        self.systems: set[str] = set()
        self.egress_records = 0
        self.amount: float = 0
        self.steps = 0

    def add(self, tool: Tool, resource: str | None, records: int,
            destination: str | None = None, amount: float | None = None) -> None:
        """Record one executed step.

        Args:
            tool: The tool called.
            resource: The resource it touched, if any.
            records: Records the step read or carried.
            destination: ``external`` when the step sent data outside.
            amount: Money the step moved (a refund, a payment), if any.
        """
        self.steps += 1
        if amount:
            self.amount += amount
        self.tools.add(tool.id)
        self.actions.add(tool.action)
        if resource is not None:
            res = self._scenario.resource(resource)
            self.resources.add(resource)
            self.data_classes.add(res.data_class)
            self.systems.add(res.system)
            self._by_resource[resource] = self._by_resource.get(resource, 0) + records
        elif destination == "external" or tool.egress == "external":
            self.egress_records += records

    @property
    def records(self) -> int:
        """Records touched: per resource the cumulative count, capped at its size."""
        scenario = self._scenario
        return sum(min(n, scenario.resource(r).records) for r, n in self._by_resource.items())

    def reach(self) -> Reach:
        """A frozen copy of the realised set."""
        return Reach(frozenset(self.tools), frozenset(self.actions),
                     frozenset(self.resources), frozenset(self.data_classes),
                     frozenset(self.systems), self.records)


@dataclass
class Compromise:
    """One compromised principal (or attacker) from ``start``: reach, realised set, exposure.

    Attributes:
        id: The incident id.
        kind: The incident kind.
        principal: The agent whose identity is abused.
        start: When the compromise began (simulated seconds).
        detected: When the first alert about it fired (None: never).
        contained: When it was contained (None: not yet).
        how: How it was contained or ended (quarantine, revoked, expired, blocked, ...).
        exposure_end: When its credentials stopped being usable by the attacker (None: open).
    """

    id: str
    kind: str
    principal: str
    start: float
    scenario: Scenario
    detected: float | None = None
    contained: float | None = None
    how: str | None = None
    exposure_end: float | None = None
    credentials: dict[str, Reach] = field(default_factory=dict)
    realised: Realised = field(init=False)

    def __post_init__(self) -> None:
        self.realised = Realised(self.scenario)

    def add_credential(self, key: str, scope: Scope) -> None:
        """A credential (by jti or name) the compromise holds; widens the reachable set."""
        if key not in self.credentials:
            self.credentials[key] = scope_reach(self.scenario, (scope,))

    def potential(self) -> Reach:
        """Everything the credentials it held could reach."""
        return union(self.credentials.values(), self.scenario)

    def end_exposure(self, at: float, how: str) -> None:
        """Its credentials stopped being usable at ``at`` (first call wins)."""
        if self.exposure_end is None:
            self.exposure_end = max(at, self.start)
            if self.how is None:
                self.how = how

    def contain(self, at: float, how: str) -> None:
        """The compromise was contained at ``at`` (first call wins); exposure ends too."""
        if self.contained is None:
            self.contained = max(at, self.start)
            self.how = how
        self.end_exposure(at, how)

    def detect(self, at: float) -> None:
        """The first alert about this compromise fired at ``at``."""
        if self.detected is None:
            self.detected = max(at, self.start)

    @property
    def open(self) -> bool:
        """True while the exposure has not ended."""
        return self.exposure_end is None

    def exposure_window(self, now: float) -> float:
        """Seconds of exposure so far (up to ``now`` while open)."""
        end = self.exposure_end if self.exposure_end is not None else now
        return max(0.0, end - self.start)

    @property
    def time_to_detect(self) -> float | None:
        """Seconds from start to the first alert (None: never detected)."""
        return None if self.detected is None else self.detected - self.start

    @property
    def time_to_contain(self) -> float | None:
        """Seconds from start to containment (None: never contained)."""
        return None if self.contained is None else self.contained - self.start

    def summary(self, now: float) -> dict[str, Any]:
        """JSON-compatible figures for reports (see ``RunResult`` for the shape)."""
        realised = self.realised
        potential = self.potential()
        return {
            "id": self.id,
            "kind": self.kind,
            "agent": self.principal,
            "start": self.start,
            "detected_at": self.detected,
            "contained_at": self.contained,
            "time_to_detect": self.time_to_detect,
            "time_to_contain": self.time_to_contain,
            "how": self.how,
            "open": self.open,
            "exposure_window": self.exposure_window(now),
            "blast_radius": {
                "records": realised.records,
                "egress_records": realised.egress_records,
                "amount": realised.amount,
                "steps": realised.steps,
                "data_classes": sorted(realised.data_classes),
                "systems": sorted(realised.systems),
                "actions": sorted(realised.actions),
                "tools": sorted(realised.tools),
                "potential_records": potential.records,
                "potential_data_classes": sorted(potential.data_classes),
                "potential_systems": sorted(potential.systems),
                "potential_tools": sorted(potential.tools),
            },
        }


def totals(compromises: Iterable[Compromise], now: float) -> dict[str, Any]:
    """Blast radius summed over compromises: records summed, classes and systems as unions.

    Returns a mapping with ``records``, ``egress_records``, ``amount`` (money moved),
    ``data_classes`` and ``systems`` (counts), ``potential_records``, ``exposure_window``
    (the longest, seconds) and the name lists ``data_class_names`` / ``system_names``.
    """
    items = list(compromises)
    classes: set[str] = set()
    systems: set[str] = set()
    records = egress = potential = 0
    amount: float = 0
    window = 0.0
    for c in items:
        classes |= c.realised.data_classes
        systems |= c.realised.systems
        records += c.realised.records
        egress += c.realised.egress_records
        amount += c.realised.amount
        potential += c.potential().records
        window = max(window, c.exposure_window(now))
    return {"records": records, "egress_records": egress, "amount": amount,
            "data_classes": len(classes),
            "systems": len(systems), "potential_records": potential,
            "exposure_window": window if items else 0.0,
            "data_class_names": sorted(classes), "system_names": sorted(systems)}

"""Blast radius of a compromise: what its credentials could reach and what it actually touched.

Pure functions and small accumulators, no simulation. An :class:`Estate` is what the figures
need to know of a scenario (each tool's action and egress, each resource's size, data class
and system); the simulator puts it in its ``run_started`` event, so the figures fold from the
event stream alone. A :class:`Compromise` is told which reaches the compromised principal
held and which steps it executed, and reads the figures back.

- **Reachable set** (potential): every tool a credential's scope admits, the resources those
  tools act on whose data class the scope also admits, and the records, data classes and
  systems of those resources; the union over every credential held while the compromise
  lasted, and over the agents it could delegate to (like an attack-path graph).
- **Realised set**: what executed steps touched. Records are counted per resource as the
  cumulative records read, capped at the resource's size (reading the same table twice does
  not expose more customers than it holds); records carried by messages that touch no
  resource (an email with an attachment, a message to another agent) are counted apart as
  ``egress_records``, whether they leave the estate or go to someone inside it. Money moved by
  executed steps that carry an ``amount`` (refunds issued, payments sent) is summed as
  ``amount``: a refund bot's blast radius is measured in money, not rows.
- **Exposure window**: from the start of the compromise until its credentials stopped
  working (expiry, revocation) or it was contained, or until now while it is still open.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, NamedTuple

from engine.identity.scope import Scope
from engine.model import DelegateStep, Scenario

WILDCARD = "*"


class ToolFacts(NamedTuple):
    """What blast figures need of a tool."""

    action: str
    egress: str


class ResourceFacts(NamedTuple):
    """What blast figures need of a resource."""

    records: int
    data_class: str
    system: str


@dataclass(frozen=True)
class Estate:
    """A scenario's tools and resources, as far as blast figures need them.

    Attributes:
        tools: Tool id -> action and egress.
        resources: Resource id -> size (records), data class and system.
        reach_of: Tool id -> the resources it acts on.
    """

    tools: Mapping[str, ToolFacts]
    resources: Mapping[str, ResourceFacts]
    reach_of: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, scenario: Scenario) -> Estate:
        """The estate of a scenario."""
        return cls({t.id: ToolFacts(t.action, t.egress) for t in scenario.tools},
                   {r.id: ResourceFacts(r.records, r.data_class, r.system)
                    for r in scenario.resources},
                   {t.id: tuple(t.resources) for t in scenario.tools})

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (as the ``run_started`` event carries it)."""
        return {"tools": {k: {"action": v.action, "egress": v.egress, "resources":
                              list(self.reach_of.get(k, ()))}
                          for k, v in self.tools.items()},
                "resources": {k: {"records": v.records, "data_class": v.data_class,
                                  "system": v.system} for k, v in self.resources.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Estate:
        """The estate :meth:`to_dict` wrote.

        Raises:
            KeyError, TypeError, ValueError: for a mapping of another shape.
        """
        tools = data["tools"]
        resources = data["resources"]
        return cls({k: ToolFacts(str(v["action"]), str(v["egress"])) for k, v in tools.items()},
                   {k: ResourceFacts(int(v["records"]), str(v["data_class"]), str(v["system"]))
                    for k, v in resources.items()},
                   {k: tuple(v.get("resources", ())) for k, v in tools.items()})

    def reach(self, tools: Iterable[str], resources: Iterable[str]) -> Reach:
        """The reach of a set of tools and resources (records summed over distinct ones)."""
        tool_set = frozenset(tools)
        res_set = frozenset(resources)
        facts = [self.resources[r] for r in res_set]
        return Reach(tool_set, frozenset(self.tools[t].action for t in tool_set),
                     res_set, frozenset(f.data_class for f in facts),
                     frozenset(f.system for f in facts), sum(f.records for f in facts))


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


def scope_reach(estate: Estate, scopes: Iterable[Scope]) -> Reach:
    """What the union of credential scopes can reach in an estate.

    Args:
        estate: The tools and resources (see :meth:`Estate.of`).
        scopes: Credential scopes; ``*`` in ``tools`` or ``data_classes`` admits everything.
    """
    tools: set[str] = set()
    resources: set[str] = set()
    scopes = tuple(scopes)
    for tool in estate.tools:
        for scope in scopes:
            if not _admits(scope.tools, tool):
                continue
            tools.add(tool)
            for rid in estate.reach_of.get(tool, ()):
                if _admits(scope.data_classes, estate.resources[rid].data_class):
                    resources.add(rid)
    return estate.reach(tools, resources)


def union(reaches: Iterable[Reach], estate: Estate) -> Reach:
    """The union of several reaches (records re-summed over distinct resources)."""
    tools: set[str] = set()
    resources: set[str] = set()
    for r in reaches:
        tools |= r.tools
        resources |= r.resources
    return estate.reach(tools, resources)


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

    __slots__ = ("_by_resource", "_estate", "actions", "amount", "data_classes",
                 "egress_records", "resources", "steps", "systems", "tools")

    def __init__(self, estate: Estate) -> None:
        self._estate = estate
        self._by_resource: dict[str, int] = {}
        self.tools: set[str] = set()
        self.actions: set[str] = set()
        self.resources: set[str] = set()
        self.data_classes: set[str] = set()
        self.systems: set[str] = set()
        self.egress_records = 0
        self.amount: float = 0
        self.steps = 0

    def add(self, tool: str, resource: str | None, records: int,
            destination: str | None = None, amount: float | None = None) -> None:
        """Record one executed step.

        Args:
            tool: The id of the tool called.
            resource: The resource it touched, if any.
            records: Records the step read or carried.
            destination: ``external`` when the step sent data outside.
            amount: Money the step moved (a refund, a payment), if any.
        """
        self.steps += 1
        if amount:
            self.amount += amount
        facts = self._estate.tools[tool]
        self.tools.add(tool)
        self.actions.add(facts.action)
        if resource is not None:
            res = self._estate.resources[resource]
            self.resources.add(resource)
            self.data_classes.add(res.data_class)
            self.systems.add(res.system)
            self._by_resource[resource] = self._by_resource.get(resource, 0) + records
        elif destination is not None or facts.egress != "none":
            # A message carries its records away: out of the estate, or to another agent or
            # person inside it, who now holds them too.
            self.egress_records += records

    @property
    def records(self) -> int:
        """Records touched: per resource the cumulative count, capped at its size."""
        sizes = self._estate.resources
        return sum(min(n, sizes[r].records) for r, n in self._by_resource.items())

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
        estate: The tools and resources figures are counted against.
        detected: When the first alert about it fired (None: never).
        contained: When it was contained (None: not yet).
        how: How it was contained or ended (quarantine, revoked, expired, blocked, ...).
        exposure_end: When its credentials stopped being usable by the attacker (None: open).
        credentials: Credential (jti or name) -> what it reaches.
    """

    id: str
    kind: str
    principal: str
    start: float
    estate: Estate
    detected: float | None = None
    contained: float | None = None
    how: str | None = None
    exposure_end: float | None = None
    credentials: dict[str, Reach] = field(default_factory=dict)
    realised: Realised = field(init=False)

    def __post_init__(self) -> None:
        self.realised = Realised(self.estate)

    def add_reach(self, key: str, reach: Reach) -> None:
        """A credential (by jti or name) the compromise holds; widens the reachable set."""
        self.credentials.setdefault(key, reach)

    def potential(self) -> Reach:
        """Everything the credentials it held could reach."""
        return union(self.credentials.values(), self.estate)

    def contain(self, at: float, how: str) -> None:
        """The compromise was contained at ``at`` (first call wins); exposure ends too."""
        if self.contained is None:
            self.contained = max(at, self.start)
            self.how = how
        if self.exposure_end is None:
            self.exposure_end = max(at, self.start)

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

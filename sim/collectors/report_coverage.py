"""Framework coverage of a scenario set: which items its scenarios rehearse, and where.

A scenario references a framework item in its own ``frameworks`` list, on an incident (its
own list, else its kind's mapping, :data:`engine.framework_mappings.INCIDENT_KIND_REFS`) and on the
rules and sequences of its profiles' policies. An item is *rehearsed* by a scenario when an
incident of it references the item (the risk happens in the run), *mapped* when only the
scenario or a rule does. :func:`coverage` lists every item of the chosen frameworks (by
default the OWASP Agentic Top 10 and the OWASP NHI Top 10) with the scenarios of each;
``agentrange report --coverage`` renders it (:mod:`tui.render.report`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from engine import framework_mappings as fwm
from engine import frameworks as fw
from engine.model import Scenario
from engine.policy.loading import load_profile_policy

DEFAULT_FRAMEWORKS: tuple[str, ...] = (fw.ASI, fw.NHI)
"""The frameworks a coverage report lists item by item unless told otherwise."""


@dataclass(frozen=True, slots=True)
class CoverageItem:
    """One framework item and the scenarios that reference it.

    Attributes:
        id: Canonical id (``ASI05``, ``NHI1:2025``).
        framework: The framework's name.
        name: The item's short name.
        rehearsed: Scenarios in which an incident references it, sorted.
        mapped: Scenarios that reference it only in their own list or a rule, sorted.
        where: Scenario -> the places that reference it (``scenario``, ``incident X``,
            ``rule Y (policy P)``), in a stable order.
    """

    id: str
    framework: str
    name: str
    rehearsed: tuple[str, ...]
    mapped: tuple[str, ...]
    where: Mapping[str, tuple[str, ...]]

    @property
    def covered(self) -> bool:
        """Some scenario references the item."""
        return bool(self.rehearsed or self.mapped)


@dataclass(frozen=True, slots=True)
class FrameworkCoverage:
    """The coverage of a scenario set.

    Attributes:
        scenarios: The scenarios read, by name, sorted.
        frameworks: The frameworks listed item by item.
        items: One entry per item of those frameworks, in catalogue order.
    """

    scenarios: tuple[str, ...]
    frameworks: tuple[str, ...]
    items: tuple[CoverageItem, ...]

    @property
    def uncovered(self) -> tuple[str, ...]:
        """Ids of the items no scenario references."""
        return tuple(i.id for i in self.items if not i.covered)

    def to_dict(self) -> dict[str, Any]:
        """JSON data (documented in docs/report.md)."""
        return {"format": "agentrange-coverage", "scenarios": list(self.scenarios),
                "frameworks": list(self.frameworks),
                "covered": sum(1 for i in self.items if i.covered),
                "total": len(self.items), "uncovered": list(self.uncovered),
                "items": [{"id": i.id, "framework": i.framework, "name": i.name,
                           "rehearsed": list(i.rehearsed), "mapped": list(i.mapped),
                           "where": {k: list(v) for k, v in i.where.items()}}
                          for i in self.items]}


def references(scenario: Scenario) -> dict[str, list[str]]:
    """Canonical item id -> where the scenario references it (see the module docstring).

    Raises:
        LoadError: when a profile's policy file cannot be loaded.
    """
    found: dict[str, list[str]] = {}

    def add(ids: Iterable[str], where: str) -> None:
        for ref in fw.sort_refs(ids):
            places = found.setdefault(ref, [])
            if where not in places:
                places.append(where)

    add(scenario.frameworks, "scenario")
    for incident in scenario.incidents:
        mapping = fwm.INCIDENT_KIND_REFS.get(incident.kind)
        own = incident.frameworks or (mapping.refs if mapping is not None else ())
        add(own, f"incident {incident.id}")
    seen: set[str] = set()
    for profile in scenario.profiles:
        if profile.policy in seen:
            continue
        seen.add(profile.policy)
        policy = load_profile_policy(scenario, profile.id)
        for rule_id, facts in policy.facts.items():
            add(facts.canonical_frameworks, f"rule {rule_id} (policy {policy.name})")
    return found


def coverage(scenarios: Iterable[Scenario],
             frameworks: Iterable[str] = DEFAULT_FRAMEWORKS) -> FrameworkCoverage:
    """Which items of ``frameworks`` the scenarios reference, and where.

    Raises:
        LoadError: when a profile's policy file cannot be loaded.
    """
    chosen = tuple(frameworks)
    by_scenario = {s.name: references(s) for s in scenarios}
    items = []
    for ref in fw.CATALOGUE.values():
        if ref.framework not in chosen:
            continue
        where = {name: tuple(found[ref.id]) for name, found in sorted(by_scenario.items())
                 if ref.id in found}
        rehearsed = tuple(n for n, places in where.items()
                          if any(p.startswith("incident ") for p in places))
        mapped = tuple(n for n in where if n not in rehearsed)
        items.append(CoverageItem(ref.id, ref.framework, ref.name, rehearsed, mapped, where))
    return FrameworkCoverage(tuple(sorted(by_scenario)), chosen, tuple(items))

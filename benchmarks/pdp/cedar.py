"""Cedar's side (cedarpy): one permit/forbid per rule, entities, and batch authorisation.

Policies and entities are parsed once; requests carry their context pre-serialised to JSON,
cedarpy's cheapest input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from benchmarks.pdp.estate import PREFIXES, RESOURCES, ROLES, TOOLS, sensitivity
from benchmarks.pdp.reference import ALLOW, DENY, NO_MATCH
from benchmarks.pdp.workload import Workload


def _cedar_principal(p: str) -> tuple[str, list[str]]:
    if p == "*":
        return "principal", []
    kind, _, value = p.partition(":")
    if kind == "role":
        return f'principal in Role::"{value}"', []
    if kind == "agent":
        return f'principal == Agent::"{value}"', []
    return "principal", [f'principal.kind == "{value}"']


def cedar_policy_text(w: Workload) -> str:
    """One permit/forbid per rule, in rule order (Cedar names them ``policy0`` ...).

    The rule id is a comment above each policy; results map back to rules by that position.
    """
    out = []
    for r in w.rules:
        scope_p, conds = _cedar_principal(r.principal)
        if r.tool == "*":
            scope_a = "action"
        elif r.tool.endswith(".*"):
            scope_a = f'action in Action::"{r.tool}"'
        else:
            scope_a = f'action == Action::"{r.tool}"'
        if r.data_class != "*":
            conds.append(f'resource.data_class == "{r.data_class}"')
        if r.records_gt is not None:
            conds.append(f"context.records > {r.records_gt}")
        if r.records_lte is not None:
            conds.append(f"context.records <= {r.records_lte}")
        if r.sens_gte is not None:
            conds.append(f"resource.sensitivity >= {r.sens_gte}")
        if r.sens_lte is not None:
            conds.append(f"resource.sensitivity <= {r.sens_lte}")
        if r.destination is not None:
            conds.append(f'context.destination == "{r.destination}"')
        if r.hours is not None:
            lo, hi = r.hours
            if lo <= hi:
                conds.append(f"context.hour >= {lo} && context.hour < {hi}")
            else:
                conds.append(f"(context.hour >= {lo} || context.hour < {hi})")
        if r.lacks_role is not None:
            conds.append(f'!(principal in Role::"{r.lacks_role}")')
        head = "permit" if r.effect == "allow" else "forbid"
        when = f"\nwhen {{ {' && '.join(conds)} }}" if conds else ""
        # A comment, not an @id annotation: annotations cost cedarpy time in every response.
        out.append(f"// {r.id}\n{head} ({scope_p}, {scope_a}, resource){when};")
    return "\n\n".join(out)


def cedar_entities(w: Workload) -> list[dict[str, Any]]:
    """Agents (kind; parents: their roles), roles, resources, tools and tool groups."""
    ents: list[dict[str, Any]] = [
        {"uid": {"type": "Role", "id": role}, "attrs": {}, "parents": []} for role in ROLES]
    for a in w.agents:
        ents.append({"uid": {"type": "Agent", "id": a.name}, "attrs": {"kind": a.kind},
                     "parents": [{"type": "Role", "id": r} for r in a.roles]})
    for r in RESOURCES:
        ents.append({"uid": {"type": "Resource", "id": r.id},
                     "attrs": {"data_class": r.data_class, "records": r.records,
                               "sensitivity": sensitivity(r.id)},
                     "parents": []})
    for p in PREFIXES:
        ents.append({"uid": {"type": "Action", "id": f"{p}.*"}, "attrs": {}, "parents": []})
    for t in TOOLS:
        group = {"type": "Action", "id": t.id.split(".")[0] + ".*"}
        ents.append({"uid": {"type": "Action", "id": t.id}, "attrs": {}, "parents": [group]})
    return ents


def cedar_requests(w: Workload) -> list[dict[str, Any]]:
    """Cedar requests with the context already serialised (cedarpy's cheapest input)."""
    return [{"principal": f'Agent::"{c.agent}"', "action": f'Action::"{c.tool}"',
             "resource": f'Resource::"{c.resource}"',
             "context": json.dumps({"records": c.records, "destination": c.destination,
                                    "hour": c.hour})}
            for c in w.calls]


@dataclass
class CedarSetup:
    """Policies and entities parsed once, and the prepared requests."""

    policies: Any
    entities: Any
    requests: list[dict[str, Any]]


def cedar_setup(w: Workload) -> CedarSetup:
    """Parse the Cedar policies and entities once (reused by every batch)."""
    import cedarpy

    policies = cedarpy.PolicySet.from_str(cedar_policy_text(w))
    entities = cedarpy.Entities.from_json_str(json.dumps(cedar_entities(w)))
    return CedarSetup(policies, entities, cedar_requests(w))


def run_cedar(setup: CedarSetup) -> list[Any]:
    """Decide every request with one ``is_authorized_batch`` call."""
    import cedarpy

    return cedarpy.is_authorized_batch(setup.requests, setup.policies, setup.entities)


def cedar_outcome(w: Workload, result: Any) -> tuple[str, frozenset[str]]:
    """Outcome and deciding rules of a Cedar result, in the reference's terms."""
    if result.diagnostics.errors:
        return f"error:{result.diagnostics.errors}", frozenset()
    ids = frozenset(w.rules[int(p.removeprefix("policy"))].id
                    for p in result.diagnostics.reasons)
    if result.allowed:
        return ALLOW, ids
    return (DENY if ids else NO_MATCH), ids

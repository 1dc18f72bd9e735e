"""The scenario's Cedar entities: agents, roles, tools, resources, systems, data classes, actions.

Built from the same read-only views the native engine reads (``principal_attributes``,
``tool_attributes``, ``resource_attributes``), so an entity's attributes are the namespace a
native condition would see for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.cedar.schema import (
    AGENT,
    DATA_CLASS,
    FIXED,
    RESOURCE,
    ROLE,
    SYSTEM,
    TOOL,
    Model,
)
from engine.cedar.values import value_json
from engine.policy.request import principal_attributes, resource_attributes, tool_attributes


def uid(kind: str, eid: str) -> dict[str, str]:
    """An entity uid in Cedar's JSON form."""
    return {"type": kind, "id": eid}


def _attrs(holder: str, view: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for slot in FIXED.values():
        if slot.holder != holder or slot.path == "action":
            continue
        value = view.get(slot.attr)
        if value is not None:
            out[slot.attr] = value_json(slot, value)
    return out


def principal_entity(view: Mapping[str, Any]) -> dict[str, Any]:
    """The Agent entity of a principal namespace (its roles are its parents)."""
    attrs = _attrs("principal", view)
    owners = view.get("owners") or {}
    attrs["owners"] = _attrs("principal.owners", owners)
    roles = view.get("roles") or ()
    return {"uid": uid(AGENT, str(view.get("id"))), "attrs": attrs,
            "parents": [uid(ROLE, r) for r in sorted(set(roles))]}


def tool_entity(view: Mapping[str, Any]) -> dict[str, Any]:
    """The Tool entity of a tool namespace."""
    return {"uid": uid(TOOL, str(view.get("id"))), "attrs": _attrs("context.tool", view),
            "parents": []}


def resource_entity(view: Mapping[str, Any]) -> dict[str, Any]:
    """The Resource entity of a resource namespace (a member of its system and data class)."""
    return {"uid": uid(RESOURCE, str(view.get("id"))), "attrs": _attrs("resource", view),
            "parents": [uid(SYSTEM, str(view.get("system"))),
                        uid(DATA_CLASS, str(view.get("data_class")))]}


def entities_json(model: Model) -> list[dict[str, Any]]:
    """Every entity of the scenario, in a stable order (the ``entities.json`` file)."""
    sc = model.scenario
    out: list[dict[str, Any]] = []
    out += [{"uid": uid(ROLE, r.id), "attrs": {}, "parents": []} for r in sc.roles]
    out += [principal_entity(principal_attributes(sc, a)) for a in sc.agents]
    out += [{"uid": uid(SYSTEM, s.id), "attrs": {}, "parents": []} for s in sc.systems]
    out += [{"uid": uid(DATA_CLASS, d.id), "attrs": {"sensitivity": d.sensitivity},
             "parents": []} for d in sc.data_classes]
    out += [resource_entity(resource_attributes(sc, r)) for r in sc.resources]
    out += [tool_entity(tool_attributes(t)) for t in sc.tools]
    out += [{"uid": uid("Action", verb), "attrs": {}, "parents": []} for verb in model.verbs()]
    out += [{"uid": uid("Action", t.id), "attrs": {}, "parents": [uid("Action", t.action)]}
            for t in sc.tools]
    return out

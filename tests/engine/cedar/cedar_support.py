"""Helpers for the Cedar tests: a small scenario, engines from policy data, request builders.

The scenario is the policy tests' estate plus tasks whose steps set free attributes, so that
``request.attributes.x`` (whole numbers) and ``request.attributes.label`` (strings) have one
Cedar type each.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from engine.cedar.engine import CedarEngine
from engine.cedar.export import CedarExport, export_document
from engine.loader import as_tuples
from engine.model import Scenario
from engine.policy import (
    PolicyEngine,
    Request,
    chain_attributes,
    compile_policy,
    principal_attributes,
    resource_attributes,
    step_attributes,
    time_attributes,
    tool_attributes,
)
from engine.policy.model import PolicyDocument

SCENARIO: dict[str, Any] = {
    "name": "cedar-test",
    "trust_domain": "acme.example",
    "duration": 3600,
    "owners": [{"id": i, "name": i} for i in ("biz1", "biz2", "sec1", "sec2", "dpo")],
    "data_classes": [
        {"id": "pii", "sensitivity": "restricted"},
        {"id": "ticket", "sensitivity": "confidential"},
        {"id": "kb", "sensitivity": "public"},
        {"id": "creds", "sensitivity": "restricted"},
    ],
    "systems": [{"id": "crm"}, {"id": "helpdesk"}, {"id": "vault"}, {"id": "kb"}],
    "resources": [
        {"id": "crm.customers", "system": "crm", "data_class": "pii", "records": 1000},
        {"id": "helpdesk.tickets", "system": "helpdesk", "data_class": "ticket", "records": 50},
        {"id": "kb.articles", "system": "kb", "data_class": "kb", "records": 10},
        {"id": "vault.keys", "system": "vault", "data_class": "creds", "records": 5},
    ],
    "tools": [
        {"id": "crm.lookup", "action": "read", "resources": ["crm.customers"], "risk": "medium"},
        {"id": "crm.export", "action": "export", "resources": ["crm.customers"],
         "risk": "critical"},
        {"id": "helpdesk.read", "action": "read", "resources": ["helpdesk.tickets"]},
        {"id": "kb.search", "action": "read", "resources": ["kb.articles"]},
        {"id": "vault.read", "action": "read", "resources": ["vault.keys"], "risk": "high"},
        {"id": "email.send", "action": "send", "egress": "external", "risk": "high"},
        {"id": "http.post", "action": "send", "egress": "external", "risk": "high"},
        {"id": "ticket.update", "action": "write", "resources": ["helpdesk.tickets"]},
    ],
    "roles": [
        {"id": "support", "tools": ["crm.*", "helpdesk.read", "email.send"]},
        {"id": "ops", "tools": ["*"]},
        {"id": "reader", "tools": ["kb.search"]},
    ],
    "vendors": [{"id": "v1", "name": "Vendor One", "trust_domain": "vendor.example"}],
    "agents": [
        {"name": "support-bot", "kind": "customer_facing", "roles": ["support"],
         "owners": {"business": "biz1", "security": "sec1", "incident": "sec1"},
         "tasks": [{"id": "t1", "steps": [
             {"tool": "crm.lookup", "attributes": {"x": 1, "label": "a"}},
             {"tool": "email.send", "attributes": {"x": 2}}]}]},
        {"name": "ops-bot", "kind": "delegated_admin", "roles": ["ops"],
         "owners": {"business": "biz2", "security": "sec2"}},
        {"name": "reader-bot", "kind": "internal", "roles": ["reader"],
         "owners": {"business": "biz1", "security": "sec2"}},
        {"name": "vendor-bot", "kind": "vendor_hosted", "vendor": "v1",
         "roles": ["support", "reader"], "owners": {"business": "biz2", "security": "sec1"}},
        {"name": "planner", "kind": "internal"},
    ],
    "profiles": [{"id": "p", "credentials": {"mode": "jit", "ttl": 600}, "policy": "p.yaml"}],
}

AGENTS = ("support-bot", "ops-bot", "reader-bot", "vendor-bot", "planner")
TOOLS = ("crm.lookup", "crm.export", "helpdesk.read", "kb.search", "vault.read", "email.send",
         "http.post", "ticket.update")
SCENARIO_MODEL = Scenario.model_validate(as_tuples(SCENARIO))

TOKEN = {"valid": True, "reason": "ok", "mode": "jit", "ttl_remaining": 300.0, "age": 10.0,
         "scope": ("tool:*",), "sender_constrained": True, "chain_depth": 0}

_VIEWS: dict[tuple[str, str], Mapping[str, Any]] = {}


def _view(kind: str, name: str) -> Mapping[str, Any]:
    # One read-only view per agent, tool and resource, as the simulator keeps them.
    key = (kind, name)
    if key not in _VIEWS:
        sc = SCENARIO_MODEL
        _VIEWS[key] = {"principal": lambda: principal_attributes(sc, name),
                       "tool": lambda: tool_attributes(sc.tool(name)),
                       "resource": lambda: resource_attributes(sc, name)}[kind]()
    return _VIEWS[key]


def scenario_with(**changes: Any) -> Scenario:
    """The test scenario with top-level keys replaced."""
    data = copy.deepcopy(SCENARIO)
    data.update(changes)
    return Scenario.model_validate(as_tuples(data))


def make_request(agent: str = "support-bot", tool: str = "crm.lookup", *,
                 resource: bool = True, records: int = 1, amount: Any = None,
                 destination: Any = None, recipient: Any = None,
                 attributes: Mapping[str, Any] | None = None, now: float = 0.0,
                 session: str = "run-1", task: str = "task-a", approved: bool = True,
                 chain: Sequence[str] | None = None, chain_id: str | None = None,
                 token: Mapping[str, Any] | None = None, ref: Any = None,
                 step: int = 1) -> Request:
    """A request as the simulator builds it (resource True: the tool's first resource)."""
    t = SCENARIO_MODEL.tool(tool)
    rid = t.resources[0] if resource and t.resources else None
    actors = tuple(chain) if chain is not None else (agent,)
    return Request(
        principal=_view("principal", agent), action=t.action, tool=_view("tool", tool),
        token=dict(TOKEN) if token is None else token,
        resource=None if rid is None else _view("resource", rid),
        request=step_attributes(records, amount, destination, recipient, attributes or {}),
        task={"id": task, "intent": "", "approved": approved, "step": step, "run": session},
        session={"id": session}, chain=chain_attributes(chain_id or session, actors),
        time=time_attributes(now), ref=ref)


def document(data: Mapping[str, Any]) -> PolicyDocument:
    """A policy document from plain data (as YAML would give it)."""
    return PolicyDocument.model_validate(as_tuples(dict(data)))


def export(data: Mapping[str, Any], scenario: Scenario = SCENARIO_MODEL) -> CedarExport:
    """The Cedar export of a policy given as data (compiled first, as a run would)."""
    doc = document(data)
    compile_policy(doc, scenario)
    return export_document(doc, scenario, source="test.yaml")


def engines(data: Mapping[str, Any], scenario: Scenario = SCENARIO_MODEL
            ) -> tuple[PolicyEngine, CedarEngine]:
    """The native engine and the Cedar engine of one policy given as data."""
    doc = document(data)
    compiled = compile_policy(doc, scenario)
    ex = export_document(doc, scenario, source="test.yaml")
    return (PolicyEngine(compiled),
            CedarEngine(compile_policy(doc, scenario), ex.policies, ex.model, ex.entities))


def policy(*rules: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """A policy document with these rules (legal owner dpo)."""
    return {"policy": "test", "legal_owner": "dpo", "rules": list(rules), **extra}

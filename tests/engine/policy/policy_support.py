"""Helpers for the policy engine tests: a small scenario, policies from text, request builders."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.loader import as_tuples
from engine.model import Scenario
from engine.policy import (
    CompiledPolicy,
    Request,
    chain_attributes,
    compile_policy,
    load_policy,
    principal_attributes,
    resource_attributes,
    step_attributes,
    time_attributes,
    tool_attributes,
)
from engine.policy.model import PolicyDocument

FIXTURES = Path(__file__).parent / "fixtures"

SCENARIO: dict[str, Any] = {
    "name": "policy-test",
    "trust_domain": "acme.example",
    "duration": 3600,
    "owners": [
        {"id": "biz1", "name": "Business One"},
        {"id": "biz2", "name": "Business Two"},
        {"id": "sec1", "name": "Security One"},
        {"id": "sec2", "name": "Security Two"},
        {"id": "dpo", "name": "Data Protection Officer"},
    ],
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
         "owners": {"business": "biz1", "security": "sec1", "incident": "sec1"}},
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


def policy_from_text(text: str, scenario: Scenario, tmp_path: Path,
                     name: str = "policy.yaml") -> CompiledPolicy:
    """Write YAML text (dedented) to a file and load it through the real loader."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return load_policy(path, scenario)


def policy_from_data(data: Mapping[str, Any], scenario: Scenario) -> CompiledPolicy:
    """Compile a policy given as plain data (as YAML would produce it)."""
    return compile_policy(PolicyDocument.model_validate(as_tuples(dict(data))), scenario)


_TOKEN = {"valid": True, "reason": "ok", "mode": "jit", "ttl_remaining": 300.0, "age": 10.0,
          "scope": ("tool:*",), "sender_constrained": True, "chain_depth": 0}


_VIEWS: dict[tuple[int, str, str], Mapping[str, Any]] = {}


def _view(key: tuple[int, str, str], build: Callable[[], Mapping[str, Any]]) -> Mapping[str, Any]:
    # Built once per agent, tool and resource and reused, as the simulator does.
    if key not in _VIEWS:
        _VIEWS[key] = build()
    return _VIEWS[key]


def make_request(
    agent: str = "support-bot",
    tool: str = "crm.lookup",
    *,
    resource: str | bool | None = True,
    records: Any = 1,
    amount: Any = None,
    destination: Any = None,
    recipient: Any = None,
    attributes: Mapping[str, Any] | None = None,
    now: float = 0.0,
    session: str = "run-1",
    task: str = "task-a",
    approved: bool = True,
    chain: Sequence[str] | None = None,
    chain_id: str | None = None,
    token: Mapping[str, Any] | None = None,
    ref: Any = None,
    scenario: Scenario = SCENARIO_MODEL,
) -> Request:
    """A request as the simulator would build it (resource True: the tool's first resource)."""
    t = scenario.tool(tool)
    if resource is True:
        resource = t.resources[0] if t.resources else None
    actors = tuple(chain) if chain is not None else (agent,)
    sid = id(scenario)
    view = None
    if isinstance(resource, str):
        name = resource
        view = _view((sid, "resource", name), lambda: resource_attributes(scenario, name))
    return Request(
        principal=_view((sid, "principal", agent), lambda: principal_attributes(scenario, agent)),
        action=t.action,
        tool=_view((sid, "tool", tool), lambda: tool_attributes(t)),
        token=dict(_TOKEN) if token is None else token,
        resource=view,
        request=step_attributes(records, amount, destination, recipient, attributes or {}),
        task={"id": task, "intent": "", "approved": approved, "step": 1, "run": session},
        session={"id": session},
        chain=chain_attributes(chain_id or session, actors),
        time=time_attributes(now),
        ref=ref,
    )

"""agentrange's side: the workload as a Scenario and a PolicyDocument, requests, and deciding.

The scenario and policy are built in code as plain data (what YAML would give), validated
and compiled once; requests share their principal, tool and resource views, as the simulator
does.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from benchmarks.pdp.estate import DATA_CLASSES, RESOURCES, ROLES, TOOL_BY_ID, TOOLS, VENDORS
from benchmarks.pdp.reference import ALLOW, DENY, NO_MATCH, Agreement
from benchmarks.pdp.workload import RuleSpec, Workload, make_calls
from engine.loader import as_tuples
from engine.model import SENSITIVITY_RANK, Scenario
from engine.policy import (
    Decision,
    Effect,
    PolicyEngine,
    Reason,
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
from engine.references import reference_problems

SENSITIVITY_NAMES = tuple(sorted(SENSITIVITY_RANK, key=SENSITIVITY_RANK.__getitem__))


def scenario_data(w: Workload) -> dict[str, Any]:
    """The agentrange scenario (plain data, as YAML would give it) declaring the estate."""
    owners = [{"id": "dpo", "name": "Data Protection Officer"}]
    for role in ROLES:
        owners += [{"id": f"{role}-lead", "name": f"{role.title()} lead"},
                   {"id": f"{role}-sec", "name": f"{role.title()} security"}]
    agents = []
    for a in w.agents:
        main = a.roles[0]
        agent: dict[str, Any] = {
            "name": a.name, "kind": a.kind, "roles": list(a.roles),
            "owners": {"business": f"{main}-lead", "security": f"{main}-sec",
                       "incident": f"{main}-sec"},
        }
        if a.vendor is not None:
            agent["vendor"] = a.vendor
        agents.append(agent)
    return {
        "name": "pdp-benchmark",
        "trust_domain": "acme.example",
        "duration": 7 * 86400,
        "owners": owners,
        "data_classes": [{"id": k, "sensitivity": v} for k, v in DATA_CLASSES.items()],
        "systems": [{"id": s} for s in sorted({r.system for r in RESOURCES})],
        "resources": [{"id": r.id, "system": r.system, "data_class": r.data_class,
                       "records": r.records} for r in RESOURCES],
        "tools": [{"id": t.id, "action": t.action, "egress": t.egress, "risk": t.risk,
                   "resources": list(t.resources)} for t in TOOLS],
        "roles": [{"id": role, "tools": list(tools)} for role, tools in ROLES.items()],
        "vendors": [{"id": v, "name": v, "trust_domain": f"{v}.example"} for v in VENDORS],
        "agents": agents,
        "profiles": [{"id": "bench", "credentials": {"mode": "jit", "ttl": 600},
                      "policy": "bench.yaml"}],
    }


def build_scenario(w: Workload) -> Scenario:
    """Validate the scenario (strict pydantic) and check its cross-references."""
    scenario = Scenario.model_validate(as_tuples(scenario_data(w)))
    problems = reference_problems(scenario)
    if problems:
        raise SystemExit(f"benchmark scenario is inconsistent: {problems[:5]}")
    return scenario


def _conditions(r: RuleSpec) -> list[dict[str, Any]]:
    conds: list[dict[str, Any]] = []
    if r.records_gt is not None:
        conds.append({"attr": "request.records", "gt": r.records_gt})
    if r.records_lte is not None:
        conds.append({"attr": "request.records", "lte": r.records_lte})
    if r.sens_gte is not None:
        conds.append({"attr": "resource.sensitivity", "gte": SENSITIVITY_NAMES[r.sens_gte]})
    if r.sens_lte is not None:
        conds.append({"attr": "resource.sensitivity", "lte": SENSITIVITY_NAMES[r.sens_lte]})
    if r.destination is not None:
        conds.append({"attr": "request.destination", "eq": r.destination})
    if r.hours is not None:
        lo, hi = r.hours
        pair = [{"attr": "time.hour", "gte": lo}, {"attr": "time.hour", "lt": hi}]
        conds.extend(pair) if lo <= hi else conds.append({"any": pair})
    if r.lacks_role is not None:
        conds.append({"not": {"attr": "principal.roles", "contains": r.lacks_role}})
    return conds


def _target(principal: str, tool: str, data_class: str, action: str = "*") -> dict[str, Any]:
    target: dict[str, Any] = {}
    if principal != "*":
        target["principals"] = [principal]
    if action != "*":
        target["actions"] = [action]
    if tool != "*":
        target["tools"] = [tool]
    if data_class != "*":
        target["data_classes"] = [data_class]
    return target


def policy_data(w: Workload, *, sequences: bool) -> dict[str, Any]:
    """The agentrange policy document (plain data) for the rules, and the sequences if asked."""
    rules = []
    for r in w.rules:
        rule: dict[str, Any] = {"id": r.id, "description": r.description,
                                "envelope": r.envelope, "effect": r.effect,
                                "target": _target(r.principal, r.tool, r.data_class)}
        conds = _conditions(r)
        if conds:
            rule["when"] = conds
        rules.append(rule)
    doc: dict[str, Any] = {"policy": "pdp-benchmark", "legal_owner": "dpo", "rules": rules}
    if sequences:
        seqs = []
        for s in w.sequences:
            steps = []
            for st in s.steps:
                step: dict[str, Any] = {"target": _target("*", st.tool, st.data_class,
                                                          st.action)}
                conds = []
                if st.destination is not None:
                    conds.append({"attr": "request.destination", "eq": st.destination})
                if st.records_gt is not None:
                    conds.append({"attr": "request.records", "gt": st.records_gt})
                if conds:
                    step["when"] = conds
                steps.append(step)
            seqs.append({"id": s.id, "description": s.description, "envelope": "legal",
                         "effect": "deny", "scope": "session", "window": s.window,
                         "steps": steps})
        doc["sequences"] = seqs
    return doc


def agentrange_requests(w: Workload, scenario: Scenario) -> list[Request]:
    """One Request per call.

    Principal, tool and resource views are built once and shared, as the simulator does.
    """
    principals = {a.name: principal_attributes(scenario, a.name) for a in w.agents}
    tools = {t.id: tool_attributes(scenario.tool(t.id)) for t in TOOLS}
    resources = {r.id: resource_attributes(scenario, r.id) for r in RESOURCES}
    token = {"valid": True, "reason": "ok", "mode": "jit", "ttl_remaining": 300.0,
             "age": 10.0, "scope": ("tool:*",), "sender_constrained": True, "chain_depth": 0}
    out = []
    for i, c in enumerate(w.calls):
        out.append(Request(
            principal=principals[c.agent], action=TOOL_BY_ID[c.tool].action,
            tool=tools[c.tool], token=token, resource=resources[c.resource],
            request=step_attributes(c.records, destination=c.destination),
            task={"id": "bench", "intent": "", "approved": True, "step": 1, "run": c.session},
            session={"id": c.session}, chain=chain_attributes(c.session, (c.agent,)),
            time=time_attributes(c.now), ref=i))
    return out


def compile_agentrange(w: Workload, scenario: Scenario, *, sequences: bool) -> Any:
    """Validate and compile the policy document against the scenario."""
    doc = PolicyDocument.model_validate(as_tuples(policy_data(w, sequences=sequences)))
    return compile_policy(doc, scenario, source="<pdp benchmark>")


def agentrange_outcome(effects: dict[str, str], d: Decision) -> tuple[str, frozenset[str]]:
    """Outcome and deciding rules of an agentrange decision, in the reference's terms.

    ``effects`` maps rule ids to their effect: ``matched`` lists every enforced rule that
    matched, the reference keeps those of the deciding effect.
    """
    if d.reason is Reason.ALLOWED:
        return ALLOW, frozenset(r for r in d.matched if effects[r] == "allow")
    if d.reason is Reason.EXPLICIT_DENY:
        return DENY, frozenset(r for r in d.matched if effects[r] == "deny")
    if d.reason is Reason.NO_MATCHING_ALLOW:
        return NO_MATCH, frozenset(d.matched)
    return f"unexpected:{d.reason}", frozenset(d.errors)


def run_agentrange(compiled: Any, requests: Sequence[Request],
                   session_last: frozenset[int] = frozenset(), *,
                   keep: bool = True) -> list[Decision]:
    """Decide every request with a fresh engine, keeping every Decision (its explanation).

    ``session_last``: after these request indexes the session ends (its state is dropped).
    ``keep`` False drops each decision once made, as the simulator does once its event has
    been folded and written (returns an empty list).
    """
    engine = PolicyEngine(compiled)
    decide = engine.decide
    if not keep:
        for r in requests:
            decide(r)
        return []
    if not session_last:
        return [decide(r) for r in requests]
    out = []
    end = engine.end_session
    for i, r in enumerate(requests):
        out.append(decide(r))
        if i in session_last:
            end(r.session["id"])
    return out


def warmup_requests(w: Workload, scenario: Scenario) -> tuple[list[Request], frozenset[int]]:
    """As many other requests of the same fleet (another seed), to warm an engine with."""
    calls, last = make_calls(random.Random(w.seed + 1_000_003), w.agents, len(w.calls))
    other = Workload(w.seed, w.agents, w.rules, w.sequences, calls, last)
    return agentrange_requests(other, scenario), last


def first_failed(decisions: Sequence[Decision]) -> int:
    """Index of the first allow decision with a failed condition (its explanation is shown)."""
    for i, d in enumerate(decisions):
        if d.failed and d.effect is Effect.ALLOW:
            return i
    return 0


def check_sequences(w: Workload, expected: Sequence[bool],
                     runs: dict[str, Sequence[Decision]]) -> Agreement:
    """Compare agentrange's decisions with sequence rules against the sequence reference."""
    result = Agreement(len(expected), {ALLOW: 0, "not_allow": 0})
    for i, want in enumerate(expected):
        result.counts[ALLOW if want else "not_allow"] += 1
        for name, decisions in runs.items():
            d = decisions[i]
            if want != (d.effect is Effect.ALLOW):
                result.add(i, f"call {i} {w.calls[i]}: reference allowed={want}, {name} "
                              f"{d.headline()}")
    return result

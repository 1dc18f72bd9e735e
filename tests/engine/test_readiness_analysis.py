"""The policy analysis against brute force: random rules, every call, a complete value grid.

For random rules over the clean fixture's scenario, ``never_matches`` and ``shadowed_by``
must agree with deciding every (agent, tool, resource) call under every combination of a
value grid with the real :class:`PolicyEngine`. The grid holds each constant the generator
uses, a value between and beyond them, and absence, so it distinguishes every case a
condition can; the analysis finds its candidates on its own.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine.loader import as_tuples, load_scenario
from engine.policy import PolicyDocument, PolicyEngine, Request, compile_policy
from engine.policy.decision import Effect
from engine.policy.request import (
    principal_attributes,
    resource_attributes,
    step_attributes,
    tool_attributes,
)
from engine.readiness.analysis import calls, effects
from engine.readiness.checks_rules import never_matches, shadowed_by
from engine.readiness.subject import Subject
from engine.yamldoc import YamlDocument

CLEAN = Path(__file__).resolve().parents[1] / "fixtures" / "readiness" / "clean"
SCENARIO = load_scenario(CLEAN)
CALLS = calls(SCENARIO)

RECORDS = (None, 0, 4, 5, 7.5, 10, 50, 100, 101)
AMOUNTS = (None, 0, 50, 75, 100, 200)
RECIPIENTS = (None, "customer", "other")
APPROVED = (None, True, False)  # absence is a case the analysis also covers

PRINCIPALS = ("support-bot", "refund-bot", "admin-bot", "vendor-bot", "role:support",
              "kind:customer_facing", "kind:delegated_admin", "*-bot")
TOOLS = (*(t.id for t in SCENARIO.tools), "crm.*", "*")
CLASSES = ("pii", "kb", "groups")

atom = st.one_of(
    st.builds(lambda op, c: {"attr": "request.records", op: c},
              st.sampled_from(["lt", "lte", "gt", "gte", "eq", "ne"]),
              st.sampled_from([5, 10, 100])),
    st.builds(lambda op, c: {"attr": "request.amount", op: c},
              st.sampled_from(["lt", "lte", "gt", "gte"]), st.sampled_from([50, 100])),
    st.builds(lambda op: {"attr": "request.recipient", op: "customer"},
              st.sampled_from(["eq", "ne"])),
    st.builds(lambda v: {"attr": "task.approved", "eq": v}, st.booleans()),
    st.builds(lambda v: {"attr": "tool.egress", "eq": v},
              st.sampled_from(["none", "external"])),
    st.builds(lambda op, v: {"attr": "resource.sensitivity", op: v},
              st.sampled_from(["gte", "lt"]), st.sampled_from(["internal", "restricted"])),
    st.builds(lambda v: {"attr": "request.amount", "exists": v}, st.booleans()),
)
condition = st.recursive(
    atom,
    lambda inner: st.one_of(
        st.builds(lambda cs: {"all": cs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda cs: {"any": cs}, st.lists(inner, min_size=1, max_size=2)),
        st.builds(lambda c: {"not": c}, inner)),
    max_leaves=4)


@st.composite
def rules(draw: Any) -> dict[str, Any]:
    target: dict[str, Any] = {}
    if draw(st.booleans()):
        target["principals"] = draw(st.lists(st.sampled_from(PRINCIPALS), min_size=1,
                                             max_size=2, unique=True))
    if draw(st.booleans()):
        target["tools"] = draw(st.lists(st.sampled_from(TOOLS), min_size=1, max_size=2,
                                        unique=True))
    if draw(st.booleans()):
        target["data_classes"] = draw(st.lists(st.sampled_from(CLASSES), min_size=1,
                                               max_size=2, unique=True))
    rule: dict[str, Any] = {"envelope": "security",
                            "effect": draw(st.sampled_from(["allow", "deny"])),
                            "target": target}
    if draw(st.booleans()):
        rule["when"] = draw(condition)
    return rule


def _policy(rule_list: list[dict[str, Any]]) -> Any:
    doc = PolicyDocument.model_validate(as_tuples(
        {"policy": "random", "rules": [{"id": f"r{i}", **r} for i, r in
                                       enumerate(rule_list)]}))
    return compile_policy(doc, SCENARIO)



def _subject(policy: Any) -> Subject:
    empty = YamlDocument("<memory>", {})
    return Subject(SCENARIO, empty, {"p": policy}, {"p": empty})


def _brute(policy: Any) -> list[tuple[Any, frozenset[str]]]:
    """Every call x grid point decided by the real engine: (call, enforced rules matched)."""
    engine = PolicyEngine(policy)
    out = []
    for call in CALLS:
        principal = principal_attributes(SCENARIO, call.agent)
        tool = tool_attributes(call.tool)
        resource = (resource_attributes(SCENARIO, call.resource)
                    if call.resource is not None else None)
        for records, amount, recipient, approved in itertools.product(
                RECORDS, AMOUNTS, RECIPIENTS, APPROVED):
            req = Request(principal, call.tool.action, tool, {"valid": True}, resource,
                          step_attributes(records=records, amount=amount,
                                          recipient=recipient),
                          {"approved": approved})
            decision = engine.decide(req)
            out.append((decision, frozenset(decision.matched)))
    return out


BETWEEN = {"all": [{"attr": "request.records", "lt": 10}, {"attr": "request.records", "gt": 5}]}
APART = {"all": [{"attr": "request.records", "lt": 5}, {"attr": "request.records", "gt": 10}]}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rules(), min_size=1, max_size=4))
@example([{"envelope": "security", "effect": "allow", "target": {}, "when": BETWEEN}])
@example([{"envelope": "security", "effect": "allow", "target": {"tools": ["crm.lookup"]},
           "when": {"not": {"attr": "task.approved", "eq": False}}}])
@example([{"envelope": "security", "effect": "deny", "target": {}, "when": APART}])
@example([{"envelope": "security", "effect": "deny", "target": {"tools": ["kb.search"]},
           "when": {"attr": "tool.egress", "eq": "external"}}])
@example([{"envelope": "security", "effect": "allow", "target": {"principals": ["vendor-bot"]}},
          {"envelope": "security", "effect": "deny",
           "target": {"principals": ["kind:vendor_hosted"]}}])
@example([{"envelope": "security", "effect": "allow", "target": {"data_classes": ["pii"]},
           "when": {"attr": "request.amount", "exists": False}},
          {"envelope": "security", "effect": "deny", "target": {},
           "when": {"not": {"attr": "request.amount", "gte": 50}}}])
def test_analysis_agrees_with_brute_force(rule_list: list[dict[str, Any]]) -> None:
    policy = _policy(rule_list)
    subject = _subject(policy)
    decided = _brute(policy)
    for rule in policy.rules:
        seen = any(rule.id in matched for _, matched in decided)
        assert (never_matches(subject, policy, rule) is None) == seen, rule.id
        if rule.effect is Effect.ALLOW and seen:
            denies = {r.id for r in policy.rules if r.effect is Effect.DENY}
            always = all(matched & denies for _, matched in decided if rule.id in matched)
            assert (shadowed_by(subject, policy, rule) is not None) == always, rule.id


@settings(max_examples=15, deadline=None)
@given(st.lists(rules(), min_size=1, max_size=3))
@example([{"envelope": "security", "effect": "allow", "target": {}},
          {"envelope": "security", "effect": "deny", "target": {},
           "when": {"attr": "request.records", "lt": 5}}])  # absent records: fail closed
def test_effect_witnesses_reproduce_in_the_engine(rule_list: list[dict[str, Any]]) -> None:
    policy = _policy(rule_list)
    subject = _subject(policy)
    engine = PolicyEngine(policy)
    for call in CALLS[::3]:
        found = effects(subject, policy, call)
        assert found is not None
        for effect, witness in found.items():
            values = dict(witness.values)
            req = Request(
                principal_attributes(SCENARIO, call.agent), call.tool.action,
                tool_attributes(call.tool), {"valid": True},
                resource_attributes(SCENARIO, call.resource) if call.resource else None,
                step_attributes(records=values.get("request.records"),
                                amount=values.get("request.amount"),
                                recipient=values.get("request.recipient")),
                {"approved": values.get("task.approved")})
            assert engine.decide(req).effect is effect

"""Each condition operator: true, false and unevaluable cases, and the memo at thresholds."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from typing import Any

import pytest
from policy_support import make_request

from engine.policy import Effect, PolicyEngine, Reason

Make = Callable[[str], PolicyEngine]
ERROR = "error"


def one_rule(make_engine: Make, condition: dict[str, Any]) -> PolicyEngine:
    # JSON is YAML: the condition goes into the file exactly as written here.
    return make_engine(f"""
        policy: p
        rules:
          - id: only
            envelope: security
            effect: allow
            when: {json.dumps(condition)}
        """)


def outcome(engine: PolicyEngine, **request: Any) -> bool | str:
    d = engine.decide(make_request(**request))
    if d.effect is Effect.ALLOW:
        return True
    assert d.reason is Reason.NO_MATCHING_ALLOW
    if d.errors:
        assert d.errors[0].startswith("rule only skipped:")
        return ERROR
    assert d.failed and d.failed[0].rule == "only"
    return False


CASES: list[tuple[dict[str, Any], dict[str, Any], bool | str]] = [
    # eq / ne, including absent values and type families
    ({"attr": "request.attributes.x", "eq": 3}, {"attributes": {"x": 3}}, True),
    ({"attr": "request.attributes.x", "eq": 3}, {"attributes": {"x": 3.0}}, True),
    ({"attr": "request.attributes.x", "eq": 3}, {"attributes": {"x": 4}}, False),
    ({"attr": "request.attributes.x", "eq": 1}, {"attributes": {"x": True}}, ERROR),
    ({"attr": "request.attributes.x", "eq": "a"}, {"attributes": {"x": 1}}, ERROR),
    ({"attr": "request.attributes.x", "eq": "a"}, {"attributes": {}}, False),
    ({"attr": "request.attributes.x", "eq": None}, {"attributes": {}}, True),
    ({"attr": "request.attributes.x", "eq": None}, {"attributes": {"x": None}}, True),
    ({"attr": "request.attributes.x", "ne": "a"}, {"attributes": {}}, True),
    ({"attr": "request.attributes.x", "ne": "a"}, {"attributes": {"x": "a"}}, False),
    ({"attr": "task.approved", "eq": True}, {"approved": True}, True),
    ({"attr": "task.approved", "eq": False}, {"approved": True}, False),
    ({"attr": "principal.roles", "eq": ["support"]}, {}, True),
    # in / not_in
    ({"attr": "request.destination", "in": ["internal", "external"]},
     {"destination": "external"}, True),
    ({"attr": "request.destination", "in": ["internal"]}, {"destination": "external"}, False),
    ({"attr": "request.destination", "in": ["internal"]}, {"destination": None}, False),
    ({"attr": "request.destination", "not_in": ["internal"]}, {"destination": None}, True),
    ({"attr": "request.destination", "not_in": ["internal"]}, {"destination": "internal"},
     False),
    ({"attr": "request.attributes.x", "in": [1, "a"]}, {"attributes": {"x": "a"}}, True),
    ({"attr": "request.attributes.x", "in": [1, 2]}, {"attributes": {"x": "a"}}, ERROR),
    # contains: list membership and substring
    ({"attr": "principal.roles", "contains": "support"}, {}, True),
    ({"attr": "principal.roles", "contains": "ops"}, {}, False),
    ({"attr": "request.recipient", "contains": "@evil"}, {"recipient": "a@evil.example"}, True),
    ({"attr": "request.recipient", "contains": "@evil"}, {"recipient": "customer"}, False),
    ({"attr": "request.recipient", "contains": "@"}, {"recipient": None}, ERROR),
    ({"attr": "request.attributes.x", "contains": "a"}, {"attributes": {"x": 5}}, ERROR),
    # lt / lte / gt / gte on numbers, durations and ordered enums
    ({"attr": "request.records", "lt": 10}, {"records": 9}, True),
    ({"attr": "request.records", "lt": 10}, {"records": 10}, False),
    ({"attr": "request.records", "lte": 10}, {"records": 10}, True),
    ({"attr": "request.records", "gt": 10}, {"records": 10}, False),
    ({"attr": "request.records", "gte": 10}, {"records": 10}, True),
    ({"attr": "request.records", "gte": 10}, {"records": 9.5}, False),
    ({"attr": "request.records", "lt": 10}, {"records": "ten"}, ERROR),
    ({"attr": "request.records", "lt": 10}, {"records": True}, ERROR),
    ({"attr": "request.amount", "gt": 100}, {"amount": None}, ERROR),
    ({"attr": "token.age", "lt": "1m"}, {}, True),
    ({"attr": "token.ttl_remaining", "gt": "10m"}, {}, False),
    ({"attr": "resource.sensitivity", "gte": "confidential"}, {"tool": "crm.lookup"}, True),
    ({"attr": "resource.sensitivity", "gte": "confidential"}, {"tool": "kb.search"}, False),
    ({"attr": "resource.sensitivity", "lt": "restricted"}, {"tool": "helpdesk.read"}, True),
    ({"attr": "resource.sensitivity", "lt": "restricted"}, {"tool": "email.send"}, ERROR),
    ({"attr": "tool.risk", "gte": "high"}, {"tool": "vault.read"}, True),
    ({"attr": "tool.risk", "gte": "high"}, {"tool": "crm.lookup"}, False),
    # glob
    ({"attr": "request.recipient", "glob": "*@acme.example"},
     {"recipient": "dana@acme.example"}, True),
    ({"attr": "request.recipient", "glob": "*@acme.example"},
     {"recipient": "x@acme.example.evil"}, False),
    ({"attr": "request.recipient", "glob": "*@acme.example"}, {"recipient": None}, ERROR),
    ({"attr": "request.attributes.x", "glob": "a*"}, {"attributes": {"x": 7}}, ERROR),
    # exists
    ({"attr": "resource.id", "exists": True}, {"tool": "crm.lookup"}, True),
    ({"attr": "resource.id", "exists": True}, {"tool": "email.send"}, False),
    ({"attr": "request.amount", "exists": False}, {"amount": None}, True),
    ({"attr": "principal.vendor", "exists": True}, {"agent": "vendor-bot"}, True),
    # action, counters are covered elsewhere; combinators:
    ({"all": [{"attr": "request.records", "gt": 0}, {"attr": "action", "eq": "read"}]}, {},
     True),
    ({"any": [{"attr": "request.records", "gt": 5}, {"attr": "action", "eq": "send"}]}, {},
     False),
    ({"not": {"attr": "request.records", "gt": 5}}, {}, True),
    # evaluation stops at the first false (all) / true (any) child, before a broken one
    ({"all": [{"attr": "request.records", "gt": 5},
              {"attr": "request.amount", "gt": 1}]}, {}, False),
    ({"any": [{"attr": "request.records", "gt": 0},
              {"attr": "request.amount", "gt": 1}]}, {}, True),
    ({"any": [{"attr": "request.amount", "gt": 1},
              {"attr": "request.records", "gt": 0}]}, {}, ERROR),
]


@pytest.mark.parametrize(("condition", "request_values", "expected"), CASES,
                         ids=[f"{i}-{json.dumps(c)[:60]}" for i, (c, _, _) in enumerate(CASES)])
def test_operator_outcome(make_engine: Make, condition: dict[str, Any],
                          request_values: dict[str, Any], expected: bool | str) -> None:
    engine = one_rule(make_engine, condition)
    assert outcome(engine, **request_values) == expected


def test_failed_condition_names_the_attribute_and_its_actual_value(make_engine: Make) -> None:
    engine = one_rule(make_engine, {"all": [{"attr": "action", "eq": "read"},
                                            {"attr": "request.records", "lte": 10}]})
    failed = engine.decide(make_request(records=250)).failed
    assert [tuple(f) for f in failed] == [("only", "request.records lte 10",
                                           "request.records", 250)]


@pytest.mark.parametrize("op", ["lt", "lte", "gt", "gte", "eq", "ne"])
def test_memo_separates_values_at_each_side_of_a_threshold(make_engine: Make, op: str) -> None:
    engine = one_rule(make_engine, {"attr": "request.records", op: 10})
    python_op = {"lt": operator.lt, "lte": operator.le, "gt": operator.gt,
                 "gte": operator.ge, "eq": operator.eq, "ne": operator.ne}[op]
    values = [9, 10, 11, 9.999, 10.0, 10.5, 0, 1000, 10, 9, 11]
    for v in values:
        expected = python_op(v, 10)
        decision = engine.decide(make_request(records=v))
        assert decision.allowed is expected, (op, v)
        if not expected:
            assert decision.failed[0].actual == v  # each request reports its own value


def test_failed_actual_values_follow_each_request_through_the_memo(make_engine: Make) -> None:
    engine = one_rule(make_engine, {"attr": "request.records", "lte": 10})
    first = engine.decide(make_request(records=500))
    second = engine.decide(make_request(records=700))
    assert first.failed[0].actual == 500
    assert second.failed[0].actual == 700
    assert engine.decide(make_request(records=5)) is engine.decide(make_request(records=5))
    # Identical requests share one decision (the simulator renders each decision once) ...
    again = engine.decide(make_request(records=500))
    assert again is engine.decide(make_request(records=500)) and again == first
    # ... and a request with other values never gets another request's values.
    assert engine.decide(make_request(records=700)).failed[0].actual == 700

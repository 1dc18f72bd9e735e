"""Condition tables at their edges: value classes that must not be merged, cache overflow.

The tables key numbers by their position among the policy's thresholds and everything else
by (type, value); these cases would silently merge classes if the keying were wrong, so
each decision is checked against the condition closures (the slow, plain evaluation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_support import make_request

from engine.policy import PolicyEngine
from engine.policy import probes as probes_module
from engine.policy import tables as tables_module
from engine.policy.conditions import EvalError

Make = Callable[[str], PolicyEngine]

POLICY = """
    policy: p
    rules:
      - id: small
        envelope: security
        effect: allow
        when: {all: [{attr: request.records, lte: 10}, {attr: request.attributes.x, ne: "b"}]}
      - id: exact-one
        envelope: security
        effect: allow
        when: {attr: request.records, eq: 1}
      - id: mixed
        envelope: business
        effect: require_approval
        when: {any: [{attr: request.records, gt: 1000}, {attr: request.destination, eq: external}]}
"""


def expected(engine: PolicyEngine, **request: Any) -> dict[str, Any]:
    """What the closures say: per rule, matched / failed / error."""
    req = make_request(**request)
    out = {}
    for rule in engine.policy.rules:
        assert rule.cond is not None
        try:
            out[rule.id] = "match" if rule.cond.test(req, {}) else "fail"
        except EvalError:
            out[rule.id] = "error"
    return out


def got(engine: PolicyEngine, **request: Any) -> dict[str, Any]:
    d = engine.decide(make_request(**request))
    out = {r: "match" for r in d.matched}
    out.update({f.rule: "fail" for f in d.failed})
    out.update({e.split()[1]: "error" for e in d.errors if e.startswith("rule ")})
    if d.effect == "require_approval":
        out["mixed"] = "match"
    return out


VALUES: list[Any] = [1, True, 1.0, 0, False, 10, 10.5, 11, math.nan, -0.0, "1", None, 1001,
                     float("inf"), 2**70, [1], (1,)]


@pytest.mark.parametrize("order", [VALUES, list(reversed(VALUES))])
def test_classes_of_equal_looking_values_stay_apart(make_engine: Make, order: list[Any]) -> None:
    engine = make_engine(POLICY)
    for value in order * 2:  # the second round hits the caches the first one filled
        for dest in ("external", "internal", 3):
            request = {"records": value, "destination": dest, "attributes": {"x": value}}
            assert got(engine, **request) == expected(engine, **request), (value, dest)


def test_an_overflowing_value_cache_starts_afresh_without_reusing_classes(
        make_engine: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tables_module, "MAX_VALUES", 4)
    engine = make_engine(POLICY)
    values = [f"v{i}" for i in range(12)] + ["b", "external"]
    for _ in range(3):
        for value in values:
            for records in (5, 5000):
                request = {"records": records, "destination": value,
                           "attributes": {"x": value}}
                assert got(engine, **request) == expected(engine, **request), (value, records)


NUMBERS_POLICY = """
    policy: p
    rules:
      - {id: small, envelope: security, effect: allow, when: {attr: request.records, lte: 10}}
      - {id: exact-one, envelope: security, effect: allow, when: {attr: request.records, eq: 1}}
      - {id: mixed, envelope: business, effect: require_approval,
         when: {attr: request.records, gt: 1000}}
"""
numbers = st.one_of(st.integers(-2, 1002), st.sampled_from([1.0, 10.0, 10.5, 1000.5, -0.0]),
                    st.booleans(), st.floats(allow_nan=True, allow_infinity=True))


@given(st.lists(numbers, min_size=1, max_size=40))
@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # a new engine per example
def test_numbers_remembered_by_value_decide_as_the_conditions_do(
        make_engine: Make, values: list[Any]) -> None:
    # A probe looks a number met before up by value and remembers new ones, up to a bound
    # (4 here, so it fills and starts afresh): 1, 1.0 and True, NaN and -0.0 must still each
    # decide as the plain evaluation of the conditions does, on first sight and after.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tables_module, "MAX_VALUES", 4)
        patch.setattr(probes_module, "MAX_VALUES", 4)
        engine = make_engine(NUMBERS_POLICY)  # records read by table conditions alone
        for value in values * 2:
            request = {"records": value}
            assert got(engine, **request) == expected(engine, **request), value


STATIC_POLICY = """
    policy: p
    rules:
      - id: support-on-sensitive
        envelope: security
        effect: allow
        when: {all: [{attr: principal.roles, contains: support},
                     {attr: resource.sensitivity, gte: confidential},
                     {attr: request.records, lte: 10}]}
      - id: by-kind
        envelope: security
        effect: allow
        when: {all: [{attr: principal.kind, eq: internal}, {attr: action, eq: read}]}
"""


def test_principal_tool_and_resource_values_classed_once_per_view_stay_exact(
        make_engine: Make) -> None:
    engine = make_engine(STATIC_POLICY)
    for _ in range(2):  # the second round uses what the views' first requests classed
        for agent in ("support-bot", "ops-bot"):
            for records in (1, 50):
                req = make_request(agent, records=records)
                # A plain dict with other roles is read as a value, never by identity.
                other = replace(req, principal={**req.principal, "roles": ("ops",)})
                for r in (req, other):
                    d = engine.decide(r)
                    want = {}
                    for rule in engine.policy.rules:
                        assert rule.cond is not None
                        want[rule.id] = rule.cond.test(r, {})
                    assert {m: True for m in d.matched} == {k: v for k, v in want.items() if v}
                    assert {f.rule for f in d.failed} == {k for k, v in want.items() if not v}

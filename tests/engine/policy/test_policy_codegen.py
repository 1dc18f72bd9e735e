"""Generated per-rule checks agree with the condition closures they replace on the hot path.

For generated conditions (nested all/any/not over every operator) and request values of
every family (numbers, strings, booleans, lists, absent, enum members and strangers), a
rule's generated ``check`` must hold exactly when the closure's ``test`` does, report the
failure the closure's ``failure`` reports, and raise EvalError (same message) exactly when
the closure does.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from policy_support import SCENARIO_MODEL, make_request

from engine.loader import as_tuples
from engine.policy import compile_policy
from engine.policy.codegen import condition_items, condition_test, item_test
from engine.policy.conditions import EvalError
from engine.policy.model import PolicyDocument

X = "request.attributes.x"
ATOMS: list[tuple[str, str, Any]] = [
    (X, "eq", 1), (X, "eq", "a"), (X, "ne", "a"), (X, "eq", None), (X, "lt", 3),
    (X, "gte", 2.5), (X, "glob", "a*"), (X, "in", [1, "a", True]), (X, "not_in", ["a"]),
    (X, "contains", "a"), (X, "exists", True), (X, "exists", False),
    ("request.records", "gt", 10), ("request.records", "lte", 5),
    ("request.records", "in", [1, 10]), ("request.records", "eq", 0),
    ("resource.sensitivity", "gte", "confidential"), ("resource.sensitivity", "lt", "restricted"),
    ("principal.roles", "contains", "support"), ("chain.actors", "contains", "ops-bot"),
    ("request.destination", "eq", "external"), ("request.destination", "in", ["internal"]),
    ("time.hour", "lt", 6), ("time.hour", "gte", 22),
]
VALUES = [None, 0, 1, 2.5, 3, 10, True, False, "a", "ab", "b", "", ["a"], ["b", 1], ("a", 1),
          [], ["x", "a"], {"k": 1}, "confidential", "restricted", "public"]


def _atom(a: tuple[str, str, Any]) -> dict[str, Any]:
    return {"attr": a[0], a[1]: a[2]}


CONDITIONS = st.recursive(
    st.sampled_from(ATOMS).map(_atom),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda c: {"all": c}),
        st.lists(inner, min_size=1, max_size=3).map(lambda c: {"any": c}),
        inner.map(lambda c: {"not": c}),
    ),
    max_leaves=5,
)
WHEN = st.one_of(CONDITIONS, st.lists(CONDITIONS, min_size=1, max_size=3))


def _outcome(fn: Any) -> tuple[str, Any]:
    try:
        return "ok", fn()
    except EvalError as exc:
        return "error", str(exc)


@settings(max_examples=150, deadline=None)
@given(when=WHEN, x=st.sampled_from(VALUES), records=st.sampled_from(VALUES),
       destination=st.sampled_from(VALUES), sensitivity=st.sampled_from(VALUES),
       roles=st.sampled_from(VALUES), hour=st.sampled_from(VALUES))
def test_generated_check_agrees_with_closures(when: Any, x: Any, records: Any, destination: Any,
                                              sensitivity: Any, roles: Any, hour: Any) -> None:
    doc = {"policy": "p", "rules": [{"id": "r", "envelope": "security", "effect": "allow",
                                      "when": when}]}
    rule = compile_policy(PolicyDocument.model_validate(as_tuples(doc)), SCENARIO_MODEL).rules[0]
    assert rule.cond is not None and rule.check is not None
    req = make_request(attributes={"x": x}, records=records, destination=destination)
    assert req.resource is not None
    req = replace(req, resource={**req.resource, "sensitivity": sensitivity},
                  principal={**req.principal, "roles": roles},
                  time={**req.time, "hour": hour})
    cond, check = rule.cond, rule.check
    expected = _outcome(lambda: cond.test(req, {}))
    got = _outcome(lambda: check(req, {}))
    # The whole condition as one generated test (sequence steps use it) agrees too.
    whole = condition_test(cond)
    assert _outcome(lambda: whole(req, {})) == (
        expected if expected[0] == "error" else ("ok", bool(expected[1])))
    # So does each single-path item as the condition tables evaluate it: on its value alone.
    for item in condition_items(cond):
        paths = {a.path for a in item.atoms}
        if len(paths) == 1:
            value = item.atoms[0].get(req, {})
            test = item_test(item)
            want = _outcome(lambda item=item: item.test(req, {}))
            have = _outcome(lambda test=test, value=value: bool(test(value)))
            assert have == (want if want[0] == "error" else ("ok", bool(want[1])))
    if expected[0] == "error":
        assert got == expected
        return
    assert got[0] == "ok"
    if expected[1]:
        assert got[1] == -1
    else:
        assert got[1] >= 0
        assert rule.failures[got[1]] == cond.failure(req, {})

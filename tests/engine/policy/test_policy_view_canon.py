"""Views met again: mapped to the first views with the same content, never to others.

A warmed engine deciding another caller's views of the same agents, tools and resources
maps each new view once to the first view met with its content (``ViewCanon``), and each
combination of them to the entry of the same combination of those. The content key tells
apart what ``==`` does not (True, 1 and 1.0; the order of a mapping's keys), and the
decisions made through it are those of a fresh engine.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from policy_support import make_request, policy_from_text

import engine.policy.engine as engine_module
from engine.model import Scenario
from engine.policy import PolicyEngine, principal_attributes, resource_attributes
from engine.policy.caches import ViewCanon, content_key
from engine.policy.request import Request, tool_attributes

POLICY = """
policy: p
legal_owner: dpo
rules:
  - {id: support-reads, envelope: security, effect: allow,
     target: {principals: ["role:support"]}, when: {attr: request.records, lte: 10}}
  - {id: ops-reads, envelope: business, effect: allow,
     target: {principals: ["role:ops"]}, when: {attr: request.records, lte: 3}}
  - {id: risky, envelope: business, effect: deny,
     when: {attr: tool.risk, in: [critical]}}
"""

atoms = (st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([0.0, 1.0, 2.5])
         | st.text(max_size=2))
contents = st.recursive(
    atoms,
    lambda inner: (st.lists(inner, max_size=3) | st.lists(inner, max_size=3).map(tuple)
                   | st.dictionaries(st.text(max_size=2), inner, max_size=3)
                   | st.dictionaries(st.text(max_size=2), inner, max_size=3).map(
                       MappingProxyType)),
    max_leaves=8)


def same_content(a: Any, b: Any) -> bool:
    """The plain reference: equal values of the same types, mappings in the same key order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict | MappingProxyType):
        return list(a) == list(b) and all(same_content(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(map(same_content, a, b))
    return bool(a == b)


@given(contents, contents)
@settings(max_examples=300, deadline=None)
def test_content_keys_are_equal_exactly_for_the_same_content(a: Any, b: Any) -> None:
    assert (content_key(a) == content_key(b)) == same_content(a, b)


@pytest.mark.parametrize(("a", "b"), [
    (True, 1), (1, 1.0), (False, 0), ([True], [1]), ({"x": 1}, MappingProxyType({"x": 1})),
    ({"x": 1, "y": 2}, {"y": 2, "x": 1}), ({"x": (True,)}, {"x": (1,)}),
])
def test_content_keys_tell_apart_what_equality_takes_for_one_another(a: Any, b: Any) -> None:
    assert a == b
    assert content_key(a) != content_key(b)


def test_unhashable_content_is_its_own_canonical_view() -> None:
    canon = ViewCanon()
    first = MappingProxyType({"tags": {1, 2}})  # a set cannot key anything
    again = MappingProxyType({"tags": {1, 2}})
    assert canon.of(first) is first and canon.of(again) is again


def test_a_view_is_mapped_to_the_first_with_its_content_and_kept_alive() -> None:
    canon = ViewCanon()
    first = MappingProxyType({"id": "a", "roles": ["x"]})
    again = MappingProxyType({"id": "a", "roles": ["x"]})
    other = MappingProxyType({"id": "a", "roles": ("x",)})
    assert canon.of(first) is first
    assert canon.of(again) is first
    assert canon.of(other) is other
    held = {id(v) for v, _ in canon.by_id.values()}
    assert held == {id(first), id(again), id(other)}  # what is keyed by their ids stays theirs


def _rebuilt(req: Request, scenario: Scenario) -> Request:
    """The same request with its views built again (new objects, equal content)."""
    return replace(req, principal=principal_attributes(scenario, req.principal["id"]),
                   tool=tool_attributes(scenario.tool(req.tool["id"])),
                   resource=None if req.resource is None else resource_attributes(
                       scenario, req.resource["id"]))


AGENTS = ("support-bot", "ops-bot", "vendor-bot")
TOOLS = ("crm.lookup", "crm.export", "email.send")


@given(st.lists(st.tuples(st.sampled_from(AGENTS), st.sampled_from(TOOLS),
                          st.integers(0, 12)), min_size=1, max_size=12),
       st.lists(st.tuples(st.sampled_from(AGENTS), st.sampled_from(TOOLS),
                          st.integers(0, 12)), min_size=1, max_size=12))
@settings(max_examples=60, deadline=None)
def test_a_warmed_engine_decides_other_views_as_a_fresh_engine_does(
        scenario: Scenario, tmp_path_factory: pytest.TempPathFactory,
        warm: list[tuple[str, str, int]], calls: list[tuple[str, str, int]]) -> None:
    tmp = tmp_path_factory.mktemp("canon")
    warmed = PolicyEngine(policy_from_text(POLICY, scenario, tmp, "warm.yaml"))
    fresh = PolicyEngine(policy_from_text(POLICY, scenario, tmp, "fresh.yaml"))
    for agent, tool, records in warm:
        warmed.decide(make_request(agent, tool, records=records))
    rebuilt = {}
    for agent, tool, records in calls:
        req = make_request(agent, tool, records=records)
        # One rebuilt set of views per combination, reused, as another caller would.
        views = rebuilt.setdefault((agent, tool), _rebuilt(req, scenario))
        req = replace(req, principal=views.principal, tool=views.tool,
                      resource=views.resource)
        got, want = warmed.decide(req), fresh.decide(req)
        assert got == want
        assert (got.matched, got.failed, got.owner) == (want.matched, want.failed, want.owner)


def test_the_canon_is_cleared_with_the_entries_it_keeps_ids_for(
        scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "MAX_PLANS", 4)
    engine = PolicyEngine(policy_from_text(POLICY, scenario, tmp_path))
    for _ in range(10):
        engine.decide(_rebuilt(make_request(records=1), scenario))
        assert len(engine._entries) <= 4 + 2  # bounded: cleared at the limit
        assert len(engine._canon.by_id) <= 3 * (4 + 1)

"""Read-only views recognised by content as well as identity.

An engine finds what it keeps for a (principal, tool, resource) combination by the identity
of the read-only views; views built again by another caller with the same content share what
the first ones filled (a warmed engine stays warm), and views whose content differs in
anything a decision reads never do.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from policy_support import make_request, policy_from_text

from engine.model import Scenario
from engine.policy import PolicyEngine, principal_attributes, resource_attributes
from engine.policy.request import Request, tool_attributes

POLICY = """
policy: p
legal_owner: dpo
rules:
  - {id: support-reads, envelope: security, effect: allow,
     target: {principals: ["role:support"]}, when: {attr: request.records, lte: 10}}
  - {id: risky, envelope: business, effect: deny,
     when: {attr: tool.risk, in: [critical]}}
"""


def _rebuilt(req: Request, scenario: Scenario, **changes: Any) -> Request:
    """The same request with its views built again (new objects, equal content)."""
    tool = scenario.tool(req.tool["id"])
    return replace(req, principal=changes.get("principal") or principal_attributes(
                       scenario, req.principal["id"]),
                   tool=changes.get("tool") or tool_attributes(tool),
                   resource=changes.get("resource") or resource_attributes(
                       scenario, req.resource["id"]))


def test_views_built_again_share_what_the_first_views_filled(
        scenario: Scenario, tmp_path: Path) -> None:
    engine = PolicyEngine(policy_from_text(POLICY, scenario, tmp_path))
    first = make_request(records=3)
    d1 = engine.decide(first)
    again = _rebuilt(first, scenario)
    assert again.principal is not first.principal and again.principal == first.principal
    d2 = engine.decide(again)
    assert d2 is d1  # the same shared decision, not one made afresh
    entries = list(engine._entries.values())
    assert len(entries) == 2 and entries[0].memo is entries[1].memo
    fresh = PolicyEngine(policy_from_text(POLICY, scenario, tmp_path, "again.yaml"))
    assert d2 == fresh.decide(again)


def test_views_that_differ_in_owners_are_not_shared(scenario: Scenario, tmp_path: Path) -> None:
    engine = PolicyEngine(policy_from_text(POLICY, scenario, tmp_path))
    first = make_request(records=3)
    engine.decide(first)
    other_owner = MappingProxyType({**first.principal, "owners": MappingProxyType(
        {"business": "biz2", "security": "sec2", "incident": "sec2"})})
    d = engine.decide(_rebuilt(first, scenario, principal=other_owner))
    assert (d.effect, d.rule, d.owner) == ("allow", "support-reads", "sec2")


def test_views_that_differ_in_a_value_a_condition_reads_are_not_shared(
        scenario: Scenario, tmp_path: Path) -> None:
    engine = PolicyEngine(policy_from_text(POLICY, scenario, tmp_path))
    first = make_request(records=3)
    assert engine.decide(first).allowed
    critical = MappingProxyType({**first.tool, "risk": "critical"})
    d = engine.decide(_rebuilt(first, scenario, tool=critical))
    assert (d.effect, d.rule) == ("deny", "risky")
    assert engine.decide(_rebuilt(first, scenario)).allowed



NUMERIC = """
policy: p
legal_owner: dpo
rules:
  - {id: support-reads-stores, envelope: security, effect: allow,
     target: {principals: ["role:support"]}, when: {attr: resource.records, gte: 1}}
"""


def test_views_whose_values_are_equal_but_of_another_type_are_not_shared(
        scenario: Scenario, tmp_path: Path) -> None:
    # True == 1 in Python, but a number condition does not take a bool: had the view holding
    # True shared the entry of the one holding 1, it would have been allowed (fail open).
    engine = PolicyEngine(policy_from_text(NUMERIC, scenario, tmp_path))
    first = make_request(records=3)
    as_int = MappingProxyType({**first.resource, "records": 1})
    as_bool = MappingProxyType({**first.resource, "records": True})
    d_int = engine.decide(_rebuilt(first, scenario, resource=as_int))
    d_bool = engine.decide(_rebuilt(first, scenario, resource=as_bool))
    assert (d_int.effect, d_int.rule) == ("allow", "support-reads-stores")
    fresh = PolicyEngine(policy_from_text(NUMERIC, scenario, tmp_path, "again.yaml"))
    expected = fresh.decide(_rebuilt(first, scenario, resource=as_bool))
    assert expected.effect == "deny"  # the condition does not hold for a bool
    assert d_bool == expected

"""Delegation chains: depth limits, attenuation along the chain, the chain in the decision."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from policy_support import SCENARIO_MODEL, make_request

from engine.policy import Effect, PolicyEngine, Reason, principal_attributes

Make = Callable[[str], PolicyEngine]


def policy(attenuation: bool = True, max_depth: int | None = None) -> str:
    depth = "" if max_depth is None else f"max_depth: {max_depth}, "
    return f"""
policy: p
delegation: {{{depth}attenuation: {str(attenuation).lower()}}}
rules:
  - {{id: support-crm, envelope: security, effect: allow,
     target: {{principals: ["role:support"], tools: ["crm.*"]}}}}
  - {{id: ops-all, envelope: security, effect: allow, target: {{principals: ["role:ops"]}}}}
  - {{id: deep, envelope: business, effect: require_approval,
     when: {{attr: chain.depth, gte: 3}}}}
"""


def test_a_delegate_cannot_widen_the_permissions_of_its_origin(make_engine: Make) -> None:
    engine = make_engine(policy())
    direct = make_request("support-bot", "crm.lookup")
    assert engine.decide(direct).allowed
    delegated = make_request("support-bot", "crm.lookup", chain=["support-bot", "reader-bot"])
    d = engine.decide(delegated)
    assert (d.effect, d.reason, d.hop) == (Effect.DENY, Reason.NO_MATCHING_ALLOW, "reader-bot")
    assert d.chain == ("support-bot", "reader-bot") and d.origin == "reader-bot"
    assert "restricted by the permissions of earlier actor reader-bot" in d.explain()


def test_a_delegate_may_narrow_the_permissions_of_its_origin(make_engine: Make) -> None:
    engine = make_engine(policy())
    d = engine.decide(make_request("support-bot", "crm.lookup",
                                   chain=["support-bot", "ops-bot"]))
    assert (d.effect, d.rule, d.hop) == (Effect.ALLOW, "support-crm", None)
    assert not engine.decide(make_request("support-bot", "vault.read",
                                          chain=["support-bot", "ops-bot"])).allowed


def test_without_attenuation_only_the_current_actor_counts(make_engine: Make) -> None:
    engine = make_engine(policy(attenuation=False))
    d = engine.decide(make_request("support-bot", "crm.lookup",
                                   chain=["support-bot", "reader-bot"]))
    assert d.allowed and d.chain == ("support-bot", "reader-bot") and d.hop is None


def test_every_hop_is_checked_and_the_strictest_wins(make_engine: Make) -> None:
    engine = make_engine(policy())
    d = engine.decide(make_request("ops-bot", "crm.lookup",
                                   chain=["ops-bot", "support-bot", "reader-bot"]))
    assert (d.effect, d.hop) == (Effect.DENY, "reader-bot")
    approval = engine.decide(make_request("ops-bot", "crm.lookup",
                                          chain=["ops-bot", "support-bot", "ops-bot",
                                                 "ops-bot"]))
    assert (approval.effect, approval.rule) == (Effect.REQUIRE_APPROVAL, "deep")


def test_delegation_deeper_than_allowed_is_denied(make_engine: Make) -> None:
    engine = make_engine(policy(max_depth=1))
    ok = engine.decide(make_request("ops-bot", "crm.lookup", chain=["ops-bot", "ops-bot"]))
    assert ok.allowed
    d = engine.decide(make_request("ops-bot", "crm.lookup",
                                   chain=["ops-bot", "ops-bot", "ops-bot"]))
    assert (d.effect, d.reason, d.rule) == (Effect.DENY, Reason.EXPLICIT_DENY,
                                            "delegation.max_depth")
    assert (str(d.envelope), d.owner) == ("security", "sec2")
    assert "exceeds the policy's max_depth 1" in d.errors[0]


def test_hop_principals_passed_by_the_caller_are_used(make_engine: Make) -> None:
    engine = make_engine(policy())
    req = make_request("support-bot", "crm.lookup", chain=["support-bot", "reader-bot"])
    as_ops = dataclasses.replace(req, hops=(principal_attributes(SCENARIO_MODEL, "ops-bot"),))
    assert engine.decide(as_ops).allowed


def test_an_unknown_hop_fails_closed(make_engine: Make) -> None:
    engine = make_engine(policy())
    req = make_request("support-bot", "crm.lookup", chain=["support-bot", "ghost"])
    d = engine.decide(req)
    assert (d.effect, d.reason, d.hop) == (Effect.DENY, Reason.ERROR, "ghost")
    assert "not an agent of the scenario" in d.errors[0]


def test_chain_depth_is_a_condition_attribute(make_engine: Make) -> None:
    engine = make_engine(policy(attenuation=False))
    d = engine.decide(make_request("ops-bot", "kb.search",
                                   chain=["ops-bot", "ops-bot", "ops-bot", "ops-bot"]))
    assert (d.effect, d.rule) == (Effect.REQUIRE_APPROVAL, "deep")

"""The Cedar-backed decider: the native engine's decisions, from Cedar's answers."""

from __future__ import annotations

import inspect
from dataclasses import replace
from types import MappingProxyType

import pytest
from cedar_support import engines, make_request, policy

from engine.cedar.engine import CedarEngine
from engine.policy import Decision, PolicyEngine
from engine.policy.decision import Effect, Reason
from engine.policy.engine import DEPTH_RULE

REFUNDS = policy(
    {"id": "mail", "envelope": "security", "effect": "allow", "target": {"tools": ["email.send"]}},
    {"id": "big", "envelope": "business", "effect": "require_approval",
     "target": {"tools": ["email.send"]}, "when": {"attr": "request.amount", "gt": 500},
     "obligations": ["four-eyes"]},
    {"id": "ceiling", "envelope": "legal", "effect": "deny", "target": {"tools": ["email.send"]},
     "when": {"attr": "request.amount", "gt": 2000}},
    {"id": "watch", "envelope": "security", "effect": "deny", "mode": "shadow",
     "target": {"tools": ["email.send"]}, "when": {"attr": "request.destination",
                                                    "eq": "external"}},
)


def test_every_public_method_of_the_native_engine_is_overridden() -> None:
    # A method added to PolicyEngine later must not silently decide natively for Cedar.
    public = {n for n, _ in inspect.getmembers(PolicyEngine) if not n.startswith("_")}
    assert public, "PolicyEngine has public methods"
    for name in public:
        assert name in CedarEngine.__dict__, f"CedarEngine does not override {name}"


def test_a_forbid_annotated_require_approval_asks_for_approval_with_its_obligations() -> None:
    _native, cedar = engines(REFUNDS)
    decision = cedar.decide(make_request(tool="email.send", amount=900))
    assert isinstance(decision, Decision)
    assert (decision.effect, decision.reason, decision.rule) == (
        Effect.REQUIRE_APPROVAL, Reason.APPROVAL_REQUIRED, "big")
    assert decision.obligations == ("four-eyes",)
    assert decision.owner == "biz1"  # the agent's business owner
    assert cedar.decide(make_request(tool="email.send", amount=9000)).rule == "ceiling"
    assert cedar.decide(make_request(tool="email.send", amount=10)).effect is Effect.ALLOW


def test_a_deny_on_an_absent_attribute_fails_closed_as_natively() -> None:
    native, cedar = engines(REFUNDS)
    req = make_request(tool="email.send", amount=None)
    got, want = cedar.decide(req), native.decide(req)
    assert (got.effect, got.reason, got.rule) == (Effect.DENY, Reason.ERROR, "big")
    assert (want.effect, want.reason, want.rule) == (got.effect, got.reason, got.rule)
    assert any(e.startswith("rule ceiling skipped: Cedar:") and "Absent" in e
               for e in got.errors)


def test_a_shadow_rule_is_reported_not_enforced_until_tightened() -> None:
    _native, cedar = engines(REFUNDS)
    req = make_request(tool="email.send", amount=10, destination="external")
    decision = cedar.decide(req)
    assert decision.effect is Effect.ALLOW
    assert [(m.rule, m.effect) for m in decision.shadow] == [("watch", Effect.DENY)]
    cedar.tighten("watch")
    assert cedar.policy.fact("watch").mode == "enforce"  # type: ignore[union-attr]
    assert cedar.decide(req).rule == "watch"
    cedar.reset()
    assert cedar.decide(req).effect is Effect.ALLOW


def test_invalid_tokens_and_deep_chains_are_denied_before_cedar_is_asked() -> None:
    _native, cedar = engines({**REFUNDS, "delegation": {"max_depth": 1}})
    bad = cedar.decide(make_request(tool="email.send", token={"valid": False,
                                                              "reason": "expired"}))
    assert bad.reason is Reason.INVALID_TOKEN and bad.errors == ("token expired",)
    deep = cedar.decide(make_request(tool="email.send",
                                     chain=["support-bot", "ops-bot", "planner"]))
    assert (deep.rule, deep.chain) == (DEPTH_RULE, ("support-bot", "ops-bot", "planner"))
    assert cedar.calls == 0


def test_a_request_outside_the_scenario_is_denied_with_what_does_not_fit() -> None:
    _native, cedar = engines(REFUNDS)
    req = make_request(tool="email.send", amount=10)
    forged = dict(req.principal)
    forged["roles"] = ("ops",)
    decision = cedar.decide(replace(req, principal=MappingProxyType(forged)))
    assert (decision.effect, decision.reason) == (Effect.DENY, Reason.ERROR)
    assert "does not fit the Cedar schema" in decision.errors[0]
    assert "support-bot" in decision.errors[0]
    wrong_type = replace(req, request={**req.request, "amount": "lots"})
    assert "request.amount is 'lots'" in cedar.decide(wrong_type).errors[0]
    # A value no policy reads is not sent to Cedar, so it cannot matter.
    unread = replace(req, request={**req.request, "records": "many"})
    assert cedar.decide(unread).effect is Effect.ALLOW


def test_cedar_is_asked_once_per_distinct_request() -> None:
    _native, cedar = engines(REFUNDS)
    for now in range(20):
        cedar.decide(make_request(tool="email.send", amount=10, now=float(now)))
    # The policies read amount and destination only: one Cedar request, asked of the
    # enforced policies and of the shadow one.
    assert cedar.calls == 2


def test_a_batch_of_rules_decisions_equals_one_by_one() -> None:
    _native, cedar = engines(REFUNDS)
    reqs = [make_request(tool="email.send", amount=a) for a in (10, 900, 9000, None)]
    batch = cedar.decide_rules([(r, r.principal) for r in reqs])
    assert [d.rule for d in batch] == [cedar.decide(r).rule for r in reqs]


@pytest.mark.parametrize("amount", [10, 900, 9000])
def test_what_the_rules_would_say_of_a_refused_token_agrees_with_native(amount: int) -> None:
    native, cedar = engines(REFUNDS)
    req = make_request(tool="email.send", amount=amount,
                       token={"valid": False, "reason": "out_of_scope"})
    assert cedar.decide(req).reason is Reason.INVALID_TOKEN
    got, want = cedar.rules_verdict(req), native.rules_verdict(req)
    assert (got.effect, got.rule) == (want.effect, want.rule)
    if amount == 9000:
        assert (got.effect, got.rule) == (Effect.DENY, "ceiling")
    # Asking records nothing: the token-refused request still decides as before.
    assert cedar.decide(req).reason is Reason.INVALID_TOKEN

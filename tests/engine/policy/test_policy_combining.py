"""Combining rules into a decision: precedence, shadow mode, fail-closed errors, owners, output."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest
from policy_support import make_request

from engine.policy import (
    Decision,
    Effect,
    Envelope,
    PolicyEngine,
    Reason,
    UnknownRuleError,
)

Make = Callable[[str], PolicyEngine]

HEADER = """
policy: p
legal_owner: dpo
rules:
"""


def rules(*lines: str) -> str:
    return HEADER + "\n".join(lines)


ALLOW = """
  - {id: allow-crm, envelope: security, effect: allow, target: {tools: ["crm.*"]},
     obligations: [log]}
"""
APPROVE = """
  - {id: approve-big, envelope: business, effect: require_approval,
     when: {attr: request.records, gt: 10}, obligations: [ask]}
"""
DENY = """
  - {id: deny-export, envelope: legal, effect: deny, target: {tools: [crm.export]},
     obligations: [report]}
"""


def test_allow_when_only_an_allow_rule_matches(make_engine: Make) -> None:
    d = make_engine(rules(ALLOW, APPROVE, DENY)).decide(make_request(tool="crm.lookup"))
    assert (d.effect, d.reason, d.rule) == (Effect.ALLOW, Reason.ALLOWED, "allow-crm")
    assert d.matched == ("allow-crm",)
    assert d.obligations == ("log",)
    assert (d.envelope, d.owner) == (Envelope.SECURITY, "sec1")


def test_approval_overrides_allow(make_engine: Make) -> None:
    d = make_engine(rules(ALLOW, APPROVE, DENY)).decide(make_request(records=50))
    assert (d.effect, d.reason, d.rule) == (Effect.REQUIRE_APPROVAL,
                                            Reason.APPROVAL_REQUIRED, "approve-big")
    assert d.matched == ("allow-crm", "approve-big")
    assert d.obligations == ("ask",)  # only the rules that produced the effect
    assert (d.envelope, d.owner) == (Envelope.BUSINESS, "biz1")


def test_deny_overrides_approval_and_allow(make_engine: Make) -> None:
    d = make_engine(rules(ALLOW, APPROVE, DENY)).decide(make_request(tool="crm.export",
                                                                    records=50))
    assert (d.effect, d.reason, d.rule) == (Effect.DENY, Reason.EXPLICIT_DENY, "deny-export")
    assert d.matched == ("allow-crm", "approve-big", "deny-export")
    assert (d.envelope, d.owner) == (Envelope.LEGAL, "dpo")


def test_no_matching_allow_is_reported_apart_from_an_explicit_deny(make_engine: Make) -> None:
    d = make_engine(rules(ALLOW, DENY)).decide(make_request(tool="kb.search"))
    assert (d.effect, d.reason, d.rule) == (Effect.DENY, Reason.NO_MATCHING_ALLOW, None)
    assert (d.envelope, d.owner, d.matched) == (None, None, ())
    assert "default deny" in d.explain()


def test_the_first_matching_rule_of_the_winning_effect_decides(make_engine: Make) -> None:
    engine = make_engine(rules(
        "  - {id: second-allow, envelope: business, effect: allow}",
        "  - {id: first-deny, envelope: security, effect: deny, target: {actions: [read]}}",
        "  - {id: later-deny, envelope: legal, effect: deny}",
    ))
    d = engine.decide(make_request())
    assert d.rule == "first-deny"
    assert d.matched == ("second-allow", "first-deny", "later-deny")


def test_shadow_rules_are_reported_but_never_enforced(make_engine: Make) -> None:
    engine = make_engine(rules(ALLOW, """
  - {id: tuning, envelope: security, effect: deny, mode: shadow,
     when: {attr: request.records, gt: 5}}
"""))
    d = engine.decide(make_request(records=50))
    assert d.effect is Effect.ALLOW
    assert [tuple(s) for s in d.shadow] == [("tuning", Effect.DENY)]
    assert "tuning" not in d.matched
    assert "shadow rule tuning matched: would deny" in d.explain()


def test_tighten_enforces_a_shadow_rule_from_then_on(make_engine: Make) -> None:
    engine = make_engine(rules(ALLOW, """
  - {id: tuning, envelope: security, effect: deny, mode: shadow}
"""))
    assert engine.decide(make_request()).effect is Effect.ALLOW
    engine.tighten("tuning")
    d = engine.decide(make_request())
    assert (d.effect, d.rule, d.shadow) == (Effect.DENY, "tuning", ())
    engine.reset()
    assert engine.decide(make_request()).effect is Effect.ALLOW


def test_tightening_an_unknown_rule_raises_our_error(make_engine: Make) -> None:
    engine = make_engine(rules(ALLOW))
    with pytest.raises(UnknownRuleError, match=r"no rule or sequence 'nope'.*allow-crm"):
        engine.tighten("nope")


def test_a_deny_rule_that_cannot_be_evaluated_fails_closed(make_engine: Make) -> None:
    engine = make_engine(rules(ALLOW, """
  - {id: big-refunds, envelope: business, effect: deny, when: {attr: request.amount, gt: 100}}
"""))
    d = engine.decide(make_request(amount=None))
    assert (d.effect, d.reason, d.rule) == (Effect.DENY, Reason.ERROR, "big-refunds")
    assert d.errors == ("rule big-refunds skipped: request.amount is absent (operator gt "
                        "needs a value)",)
    assert d.matched == ("allow-crm",)
    assert "fail-closed" in d.explain()
    assert engine.decide(make_request(amount=5)).effect is Effect.ALLOW


def test_an_approval_rule_that_cannot_be_evaluated_fails_closed(make_engine: Make) -> None:
    engine = make_engine(rules(ALLOW, """
  - {id: odd, envelope: business, effect: require_approval,
     when: {attr: request.attributes.n, lt: 3}}
"""))
    d = engine.decide(make_request(attributes={"n": "three"}))
    assert (d.effect, d.reason, d.rule) == (Effect.DENY, Reason.ERROR, "odd")
    assert "type mismatch" in d.errors[0]


def test_an_allow_rule_that_cannot_be_evaluated_is_skipped(make_engine: Make) -> None:
    engine = make_engine(rules("""
  - {id: small, envelope: security, effect: allow, when: {attr: request.amount, lt: 10}}
"""))
    d = engine.decide(make_request(amount=None))
    assert (d.effect, d.reason) == (Effect.DENY, Reason.NO_MATCHING_ALLOW)
    assert d.errors[0].startswith("rule small skipped:")


def test_shadow_rules_that_cannot_be_evaluated_do_not_fail_closed(make_engine: Make) -> None:
    engine = make_engine(rules(ALLOW, """
  - {id: probe, envelope: business, effect: deny, mode: shadow,
     when: {attr: request.amount, gt: 100}}
"""))
    d = engine.decide(make_request(amount=None))
    assert d.effect is Effect.ALLOW
    assert d.errors[0].startswith("rule probe skipped:")


def test_an_invalid_token_is_denied_before_any_rule(make_engine: Make) -> None:
    engine = make_engine(rules(ALLOW))
    d = engine.decide(make_request(token={"valid": False, "reason": "expired"}))
    assert (d.effect, d.reason, d.rule, d.matched) == (Effect.DENY, Reason.INVALID_TOKEN,
                                                       None, ())
    assert d.errors == ("token expired",)
    assert (d.envelope, d.owner) == (Envelope.SECURITY, "sec1")
    assert "invalid token (token expired)" in d.explain()
    assert engine.decide(make_request(token={"reason": "?"})).reason is Reason.INVALID_TOKEN


def test_rules_target_principals_by_role_kind_and_name(make_engine: Make) -> None:
    engine = make_engine(rules("""
  - {id: by-role, envelope: security, effect: allow, target: {principals: ["role:ops"]}}
  - {id: by-kind, envelope: security, effect: allow, target: {principals: ["kind:vendor_*"]}}
  - {id: by-name, envelope: security, effect: allow, target: {principals: [reader-bot]}}
"""))
    assert engine.decide(make_request("ops-bot")).rule == "by-role"
    assert engine.decide(make_request("vendor-bot")).rule == "by-kind"
    assert engine.decide(make_request("reader-bot")).rule == "by-name"
    assert engine.decide(make_request("planner")).reason is Reason.NO_MATCHING_ALLOW


def test_a_rule_on_data_classes_never_targets_a_call_without_a_resource(
        make_engine: Make) -> None:
    engine = make_engine(rules("""
  - {id: pii, envelope: security, effect: allow, target: {data_classes: ["*"]}}
"""))
    assert engine.decide(make_request(tool="crm.lookup")).allowed
    assert not engine.decide(make_request(tool="email.send")).allowed


def test_decisions_are_immutable_values(make_engine: Make) -> None:
    d = make_engine(rules(ALLOW)).decide(make_request())
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.effect = Effect.DENY  # type: ignore[misc]
    same = Decision(Effect.ALLOW, Reason.ALLOWED, "allow-crm", ("allow-crm",),
                    obligations=("log",), envelope=Envelope.SECURITY, owner="sec1")
    assert d == same and hash(d) == hash(same)
    assert d.replace(owner="other") != d


def test_to_dict_is_json_with_a_stable_key_order(make_engine: Make) -> None:
    d = make_engine(rules(ALLOW, APPROVE)).decide(make_request(records=50, chain=[
        "support-bot", "ops-bot"]))
    data = d.to_dict()
    assert list(data) == ["effect", "reason", "rule", "envelope", "owner", "matched", "shadow",
                          "failed", "sequences", "obligations", "errors", "chain", "hop"]
    assert json.loads(json.dumps(data)) == data
    assert data["chain"] == {"origin": "ops-bot", "actors": ["support-bot", "ops-bot"]}


def test_explain_lists_matched_failed_and_obligations(make_engine: Make) -> None:
    d = make_engine(rules(ALLOW, APPROVE)).decide(make_request(records=3))
    text = d.explain()
    assert text.splitlines()[0] == "ALLOW by rule allow-crm [security envelope, owner sec1]"
    assert ("rule approve-big not matched: request.records gt 10 (actual request.records = 3)"
            in text)
    assert "obligations: log" in text

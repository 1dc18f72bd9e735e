"""What-if answers read off decision records: near misses of a default deny, shadow changes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from engine.policy.decision import RESTRICTIVENESS
from engine.policy.what_if import near_misses, shadow_effects, would_change

RULES = {
    "finance-reads": {"effect": "allow", "mode": "enforce"},
    "shadow-reads": {"effect": "allow", "mode": "shadow"},
    "no-bulk": {"effect": "deny", "mode": "enforce"},
}


def default_deny(*failed: tuple[str, str, str, object]) -> dict[str, object]:
    return {"effect": "deny", "reason": "no_matching_allow", "rule": None,
            "failed": [{"rule": r, "condition": c, "path": p, "actual": a}
                       for r, c, p, a in failed]}


def test_a_default_deny_names_the_enforced_allow_rule_its_condition_and_actual_value() -> None:
    decision = default_deny(
        ("no-bulk", "request.records gt 100", "request.records", 6000),
        ("shadow-reads", "request.records lte 9000", "request.records", 6000),
        ("finance-reads", "request.records lte 5000", "request.records", 6000))
    misses = near_misses(decision, RULES)
    assert [(m.rule, m.condition, m.actual) for m in misses] == [
        ("finance-reads", "request.records lte 5000", 6000)]
    assert misses[0].needs == "request.records lte 5000 (it was request.records = 6000)"


def test_an_absent_attribute_reads_absent() -> None:
    decision = default_deny(("finance-reads", "task.ticket exists", "task.ticket", None))
    assert near_misses(decision, RULES)[0].needs.endswith("task.ticket = absent)")


def test_only_a_default_deny_has_near_misses() -> None:
    decision = default_deny(("finance-reads", "request.records lte 5000",
                             "request.records", 6000))
    decision["reason"] = "explicit_deny"
    assert near_misses(decision, RULES) == []


EFFECTS = ("allow", "deny", "require_approval")
OUTCOMES = (("allow", "allowed"), ("deny", "explicit_deny"), ("deny", "no_matching_allow"),
            ("deny", "sequence"), ("deny", "error"), ("deny", "invalid_token"),
            ("require_approval", "approval_required"), ("require_approval", "sequence"))
"""(effect, reason) pairs a decision can have."""


@given(st.sampled_from(OUTCOMES), st.sampled_from(EFFECTS))
def test_would_change_agrees_with_combining_the_enforced_rule(outcome: tuple[str, str],
                                                              shadow: str) -> None:
    effect, reason = outcome
    # Enforced, the rule joins the combination: the most restrictive effect wins, and an
    # allow only lifts a default deny.
    if shadow == "allow":
        combined = "allow" if reason == "no_matching_allow" else effect
    else:
        combined = max(effect, shadow, key=lambda e: RESTRICTIVENESS[e])
    assert would_change(effect, reason, shadow) == (combined != effect)


def test_shadow_effects_lists_rules_and_shadow_sequences_once_each() -> None:
    decision = {"shadow": [{"rule": "a", "effect": "deny"}, {"rule": "a", "effect": "deny"}],
                "sequences": [{"sequence": "s", "effect": "deny", "shadow": True},
                              {"sequence": "t", "effect": "deny", "shadow": False}]}
    assert list(shadow_effects(decision)) == [("a", "deny"), ("s", "deny")]

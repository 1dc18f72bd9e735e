"""Checks on the rules themselves: rules that can never match, allows always overridden.

Both are proofs over the scenario's call space and every value class the conditions
distinguish (:mod:`.analysis`, :mod:`.candidates`), not guesses from rule text; when the
candidate space is too large to decide, nothing is reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.policy.compiler import CompiledPolicy, CompiledRule
from engine.policy.decision import Effect
from engine.readiness.analysis import (
    call_space,
    namespaces,
    rule_witness,
    target_calls,
)
from engine.readiness.candidates import assignments, contradictory, holds
from engine.readiness.findings import Check, Finding, as_check
from engine.readiness.subject import Subject


def never_matches(subject: Subject, policy: CompiledPolicy, rule: CompiledRule) -> str | None:
    """Why ``rule`` can never match a request of the scenario, or None if it can (or unknown).

    Reasons: its target admits no call of the scenario; its conditions contradict each other
    (no values of the attributes satisfy them together); or they never hold for the calls
    its target admits (a condition on principal, tool or resource attributes those calls
    lack).
    """
    targeted = target_calls(policy, rule, call_space(subject))
    if not targeted:
        return "its target matches no agent x tool x resource of the scenario"
    witness = rule_witness(subject, policy, rule)
    if witness is not None:
        return None
    assert rule.cond is not None
    if contradictory(rule.cond):
        return f"its conditions contradict each other ({rule.cond.text})"
    return (f"its conditions ({rule.cond.text}) never hold for the "
            f"{len(targeted)} call(s) its target admits")


@as_check("AR012", "rule-never-matches", "medium",
          "Every rule can match some request of the scenario", ("L6",))
def check_never_matches(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    A rule that can never match is dead policy: usually a typo in a target or a condition
    that contradicts itself (``lt 5`` and ``gt 10`` under ``all``), and a deny that never fires
    is a control that is not there. Proven over the scenario's calls and every value class
    the conditions distinguish.
    """
    for policy, profiles, pid in subject.policy_groups():
        for rule in policy.rules:
            why = never_matches(subject, policy, rule)
            if why is None:
                continue
            yield check.finding(
                subject.at_rule(pid, rule),
                f"rule {rule.id} of policy {policy.name} can never match: {why}",
                "fix the target or conditions (or delete the rule)",
                severity="high" if rule.effect is not Effect.ALLOW else "medium",
                profiles=profiles)
        for seq in policy.sequences:
            space = call_space(subject)
            for j, step in enumerate(seq.steps):
                if not any(step.target.matches(c.key) for c in space):
                    yield check.finding(
                        subject.at_policy(pid, ("sequences", seq.index, "steps", j)),
                        f"step {j + 1} of sequence {seq.id} of policy {policy.name} matches "
                        "no agent x tool x resource of the scenario, so the sequence can "
                        "never complete", "fix the step's target (or delete the sequence)",
                        profiles=profiles)


def shadowed_by(subject: Subject, policy: CompiledPolicy, rule: CompiledRule
                ) -> tuple[str, ...] | None:
    """The enforced deny rules that override ``rule`` (an allow) wherever it matches.

    None when the allow decides some request (or when it never matches at all, or the
    candidate space is too large to decide).
    """
    deciders: set[str] = set()
    any_match = False
    for call in target_calls(policy, rule, call_space(subject)):
        denies = [r for r in policy.candidates(call.key)
                  if r.effect is Effect.DENY and not r.shadow and r is not rule]
        combos = assignments([rule.cond, *(d.cond for d in denies)])
        if combos is None:
            return None
        sp = namespaces(subject, call)
        for values in combos:
            req, cv = sp.request(values)
            if not holds(rule.cond, req, cv):
                continue
            any_match = True
            hit = next((d for d in denies if holds(d.cond, req, cv)), None)
            if hit is None:
                return None
            deciders.add(hit.id)
    return tuple(sorted(deciders)) if any_match else None


@as_check("AR013", "allow-always-overridden", "low",
          "No allow rule is overridden by a deny wherever it matches", ("L6",))
def check_shadowed(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    Deny overrides allow: an allow whose every matching request is also matched by an
    enforced deny never decides anything. Either the allow is dead weight or the deny is
    broader than intended.
    """
    for policy, profiles, pid in subject.policy_groups():
        for rule in policy.rules:
            if rule.effect is not Effect.ALLOW or rule.shadow:
                continue
            denies = shadowed_by(subject, policy, rule)
            if not denies:
                continue
            yield check.finding(
                subject.at_rule(pid, rule),
                f"allow rule {rule.id} of policy {policy.name} is overridden wherever it "
                f"matches by deny rule(s) {', '.join(denies)}",
                f"narrow the deny ({', '.join(denies)}) or delete the allow {rule.id}",
                profiles=profiles)


CHECKS: tuple[Check, ...] = (check_never_matches, check_shadowed)
"""This family's checks, in source order."""

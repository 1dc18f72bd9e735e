"""The plain-Python reference every engine is checked against, and the agreement check.

Deny overrides allow, nothing matched means deny; sequence rules deny the call completing
their steps in order within the window. Written for clarity, not speed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from benchmarks.pdp.estate import RESOURCE_BY_ID, TOOL_BY_ID, AgentSpec, sensitivity, tool_matches
from benchmarks.pdp.workload import Call, RuleSpec, StepSpec, Workload

ALLOW, DENY, NO_MATCH = "allow", "deny", "no_match"
"""Outcomes: an allow rule matched and no deny did; a deny rule matched; nothing matched."""


def rule_matches(rule: RuleSpec, agent: AgentSpec, call: Call) -> bool:
    """Does ``rule`` match ``call`` (target and every condition)?"""
    p = rule.principal
    if p != "*":
        kind, _, value = p.partition(":")
        if kind == "role" and value not in agent.roles:
            return False
        if kind == "kind" and value != agent.kind:
            return False
        if kind == "agent" and value != agent.name:
            return False
    if not tool_matches(rule.tool, call.tool):
        return False
    res = RESOURCE_BY_ID[call.resource]
    if rule.data_class not in ("*", res.data_class):
        return False
    if rule.records_gt is not None and not call.records > rule.records_gt:
        return False
    if rule.records_lte is not None and not call.records <= rule.records_lte:
        return False
    sens = sensitivity(call.resource)
    if rule.sens_gte is not None and not sens >= rule.sens_gte:
        return False
    if rule.sens_lte is not None and not sens <= rule.sens_lte:
        return False
    if rule.destination is not None and call.destination != rule.destination:
        return False
    if rule.hours is not None:
        lo, hi = rule.hours
        h = call.hour
        inside = lo <= h < hi if lo <= hi else (h >= lo or h < hi)
        if not inside:
            return False
    return rule.lacks_role is None or rule.lacks_role not in agent.roles


def reference_outcome(w: Workload, call: Call) -> tuple[str, frozenset[str]]:
    """The outcome of a call and the rules that decided it.

    Deny overrides allow and nothing matched means deny; the deciding rules are every
    matching deny rule, or every matching allow rule.
    """
    agent = w.agent_by_name[call.agent]
    allows: list[str] = []
    denies: list[str] = []
    for r in w.rules:
        if rule_matches(r, agent, call):
            (denies if r.effect == "deny" else allows).append(r.id)
    if denies:
        return DENY, frozenset(denies)
    if allows:
        return ALLOW, frozenset(allows)
    return NO_MATCH, frozenset()


def step_matches(step: StepSpec, call: Call) -> bool:
    """Does a sequence step match a call?"""
    tool = TOOL_BY_ID[call.tool]
    return (tool_matches(step.tool, call.tool)
            and step.data_class in ("*", RESOURCE_BY_ID[call.resource].data_class)
            and step.action in ("*", tool.action)
            and (step.destination is None or call.destination == step.destination)
            and (step.records_gt is None or call.records > step.records_gt))


def reference_sequence_allowed(w: Workload, base_allowed: Sequence[bool]) -> list[bool]:
    """Allowed (True) or not, per call, with the sequence rules active.

    A call that matches the last step of a sequence is denied when the earlier steps were
    matched, in order, by allowed calls of its session, the first of them within the window.
    Only allowed calls advance a sequence; a session's state ends with its last call.
    """
    # session -> sequence -> per step index: start time of the latest-starting partial match
    state: dict[str, dict[str, list[float | None]]] = {}
    out = []
    for i, (call, allowed) in enumerate(zip(w.calls, base_allowed, strict=True)):
        per_seq = state.setdefault(call.session, {})
        completes = False
        for seq in w.sequences:
            last = len(seq.steps) - 1
            if step_matches(seq.steps[last], call):
                partial = per_seq.get(seq.id)
                start = partial[last - 1] if partial else None
                if start is not None and call.now - start <= seq.window:
                    completes = True
        final = allowed and not completes
        out.append(final)
        if final:
            for seq in w.sequences:
                last = len(seq.steps) - 1
                partial = per_seq.setdefault(seq.id, [None] * last)
                # Highest step first, so one call never advances a sequence twice.
                for j in range(last - 1, -1, -1):
                    if not step_matches(seq.steps[j], call):
                        continue
                    if j == 0:
                        partial[0] = call.now
                        continue
                    prev = partial[j - 1]
                    if prev is None or call.now - prev > seq.window:
                        continue
                    cur = partial[j]
                    if cur is None or cur <= prev or call.now - cur > seq.window:
                        partial[j] = prev
        if i in w.session_last:
            state.pop(call.session, None)
    return out


@dataclass
class Agreement:
    """What the cross-check found."""

    checked: int
    counts: dict[str, int]
    """Reference outcomes by kind."""
    mismatched: set[int] = field(default_factory=set)
    """Indexes of the calls some engine got wrong."""
    examples: list[str] = field(default_factory=list)
    """The first disagreements, as text."""

    @property
    def ok(self) -> bool:
        """True when every engine agreed with the reference on every request."""
        return not self.mismatched

    def add(self, i: int, text: str, limit: int = 20) -> None:
        """Record that call ``i`` was decided differently (keeping the first few texts)."""
        self.mismatched.add(i)
        if len(self.examples) < limit:
            self.examples.append(text)


def check_agreement(w: Workload, reference: Sequence[tuple[str, frozenset[str]]],
                    engines: dict[str, Sequence[tuple[str, frozenset[str]] | bool]]
                    ) -> Agreement:
    """Compare each engine's outcome with the reference, call by call.

    An engine's answer is either (outcome, deciding rules) — compared in full — or a bool
    (allowed), compared with ``outcome == allow``.
    """
    result = Agreement(len(reference), {ALLOW: 0, DENY: 0, NO_MATCH: 0})
    for i, (outcome, rules) in enumerate(reference):
        result.counts[outcome] += 1
        for name, answers in engines.items():
            got = answers[i]
            if isinstance(got, bool):
                same = got == (outcome == ALLOW)
            else:
                same = got == (outcome, rules)
            if not same:
                result.add(i, f"call {i} {w.calls[i]}: reference {outcome} {sorted(rules)}, "
                              f"{name} {got}")
    return result

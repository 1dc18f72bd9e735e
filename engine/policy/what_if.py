"""What-if questions about a decision, answered from the decision record alone.

Two questions engineers ask while tuning a policy: "what would it take for this request to
be allowed?" (the allow rules that nearly matched a default deny, each with its first failed
condition and the actual value) and "what would enforcing this shadow rule change?" (whether
a shadow match would have changed the decision's effect). Both read what the decision already
records (:class:`~engine.policy.decision.Decision`, or its ``to_dict()`` form); nothing is
evaluated again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from engine.policy.decision import RESTRICTIVENESS

DEFAULT_DENY = "no_matching_allow"
"""The reason of a deny that no rule decided (no enforced allow rule matched)."""


class NearMiss(NamedTuple):
    """An enforced allow rule that targeted a denied request but did not match it."""

    rule: str
    condition: str
    """Its first failed condition as text, e.g. ``request.records lte 5000``."""
    path: str
    """The attribute path the condition reads."""
    actual: Any
    """The attribute's value in the request (None: absent)."""

    @property
    def needs(self) -> str:
        """What it would take, as one line: the condition and the value it met instead."""
        shown = "absent" if self.actual is None else repr(self.actual)
        return f"{self.condition} (it was {self.path} = {shown})"


def near_misses(decision: Mapping[str, Any],
                rules: Mapping[str, Mapping[str, Any]]) -> list[NearMiss]:
    """The allow rules that nearly matched a default deny, in policy order.

    A rule nearly matched when its target covered the request and one of its conditions
    failed; the decision lists those rules with their first failed condition. Only enforced
    allow rules count (a shadow rule or a deny rule would not have allowed the request).

    Args:
        decision: The decision as ``Decision.to_dict()`` gives it.
        rules: Rule id -> {effect, mode, ...}, as the run announces its policy's rules
            (``run_started``'s ``rules``). Rules missing from it are left out.

    Returns:
        Empty unless the decision is a default deny.
    """
    if str(decision.get("reason")) != DEFAULT_DENY:
        return []
    misses: list[NearMiss] = []
    seen: set[str] = set()
    for failed in decision.get("failed") or ():
        rule = str(failed.get("rule"))
        info = rules.get(rule)
        if info is None or rule in seen:
            continue
        if str(info.get("effect")) != "allow" or str(info.get("mode", "enforce")) != "enforce":
            continue
        seen.add(rule)
        misses.append(NearMiss(rule, str(failed.get("condition")), str(failed.get("path")),
                               failed.get("actual")))
    return misses


def would_change(effect: str, reason: str, shadow_effect: str) -> bool:
    """Whether enforcing a shadow rule that matched would change the decision's effect.

    A more restrictive shadow effect always wins (deny beats approval beats allow). A shadow
    allow changes only a default deny: an explicit deny or a required approval still beats it.

    Args:
        effect: The decision's effect.
        reason: The decision's reason.
        shadow_effect: The effect the shadow rule would have had.
    """
    if shadow_effect == "allow":
        return effect == "deny" and reason == DEFAULT_DENY
    return RESTRICTIVENESS.get(shadow_effect, 0) > RESTRICTIVENESS.get(effect, 0)


def shadow_effects(decision: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """(rule or sequence id, effect) of every shadow match a decision records, once each."""
    seen: set[str] = set()
    for match in decision.get("shadow") or ():
        rule = str(match.get("rule"))
        if rule not in seen:
            seen.add(rule)
            yield rule, str(match.get("effect"))
    for seq in decision.get("sequences") or ():
        if seq.get("shadow"):
            rule = str(seq.get("sequence"))
            if rule not in seen:
                seen.add(rule)
                yield rule, str(seq.get("effect"))

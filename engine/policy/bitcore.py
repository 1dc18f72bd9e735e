"""Explanations read off a stop set: a decision's effect, rule and lists, from bits.

A stop set has bit ``c * n + r`` when item ``c`` of candidate rule ``r`` did not hold (see
:mod:`engine.policy.tables`). What its matched rules decide (effect, deciding rule,
obligations, shadow matches) is a :class:`Verdict`, shared by every stop set of the candidate
set that decides alike; a decision holds the verdict and its own stop set, and the matched
rules and failed conditions are spelled out from the two only when first read. Built by a
candidate set (:meth:`engine.policy.plans.CandidateSet.core`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from engine.policy.codegen import rule_check
from engine.policy.decision import (
    Decision,
    Effect,
    Envelope,
    FailedCondition,
    Reason,
    SequenceMatch,
    ShadowMatch,
    _forward,
    _SharedFields,
    with_values,
)
from engine.policy.rules import CompiledRule

MAX_SPELLED = 4096
"""Stop sets a verdict keeps spelled out; it starts afresh past this."""

_Spelled = tuple[tuple[str, ...], tuple[tuple[str, str, str, int], ...]]


class Verdict:
    """What a stop set's matched rules decide, shared by the stop sets deciding alike.

    Effect, reason, deciding rule, obligations and shadow matches follow from which rules
    matched, and most stop sets of a candidate set differ only in which rules failed where:
    a few verdicts serve them all, so deciding allocates no explanation per stop set. The
    matched ids and failed conditions of a stop set are spelled out when first read, from the
    candidate rules the verdict keeps, and remembered (as tuples of text). Immutable but for
    that memo, a pure function of the stop set.
    """

    __slots__ = ("_spelled", "effect", "enforced", "envelope", "m", "obligations",
                 "positions", "reason", "rule", "rule_at", "shadow")

    sequences: tuple[SequenceMatch, ...] = ()
    errors: tuple[str, ...] = ()
    chain: tuple[str, ...] = ()
    hop: str | None = None

    def __init__(self, rule_at: Callable[[int], CompiledRule], m: int, positions: int,
                 enforced: int, effect: Effect, reason: Reason, decider: CompiledRule | None,
                 obligations: tuple[str, ...], shadow_bits: int) -> None:
        self.rule_at = rule_at
        """The candidate rule at a local index."""
        self.m = m
        """How many candidate rules (a stop set's bits per item position)."""
        self.positions = positions
        self.enforced = enforced
        """Local bits of the enforced candidate rules."""
        self.effect = effect
        self.reason = reason
        self.rule = decider.id if decider is not None else None
        self.envelope = decider.envelope if decider is not None else None
        self.obligations = obligations
        self.shadow: tuple[ShadowMatch, ...] = tuple([
            ShadowMatch(r.id, r.effect) for r in map(rule_at, bit_indexes(shadow_bits))
        ]) if shadow_bits else ()
        """Shadow rules that matched, in document order (spelled out now: read on every
        decision to see whether it could raise an alert, and mostly empty)."""
        self._spelled: dict[int, _Spelled] | None = None
        """Stop set -> its spelled lists, once one is read (None until then: most verdicts'
        are never read in a run that only counts decisions)."""

    def matched_of(self, stops: int) -> tuple[str, ...]:
        """Ids of the enforced rules that matched in stop set ``stops``, in document order."""
        spelled = self._spelled
        found = spelled.get(stops) if spelled is not None else None
        return (found if found is not None else self._spell(stops))[0]

    def failed_of(self, stops: int) -> tuple[tuple[str, str, str, int], ...]:
        """(rule, condition, path, value index) of each rule that did not match in ``stops``.

        The value index is the path's place among the distinct paths read, in order.
        """
        spelled = self._spelled
        found = spelled.get(stops) if spelled is not None else None
        return (found if found is not None else self._spell(stops))[1]

    def at(self, stops: int) -> BitCore:
        """This verdict's explanation of stop set ``stops``, as one object."""
        return BitCore(self, stops)

    def _spell(self, stops: int) -> _Spelled:
        m, rule_at = self.m, self.rule_at
        every = (1 << m) - 1
        seen = 0
        for c in range(self.positions):  # rules stopped at any item
            seen |= stops >> (c * m)
        matched = tuple([rule_at(i).id for i in bit_indexes(every & ~seen & self.enforced)])
        at: dict[int, int] = {}
        s, c = stops, 0
        while s:  # the lowest item position at which each rule stopped
            for i in bit_indexes(s & every):
                at.setdefault(i, c)
            s >>= m
            c += 1
        index: dict[str, int] = {}
        out = []
        for i in sorted(at):
            rule = rule_at(i)
            text, path = failures(rule)[at[i]]
            out.append((rule.id, text, path, index.setdefault(path, len(index))))
        spelled = (matched, tuple(out))
        memo = self._spelled
        if memo is None or len(memo) >= MAX_SPELLED:
            memo = self._spelled = {}
        memo[stops] = spelled
        return spelled


class BitCore:
    """A verdict's explanation of one stop set, as one object (delegation, sequences).

    A decision holds its verdict and stop set apart; this joins them where an explanation is
    wrapped or rebuilt whole (:meth:`Verdict.at`).
    """

    __slots__ = ("stops", "verdict")

    sequences: tuple[SequenceMatch, ...] = ()
    errors: tuple[str, ...] = ()
    chain: tuple[str, ...] = ()
    hop: str | None = None

    if TYPE_CHECKING:
        effect: Effect
        reason: Reason
        rule: str | None
        envelope: Envelope | None
        obligations: tuple[str, ...]
        shadow: tuple[ShadowMatch, ...]
    else:
        _forward(locals(), "verdict",
                 ["effect", "reason", "rule", "envelope", "obligations", "shadow"])

    def __init__(self, verdict: Verdict, stops: int) -> None:
        self.verdict = verdict
        self.stops = stops

    @property
    def matched(self) -> tuple[str, ...]:
        """Ids of the enforced rules that matched, in document order."""
        return self.verdict.matched_of(self.stops)

    @property
    def failed(self) -> tuple[tuple[str, str, str, int], ...]:
        """(rule, condition, path, value index) of each rule that did not match."""
        return self.verdict.failed_of(self.stops)


class StopDecision(Decision):
    """A decision holding a verdict shared by stop sets, and its own stop set.

    The engine's common case: what the matched rules decide is shared, and which rules
    matched and which failed where is spelled out from the stop set only when read, so
    deciding allocates this one object per request and no explanation. Reads exactly as a
    :class:`~engine.policy.decision.Decision` (it is one).
    """

    __slots__ = ()

    if TYPE_CHECKING:
        _core: Any

    @property  # the fields are read-only, though typed as attributes
    def matched(self) -> tuple[str, ...]:  # type: ignore[override]
        """Enforced rules that matched, in policy order."""
        verdict: Verdict = self._core
        return verdict.matched_of(self._stops)

    @property
    def failed(self) -> tuple[FailedCondition, ...]:
        """Targeted-but-unmatched rules: first failed condition and the actual value."""
        verdict: Verdict = self._core
        return with_values(verdict.failed_of(self._stops), self._src)

    def _explanation(self) -> BitCore:
        verdict: Verdict = self._core
        return verdict.at(self._stops)


class _BuildingStop(_SharedFields):
    """A :class:`StopDecision` being built: plain stores, then it becomes one.

    As ``engine.policy.decision._Building`` builds a decision (same base, same slots).
    """

    __slots__ = Decision.__slots__

    def __init__(self, verdict: Verdict, source: Any, owner: str | None, stops: int) -> None:
        self._core = verdict
        self._src = source
        self._stops = stops
        self.effect = verdict.effect
        self.owner = owner
        self.__class__ = StopDecision  # type: ignore[assignment]


make_stop_decision: Callable[[Verdict, Any, str | None, int], Decision] = cast(
    Any, _BuildingStop)
"""A :class:`StopDecision` from its verdict, its actual values' source (the request, a
captured request or a snapshot), its owner and its stop set (the engine's hot paths)."""


def bit_indexes(bits: int) -> list[int]:
    """The positions of the set bits of ``bits``, lowest first."""
    out = []
    while bits:
        low = bits & -bits
        out.append(low.bit_length() - 1)
        bits ^= low
    return out


def failures(rule: CompiledRule) -> tuple[tuple[str, str], ...]:
    """(condition text, path) of each item of a rule's condition, in order."""
    if rule.check is None and rule.cond is not None:  # built without the compiler
        return rule_check(rule.cond)[1]
    return rule.failures

"""Explanations read off a stop set: a decision's effect, rule and lists, from bits.

A stop set has bit ``c * n + r`` when item ``c`` of candidate rule ``r`` did not hold (see
:mod:`engine.policy.tables`); :class:`BitCore` holds one with what follows from it at once
(effect, deciding rule, obligations, shadow matches) and spells out the matched rules and
failed conditions only when first read. Built by a candidate set
(:meth:`engine.policy.plans.CandidateSet.core`).
"""

from __future__ import annotations

from collections.abc import Callable

from engine.policy.codegen import rule_check
from engine.policy.decision import Effect, Reason, SequenceMatch, ShadowMatch
from engine.policy.rules import CompiledRule


class BitCore:
    """An explanation read off a stop set: effect and deciding rule now, the lists on demand.

    The stop set already says, for every candidate rule, whether it matched and which item
    failed first; the matched ids, shadow matches and failed conditions are only spelled out
    as tuples when first read. Immutable once built (the cached tuples are a pure function
    of the stop set and the rules).
    """

    __slots__ = ("_failed", "_matched", "_paths", "effect", "envelope", "matched_bits", "n",
                 "obligations", "reason", "rule", "rule_at", "shadow", "shadow_bits", "stops")

    sequences: tuple[SequenceMatch, ...] = ()
    errors: tuple[str, ...] = ()
    chain: tuple[str, ...] = ()
    hop: str | None = None

    def __init__(self, rule_at: Callable[[int], CompiledRule], effect: Effect, reason: Reason,
                 decider: CompiledRule | None, obligations: tuple[str, ...],
                 matched_bits: int, shadow_bits: int, stops: int, n: int) -> None:
        self.rule_at = rule_at
        self.effect = effect
        self.reason = reason
        self.rule = decider.id if decider is not None else None
        self.envelope = decider.envelope if decider is not None else None
        self.obligations = obligations
        self.matched_bits = matched_bits
        self.shadow_bits = shadow_bits
        self.stops = stops
        """The stop set: bit ``c * n + r`` when item ``c`` of rule ``r`` did not hold."""
        self.n = n
        self._matched: tuple[str, ...] | None = None
        self.shadow: tuple[ShadowMatch, ...] = tuple([
            ShadowMatch(r.id, r.effect) for r in map(self.rule_at, bit_indexes(shadow_bits))
        ]) if shadow_bits else ()
        """Shadow rules that matched, in document order (spelled out now: read on every
        decision to see whether it could raise an alert, and mostly empty)."""
        self._failed: tuple[tuple[str, str, str, int], ...] | None = None
        self._paths: tuple[str, ...] = ()

    @property
    def matched(self) -> tuple[str, ...]:
        """Ids of the enforced rules that matched, in document order."""
        if self._matched is None:
            by_index = self.rule_at
            self._matched = tuple([by_index(i).id for i in bit_indexes(self.matched_bits)])
        return self._matched

    @property
    def failed(self) -> tuple[tuple[str, str, str, int], ...]:
        """(rule, condition, path, value index) of each rule that did not match.

        The value index is the path's place in :attr:`failed_paths`: a decision holding its
        actual values as a tuple holds them in that order.
        """
        if self._failed is None:
            at: dict[int, int] = {}
            n, every = self.n, (1 << self.n) - 1
            s = self.stops
            c = 0
            while s:  # the lowest item position at which each rule stopped
                for i in bit_indexes(s & every):
                    at.setdefault(i, c)
                s >>= n
                c += 1
            index: dict[str, int] = {}
            out = []
            for i in sorted(at):
                rule = self.rule_at(i)
                text, path = failures(rule)[at[i]]
                out.append((rule.id, text, path, index.setdefault(path, len(index))))
            self._paths = tuple(index)
            self._failed = tuple(out)
        return self._failed

    @property
    def failed_paths(self) -> tuple[str, ...]:
        """The distinct paths the failed conditions read, in the order of their values."""
        if self._failed is None:
            self.failed  # noqa: B018 - spells them out
        return self._paths


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

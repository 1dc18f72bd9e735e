"""The compiled policy: rules indexed by facet, sequences, counters and delegation settings.

What :func:`engine.policy.compiler.compile_policy` returns and the decision point reads:
candidate rules for a target key come from ANDing per-facet bitmasks; the facts views need
about each rule (description, framework references, envelope, effect, mode, owner) are
looked up by id with :meth:`CompiledPolicy.fact`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from types import MappingProxyType
from typing import Any

from engine.model import Scenario
from engine.policy.errors import UnknownRuleError
from engine.policy.rules import (
    CompiledCounter,
    CompiledRule,
    CompiledSequence,
    RuleFacts,
    TargetKey,
)
from engine.policy.tables import Tables


@dataclass(frozen=True, eq=False)
class CompiledPolicy:
    """A policy compiled against one scenario: indexed rules, sequences and counters.

    Attributes:
        name: The policy id.
        source: Where it was loaded from.
        rules: Rules in document order.
        sequences: Sequence rules in document order.
        counters: Declared counters.
        legal_owner: Accountable owner of the legal envelope.
        max_depth: Delegation depth limit (None: no limit).
        attenuation: Decide delegated requests for every actor; strictest wins.
        warnings: Non-fatal findings (globs that match nothing), as ``file:line:col`` text.
        scenario: The scenario the policy was checked against.
    """

    name: str
    source: str
    rules: tuple[CompiledRule, ...]
    sequences: tuple[CompiledSequence, ...]
    counters: tuple[CompiledCounter, ...]
    legal_owner: str | None
    max_depth: int | None
    attenuation: bool
    warnings: tuple[str, ...]
    scenario: Scenario
    by_tool: Mapping[str, frozenset[int]] = field(default_factory=dict)
    """Declared tool id -> rules whose target admits it (tool facet matches, or none)."""
    by_agent: Mapping[str, frozenset[int]] = field(default_factory=dict)
    """Declared agent name -> rules whose principal facet admits it as declared."""
    agent_signature: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    """Declared agent name -> (kind, roles) as the scenario declares them."""

    masks: Mapping[str, Mapping[Any, int]] = field(default_factory=dict)
    """Facet name -> declared value (and None) -> bitmask of the rules whose facet admits it
    (bit ``i``: rule index ``i``). Facets: agents, tools, actions, resources, data_classes."""
    tables: Tables | None = field(default=None, repr=False)
    """The rules' condition tables (see :mod:`engine.policy.tables`); they depend on the
    conditions alone, so enforcing a shadow rule keeps them."""
    derived: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    """What is built from this policy on first use and kept with it (its plan book: see
    :func:`engine.policy.plans.plan_book`); a tightened copy starts without."""

    def candidates(self, key: TargetKey) -> tuple[CompiledRule, ...]:
        """Rules whose target matches ``key``, in document order."""
        rules = self.rules
        out = []
        m = self.candidate_mask(key)
        while m:
            low = m & -m
            out.append(rules[low.bit_length() - 1])
            m ^= low
        return tuple(out)

    def candidate_mask(self, key: TargetKey) -> int:
        """Bitmask of the rules whose target matches ``key`` (bit ``i``: rule index ``i``).

        For a declared tool and a principal exactly as the scenario declares it, the
        per-facet bitmasks are ANDed; anything else is matched rule by rule.
        """
        return _candidate_mask(self.rules, self.masks, self.agent_signature, key)

    def mask_function(self) -> Callable[[TargetKey], int]:
        """:meth:`candidate_mask` as a function that does not refer back to this policy."""
        rules, masks, signature = self.rules, self.masks, self.agent_signature
        return lambda key: _candidate_mask(rules, masks, signature, key)

    def rule_ids(self) -> tuple[str, ...]:
        """Ids of every rule and sequence, in document order."""
        return (*(r.id for r in self.rules), *(s.id for s in self.sequences))

    @cached_property
    def facts(self) -> Mapping[str, RuleFacts]:
        """Every rule and sequence rule by id (rules first, each in document order).

        Built on first use from the compiled rules, so views and reports never re-read the
        policy's YAML; a tightened copy (:meth:`with_enforced`) builds its own.
        """
        legal = self.legal_owner
        items: list[CompiledRule | CompiledSequence] = [*self.rules, *self.sequences]
        return MappingProxyType({r.id: RuleFacts.of(r, legal) for r in items})

    def fact(self, rule_id: str | None) -> RuleFacts | None:
        """The facts of the rule or sequence ``rule_id`` (None when unknown or not given)."""
        return None if rule_id is None else self.facts.get(rule_id)

    def with_enforced(self, rule_id: str) -> CompiledPolicy:
        """A copy in which the shadow rule or sequence ``rule_id`` is enforced.

        Raises:
            UnknownRuleError: when no rule or sequence has that id.
        """
        for r in self.rules:
            if r.id == rule_id:
                rules = tuple(replace(x, shadow=False) if x is r else x for x in self.rules)
                return replace(self, rules=rules)
        for s in self.sequences:
            if s.id == rule_id:
                seqs = tuple(replace(x, shadow=False) if x is s else x for x in self.sequences)
                return replace(self, sequences=seqs)
        known = ", ".join(self.rule_ids()) or "none"
        raise UnknownRuleError(f"policy {self.name} has no rule or sequence {rule_id!r} "
                               f"(known: {known})")


def _candidate_mask(rules: tuple[CompiledRule, ...], masks: Mapping[str, Mapping[Any, int]],
                    signature: Mapping[str, tuple[Any, Any]], key: TargetKey) -> int:
    pid, tool = key[0], key[4]
    by_tool = masks.get("tools")
    m = by_tool.get(tool) if by_tool is not None and type(tool) is str else None
    sig = signature.get(pid) if type(pid) is str else None
    if m is None or sig is None or sig != (key[1], key[2]):
        return mask_of(r.index for r in rules if r.target.matches(key))
    m &= masks["agents"][pid]
    m &= _facet_mask(rules, masks, "actions", key[3])
    m &= _facet_mask(rules, masks, "resources", key[5])
    m &= _facet_mask(rules, masks, "data_classes", key[6])
    return m


def _facet_mask(rules: tuple[CompiledRule, ...], masks: Mapping[str, Mapping[Any, int]],
                facet: str, value: Any) -> int:
    """Bitmask of the rules whose ``facet`` admits ``value`` (matched when not indexed)."""
    if value is None or type(value) is str:
        found = masks[facet].get(value)
        if found is not None:
            return found
    mask = 0
    for r in rules:
        f = getattr(r.target, facet)
        if f is None or f.matches(value):
            mask |= 1 << r.index
    return mask


def mask_of(indexes: Iterable[int]) -> int:
    """The bitmask with bit ``i`` set for each rule index ``i``."""
    mask = 0
    for i in indexes:
        mask |= 1 << i
    return mask


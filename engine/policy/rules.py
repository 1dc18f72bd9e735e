"""Compiled rules: targets as matchers, and the rules, sequence steps and counters they index.

What :mod:`engine.policy.compiler` builds from a validated document and the decision point
evaluates: each rule keeps, beside its matchers and generated check, what views show about it
(description, framework references), so no view re-reads the policy's YAML; see
:class:`RuleFacts` and :meth:`engine.policy.compiled.CompiledPolicy.facts`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal

from engine.frameworks import sort_refs
from engine.policy.attributes import Getter
from engine.policy.codegen import RuleCheck
from engine.policy.conditions import Node
from engine.policy.decision import Effect, Envelope

TargetKey = tuple[Any, Any, Any, Any, Any, Any, Any]
"""(principal id, principal kind, principal roles, action, tool id, resource id, data class)."""


def is_glob(pattern: str) -> bool:
    """Whether a target pattern is a glob (``*``, ``?`` or ``[...]``) rather than an id."""
    return any(ch in pattern for ch in "*?[")


@dataclass(frozen=True)
class Facet:
    """One target facet: exact ids plus glob patterns (any may match)."""

    exact: frozenset[str]
    globs: tuple[str, ...]

    def matches(self, value: Any) -> bool:
        """Does ``value`` (a string) match one of the patterns?"""
        if type(value) is not str:
            return False
        return value in self.exact or any(fnmatchcase(value, g) for g in self.globs)

    @classmethod
    def of(cls, patterns: Iterable[str]) -> Facet:
        """Split patterns into exact ids and globs."""
        pats = tuple(patterns)
        return cls(frozenset(p for p in pats if not is_glob(p)),
                   tuple(p for p in pats if is_glob(p)))


@dataclass(frozen=True)
class CompiledTarget:
    """A target as matchers; a None facet matches anything."""

    agents: Facet | None = None
    roles: Facet | None = None
    kinds: Facet | None = None
    actions: Facet | None = None
    tools: Facet | None = None
    resources: Facet | None = None
    data_classes: Facet | None = None

    @property
    def has_principals(self) -> bool:
        """Whether the target restricts principals at all."""
        return self.agents is not None or self.roles is not None or self.kinds is not None

    def matches(self, key: TargetKey) -> bool:
        """Does a request with this target key fall under the target?"""
        if not self.matches_principal(key[0], key[1], key[2]):
            return False
        if self.tools is not None and not self.tools.matches(key[4]):
            return False
        return self.matches_rest(key)

    def matches_principal(self, pid: Any, kind: Any, roles: Any) -> bool:
        """Does a principal with this id, kind and roles fall under the target?"""
        if not self.has_principals:
            return True
        return (self.agents is not None and self.agents.matches(pid)) or (
            self.kinds is not None and self.kinds.matches(kind)) or (
            self.roles is not None and isinstance(roles, tuple | list)
            and any(self.roles.matches(r) for r in roles))

    def matches_rest(self, key: TargetKey) -> bool:
        """The facets other than principals and tools (used after the index has done those)."""
        if self.actions is not None and not self.actions.matches(key[3]):
            return False
        if self.resources is not None and not self.resources.matches(key[5]):
            return False
        return self.data_classes is None or self.data_classes.matches(key[6])


@dataclass(frozen=True, eq=False)
class CompiledRule:
    """A rule ready to evaluate."""

    index: int
    id: str
    effect: Effect
    shadow: bool
    envelope: Envelope
    target: CompiledTarget
    cond: Node | None
    obligations: tuple[str, ...]
    description: str = ""
    frameworks: tuple[str, ...] = ()
    """Framework references, as the policy writes them (ids checked at compile time)."""
    check: RuleCheck | None = field(default=None, repr=False)
    """The condition as generated code (None: no condition); see
    :func:`engine.policy.codegen.rule_check`."""
    failures: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """What each failure number of ``check`` reports: (condition text, attribute path)."""


@dataclass(frozen=True, eq=False)
class CompiledStep:
    """One step pattern of a sequence."""

    target: CompiledTarget
    cond: Node | None
    label: str
    test: Callable[[Any, Mapping[str, Any]], bool] | None = field(default=None, repr=False)
    """The condition as generated code (None: no condition, or built without the compiler)."""


@dataclass(frozen=True, eq=False)
class CompiledSequence:
    """A sequence rule ready to track."""

    index: int
    id: str
    effect: Effect
    shadow: bool
    envelope: Envelope
    scope: str
    window: float
    steps: tuple[CompiledStep, ...]
    obligations: tuple[str, ...]
    description: str = ""
    frameworks: tuple[str, ...] = ()
    """Framework references, as the policy writes them (ids checked at compile time)."""


@dataclass(frozen=True, eq=False)
class CompiledCounter:
    """A counter: what it measures, per which scope, over which window."""

    index: int
    id: str
    scope: str
    measure: Getter | None
    """None: count 1 per request."""
    window: float | None
    target: CompiledTarget


Mode = Literal["enforce", "shadow"]
"""Whether a rule is enforced or only evaluated and reported."""


@dataclass(frozen=True, slots=True)
class RuleFacts:
    """What a compiled policy says about one rule or sequence rule, for views and reports.

    Attributes:
        id: The rule or sequence id.
        kind: ``rule`` or ``sequence``.
        description: Its description ("" when the policy gives none).
        envelope: Whose envelope it belongs to.
        effect: What it asks for when it decides.
        mode: ``enforce`` or ``shadow``, as compiled (a tightened shadow rule is enforced).
        owner: The accountable owner the policy itself names: its legal owner for a
            legal-envelope rule. None for business and security rules, whose owner is the
            requesting agent's (each decision carries it).
        frameworks: Its framework references, as the policy writes them (reports list
            :attr:`canonical_frameworks`).
    """

    id: str
    kind: Literal["rule", "sequence"]
    description: str
    envelope: Envelope
    effect: Effect
    mode: Mode
    owner: str | None
    frameworks: tuple[str, ...]

    @property
    def shadow(self) -> bool:
        """Whether the rule is evaluated and reported but not enforced."""
        return self.mode == "shadow"

    @property
    def canonical_frameworks(self) -> tuple[str, ...]:
        """The framework references canonical, de-duplicated, in the catalogue's order."""
        return sort_refs(self.frameworks)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (as a run's ``run_started`` event lists it, by id)."""
        return {"kind": self.kind, "description": self.description,
                "envelope": str(self.envelope), "effect": str(self.effect), "mode": self.mode,
                "owner": self.owner, "frameworks": list(self.frameworks)}

    @classmethod
    def from_dict(cls, rule_id: str, data: Mapping[str, Any]) -> RuleFacts:
        """The facts :meth:`to_dict` wrote for rule ``rule_id``.

        Raises:
            KeyError, ValueError: for a mapping of another shape.
        """
        kind: Literal["rule", "sequence"] = (
            "sequence" if data.get("kind") == "sequence" else "rule")
        mode: Mode = "shadow" if data.get("mode") == "shadow" else "enforce"
        return cls(rule_id, kind, str(data.get("description") or ""),
                   Envelope(data["envelope"]), Effect(data["effect"]), mode,
                   data.get("owner"), tuple(data.get("frameworks") or ()))

    @classmethod
    def of(cls, rule: CompiledRule | CompiledSequence, legal_owner: str | None) -> RuleFacts:
        """The facts of a compiled rule or sequence of a policy with this legal owner."""
        return cls(
            rule.id, "rule" if isinstance(rule, CompiledRule) else "sequence",
            rule.description, rule.envelope, rule.effect,
            "shadow" if rule.shadow else "enforce",
            legal_owner if rule.envelope is Envelope.LEGAL else None, rule.frameworks)

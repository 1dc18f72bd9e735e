"""Load and compile policy documents: check them against a scenario, index the rules.

Stages: read the YAML (safe, with positions) → validate into :class:`PolicyDocument` →
check against the scenario (attribute paths, operator/type compatibility, the tools, roles,
agents, actions, resources and data classes targets name, owners) → compile targets into
matchers, conditions into closures and generated checks, and index rules by facet
(bitmasks per agent, tool, action, resource and data class). Deciding never touches YAML
or pydantic again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from engine.errors import LoadError, LoadErrors
from engine.frameworks import unknown_id_problem
from engine.model import Scenario
from engine.policy.attributes import Getter, attribute_type, getter
from engine.policy.codegen import RuleCheck, condition_test, rule_check
from engine.policy.conditions import Node, Problem, compile_when
from engine.policy.decision import Effect, Envelope
from engine.policy.errors import UnknownRuleError
from engine.policy.model import (
    RESERVED_PREFIX,
    CounterDef,
    PolicyDocument,
    Rule,
    SequenceRule,
    Target,
)
from engine.policy.tables import Tables
from engine.yamldoc import PathT, YamlDocument, render_path

MAX_ERRORS = 20
AGENT_KINDS = ("internal", "vendor_hosted", "delegated_admin", "customer_facing")

TargetKey = tuple[Any, Any, Any, Any, Any, Any, Any]
"""(principal id, principal kind, principal roles, action, tool id, resource id, data class)."""


def _is_glob(pattern: str) -> bool:
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
        return cls(frozenset(p for p in pats if not _is_glob(p)),
                   tuple(p for p in pats if _is_glob(p)))


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
        pid, tool = key[0], key[4]
        masks = self.masks
        by_tool = masks.get("tools")
        m = by_tool.get(tool) if by_tool is not None and type(tool) is str else None
        sig = self.agent_signature.get(pid) if type(pid) is str else None
        if m is None or sig is None or sig != (key[1], key[2]):
            return _bits(r.index for r in self.rules if r.target.matches(key))
        m &= masks["agents"][pid]
        m &= self._mask("actions", key[3])
        m &= self._mask("resources", key[5])
        m &= self._mask("data_classes", key[6])
        return m

    def _mask(self, facet: str, value: Any) -> int:
        """Bitmask of the rules whose ``facet`` admits ``value`` (matched when not indexed)."""
        if value is None or type(value) is str:
            found = self.masks[facet].get(value)
            if found is not None:
                return found
        mask = 0
        for r in self.rules:
            f = getattr(r.target, facet)
            if f is None or f.matches(value):
                mask |= 1 << r.index
        return mask

    def rule_ids(self) -> tuple[str, ...]:
        """Ids of every rule and sequence, in document order."""
        return (*(r.id for r in self.rules), *(s.id for s in self.sequences))

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


def _bits(indexes: Iterable[int]) -> int:
    mask = 0
    for i in indexes:
        mask |= 1 << i
    return mask


# --- loading -------------------------------------------------------------------------------


def load_policy(file: str | Path | Traversable, scenario: Scenario, *,
                source: str | None = None) -> CompiledPolicy:
    """Load, check and compile a policy file against a scenario.

    Args:
        file: A path or an importlib Traversable (package data).
        scenario: The scenario whose tools, roles, agents and data classes rules may name.
        source: Display name for messages (default: the path).

    Raises:
        LoadError: (LoadErrors when several) naming file:line:col for a bad file, unknown
            attribute paths, impossible comparisons, unknown targets or duplicate ids.
    """
    # Imported here: engine.loader imports the scenario model, and the scenario loader may
    # come to import this module to check profiles' policies.
    from engine.loader import read_document, validate_document

    if isinstance(file, str):
        file = Path(file)
    name = source or str(file)
    doc = read_document(file, name)
    document = validate_document(doc, PolicyDocument)
    return compile_policy(document, scenario, doc=doc, source=name)


def compile_policy(document: PolicyDocument, scenario: Scenario, *,
                   doc: YamlDocument | None = None, source: str = "<memory>") -> CompiledPolicy:
    """Check a validated policy document against a scenario and compile it.

    Args:
        document: The validated policy.
        scenario: The scenario it is checked against.
        doc: The parsed YAML it came from, to locate problems by line and column.
        source: Display name for messages when there is no ``doc``.

    Raises:
        LoadError: as :func:`load_policy`.
    """
    return _Compiler(document, scenario, doc, source).run()


class _Compiler:
    def __init__(self, document: PolicyDocument, scenario: Scenario,
                 doc: YamlDocument | None, source: str) -> None:
        self.document = document
        self.scenario = scenario
        self.doc = doc
        self.source = doc.source if doc is not None else source
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        self.universe = {
            "agents": frozenset(a.name for a in scenario.agents),
            "roles": frozenset(r.id for r in scenario.roles),
            "kinds": frozenset(AGENT_KINDS),
            "actions": frozenset(t.action for t in scenario.tools),
            "tools": frozenset(t.id for t in scenario.tools),
            "resources": frozenset(r.id for r in scenario.resources),
            "data_classes": frozenset(d.id for d in scenario.data_classes),
        }

    def error(self, path: PathT, expected: str, found: str | None) -> LoadError:
        if self.doc is not None:
            return self.doc.error(path, expected, found)
        return LoadError(self.source, expected, path=render_path(path), found=found)

    def warn(self, path: PathT, message: str) -> None:
        where = self.source
        if self.doc is not None:
            pos = self.doc.position(path)
            if pos is not None:
                where += f":{pos[0]}:{pos[1]}"
        self.warnings.append(f"{where}: at {render_path(path)}: {message}")

    def run(self) -> CompiledPolicy:
        d = self.document
        owners = {o.id for o in self.scenario.owners}
        if d.legal_owner is not None and d.legal_owner not in owners:
            self.problems.append((("legal_owner",), "the id of an owner declared in the "
                                  "scenario", f"unknown owner {d.legal_owner!r}"))
        counter_ids = self._counter_ids(d.counters)
        self._unique_ids(d.rules, d.sequences)
        rules = tuple(self._rule(i, r, counter_ids) for i, r in enumerate(d.rules))
        sequences = tuple(self._sequence(i, s) for i, s in enumerate(d.sequences))
        counters = tuple(self._counter(i, c) for i, c in enumerate(d.counters))
        if self.problems:
            errors = [self.error(p, e, f) for p, e, f in self.problems[:MAX_ERRORS]]
            raise LoadErrors(errors)
        by_tool = {
            tid: frozenset(r.index for r in rules
                           if r.target.tools is None or r.target.tools.matches(tid))
            for tid in self.universe["tools"]
        }
        signature = {a.name: (a.kind, tuple(a.roles)) for a in self.scenario.agents}
        by_agent = {
            name: frozenset(r.index for r in rules
                            if r.target.matches_principal(name, kind, roles))
            for name, (kind, roles) in signature.items()
        }
        masks: dict[str, dict[Any, int]] = {
            "tools": {t: _bits(ids) for t, ids in by_tool.items()},
            "agents": {a: _bits(ids) for a, ids in by_agent.items()},
        }
        for facet in ("actions", "resources", "data_classes"):
            masks[facet] = {
                value: _bits(r.index for r in rules if getattr(r.target, facet) is None
                             or getattr(r.target, facet).matches(value))
                for value in (*self.universe[facet], None)
            }
        return CompiledPolicy(
            name=d.policy, source=self.source, rules=rules, sequences=sequences,
            counters=counters, legal_owner=d.legal_owner, max_depth=d.delegation.max_depth,
            attenuation=d.delegation.attenuation, warnings=tuple(self.warnings),
            scenario=self.scenario, by_tool=by_tool, by_agent=by_agent,
            agent_signature=signature, masks=masks, tables=Tables(rules),
        )

    def _counter_ids(self, counters: tuple[CounterDef, ...]) -> frozenset[str]:
        seen: set[str] = set()
        for i, c in enumerate(counters):
            if c.id in seen:
                self.problems.append((("counters", i, "id"), "unique counter ids",
                                      f"duplicate {c.id!r}"))
            seen.add(c.id)
        return frozenset(seen)

    def _unique_ids(self, rules: tuple[Rule, ...], sequences: tuple[SequenceRule, ...]) -> None:
        cited = [("rules", i, r.frameworks) for i, r in enumerate(rules)]
        cited += [("sequences", i, q.frameworks) for i, q in enumerate(sequences)]
        for section, i, ids in cited:
            for k, fid in enumerate(ids):
                problem = unknown_id_problem(fid)
                if problem is not None:
                    self.problems.append(((section, i, "frameworks", k), *problem))
        seen: set[str] = set()
        items = [("rules", i, r.id) for i, r in enumerate(rules)]
        items += [("sequences", i, s.id) for i, s in enumerate(sequences)]
        for section, i, rid in items:
            if rid in seen:
                self.problems.append(((section, i, "id"), "unique ids across rules and "
                                      "sequences", f"duplicate {rid!r}"))
            if rid.startswith(RESERVED_PREFIX):
                self.problems.append(((section, i, "id"), f"an id not starting with "
                                      f"{RESERVED_PREFIX!r} (reserved for built-in limits)",
                                      repr(rid)))
            seen.add(rid)

    def _envelope(self, loc: PathT, envelope: str) -> Envelope:
        if envelope == "legal" and self.document.legal_owner is None:
            self.problems.append(((*loc, "envelope"), "a top-level legal_owner for "
                                  "legal-envelope rules (who is accountable)", "none declared"))
        return Envelope(envelope)

    def _rule(self, i: int, rule: Rule, counters: frozenset[str]) -> CompiledRule:
        loc: PathT = ("rules", i)
        before = len(self.problems)
        cond = compile_when(rule.when, (*loc, "when"), counters, self.problems)
        check: RuleCheck | None = None
        failures: tuple[tuple[str, str], ...] = ()
        if cond is not None and len(self.problems) == before:
            # Generated once per rule here, so deciding never generates code per rule.
            check, failures = rule_check(cond)
        return CompiledRule(
            index=i, id=rule.id, effect=Effect(rule.effect), shadow=rule.mode == "shadow",
            envelope=self._envelope(loc, rule.envelope),
            target=self._target((*loc, "target"), rule.target),
            cond=cond, obligations=rule.obligations, description=rule.description,
            check=check, failures=failures,
        )

    def _sequence(self, i: int, seq: SequenceRule) -> CompiledSequence:
        loc: PathT = ("sequences", i)
        steps = []
        for j, step in enumerate(seq.steps):
            sloc = (*loc, "steps", j)
            # Counters are not readable in steps: steps are also matched when a request is
            # committed, where the counters of the decision are no longer current.
            before = len(self.problems)
            cond = compile_when(step.when, (*sloc, "when"), frozenset(), self.problems)
            steps.append(CompiledStep(
                target=self._target((*sloc, "target"), step.target),
                cond=cond, label=step.label,
                test=condition_test(cond) if cond is not None and len(self.problems) == before
                else None,
            ))
        return CompiledSequence(
            index=i, id=seq.id, effect=Effect(seq.effect), shadow=seq.mode == "shadow",
            envelope=self._envelope(loc, seq.envelope), scope=seq.scope, window=seq.window,
            steps=tuple(steps), obligations=seq.obligations, description=seq.description,
        )

    def _counter(self, i: int, c: CounterDef) -> CompiledCounter:
        loc: PathT = ("counters", i)
        measure: Getter | None = None
        if c.measure != "count":
            t = attribute_type(c.measure, frozenset())
            if t is None or t.kind != "number":
                self.problems.append(((*loc, "measure"), "count or a numeric attribute such "
                                      "as request.records or request.amount",
                                      repr(c.measure)))
            else:
                measure = getter(c.measure)
        return CompiledCounter(index=i, id=c.id, scope=c.scope, measure=measure,
                               window=c.window, target=self._target((*loc, "target"), c.target))

    def _target(self, loc: PathT, target: Target) -> CompiledTarget:
        facets: dict[str, Facet | None] = {}
        for name in ("actions", "tools", "resources", "data_classes"):
            patterns = getattr(target, name)
            if patterns is None:
                facets[name] = None
                continue
            self._check_patterns((*loc, name), name, patterns)
            facets[name] = Facet.of(patterns)
        if target.principals is not None:
            split: dict[str, list[str]] = {"agents": [], "roles": [], "kinds": []}
            for j, pattern in enumerate(target.principals):
                prefix, sep, rest = pattern.partition(":")
                kind = {"role": "roles", "kind": "kinds", "agent": "agents"}[prefix] if sep \
                    else "agents"
                value = rest if sep else pattern
                self._check_patterns((*loc, "principals", j), kind, (value,), single=True)
                split[kind].append(value)
            for kind, values in split.items():
                facets[kind] = Facet.of(values) if values else None
        return CompiledTarget(**facets)

    def _check_patterns(self, loc: PathT, kind: str, patterns: tuple[str, ...], *,
                        single: bool = False) -> None:
        universe = self.universe[kind]
        what = {"agents": "agent", "roles": "role", "kinds": "agent kind", "actions": "action",
                "tools": "tool", "resources": "resource", "data_classes": "data class"}[kind]
        for j, pattern in enumerate(patterns):
            where = loc if single else (*loc, j)
            if _is_glob(pattern):
                if not any(fnmatchcase(u, pattern) for u in universe):
                    self.warn(where, f"{what} pattern {pattern!r} matches no declared {what}")
            elif pattern not in universe:
                known = ", ".join(sorted(universe)) or "none"
                self.problems.append((where, f"a declared {what} ({known})",
                                      f"unknown {what} {pattern!r}"))

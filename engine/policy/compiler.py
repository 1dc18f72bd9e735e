"""Compile validated policy documents: check them against a scenario, index the rules.

Stages: a :class:`PolicyDocument` (read and validated by :mod:`engine.policy.loading`) →
check against the scenario (attribute paths, operator/type compatibility, the tools, roles,
agents, actions, resources and data classes targets name, owners) → compile targets into
matchers, conditions into closures and generated checks, and index rules by facet
(bitmasks per agent, tool, action, resource and data class) into a
:class:`~engine.policy.compiled.CompiledPolicy`. Deciding never touches YAML or pydantic
again.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from engine.errors import LoadError, LoadErrors
from engine.frameworks import unknown_id_problem
from engine.model import Scenario
from engine.policy.attributes import Getter, attribute_type, getter
from engine.policy.codegen import RuleCheck, condition_test, rule_check
from engine.policy.compiled import CompiledPolicy, mask_of
from engine.policy.conditions import Problem, compile_when
from engine.policy.decision import Effect, Envelope
from engine.policy.model import (
    RESERVED_PREFIX,
    CounterDef,
    PolicyDocument,
    Rule,
    SequenceRule,
    Target,
)
from engine.policy.rules import (
    CompiledCounter,
    CompiledRule,
    CompiledSequence,
    CompiledStep,
    CompiledTarget,
    Facet,
    is_glob,
)
from engine.policy.tables import Tables
from engine.yamldoc import PathT, YamlDocument, render_path

MAX_ERRORS = 20
AGENT_KINDS = ("internal", "vendor_hosted", "delegated_admin", "customer_facing")


def compile_policy(document: PolicyDocument, scenario: Scenario, *,
                   doc: YamlDocument | None = None, source: str = "<memory>") -> CompiledPolicy:
    """Check a validated policy document against a scenario and compile it.

    Args:
        document: The validated policy.
        scenario: The scenario it is checked against.
        doc: The parsed YAML it came from, to locate problems by line and column.
        source: Display name for messages when there is no ``doc``.

    Raises:
        LoadError: (LoadErrors when several) naming file:line:col for unknown attribute
            paths, impossible comparisons, unknown targets or duplicate ids.
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
            "tools": {t: mask_of(ids) for t, ids in by_tool.items()},
            "agents": {a: mask_of(ids) for a, ids in by_agent.items()},
        }
        for facet in ("actions", "resources", "data_classes"):
            masks[facet] = {
                value: mask_of(r.index for r in rules if getattr(r.target, facet) is None
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
            frameworks=rule.frameworks, check=check, failures=failures,
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
            frameworks=seq.frameworks,
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
            if is_glob(pattern):
                if not any(fnmatchcase(u, pattern) for u in universe):
                    self.warn(where, f"{what} pattern {pattern!r} matches no declared {what}")
            elif pattern not in universe:
                known = ", ".join(sorted(universe)) or "none"
                self.problems.append((where, f"a declared {what} ({known})",
                                      f"unknown {what} {pattern!r}"))

"""The readiness gate: lint a scenario's agents, profiles and compiled policies into findings.

Pure analysis: a loaded scenario plus its compiled policies in, :class:`Finding` records out.
Each check is one documented function in :data:`REGISTRY`. The policy checks analyse the
compiled rules over the scenario's finite space of calls (every agent x tool x resource it
could touch) and, for the attributes a request carries at run time, over a finite set of
candidate values that is complete for the comparisons the conditions make (every threshold,
the points between and beyond them, every operand, absent); so "never matches" and "always
overridden" are proofs over that space, not guesses from rule text. Every run-time attribute
is taken as possibly absent and independent of the others, which can only make the analysis
report less (a rule that matches only when, say, ``task.approved`` is absent is not reported
as dead), never report a rule that can in fact match.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from engine.errors import location
from engine.loader import (
    load_scenario,
    policy_source,
    read_document,
    resolve,
    validate_document,
)
from engine.model import (
    SENSITIVITY_RANK,
    Agent,
    DelegateStep,
    Profile,
    Resource,
    Scenario,
    Tool,
    ToolStep,
)
from engine.policy.compiler import CompiledPolicy, CompiledRule, compile_policy
from engine.policy.conditions import Atom, EvalError, Node
from engine.policy.decision import RESTRICTIVENESS, Effect
from engine.policy.model import PolicyDocument
from engine.policy.request import (
    EMPTY,
    Request,
    principal_attributes,
    resource_attributes,
    tool_attributes,
)
from engine.yamldoc import PathT, YamlDocument

SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")
"""Severities from least to most severe."""
SEVERITY_RANK: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}
DEFAULT_MAX_TTL = 3600.0
"""Credential lifetime (seconds) above which AR002 reports a profile."""
MAX_ASSIGNMENTS = 4096
"""Candidate assignments tried per call before an analysis gives up (and reports nothing)."""
GRANT_ACTIONS = frozenset({"grant", "assign", "elevate", "assign_role", "grant_role",
                           "add_member", "create_credential", "create_key", "impersonate"})
"""Tool actions that hand out privileges (AR007)."""
WRITE_ACTIONS = frozenset({"write", "update", "delete", "create", "send", "publish", "deploy",
                           "refund", "grant", "revoke", "assign", "execute", "post", "push"})
"""Tool actions that put data somewhere rather than read it (not a "read" for AR009)."""
SENSITIVE = SENSITIVITY_RANK["confidential"]
"""Data classes at or above this sensitivity count as sensitive (AR009)."""
TOOL_URI = "https://github.com/agentrange/agentrange"


# --- findings and the registry ---------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One problem the gate found.

    Attributes:
        check: Check id such as ``AR001``.
        name: Check name such as ``agent-owners``.
        severity: ``info``, ``low``, ``medium``, ``high`` or ``critical``.
        file: The file it is in (as the loader names it).
        line: 1-based line, or None when unknown.
        column: 1-based column, or None when unknown.
        message: What is wrong, naming the agent, profile or rule.
        remediation: How to fix it.
        frameworks: Framework ids (``NHI7:2025``, ``ASI03``, ``GOVERN 2.1``, ``L6``).
        profiles: The profiles it concerns; empty for scenario-wide findings.
        production: Whether any of those profiles is marked ``production: true``.
    """

    check: str
    name: str
    severity: str
    file: str
    line: int | None
    column: int | None
    message: str
    remediation: str
    frameworks: tuple[str, ...]
    profiles: tuple[str, ...] = ()
    production: bool = False

    @property
    def gating(self) -> bool:
        """Whether ``--fail-on`` considers it by default: scenario-wide or production."""
        return not self.profiles or self.production

    @property
    def where(self) -> str:
        """``file:line:column`` as far as known."""
        return location(self.file, self.line, self.column)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return {"check": self.check, "name": self.name, "severity": self.severity,
                "file": self.file, "line": self.line, "column": self.column,
                "message": self.message, "remediation": self.remediation,
                "frameworks": list(self.frameworks), "profiles": list(self.profiles),
                "production": self.production}


@dataclass(frozen=True)
class Subject:
    """What the gate analyses: a scenario, its documents and its profiles' compiled policies.

    Attributes:
        scenario: The loaded scenario.
        doc: The scenario's parsed YAML (for positions).
        policies: Profile id -> compiled policy.
        policy_docs: Profile id -> the policy's parsed YAML (for positions).
        max_ttl: The credential lifetime above which AR002 reports (seconds).
    """

    scenario: Scenario
    doc: YamlDocument
    policies: Mapping[str, CompiledPolicy]
    policy_docs: Mapping[str, YamlDocument]
    max_ttl: float = DEFAULT_MAX_TTL
    _cache: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def at(self, path: PathT, *, key: bool = False) -> tuple[str, int | None, int | None]:
        """(file, line, column) of a path in the scenario file."""
        pos = self.doc.position(path, key=key)
        return self.doc.source, pos[0] if pos else None, pos[1] if pos else None

    def at_policy(self, profile: str, path: PathT) -> tuple[str, int | None, int | None]:
        """(file, line, column) of a path in a profile's policy file."""
        doc = self.policy_docs[profile]
        pos = doc.position(path)
        return doc.source, pos[0] if pos else None, pos[1] if pos else None


CheckFn = Callable[[Subject, "Check"], Iterator[Finding]]


@dataclass(frozen=True)
class Check:
    """A registered check: id, name, default severity, summary, help and framework refs."""

    id: str
    name: str
    severity: str
    summary: str
    frameworks: tuple[str, ...]
    func: CheckFn

    @property
    def help(self) -> str:
        """The check function's docstring: what it looks for and why."""
        doc = self.func.__doc__ or ""
        body = doc.split("\n\n", 1)[1] if "\n\n" in doc else self.summary
        return " ".join(body.split())

    def finding(self, where: tuple[str, int | None, int | None], message: str,
                remediation: str, *, severity: str | None = None,
                profiles: Sequence[Profile] = ()) -> Finding:
        """A finding of this check at ``where``."""
        return Finding(self.id, self.name, severity or self.severity, where[0], where[1],
                       where[2], message, remediation, self.frameworks,
                       tuple(p.id for p in profiles), any(p.production for p in profiles))


REGISTRY: dict[str, Check] = {}
"""Every check by id, in id order."""


def _check(check_id: str, name: str, severity: str, summary: str,
           frameworks: Sequence[str]) -> Callable[[CheckFn], CheckFn]:
    def register(func: CheckFn) -> CheckFn:
        REGISTRY[check_id] = Check(check_id, name, severity, summary, tuple(frameworks), func)
        return func
    return register


def cited_frameworks() -> frozenset[str]:
    """Every framework id any registered check cites."""
    return frozenset(f for c in REGISTRY.values() for f in c.frameworks)


# --- loading ---------------------------------------------------------------------------------


def load_subject(ref: str | Path, *, max_ttl: float = DEFAULT_MAX_TTL) -> Subject:
    """Load a scenario (built-in name, directory or file) with its documents and policies.

    Raises:
        LoadError: for a missing or bad scenario or policy file.
    """
    scenario = load_scenario(ref)
    _name, file, source = resolve(ref)
    doc = read_document(file, source)
    policies: dict[str, CompiledPolicy] = {}
    docs: dict[str, YamlDocument] = {}
    by_file: dict[str, tuple[CompiledPolicy, YamlDocument]] = {}
    for profile in scenario.profiles:
        if profile.policy not in by_file:
            pfile: Traversable | Path = scenario.base / profile.policy
            psource = policy_source(scenario, profile.policy)
            pdoc = read_document(pfile, psource)
            document = validate_document(pdoc, PolicyDocument)
            by_file[profile.policy] = (compile_policy(document, scenario, doc=pdoc,
                                                      source=psource), pdoc)
        policies[profile.id], docs[profile.id] = by_file[profile.policy]
    return Subject(scenario, doc, policies, docs, max_ttl)


def run_checks(subject: Subject, only: Iterable[str] | None = None) -> list[Finding]:
    """Run every registered check (or those in ``only``); findings sorted by place.

    Raises:
        KeyError: for an unknown check id in ``only``.
    """
    ids = list(REGISTRY) if only is None else [REGISTRY[c].id for c in only]
    findings: list[Finding] = []
    for cid in ids:
        check = REGISTRY[cid]
        findings.extend(check.func(subject, check))
    findings.sort(key=lambda f: (f.file, f.line or 0, f.column or 0, f.check, f.message))
    return findings


def fails(findings: Iterable[Finding], threshold: str, *, all_profiles: bool = False) -> bool:
    """Whether any finding at or above ``threshold`` should fail the gate.

    Findings about profiles not marked ``production: true`` count only with ``all_profiles``.
    """
    rank = SEVERITY_RANK[threshold]
    return any(SEVERITY_RANK[f.severity] >= rank and (all_profiles or f.gating)
               for f in findings)


# --- the scenario's finite call space ------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One agent calling one tool on one resource (or none): a point of the target space."""

    agent: Agent
    tool: Tool
    resource: Resource | None
    data_class: str | None
    sensitivity: str | None

    @property
    def key(self) -> tuple[Any, ...]:
        """The engine's target key for this call."""
        return (self.agent.name, self.agent.kind, tuple(self.agent.roles), self.tool.action,
                self.tool.id, self.resource.id if self.resource else None, self.data_class)

    def label(self) -> str:
        """``agent -> tool (resource)``."""
        where = f" on {self.resource.id}" if self.resource else ""
        return f"{self.agent.name} -> {self.tool.id}{where}"


def _steps(scenario: Scenario) -> Iterator[ToolStep]:
    for agent in scenario.agents:
        for task in agent.tasks:
            yield from (s for s in task.steps if isinstance(s, ToolStep))
    for incident in scenario.incidents:
        yield from (s for s in incident.plan if isinstance(s, ToolStep))


def calls(scenario: Scenario) -> tuple[Call, ...]:
    """Every (agent, tool, resource) the scenario allows to be requested.

    A tool's resources are those it declares; a tool declaring none may be called on no
    resource or on any resource a step names with it.
    """
    used: dict[str, set[str | None]] = {}
    for step in _steps(scenario):
        used.setdefault(step.tool, set()).add(step.resource)
    out: list[Call] = []
    for agent in scenario.agents:
        for tool in scenario.tools:
            targets: list[str | None] = (list(tool.resources) if tool.resources
                                         else [None, *sorted(r for r in used.get(tool.id, ())
                                                             if r is not None)])
            for rid in targets:
                res = scenario.resource(rid) if rid is not None else None
                dc = res.data_class if res is not None else None
                sens = scenario.data_class(dc).sensitivity if dc is not None else None
                out.append(Call(agent, tool, res, dc, sens))
    return tuple(out)


# --- condition analysis over candidate values ---------------------------------------------------

STATIC_NAMESPACES = ("principal", "tool", "resource")


def _is_static(path: str) -> bool:
    return path == "action" or path.split(".", 1)[0] in STATIC_NAMESPACES


def _glob_witness(pattern: str) -> str:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            pass
        elif ch == "?":
            out.append("x")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            body = pattern[i + 1:end] if end > i else ""
            if body.startswith("!"):
                out.append("\x01")
            else:
                out.append(body[:1] or "x")
            i = end if end > i else i
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _numbers(values: Iterable[Any]) -> list[float]:
    return sorted({v for v in values
                   if isinstance(v, int | float) and not isinstance(v, bool) and v == v})


def _split_points(thresholds: list[float]) -> list[float]:
    if not thresholds:
        return [0]
    points: list[float] = [thresholds[0] - 1]
    for a, b in itertools.pairwise(thresholds):
        points += [a, (a + b) / 2]
    points += [thresholds[-1], thresholds[-1] + 1]
    return points


def candidates(atoms: Sequence[Atom]) -> list[Any]:
    """Values of one attribute path that decide every comparison ``atoms`` make on it.

    Complete for the condition semantics: numbers are represented by each threshold and a
    point in every interval between and beyond them; strings by each operand, a witness of
    each glob and a fresh string; enums, booleans and lists by their distinct cases; and
    every path by absence (None).
    """
    operands: list[Any] = []
    for a in atoms:
        if isinstance(a.value, tuple):
            operands.extend(a.value)
        elif a.value is not None:
            operands.append(a.value)
    kind = atoms[0].type.kind if atoms else "any"
    out: list[Any] = [None]
    if kind == "number":
        out += _split_points(_numbers(operands))
    elif kind == "enum":
        out += list(atoms[0].type.values)
    elif kind == "bool":
        out += [True, False]
    elif kind == "list":
        strings = sorted({str(v) for v in operands if isinstance(v, str)})
        out += [(), tuple(strings), *((s,) for s in strings)]
        out += [tuple(v) for a in atoms if isinstance(a.value, tuple) and a.op in ("eq", "ne")
                for v in (a.value,)]
    else:
        strings = sorted({v for v in operands if isinstance(v, str)})
        globs = sorted({_glob_witness(a.value) for a in atoms
                        if a.op == "glob" and isinstance(a.value, str)})
        out += strings + globs + ["\x00fresh"]
        if kind == "any":
            out += [*_split_points(_numbers(operands)), True, False]
    seen: list[Any] = []
    for v in out:
        if not any(type(v) is type(s) and v == s for s in seen):
            seen.append(v)
    return seen


def _set_path(spaces: dict[str, Any], cv: dict[str, Any], path: str, value: Any) -> None:
    if path == "action":
        spaces["action"] = value
        return
    ns, _, rest = path.partition(".")
    if ns == "counter":
        cv[rest] = value
        return
    if path.startswith("request.attributes."):
        keys = ["attributes", rest[len("attributes."):]]
    else:
        keys = rest.split(".")
    target = spaces.setdefault(ns, {})
    for k in keys[:-1]:
        target = target.setdefault(k, {})
    target[keys[-1]] = value


class _Space:
    """Static namespaces of one call; builds synthetic requests with dynamic values set."""

    def __init__(self, scenario: Scenario, call: Call) -> None:
        self.call = call
        self.principal = principal_attributes(scenario, call.agent)
        self.tool = tool_attributes(call.tool)
        self.resource = (resource_attributes(scenario, call.resource)
                         if call.resource is not None else None)

    def request(self, assignment: Mapping[str, Any]) -> tuple[Request, dict[str, Any]]:
        spaces: dict[str, Any] = {}
        cv: dict[str, Any] = {}
        for path, value in assignment.items():
            _set_path(spaces, cv, path, value)
        req = Request(
            principal=self.principal, action=self.call.tool.action, tool=self.tool,
            token=spaces.get("token", EMPTY), resource=self.resource,
            request=spaces.get("request", EMPTY), task=spaces.get("task", EMPTY),
            session=spaces.get("session", EMPTY), chain=spaces.get("chain", EMPTY),
            time=spaces.get("time", EMPTY))
        return req, cv


def holds(node: Node | None, req: Request, cv: Mapping[str, Any]) -> bool:
    """Whether a compiled condition holds (an evaluation error means the rule is skipped)."""
    if node is None:
        return True
    try:
        return node.test(req, cv)
    except EvalError:
        return False


def assignments(nodes: Iterable[Node | None]) -> Iterator[dict[str, Any]] | None:
    """Every combination of candidate values of the dynamic paths ``nodes`` read.

    Returns None when there are more than :data:`MAX_ASSIGNMENTS` (the caller then reports
    nothing rather than guess).
    """
    atoms = (atom for node in nodes if node is not None for atom in node.atoms
             if not _is_static(atom.path))
    grid = _value_grid(atoms)
    if grid is None:
        return None
    paths, values = grid
    return (dict(zip(paths, combo, strict=True)) for combo in itertools.product(*values))


def _value_grid(atoms: Iterable[Atom]) -> tuple[list[str], list[Any]] | None:
    """The paths the atoms read, sorted, and each path's candidate values.

    None when the grid would hold more than :data:`MAX_ASSIGNMENTS` combinations.
    """
    by_path: dict[str, list[Atom]] = {}
    for atom in atoms:
        by_path.setdefault(atom.path, []).append(atom)
    paths = sorted(by_path)
    values = [candidates(by_path[p]) for p in paths]
    if math.prod(len(v) for v in values) > MAX_ASSIGNMENTS:
        return None
    return paths, values


@dataclass(frozen=True)
class Witness:
    """A call and the dynamic attribute values under which something happens."""

    call: Call
    values: Mapping[str, Any]


def target_calls(policy: CompiledPolicy, rule: CompiledRule, space: Sequence[Call]
                 ) -> list[Call]:
    """The calls of the space a rule's target admits."""
    return [c for c in space if rule.target.matches(c.key)]


def rule_witness(subject: Subject, policy: CompiledPolicy, rule: CompiledRule
                 ) -> Witness | bool | None:
    """A call and values under which ``rule`` matches; None if it never can.

    Returns True (unknown, assume it can) when the candidate space is too large.
    """
    space = _calls(subject)
    for call in target_calls(policy, rule, space):
        combos = assignments([rule.cond])
        if combos is None:
            return True
        sp = _space(subject, call)
        for values in combos:
            req, cv = sp.request(values)
            if holds(rule.cond, req, cv):
                return Witness(call, values)
    return None


def effects(subject: Subject, policy: CompiledPolicy, call: Call
            ) -> dict[Effect, Witness] | None:
    """The effects the enforced rules can produce for a call, each with a witness.

    Sequences and counters' history are not modelled (counter values range freely). As the
    engine does, an enforced rule whose condition cannot be evaluated and that would have been
    more restrictive than the outcome turns it into a deny (fail closed). None when the
    candidate space is too large.
    """
    rules = [r for r in policy.candidates(call.key) if not r.shadow]
    combos = assignments([r.cond for r in rules])
    if combos is None:
        return None
    sp = _space(subject, call)
    out: dict[Effect, Witness] = {}
    for values in combos:
        req, cv = sp.request(values)
        matched: list[Effect] = []
        errored: list[Effect] = []
        for r in rules:
            verdict = _outcome(r.cond, req, cv)
            if verdict is None:
                errored.append(r.effect)
            elif verdict:
                matched.append(r.effect)
        if Effect.DENY in matched or not matched:
            effect = Effect.DENY
        elif Effect.REQUIRE_APPROVAL in matched:
            effect = Effect.REQUIRE_APPROVAL
        else:
            effect = Effect.ALLOW
        if any(RESTRICTIVENESS[e] > RESTRICTIVENESS[effect] for e in errored):
            effect = Effect.DENY
        out.setdefault(effect, Witness(call, values))
        if len(out) == 3:
            break
    return out


def _outcome(node: Node | None, req: Request, cv: Mapping[str, Any]) -> bool | None:
    """True or False, or None when the condition cannot be evaluated (the rule is skipped)."""
    if node is None:
        return True
    try:
        return node.test(req, cv)
    except EvalError:
        return None


def _calls(subject: Subject) -> tuple[Call, ...]:
    found = subject._cache.get("calls")
    if found is None:
        found = subject._cache["calls"] = calls(subject.scenario)
    return found


def _space(subject: Subject, call: Call) -> _Space:
    key = ("space", call.key)
    found = subject._cache.get(key)
    if found is None:
        found = subject._cache[key] = _Space(subject.scenario, call)
    return found


def _effects(subject: Subject, profile: str, call: Call) -> dict[Effect, Witness] | None:
    policy = subject.policies[profile]
    key = ("effects", id(policy), call.key)
    if key not in subject._cache:
        subject._cache[key] = effects(subject, policy, call)
    return subject._cache[key]


def _policy_groups(subject: Subject) -> list[tuple[CompiledPolicy, list[Profile], str]]:
    """Each distinct compiled policy with the profiles using it and one profile id to locate."""
    groups: dict[int, tuple[CompiledPolicy, list[Profile], str]] = {}
    for profile in subject.scenario.profiles:
        policy = subject.policies[profile.id]
        group = groups.setdefault(id(policy), (policy, [], profile.id))
        group[1].append(profile)
    return list(groups.values())


def _profile_index(scenario: Scenario, profile_id: str) -> int:
    return next(i for i, p in enumerate(scenario.profiles) if p.id == profile_id)


def _values_text(values: Mapping[str, Any]) -> str:
    if not values:
        return ""
    shown = ", ".join(f"{k}={'absent' if v is None else v!r}" for k, v in values.items())
    return f" (e.g. {shown})"


# --- scenario checks ------------------------------------------------------------------------------


@_check("AR001", "agent-owners", "high",
        "Every agent names a business, a security and an incident owner",
        ("GOVERN 2.1", "MANAGE 2.4"))
def check_owners(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    An agent without a business owner (what it may attempt), a security owner (what it may
    access) or a fallback incident owner (who can switch it off) must not go live: nobody is
    accountable for its decisions or empowered to disengage it.
    """
    for i, agent in enumerate(subject.scenario.agents):
        missing = [r for r in ("business", "security", "incident")
                   if getattr(agent.owners, r) is None]
        if not missing:
            continue
        path: PathT = ("agents", i, "owners") if ("agents", i, "owners") in \
            subject.doc.positions else ("agents", i, "name")
        severity = "critical" if "incident" in missing and "security" in missing else "high"
        yield check.finding(
            subject.at(path),
            f"agent {agent.name} has no {' or '.join(missing)} owner",
            f"name the {', '.join(missing)} owner(s) of {agent.name} under "
            f"agents[{i}].owners (owner ids from the scenario's owners list)",
            severity=severity)


@_check("AR005", "shared-credential", "high",
        "No static credential is shared by several agents", ("NHI9:2025",))
def check_shared(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    Agents naming the same static credential share one secret under static profiles: a
    compromise of one is a compromise of all, and no decision can be attributed to one agent.
    """
    static = [p for p in subject.scenario.profiles if p.credentials.mode == "static"]
    if not static:
        return
    by_name: dict[str, list[int]] = {}
    for i, agent in enumerate(subject.scenario.agents):
        if agent.credential is not None:
            by_name.setdefault(agent.credential, []).append(i)
    agents = subject.scenario.agents
    for name, idx in by_name.items():
        if len(idx) < 2:
            continue
        holders = ", ".join(agents[i].name for i in idx)
        yield check.finding(
            subject.at(("agents", idx[1], "credential")),
            f"static credential {name} is shared by {holders} under profile(s) "
            f"{', '.join(p.id for p in static)}",
            "give each agent its own workload identity and credential (drop the shared "
            "'credential:'), or move the profile to just-in-time credentials",
            profiles=static)


@_check("AR006", "vendor-accountability", "high",
        "Vendor-hosted agents have an accountable owner and a revocation path",
        ("NHI3:2025", "GOVERN 6.1", "GOVERN 6.2"))
def check_vendor(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    A vendor-hosted agent runs with trust granted to a third party: someone must own that
    third-party risk and there must be a way to withdraw the trust (rotate or drop the
    federation) when the vendor is compromised.
    """
    scenario = subject.scenario
    vendors = {v.id: i for i, v in enumerate(scenario.vendors)}
    for agent in scenario.agents:
        if agent.kind != "vendor_hosted" and agent.vendor is None:
            continue
        if agent.vendor is None or agent.vendor not in vendors:
            continue
        j = vendors[agent.vendor]
        vendor = scenario.vendors[j]
        if vendor.owner is None:
            yield check.finding(
                subject.at(("vendors", j, "id")),
                f"vendor {vendor.id} (hosting agent {agent.name}) has no accountable owner",
                f"set vendors[{j}].owner to the function that accepted this third party's risk")
        if not vendor.revocation:
            yield check.finding(
                subject.at(("vendors", j, "id")),
                f"vendor {vendor.id} (hosting agent {agent.name}) has no revocation path",
                f"describe how trust is withdrawn in vendors[{j}].revocation (e.g. rotate the "
                "federation bundle) and rehearse it with a distrust_vendor response")


# --- profile (credential) checks ---------------------------------------------------------------


@_check("AR002", "long-lived-credentials", "high",
        "Credentials are short-lived and not static", ("NHI7:2025",))
def check_ttl(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    Static credentials, or credentials that live longer than the threshold (``--max-ttl``,
    one hour by default), give a leaked secret open-ended use.
    """
    from engine.durations import format_duration

    for i, profile in enumerate(subject.scenario.profiles):
        creds = profile.credentials
        limit = subject.max_ttl
        if creds.mode != "static" and creds.ttl <= limit:
            continue
        severity = "high" if creds.mode == "static" or creds.ttl > 86400 else "medium"
        what = "static" if creds.mode == "static" else "just-in-time"
        yield check.finding(
            subject.at(("profiles", i, "credentials", "ttl")),
            f"profile {profile.id} issues {what} credentials living "
            f"{format_duration(creds.ttl)} (threshold {format_duration(limit)})",
            "issue just-in-time credentials per task with a TTL at or under the threshold "
            "(credentials: {mode: jit, ttl: 10m, revoke_on_completion: true})",
            severity=severity, profiles=[profile])


@_check("AR003", "broad-scope", "high",
        "Credential scopes are task-scoped, not wildcard or role-wide",
        ("NHI5:2025", "LLM06:2025"))
def check_scope(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    A wildcard scope admits every tool; a role-wide scope admits everything the role grants
    whatever the task; either lets a hijacked agent reach far beyond the step it is on.
    """
    for i, profile in enumerate(subject.scenario.profiles):
        scope = profile.credentials.scope
        if scope == "task":
            continue
        severity = "critical" if scope == "wildcard" else "medium"
        yield check.finding(
            subject.at(("profiles", i, "credentials", "scope")),
            f"profile {profile.id} issues {scope}-scoped credentials",
            "scope each credential to the task it is issued for (credentials.scope: task)",
            severity=severity, profiles=[profile])
    for i, role in enumerate(subject.scenario.roles):
        if "*" in role.tools:
            yield check.finding(
                subject.at(("roles", i, "tools")),
                f"role {role.id} grants every tool ('*')",
                f"list the tools role {role.id} needs instead of '*'")


@_check("AR004", "jit-without-revoke", "medium",
        "Just-in-time credentials are revoked when their task completes",
        ("NHI7:2025", "NHI1:2025"))
def check_revoke(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    A just-in-time credential that outlives its task stays usable until it expires: the
    window a thief has is the TTL, not the task.
    """
    for i, profile in enumerate(subject.scenario.profiles):
        creds = profile.credentials
        if creds.mode == "jit" and not creds.revoke_on_completion:
            yield check.finding(
                subject.at(("profiles", i, "credentials")),
                f"profile {profile.id} does not revoke just-in-time credentials when their "
                "task completes",
                "set credentials.revoke_on_completion: true", profiles=[profile])


# --- policy checks --------------------------------------------------------------------------------


def _rule_path(policy: CompiledPolicy, rule: CompiledRule) -> PathT:
    return ("rules", rule.index, "id")


@_check("AR007", "admin-grant-without-approval", "critical",
        "Delegated-admin agents cannot grant privileges without an approval gate", ("ASI03",))
def check_admin_grants(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    A delegated-admin agent whose policy allows a privilege-granting tool (an action such as
    grant, assign or create_credential, or a tool marked critical) outright, with no
    require_approval or deny in the way, can escalate itself or others.
    """
    for policy, profiles, pid in _policy_groups(subject):
        for call in _calls(subject):
            if call.agent.kind != "delegated_admin":
                continue
            if call.tool.action not in GRANT_ACTIONS and call.tool.risk != "critical":
                continue
            found = _effects(subject, pid, call)
            if not found or Effect.ALLOW not in found:
                continue
            rule = _deciding_allow(policy, call)
            where = (subject.at_policy(pid, _rule_path(policy, rule)) if rule is not None
                     else subject.at_policy(pid, ("policy",)))
            yield check.finding(
                where,
                f"policy {policy.name} lets delegated-admin agent {call.label()} "
                f"({call.tool.action}) without approval"
                f"{_values_text(found[Effect.ALLOW].values)}",
                f"add a require_approval rule targeting {call.tool.id} for "
                f"{call.agent.name} (or kind:delegated_admin)", profiles=profiles)


def _deciding_allow(policy: CompiledPolicy, call: Call) -> CompiledRule | None:
    return next((r for r in policy.candidates(call.key)
                 if r.effect is Effect.ALLOW and not r.shadow), None)


def _monetary_tools(scenario: Scenario) -> frozenset[str]:
    return frozenset(s.tool for s in _steps(scenario) if s.amount is not None)


def _reads(policy: CompiledPolicy, call: Call, path: str) -> bool:
    return any(r.cond is not None and any(a.path == path for a in r.cond.atoms)
               for r in policy.candidates(call.key) if not r.shadow)


@_check("AR008", "customer-facing-unguarded", "high",
        "Customer-facing tools need an approval gate, an amount cap or a contextual condition",
        ("LLM06:2025", "ASI02"))
def check_customer_facing(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    A customer-facing tool reached with no approval gate is an agent acting on customers
    unsupervised: tools that move money need an amount cap (a condition on request.amount),
    other customer-facing tools at least a contextual condition (recipient, records).
    """
    money = _monetary_tools(subject.scenario)
    for policy, profiles, pid in _policy_groups(subject):
        for call in _calls(subject):
            if not call.tool.customer_facing:
                continue
            found = _effects(subject, pid, call)
            if not found or Effect.ALLOW not in found:
                continue
            rules = [r for r in policy.candidates(call.key) if not r.shadow]
            if call.tool.id in money:
                if _reads(policy, call, "request.amount"):
                    continue
                gap = "no approval gate and no amount cap (no rule reads request.amount)"
                fix = (f"cap the amount (a deny or require_approval rule on {call.tool.id} "
                       "when request.amount gt <limit>)")
            else:
                if any(r.cond is not None for r in rules):
                    continue
                gap = "no approval gate and no contextual condition"
                fix = (f"add a condition (e.g. request.recipient eq customer) to the allow "
                       f"rule for {call.tool.id}, or a require_approval rule")
            rule = _deciding_allow(policy, call)
            where = (subject.at_policy(pid, _rule_path(policy, rule)) if rule is not None
                     else subject.at_policy(pid, ("policy",)))
            yield check.finding(
                where, f"policy {policy.name}: customer-facing {call.label()} is allowed with "
                f"{gap}", fix, profiles=profiles)


@_check("AR009", "egress-after-sensitive-read", "high",
        "External egress after a sensitive read is covered by a sequence rule",
        ("ASI01", "ASI02"))
def check_egress_chain(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    An agent that can read a sensitive (confidential or restricted) data class and can then
    call an external-egress tool can exfiltrate what it read; an enforced sequence rule whose
    steps cover the read and then the egress is what stops the step that completes the chain.
    """
    for policy, profiles, pid in _policy_groups(subject):
        by_agent: dict[str, tuple[list[Call], list[tuple[Call, Effect, bool]]]] = {}
        for call in _calls(subject):
            found = _effects(subject, pid, call)
            if not found:
                continue
            reachable = [e for e in (Effect.ALLOW, Effect.REQUIRE_APPROVAL) if e in found]
            if not reachable:
                continue
            reads, egress = by_agent.setdefault(call.agent.name, ([], []))
            if call.tool.egress == "external":
                unconditional = Effect.ALLOW in found and not any(
                    r.cond is not None for r in policy.candidates(call.key) if not r.shadow)
                egress.append((call, reachable[0], unconditional))
            elif call.sensitivity is not None and call.tool.action not in WRITE_ACTIONS \
                    and SENSITIVITY_RANK[call.sensitivity] >= SENSITIVE:
                reads.append(call)
        grouped: dict[tuple[str, tuple[str, ...], Effect, bool], list[str]] = {}
        for agent, (reads, egress) in by_agent.items():
            for out, effect, unconditional in egress:
                uncovered = tuple(sorted({r.data_class for r in reads if r.data_class
                                          and not _sequence_covers(policy, r, out)}))
                agents = grouped.setdefault((out.tool.id, uncovered, effect, unconditional), [])
                if uncovered and agent not in agents:
                    agents.append(agent)
        for (tool, uncovered, effect, unconditional), agents in grouped.items():
            if not agents:
                continue
            how = "allowed" if effect is Effect.ALLOW else "reachable with approval"
            who = agents[0] if len(agents) == 1 else f"{len(agents)} agents ({', '.join(agents)})"
            yield check.finding(
                subject.at_policy(pid, ("sequences",) if policy.sequences else ("policy",)),
                f"policy {policy.name}: {who} can read {', '.join(uncovered)} and then call "
                f"external-egress {tool} ({how}) with no sequence rule covering that chain",
                f"add a sequence rule (effect deny or require_approval) with a first step "
                f"targeting data_classes [{', '.join(uncovered)}] and a later step targeting "
                f"tools [{tool}]",
                severity="high" if unconditional else "medium", profiles=profiles)


def _sequence_covers(policy: CompiledPolicy, read: Call, out: Call) -> bool:
    for seq in policy.sequences:
        if seq.shadow:
            continue
        steps = seq.steps
        for i, first in enumerate(steps):
            if first.target.matches(read.key) and any(
                    later.target.matches(out.key) for later in steps[i + 1:]):
                return True
    return False


def _delegates(scenario: Scenario) -> bool:
    return any(isinstance(s, DelegateStep) for a in scenario.agents for t in a.tasks
               for s in t.steps) or any(
        i.kind == "overbroad_delegated_admin" for i in scenario.incidents)


@_check("AR010", "delegation-limits", "high",
        "Delegation has a depth limit and attenuation", ("ASI03", "ASI07"))
def check_delegation(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    Where agents delegate to each other, a policy without ``delegation.max_depth`` lets
    chains grow without bound, and one without ``delegation.attenuation`` lets a delegate use
    privileges the agent that asked never had (confused deputy).
    """
    if not _delegates(subject.scenario):
        return
    for policy, profiles, pid in _policy_groups(subject):
        where = subject.at_policy(pid, ("delegation",) if ("delegation",) in
                                  subject.policy_docs[pid].positions else ("policy",))
        if policy.max_depth is None:
            yield check.finding(
                where, f"policy {policy.name} sets no delegation depth limit",
                "set delegation.max_depth (e.g. 2) in the policy", profiles=profiles)
        if not policy.attenuation:
            yield check.finding(
                where, f"policy {policy.name} does not attenuate delegated requests",
                "set delegation.attenuation: true so every actor in the chain must be allowed",
                severity="medium", profiles=profiles)


@_check("AR011", "shadow-in-production", "medium",
        "No shadow-mode rules remain in a production profile", ("L6", "GOVERN 1.4"))
def check_shadow(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    A rule in ``mode: shadow`` is evaluated and reported but never enforced: fine while
    tuning, a silent gap in a profile marked ``production: true``.
    """
    for policy, profiles, pid in _policy_groups(subject):
        prod = [p for p in profiles if p.production]
        if not prod:
            continue
        for rule in policy.rules:
            if rule.shadow:
                yield check.finding(
                    subject.at_policy(pid, ("rules", rule.index, "mode")),
                    f"rule {rule.id} of policy {policy.name} is in shadow mode in production "
                    f"profile(s) {', '.join(p.id for p in prod)}",
                    f"enforce rule {rule.id} (remove mode: shadow) or delete it",
                    profiles=prod)
        for seq in policy.sequences:
            if seq.shadow:
                yield check.finding(
                    subject.at_policy(pid, ("sequences", seq.index, "mode")),
                    f"sequence {seq.id} of policy {policy.name} is in shadow mode in "
                    f"production profile(s) {', '.join(p.id for p in prod)}",
                    f"enforce sequence {seq.id} (remove mode: shadow) or delete it",
                    profiles=prod)


def never_matches(subject: Subject, policy: CompiledPolicy, rule: CompiledRule) -> str | None:
    """Why ``rule`` can never match a request of the scenario, or None if it can (or unknown).

    Reasons: its target admits no call of the scenario; its conditions contradict each other
    (no values of the attributes satisfy them together); or they never hold for the calls
    its target admits (a condition on principal, tool or resource attributes those calls
    lack).
    """
    targeted = target_calls(policy, rule, _calls(subject))
    if not targeted:
        return "its target matches no agent x tool x resource of the scenario"
    witness = rule_witness(subject, policy, rule)
    if witness is not None:
        return None
    assert rule.cond is not None
    if _contradictory(rule.cond):
        return f"its conditions contradict each other ({rule.cond.text})"
    return (f"its conditions ({rule.cond.text}) never hold for the "
            f"{len(targeted)} call(s) its target admits")


def _contradictory(node: Node) -> bool:
    """Unsatisfiable even with static attributes free: the conditions exclude each other."""
    grid = _value_grid(node.atoms)
    if grid is None:
        return False
    paths, values = grid
    for combo in itertools.product(*values):
        spaces: dict[str, Any] = {}
        cv: dict[str, Any] = {}
        for path, value in zip(paths, combo, strict=True):
            _set_path(spaces, cv, path, value)
        req = Request(principal=spaces.get("principal", EMPTY),
                      action=spaces.get("action", ""), tool=spaces.get("tool", EMPTY),
                      token=spaces.get("token", EMPTY), resource=spaces.get("resource"),
                      request=spaces.get("request", EMPTY), task=spaces.get("task", EMPTY),
                      session=spaces.get("session", EMPTY), chain=spaces.get("chain", EMPTY),
                      time=spaces.get("time", EMPTY))
        if holds(node, req, cv):
            return False
    return True


@_check("AR012", "rule-never-matches", "medium",
        "Every rule can match some request of the scenario", ("L6",))
def check_never_matches(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    A rule that can never match is dead policy: usually a typo in a target or a condition
    that contradicts itself (``lt 5`` and ``gt 10`` under ``all``), and a deny that never fires
    is a control that is not there. Proven over the scenario's calls and every value class
    the conditions distinguish.
    """
    for policy, profiles, pid in _policy_groups(subject):
        for rule in policy.rules:
            why = never_matches(subject, policy, rule)
            if why is None:
                continue
            yield check.finding(
                subject.at_policy(pid, _rule_path(policy, rule)),
                f"rule {rule.id} of policy {policy.name} can never match: {why}",
                "fix the target or conditions (or delete the rule)",
                severity="high" if rule.effect is not Effect.ALLOW else "medium",
                profiles=profiles)
        for seq in policy.sequences:
            space = _calls(subject)
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
    for call in target_calls(policy, rule, _calls(subject)):
        denies = [r for r in policy.candidates(call.key)
                  if r.effect is Effect.DENY and not r.shadow and r is not rule]
        combos = assignments([rule.cond, *(d.cond for d in denies)])
        if combos is None:
            return None
        sp = _space(subject, call)
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


@_check("AR013", "allow-always-overridden", "low",
        "No allow rule is overridden by a deny wherever it matches", ("L6",))
def check_shadowed(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    Deny overrides allow: an allow whose every matching request is also matched by an
    enforced deny never decides anything. Either the allow is dead weight or the deny is
    broader than intended.
    """
    for policy, profiles, pid in _policy_groups(subject):
        for rule in policy.rules:
            if rule.effect is not Effect.ALLOW or rule.shadow:
                continue
            denies = shadowed_by(subject, policy, rule)
            if not denies:
                continue
            yield check.finding(
                subject.at_policy(pid, _rule_path(policy, rule)),
                f"allow rule {rule.id} of policy {policy.name} is overridden wherever it "
                f"matches by deny rule(s) {', '.join(denies)}",
                f"narrow the deny ({', '.join(denies)}) or delete the allow {rule.id}",
                profiles=profiles)


# --- output ---------------------------------------------------------------------------------------

_SARIF_LEVEL = {"info": "note", "low": "note", "medium": "warning", "high": "error",
                "critical": "error"}
_SECURITY_SEVERITY = {"info": "0.0", "low": "3.0", "medium": "5.0", "high": "8.0",
                      "critical": "9.5"}


def to_json(findings: Sequence[Finding], *, scanned: Sequence[str] = ()) -> dict[str, Any]:
    """Findings as a JSON-compatible document with counts by severity."""
    counts = {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}
    return {"scanned": list(scanned), "counts": counts,
            "findings": [f.to_dict() for f in findings]}


def artifact_uri(file: str, base: str | None) -> str:
    """A finding's file as a URI reference relative to the scanned directory."""
    path = file.removeprefix("builtin:")
    if base is not None and not file.startswith("builtin:"):
        absolute = os.path.abspath(path)
        root = os.path.abspath(base)
        if os.path.commonpath([absolute, root]) == root:
            path = os.path.relpath(absolute, root)
    return Path(path).as_posix().replace(" ", "%20")


def rule_descriptor(check: Check) -> dict[str, Any]:
    """The SARIF ``reportingDescriptor`` of a check."""
    return {
        "id": check.id,
        "name": check.name,
        "shortDescription": {"text": check.summary},
        "fullDescription": {"text": check.help},
        "help": {"text": check.help},
        "defaultConfiguration": {"level": _SARIF_LEVEL[check.severity]},
        "properties": {"tags": list(check.frameworks),
                       "security-severity": _SECURITY_SEVERITY[check.severity]},
    }


def to_sarif(findings: Sequence[Finding], *, base: str | None = None,
             version: str = "0") -> dict[str, Any]:
    """Findings as a SARIF 2.1.0 log (one run; rules from the registry).

    Args:
        findings: What to report.
        base: The scanned directory; artifact URIs are made relative to it.
        version: The tool's version.
    """
    ids = list(REGISTRY)
    results = []
    for f in findings:
        region: dict[str, Any] = {}
        if f.line is not None:
            region["startLine"] = f.line
            if f.column is not None:
                region["startColumn"] = f.column
        physical: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(f.file, base)}}
        if region:
            physical["region"] = region
        results.append({
            "ruleId": f.check,
            "ruleIndex": ids.index(f.check),
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": f"{f.message}. Remediation: {f.remediation}"},
            "locations": [{"physicalLocation": physical}],
            "properties": {"severity": f.severity, "frameworks": list(f.frameworks),
                           "profiles": list(f.profiles), "production": f.production,
                           "remediation": f.remediation},
        })
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "agentrange",
                "informationUri": TOOL_URI,
                "version": version,
                "rules": [rule_descriptor(REGISTRY[c]) for c in ids],
            }},
            "results": results,
        }],
    }


def _sort_registry() -> None:
    # Checks register in source order (grouped by subject); reports list them by id.
    items = sorted(REGISTRY.items())
    REGISTRY.clear()
    REGISTRY.update(items)


_sort_registry()

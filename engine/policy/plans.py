"""Plans, built ahead of time: what deciding a request looks up instead of evaluating.

A *plan* is everything about one (principal, action, tool, resource) combination: its
candidate rules (a :class:`CandidateSet`, shared by every combination with the same
candidates) and the counters and sequence steps its requests may touch. The
:class:`PlanBook` of a compiled policy builds, once and before any decision, the plans of
every combination its scenario can reach (each agent with each tool and resource), and for
each the *static stop set*: what the principal, tool and resource views the scenario declares
already stop among the candidates' conditions (see :mod:`engine.policy.tables`). Deciding a
request then only ORs the stop bits of its per-call values into that static stop set and
looks the explanation up by the result; combinations nobody foresaw get their plan on first
use, in the same book.

A :class:`CandidateSet` reads the verdict (:class:`~engine.policy.bitcore.Verdict`) off a
stop set: effect, deciding rule and shadow rules follow with a few integer operations, the
matched and failed rules when read. The caches that fill while deciding (value -> stop
bits, stop set -> verdict) belong to each decision point (:mod:`engine.policy.caches`);
everything here is built once per policy and then only read, so engines in several threads
may share it.

Nothing here refers back to a policy, an engine or generated code, so dropped ones are freed
by reference counting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.model import Scenario
from engine.policy.bitcore import Verdict, bit_indexes, failures
from engine.policy.compiled import CompiledPolicy
from engine.policy.decision import Effect, Reason, ShadowMatch
from engine.policy.request import (
    Request,
    principal_attributes,
    resource_attributes,
    tool_attributes,
)
from engine.policy.rules import CompiledCounter, CompiledRule, CompiledSequence, TargetKey
from engine.policy.tables import Tables
from engine.policy.values import actual_value, typed

MAX_PLANS = 50_000
"""Plans a book keeps (those built ahead included) before starting afresh."""
EAGER_PLANS = 20_000
"""Combinations of agents, tools and resources built ahead at most; beyond it only those the
scenario's task and incident steps name are, and the rest on first use."""
MAX_STATICS = 4096
"""Static stop sets kept per candidate set (one per distinct principal, tool and resource
values read)."""

_ALLOW, _DENY, _APPROVAL = Effect.ALLOW, Effect.DENY, Effect.REQUIRE_APPROVAL
REASONS = {_DENY: Reason.EXPLICIT_DENY, _APPROVAL: Reason.APPROVAL_REQUIRED,
           _ALLOW: Reason.ALLOWED}
"""The reason of a decision each effect's deciding rule gives."""

STATIC_NAMESPACES = ("principal", "tool", "resource")
"""Namespaces a request takes from the read-only views of its agent, tool and resource."""

StepEntry = tuple[CompiledSequence, int, "Callable[[Request, Mapping[str, Any]], bool] | None",
                  bool, tuple[CompiledSequence, int]]
"""A sequence step a plan's requests may match: (sequence, step index, condition, is last,
and (sequence, step index) as a request that matches it records it)."""
EvalFn = Callable[[Request, Mapping[str, Any]], tuple[
    list[CompiledRule], list[ShadowMatch], list[tuple[str, str, str, int]], list[str],
    list[CompiledRule]]]
"""Evaluates every candidate rule: (matched, shadow, failed, errors, errored enforced rules)."""


def is_static(path: str) -> bool:
    """Whether ``path`` is read from the request's action or its principal, tool or resource."""
    return path == "action" or path.partition(".")[0] in STATIC_NAMESPACES


class CandidateSet:
    """What all target combinations with the same candidate rules share.

    Attributes:
        rules: The candidate rules, in document order.
        paths: Every path their conditions read, in first-read order.
        static: The table paths among them read from the principal, tool and resource
            views (and the action): fixed per combination of views.
        dynamic: The table paths read per call (request, task, token, time, counters...).
        slow: Rules whose items read several paths: their generated check runs per request.
        slow_bits: Per slow rule, the local stop bit of each of its item numbers.
        limit: Stop sets at or above it carry error bits (decided rule by rule).
        statics: Static values (read from ``static``) -> their local stop set, for the views
            the scenario declares (filled when the book is built, then only read).

    Local stop sets: bit ``c * m + j`` when item ``c`` of rule ``j`` (its place in
    ``rules``) did not hold; the same ``width`` higher when it raised.
    """

    __slots__ = ("by_effect", "counter_items", "counter_reads", "dynamic", "dynamic_items",
                 "enforced", "evaluator", "index", "key_index", "limit", "local_bit", "m",
                 "obliged", "paths", "positions", "prelocal", "rule_at", "rules", "slow",
                 "slow_bits", "span", "static", "statics", "untabled", "view_paths", "width")

    def __init__(self, rules: tuple[CompiledRule, ...], mask: int,
                 counter_reads: tuple[CompiledCounter, ...], tables: Tables) -> None:
        self.rules = rules
        self.rule_at = rules.__getitem__
        """The rule at a local index (a candidate's place in ``rules``)."""
        n, m = tables.n, len(rules)
        self.m = m
        self.positions = max((len(failures(r)) for r in rules if r.cond is not None),
                             default=0)
        self.width = self.positions * m
        self.limit = 1 << self.width
        span = 0
        for c in range(2 * tables.positions):
            span |= mask << (c * n)
        self.span = span
        """These rules' bits at every item position of the tables' entries."""
        self.local_bit: dict[int, int] = {}
        """A table entry's bit -> the local stop set's bit, for these rules' items."""
        for j, r in enumerate(rules):
            for c in range(len(failures(r)) if r.cond is not None else 0):
                self.local_bit[c * n + r.index] = c * m + j
                self.local_bit[tables.width + c * n + r.index] = self.width + c * m + j
        self.enforced = _local_mask(rules, lambda r: not r.shadow)
        """Local bits of these rules that are enforced (and per effect, and with obligations)."""
        self.by_effect = {e: _local_mask(rules, _enforced_with(e)) for e in (_DENY, _APPROVAL,
                                                                           _ALLOW)}
        self.obliged = _local_mask(rules, lambda r: bool(r.obligations))
        self.counter_reads = counter_reads
        rule_paths, item_paths = tables.rule_paths, tables.item_paths
        self.paths = tuple(dict.fromkeys(
            p for r in rules if r.cond is not None for p in rule_paths[r.index]))
        self.index = {p: i for i, p in enumerate(self.paths)}
        fast = {p for r in rules if r.index in item_paths for p in item_paths[r.index]}
        tabled = [p for p in self.paths if p in fast and p in tables.paths]
        self.static = tuple(p for p in tabled if is_static(p))
        self.view_paths = tuple(p for p in self.paths if is_static(p))
        """Every path the conditions read from the views and the action (tabled or not)."""
        self.dynamic = tuple(p for p in tabled if not is_static(p))
        self.untabled = tuple(p for p in self.paths if p not in tabled and not is_static(p))
        """Per-call paths only slow rules read (no table; their checks read them)."""
        self.key_index = {p: i for i, p in enumerate((*self.dynamic, *self.untabled))}
        """Per-call path -> its place among the values that key shared decisions."""
        self.slow = tuple(r for r in rules if r.index in tables.slow)
        self.slow_bits = tuple(
            tuple(1 << (c * m + rules.index(r)) for c in range(self.positions))
            for r in self.slow)
        self.dynamic_items = 0
        """Local bits of the items that read a per-call path (any other reads the views)."""
        self.counter_items = 0
        """Local bits of the items that read a counter."""
        for j, r in enumerate(rules):
            for c, (_text, path) in enumerate(failures(r) if r.cond is not None else ()):
                if not is_static(path) or r in self.slow:
                    self.dynamic_items |= 1 << (c * m + j)
                if path.startswith("counter.") or r in self.slow:
                    self.counter_items |= 1 << (c * m + j)
        self.statics: dict[tuple[Any, ...], int] = {}
        self.prelocal: tuple[dict[int, int], ...] = tuple(
            {k: self.localise(entry) for k, entry in tables.paths[p].entries.items()}
            for p in self.dynamic)
        """Per per-call path, class -> local stop bits of every class the book's tables hold
        (those classed ahead): a decision point starts its own caches from these."""
        self.evaluator: EvalFn | None = None
        """Rule-by-rule evaluation, generated by :mod:`engine.policy.probes` when first
        needed (errors are rare); None until then."""

    def localise(self, entry: int) -> int:
        """A table entry (bits over every rule of the policy) as this set's local stop bits."""
        bits = entry & self.span
        local_bit = self.local_bit
        out = 0
        while bits:  # gather these rules' bits into the local stop set's places
            low = bits & -bits
            out |= 1 << local_bit[low.bit_length() - 1]
            bits ^= low
        return out

    def core(self, s: int, kinds: dict[tuple[int, int, int], Verdict]) -> Verdict:
        """The verdict of a local stop set (see :mod:`engine.policy.tables`).

        ``kinds``: the verdicts met so far, by what they are made of (the deciding rule's
        bit, the obliged rules' bits, the matched shadow rules' bits); the caller's, then
        updated.
        """
        m = self.m
        seen = 0
        for c in range(self.positions):  # rules stopped at any item
            seen |= s >> (c * m)
        matched = ((1 << m) - 1) & ~seen
        enforced = matched & self.enforced
        by_effect = self.by_effect
        decides = 0
        effect = _DENY
        for e in (_DENY, _APPROVAL, _ALLOW):  # the first deny, else approval, else allow
            bits = enforced & by_effect[e]
            if bits:
                decides, effect = bits & -bits, e
                break
        obliged = enforced & by_effect[effect] & self.obliged if decides else 0
        shadow = matched & ~self.enforced
        kind = (decides, obliged, shadow)
        found = kinds.get(kind)
        if found is None:
            found = kinds[kind] = self.verdict(decides, effect, obliged, shadow)
        return found

    def verdict(self, decides: int, effect: Effect, obliged: int, shadow: int) -> Verdict:
        """The verdict of deciding rule bit ``decides`` (0: none), obliged and shadow bits."""
        decider = self.rule_at(decides.bit_length() - 1) if decides else None
        reason = REASONS[effect] if decides else Reason.NO_MATCHING_ALLOW
        obligations: tuple[str, ...] = ()
        if obliged:
            obligations = tuple(dict.fromkeys(
                o for i in bit_indexes(obliged) for o in self.rule_at(i).obligations))
        return Verdict(self.rule_at, self.m, self.positions, self.enforced, effect, reason,
                       decider, obligations, shadow)


def stops_of(shared: CandidateSet, values: tuple[Any, ...], tables: Tables) -> int | None:
    """The local stop set of the static paths' ``values`` (None: one cannot be classed)."""
    s = 0
    try:
        for path, value in zip(shared.static, values, strict=True):
            table = tables.paths[path]
            s |= shared.localise(table.entries[table.classify(value)])
    except TypeError:
        return None
    return s


def _enforced_with(effect: Effect) -> Callable[[CompiledRule], bool]:
    return lambda r: not r.shadow and r.effect is effect


def _local_mask(rules: Sequence[CompiledRule], test: Callable[[CompiledRule], bool]) -> int:
    mask = 0
    for j, r in enumerate(rules):
        if test(r):
            mask |= 1 << j
    return mask


class Plan:
    """Everything about one (principal, action, tool, resource) combination."""

    __slots__ = ("counted", "counter_reads", "counters", "needs_time", "reads", "runner",
                 "shared", "stateful", "steps")

    def __init__(self, shared: CandidateSet, counters: tuple[CompiledCounter, ...],
                 steps: tuple[StepEntry, ...]) -> None:
        self.shared = shared
        self.counter_reads = shared.counter_reads
        self.counters = counters
        self.steps = steps
        self.counted = tuple((c.scope, c.index, c.window, c.measure) for c in counters)
        """Per counter its requests add to: (scope, index, window, measure), read per call
        without attribute lookups."""
        self.reads = tuple(
            (c.id, c.scope, c.index, c.window, counters.index(c) if c in counters else -1)
            for c in self.counter_reads)
        """Per counter its conditions read: (id, scope, index, window, its place in
        ``counted`` or -1 when its requests do not add to it)."""
        self.runner: Any = None
        """Its generated decide-and-record function (:mod:`engine.policy.runners`), made
        when first needed; None until then."""
        self.stateful = bool(self.counter_reads or counters or steps)
        self.needs_time = bool(steps) or any(
            c.window is not None for c in (*self.counter_reads, *counters))


class PlanBook:
    """The plans of one compiled policy: those its scenario can reach, built ahead.

    Get it with :func:`plan_book` (built once per policy, shared by its decision points).

    Attributes:
        seconds: How long building the plans ahead took (CPU-independent wall time).
        built: How many plans were built ahead.
    """

    def __init__(self, policy: CompiledPolicy) -> None:
        start = time.perf_counter()
        # What plans need of the policy, held here rather than the policy itself: the policy
        # keeps its book, and the book must not keep the policy (no reference cycle).
        self._rules = policy.rules
        self._mask: Callable[[TargetKey], int] = policy.mask_function()
        self._counters = policy.counters
        self._sequences = policy.sequences
        tables = policy.tables if policy.tables is not None else Tables(policy.rules)
        self.tables = tables.fresh()
        """The rules' condition tables, with every class foreseeable classed ahead; each
        decision point classifies with its own copy."""
        self.tables.prefill()
        self.sets: dict[int, CandidateSet] = {}
        self.plans: dict[TargetKey, Plan] = {}
        self._lock = threading.Lock()
        self.built = self._build_ahead(policy.scenario)
        self.seconds = time.perf_counter() - start

    def plan(self, key: TargetKey) -> Plan:
        """The plan of a target key (built now when nobody foresaw it).

        Raises:
            TypeError: when a value of the key is unhashable.
        """
        found = self.plans.get(key)
        if found is not None:
            return found
        if type(key[2]) is not tuple:
            roles = key[2]
            norm = tuple(roles) if isinstance(roles, list | tuple) else roles
            key = (key[0], key[1], norm, *key[3:])
            hash(key)  # an unhashable principal or tool value fails here
            found = self.plans.get(key)
            if found is not None:
                return found
        mask = self._mask(key)
        with self._lock:  # engines in several threads may share the book
            shared = self.sets.get(mask)
            if shared is None:
                shared = self.sets[mask] = self._candidate_set(mask)
            counters = tuple(c for c in self._counters if c.target.matches(key))
            # Highest step first within a sequence, so that recording a request never lets
            # it serve as two consecutive steps.
            steps = tuple(
                (s, j, None if step.cond is None else step.test or step.cond.test,
                 j == len(s.steps) - 1, (s, j))
                for s in self._sequences
                for j, step in reversed(list(enumerate(s.steps))) if step.target.matches(key))
            plan = Plan(shared, counters, steps)
            if len(self.plans) >= MAX_PLANS:
                self.plans = {}
            self.plans[key] = plan
        return plan

    def _candidate_set(self, mask: int) -> CandidateSet:
        rules = tuple(self._rules[i] for i in bit_indexes(mask))
        counter_reads: tuple[CompiledCounter, ...] = ()
        if self._counters:
            read = {p for r in rules for p in self.tables.rule_paths.get(r.index, ())}
            counter_reads = tuple(c for c in self._counters if "counter." + c.id in read)
        return CandidateSet(rules, mask, counter_reads, self.tables)

    def _build_ahead(self, scenario: Scenario) -> int:
        """Plans and static stop sets of every combination the scenario can reach."""
        tools = {t.id: (t, tool_attributes(t)) for t in scenario.tools}
        resources = {r.id: resource_attributes(scenario, r) for r in scenario.resources}
        combos = [(a, t, r) for a in scenario.agents for t in scenario.tools
                  for r in (*t.resources, None)]
        if len(combos) > EAGER_PLANS:
            combos = _named_in_steps(scenario)[:EAGER_PLANS]
        principals: dict[str, Mapping[str, Any]] = {}
        for agent, tool, resource in combos:
            p = principals.get(agent.name)
            if p is None:
                p = principals[agent.name] = principal_attributes(scenario, agent)
            tool_ns = tools[tool.id][1]
            resource_ns = None if resource is None else resources.get(resource)
            if resource is not None and resource_ns is None:
                continue
            req = Request(p, tool.action, tool_ns, _NO_TOKEN, resource_ns)
            plan = self.plan((p["id"], p["kind"], p["roles"], tool.action, tool.id, resource,
                              None if resource_ns is None else resource_ns["data_class"]))
            shared = plan.shared
            values = tuple([actual_value(req, path) for path in shared.static])
            key = typed(values)
            if key not in shared.statics and len(shared.statics) < MAX_STATICS:
                found = stops_of(shared, values, self.tables)
                if found is not None:
                    shared.statics[key] = found
        return len(self.plans)


def _named_in_steps(scenario: Scenario) -> list[tuple[Any, Any, str | None]]:
    """(agent, tool, resource) of every tool step of the agents' tasks and incidents."""
    out: dict[tuple[str, str, str | None], tuple[Any, Any, str | None]] = {}
    by_agent = {a.name: a for a in scenario.agents}
    tools = {t.id: t for t in scenario.tools}
    steps: list[tuple[str, Any]] = [(a.name, s) for a in scenario.agents for t in a.tasks
                                    for s in t.steps]
    steps += [(i.agent, s) for i in scenario.incidents for s in i.plan]
    for name, step in steps:
        tool = tools.get(getattr(step, "tool", None) or "")
        agent = by_agent.get(name)
        if tool is None or agent is None:
            continue
        resource = step.resource
        if resource is None and len(tool.resources) == 1:
            resource = tool.resources[0]
        out.setdefault((name, tool.id, resource), (agent, tool, resource))
    return list(out.values())


_NO_TOKEN: Mapping[str, Any] = {}

_BUILD_LOCK = threading.Lock()


def plan_book(policy: CompiledPolicy) -> PlanBook:
    """The plan book of ``policy``: built on first use (before any decision), then shared."""
    book = policy.derived.get("plans")
    if book is None:
        with _BUILD_LOCK:
            book = policy.derived.get("plans")
            if book is None:
                book = policy.derived["plans"] = PlanBook(policy)
    assert isinstance(book, PlanBook)
    return book


def target_key(req: Request, p: Mapping[str, Any]) -> TargetKey:
    """The key a request's plan is found by (``p`` is its principal view)."""
    r = req.resource
    roles = p.get("roles")
    if type(roles) is list:
        roles = tuple(roles)
    if r is None:
        return (p.get("id"), p.get("kind"), roles, req.action, req.tool.get("id"), None, None)
    return (p.get("id"), p.get("kind"), roles, req.action, req.tool.get("id"), r.get("id"),
            r.get("data_class"))

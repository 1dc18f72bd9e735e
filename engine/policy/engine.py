"""The policy decision point: decides requests against a compiled policy, with state.

State (sequence automata per scope key, counters) changes at exactly two moments:

- :meth:`PolicyEngine.decide` records the request when its final effect is ALLOW (the
  caller executes it): counters whose target matches add its measure; sequence steps it
  matches advance their scope's automaton.
- :meth:`PolicyEngine.commit` records a request that was executed after an approval
  (``require_approval``) — call it once, when the step actually runs.

A denied request never changes state, and deciding the same request twice without
executing it changes nothing. Sessions and chains whose task runs finished are dropped with
:meth:`PolicyEngine.end_session` / :meth:`PolicyEngine.end_chain`; agent- and task-scoped
state is bounded by the number of agents and tasks, and windows are pruned on access.

Speed: conditions are compiled with the policy into per-path *condition tables*
(:mod:`engine.policy.tables`): for each value of an attribute path (for numbers: each
position among the thresholds the policy compares the path with), a bitset of the rule items
it stops. Candidate rules for a (principal, action, tool, resource) combination are found
once, by ANDing per-facet rule bitmasks (agents, tools, actions, resources, data classes).
Deciding a request reads the paths its candidates' conditions name, maps each value to its
class — local to the candidate set: classes that stop the same items of these rules are one —
and looks the combination up in the set's memo (what it reads from the read-only principal,
tool and resource views is read and classed once per view). A combination not seen before ORs
the classes' bitsets (gathered once per local class into the set's own small bitsets) into
the request's stop set, from which the effect, the deciding rule and
the whole explanation (matched rules, shadow matches, each unmatched rule's first failed
item) follow with a few integer operations; stop sets seen before share their explanation.
Rules with an item that reads several paths run their generated check per request
(:mod:`engine.policy.codegen`), and any request on which a condition raises is decided rule
by rule, so errors say exactly where and what. Decisions carry their own attribute values,
so failed conditions report each request's actual values. Nothing refers back to the
engine, so a dropped engine and its decisions are freed by reference counting.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from types import CodeType, MappingProxyType
from typing import Any

from engine.policy.codegen import compiled, read_lines, rule_check
from engine.policy.compiled import CompiledPolicy
from engine.policy.conditions import EvalError
from engine.policy.decision import (
    RESTRICTIVENESS,
    Decision,
    Effect,
    Envelope,
    Reason,
    SequenceMatch,
    ShadowMatch,
    StepRef,
    _Core,
)
from engine.policy.request import EMPTY, Request, principal_attributes
from engine.policy.rules import CompiledCounter, CompiledRule, CompiledSequence, TargetKey
from engine.policy.tables import PathTable, Tables

MAX_PLANS = 50_000
"""Distinct (principal, action, tool, resource) combinations kept before starting afresh."""
MAX_CORES = 20_000
"""Explanations (one per distinct stop set) kept per candidate set before starting afresh."""
MAX_MEMO = 20_000
"""Combinations of value classes memoised per candidate set before starting afresh."""
MAX_DECISIONS = 4096
"""Shared decisions (one per explanation and values) kept per candidate set."""
DEPTH_RULE = "delegation.max_depth"

_ALLOW, _DENY, _APPROVAL = Effect.ALLOW, Effect.DENY, Effect.REQUIRE_APPROVAL
_LEGAL = Envelope.LEGAL
_make = Decision._make
_REASONS = {_DENY: Reason.EXPLICIT_DENY, _APPROVAL: Reason.APPROVAL_REQUIRED,
            _ALLOW: Reason.ALLOWED}
_NO_CV: Mapping[str, Any] = EMPTY

StepEntry = tuple[CompiledSequence, int, "Callable[[Request, Mapping[str, Any]], bool] | None",
                  bool]
"""A sequence step a plan's requests may match: (sequence, step index, condition, is last)."""
ProbeFn = Callable[[Request, Mapping[str, Any], "tuple[Any, ...] | None"], Decision]
"""Decides a request against one candidate set's rules (generated per set); the last
argument is what :data:`StaticsFn` returned for the request's principal, tool and resource
views, or None to read and class them."""
StaticsFn = Callable[[Request], "tuple[Any, ...] | None"]
"""Reads and classes what a candidate set's conditions read from the principal, tool,
resource and action (the same for every request with the same views); None when a value
cannot be classed (the probe then decides those requests rule by rule)."""
ERROR = object()
"""Memo value of classes for which some condition raises: decide those rule by rule."""


class _Shared:
    """What all target combinations with the same candidate rules share.

    Attributes:
        rules: The candidate rules, in document order.
        paths: Every path their conditions read, in first-read order: the order of a
            decision's values.
        cores: Stop set -> the explanation built for it.

    Nothing here refers back to the engine or to the generated probe (which refers to
    this), so a dropped engine is freed by reference counting, without the cycle collector.
    """

    __slots__ = ("_evaluate", "by_effect", "cores", "counter_reads", "decisions", "enforced",
                 "index", "local", "local_bit", "m", "memo", "obliged", "paths",
                 "positions", "rule_at", "rules", "slow", "span", "terms", "width")

    def __init__(self, rules: tuple[CompiledRule, ...], mask: int,
                 counter_reads: tuple[CompiledCounter, ...], tables: Tables) -> None:
        self.rules = rules
        self.rule_at = rules.__getitem__
        """The rule at a local index (a candidate's place in ``rules``)."""
        n, m = tables.n, len(rules)
        self.m = m
        self.positions = max((len(_failures(r)) for r in rules if r.cond is not None),
                             default=0)
        """The most items any of these rules has."""
        self.width = self.positions * m
        """Local stop sets: bit ``c * m + j`` when item ``c`` of rule ``j`` (its place in
        ``rules``) did not hold; the same ``width`` higher when it raised."""
        span = 0
        for c in range(2 * tables.positions):
            span |= mask << (c * n)
        self.span = span
        """These rules' bits at every item position of the tables' entries."""
        self.local_bit: dict[int, int] = {}
        """A table entry's bit -> the local stop set's bit, for these rules' items."""
        for j, r in enumerate(rules):
            for c in range(len(_failures(r)) if r.cond is not None else 0):
                self.local_bit[c * n + r.index] = c * m + j
                self.local_bit[tables.width + c * n + r.index] = self.width + c * m + j
        self.enforced = _local_mask(rules, lambda r: not r.shadow)
        """Local bits of these rules that are enforced (and per effect, and with obligations)."""
        self.by_effect = {e: _local_mask(rules, _enforced_with(e)) for e in (_DENY, _APPROVAL,
                                                                           _ALLOW)}
        self.obliged = _local_mask(rules, lambda r: bool(r.obligations))
        self.counter_reads = counter_reads
        rule_paths = tables.rule_paths
        self.paths = tuple(dict.fromkeys(
            p for r in rules if r.cond is not None for p in rule_paths[r.index]))
        self.index = {p: i for i, p in enumerate(self.paths)}
        self.slow = tuple(r for r in rules if r.index in tables.slow)
        self.memo: dict[Any, _BitCore | object] = {}
        """Classes of the request's values (and slow rules' results) -> explanation."""
        self.cores: dict[int, _BitCore] = {}
        """Stop set -> explanation (many combinations of classes stop the same items)."""
        self.decisions: dict[tuple[_BitCore, tuple[Any, ...]], Decision] = {}
        """(explanation, values) -> the decision its requests share (held here, not on the
        explanation, which the decision refers to: no reference cycle)."""
        self.terms: list[Sequence[int]] = []
        """What each part of a memo key stands for: the entry of each local class of a path,
        or a slow rule's bit for each failed item number (and 0 last, for -1: it held)."""
        self.local: list[tuple[PathTable, dict[int, int], dict[int, int]]] = []
        """Per path with a table: (table, its class -> local class, entry -> local class).
        A local class is a path's classes that stop the same items of these rules, so the
        memo keeps one explanation for what these rules cannot tell apart."""
        self._evaluate: EvalFn | None = None

    def localise(self, i: int, k: int) -> int:
        """The local class of class ``k`` of the ``i``-th path with a table."""
        table, of_class, of_entry = self.local[i]
        bits = table.entries[k] & self.span
        local_bit = self.local_bit
        entry = 0
        while bits:  # gather these rules' bits into the local stop set's places
            low = bits & -bits
            entry |= 1 << local_bit[low.bit_length() - 1]
            bits ^= low
        found = of_entry.get(entry)
        if found is None:
            entries = self.terms[i]
            assert isinstance(entries, list)
            found = of_entry[entry] = len(entries)
            entries.append(entry)
        if len(of_class) >= MAX_MEMO:
            of_class.clear()
        of_class[k] = found
        return found

    @property
    def evaluate(self) -> EvalFn:
        """Rule-by-rule evaluation (generated when first needed: errors are rare)."""
        if self._evaluate is None:
            self._evaluate = _evaluator(self.rules, self.index)
        return self._evaluate


class _BitCore:
    """An explanation read off a stop set: effect and deciding rule now, the lists on demand.

    The stop set already says, for every candidate rule, whether it matched and which item
    failed first; the matched ids, shadow matches and failed conditions are only spelled out
    as tuples when first read. Immutable once built (the cached tuples are a pure function
    of the stop set and the rules).
    """

    __slots__ = ("_failed", "_matched", "_shadow", "effect", "envelope", "index",
                 "matched_bits", "n", "obligations", "reason", "rule", "rule_at", "shadow_bits",
                 "stops")

    sequences: tuple[SequenceMatch, ...] = ()
    errors: tuple[str, ...] = ()

    def __init__(self, shared: _Shared, effect: Effect, reason: Reason,
                 decider: CompiledRule | None, obligations: tuple[str, ...],
                 matched_bits: int, shadow_bits: int, stops: int, n: int) -> None:
        self.rule_at = shared.rule_at
        self.index = shared.index
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
        self._shadow: tuple[ShadowMatch, ...] | None = None
        self._failed: tuple[tuple[str, str, str, int], ...] | None = None

    @property
    def matched(self) -> tuple[str, ...]:
        """Ids of the enforced rules that matched, in document order."""
        if self._matched is None:
            by_index = self.rule_at
            self._matched = tuple([by_index(i).id for i in _bit_indexes(self.matched_bits)])
        return self._matched

    @property
    def shadow(self) -> tuple[ShadowMatch, ...]:
        """Shadow rules that matched, in document order."""
        if self._shadow is None:
            by_index = self.rule_at
            self._shadow = tuple([ShadowMatch(r.id, r.effect) for r in
                                  map(by_index, _bit_indexes(self.shadow_bits))])
        return self._shadow

    @property
    def failed(self) -> tuple[tuple[str, str, str, int], ...]:
        """(rule, condition, path, value index) of each rule that did not match."""
        if self._failed is None:
            at: dict[int, int] = {}
            n, every = self.n, (1 << self.n) - 1
            s = self.stops
            c = 0
            while s:  # the lowest item position at which each rule stopped
                for i in _bit_indexes(s & every):
                    at.setdefault(i, c)
                s >>= n
                c += 1
            index = self.index
            out = []
            for i in sorted(at):
                rule = self.rule_at(i)
                text, path = _failures(rule)[at[i]]
                out.append((rule.id, text, path, index[path]))
            self._failed = tuple(out)
        return self._failed


def _enforced_with(effect: Effect) -> Callable[[CompiledRule], bool]:
    return lambda r: not r.shadow and r.effect is effect


def _local_mask(rules: Sequence[CompiledRule], test: Callable[[CompiledRule], bool]) -> int:
    mask = 0
    for j, r in enumerate(rules):
        if test(r):
            mask |= 1 << j
    return mask


def _bit_indexes(bits: int) -> list[int]:
    out = []
    while bits:
        low = bits & -bits
        out.append(low.bit_length() - 1)
        bits ^= low
    return out


def _failures(rule: CompiledRule) -> tuple[tuple[str, str], ...]:
    if rule.check is None and rule.cond is not None:  # built without the compiler
        return rule_check(rule.cond)[1]
    return rule.failures


class _Context:
    """What the generated probes call on a miss: this engine's tables and the legal owner.

    Held apart from the engine so that probes refer to it and not to the engine (no cycle).
    """

    __slots__ = ("legal_owner", "tables")

    def __init__(self, policy: CompiledPolicy) -> None:
        tables = policy.tables if policy.tables is not None else Tables(policy.rules)
        self.tables = tables.fresh()
        self.legal_owner = policy.legal_owner

    def full(self, shared: _Shared, req: Request, cv: Mapping[str, Any],
              values: tuple[Any, ...]) -> Decision:
        """Evaluate rule by rule (a condition raised, or a value cannot key a table)."""
        core = _evaluate(shared, req, cv)
        envelope = core.envelope
        if envelope is None:
            owner = None
        elif envelope is _LEGAL:
            owner = self.legal_owner
        else:
            owners = req.principal.get("owners")
            owner = owners.get(envelope) if owners is not None else None
        return _make(core, values if core.failed else (), owner)

    def miss(self, shared: _Shared, key: Any) -> _BitCore | object:
        """Explain a combination of classes not seen before (ERROR: some condition raises)."""
        s = 0
        for found, k in zip(shared.terms, key if type(key) is tuple else (key,), strict=True):
            s |= found[k]
        memo = shared.memo
        if len(memo) >= MAX_MEMO:
            memo.clear()
        if s.bit_length() > shared.width:
            memo[key] = ERROR
            return ERROR
        core = shared.cores.get(s)
        if core is None:
            core = self.core(shared, s)
        memo[key] = core
        return core

    def core(self, shared: _Shared, s: int) -> _BitCore:
        """Read the explanation off a (local) stop set (see :mod:`engine.policy.tables`)."""
        m = shared.m
        seen = 0
        for c in range(shared.positions):  # rules stopped at any item
            seen |= s >> (c * m)
        matched = ((1 << m) - 1) & ~seen
        enforced = matched & shared.enforced
        by_effect = shared.by_effect
        decider: CompiledRule | None = None
        effect, reason = _DENY, Reason.NO_MATCHING_ALLOW
        for e in (_DENY, _APPROVAL, _ALLOW):  # the first deny, else approval, else allow
            bits = enforced & by_effect[e]
            if bits:
                decider = shared.rule_at((bits & -bits).bit_length() - 1)
                effect, reason = e, _REASONS[e]
                break
        obligations: tuple[str, ...] = ()
        obliged = enforced & by_effect[effect] & shared.obliged if decider is not None else 0
        if obliged:
            obligations = tuple(dict.fromkeys(
                o for i in _bit_indexes(obliged) for o in shared.rule_at(i).obligations))
        core = _BitCore(shared, effect, reason, decider, obligations, enforced,
                        matched & ~shared.enforced, s, m)
        cores = shared.cores
        if len(cores) >= MAX_CORES:
            cores.clear()
        cores[s] = core
        return core


def _evaluate(shared: _Shared, req: Request, cv: Mapping[str, Any]) -> _Core:
    """Evaluate every candidate rule (the complete path, for a class not yet memoised)."""
    matched, shadow, failed, errors, errored = shared.evaluate(req, cv)
    decider: CompiledRule | None = None
    best = -1
    for r in matched:  # the first deny, else the first approval, else the first allow
        rank = RESTRICTIVENESS[r.effect]
        if rank > best:
            best, decider = rank, r
            if rank == 2:
                break
    if decider is None:
        effect, reason = _DENY, Reason.NO_MATCHING_ALLOW
    else:
        effect = decider.effect
        reason = _REASONS[effect]
    obligations: tuple[str, ...] = ()
    if decider is not None:
        obs = [o for r in matched if r.effect is effect for o in r.obligations]
        if obs:
            obligations = tuple(dict.fromkeys(obs))
    for rule in errored:
        if RESTRICTIVENESS[rule.effect] > RESTRICTIVENESS[effect]:
            # Fail closed: a rule that might have restricted the request was skipped.
            effect, reason, decider, obligations = _DENY, Reason.ERROR, rule, ()
            break
    return _Core(
        effect, reason, decider.id if decider is not None else None,
        tuple([r.id for r in matched]), tuple(shadow), tuple(failed), (), obligations,
        decider.envelope if decider is not None else None, tuple(errors),
    )


class _Plan:
    """Everything about one (principal, action, tool, resource) combination."""

    __slots__ = ("counter_reads", "counters", "needs_time", "probe", "shared", "stateful",
                 "statics", "steps")

    def __init__(self, shared: _Shared, probe: ProbeFn, statics: StaticsFn | None,
                 counters: tuple[CompiledCounter, ...], steps: tuple[StepEntry, ...]) -> None:
        self.shared = shared
        self.probe = probe
        self.statics = statics
        self.counter_reads = shared.counter_reads
        self.counters = counters
        self.steps = steps
        self.stateful = bool(self.counter_reads or counters or steps)
        self.needs_time = bool(steps) or any(
            c.window is not None for c in (*self.counter_reads, *counters))


class PolicyEngine:
    """A stateful policy decision point over one compiled policy.

    Args:
        compiled: The policy, from :func:`~engine.policy.loading.load_policy` or
            :func:`~engine.policy.compiler.compile_policy`.
    """

    def __init__(self, compiled: CompiledPolicy) -> None:
        self._base = compiled
        self._policy = compiled
        self._plans: dict[TargetKey, _Plan] = {}
        self._by_identity: dict[tuple[int, int, int, Any],
                                tuple[Any, Any, Any, _Plan, tuple[Any, ...] | None]] = {}
        self._shared: dict[int, tuple[_Shared, ProbeFn, StaticsFn | None]] = {}
        self._counters: dict[str, dict[Any, dict[int, list[Any]]]] = {}
        self._seq: dict[str, dict[Any, dict[int, list[Any]]]] = {}
        self._hop_principals: dict[str, Mapping[str, Any]] = {}
        self._small: dict[tuple[Any, ...], Decision] = {}
        self._ctx: _Context | None = None
        self.reset()

    @property
    def policy(self) -> CompiledPolicy:
        """The policy in force (after any :meth:`tighten`)."""
        return self._policy

    # --- lifecycle ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget all state and tightenings: back to the compiled policy as loaded.

        Compiled caches (candidate sets, memoised stateless decisions) are kept unless a
        tightening changed the rules: they depend only on the policy.
        """
        if self._policy is not self._base:
            self._plans = {}
            self._by_identity = {}
            self._shared = {}
            self._ctx = None
        self._policy = self._base
        self._counters = {"session": {}, "chain": {}, "agent": {}, "task": {}}
        self._seq = {"session": {}, "chain": {}, "agent": {}}
        self._small = {}

    def tighten(self, rule_id: str) -> None:
        """Enforce shadow rule or sequence ``rule_id`` from now on (no-op if already enforced).

        Raises:
            UnknownRuleError: when the policy has no rule or sequence with that id.
        """
        self._policy = self._policy.with_enforced(rule_id)
        self._plans = {}
        self._by_identity = {}
        self._shared = {}
        self._ctx = None
        self._small = {}

    def end_session(self, session_id: str) -> None:
        """Drop the counters and sequence state of a finished task run."""
        self._counters["session"].pop(session_id, None)
        self._seq["session"].pop(session_id, None)

    def end_chain(self, chain_id: str) -> None:
        """Drop the counters and sequence state of a finished delegation chain."""
        self._counters["chain"].pop(chain_id, None)
        self._seq["chain"].pop(chain_id, None)

    def state_size(self) -> int:
        """Number of scope keys holding state (to check that memory stays bounded)."""
        return sum(len(v) for v in self._counters.values()) + sum(
            len(v) for v in self._seq.values())

    # --- deciding ---------------------------------------------------------------------------

    def decide(self, req: Request) -> Decision:
        """Decide a request; records it in the state when the effect is ALLOW.

        Never raises for a bad request: anything that cannot be evaluated is denied
        (fail-closed) with the problem in ``errors``.
        """
        try:
            if req.token.get("valid") is not True:
                return self._invalid_token(req)
            chain = req.chain
            if chain:
                depth = chain.get("depth")
                if depth or (depth is None and len(chain.get("actors") or ()) > 1):
                    return self._decide_delegated(req)
            # Read-only views (what the *_attributes helpers build) cannot change, so their
            # identity stands for their content: look the plan up by identity first.
            p, t, r = req.principal, req.tool, req.resource
            known = self._by_identity.get((id(p), id(t), id(r), req.action))
            if known is not None and known[0] is p and known[1] is t and known[2] is r:
                plan, st = known[3], known[4]
            else:
                plan, st = self._plan_by_value(req), None
            if not plan.stateful:
                return plan.probe(req, _NO_CV, st)
            decision, hits, now = self._stateful(req, plan, st)
            if decision.effect is _ALLOW:
                self._apply(req, plan, hits, now)
            return decision
        except Exception as exc:  # the engine fails closed; it never raises on a request
            return Decision(_DENY, Reason.ERROR, errors=(f"internal error: {exc!r}",))

    def commit(self, req: Request) -> None:
        """Record a request executed after approval (see the module docstring)."""
        try:
            plan = self._plan_for(req)
        except (TypeError, AttributeError):
            return
        if not plan.stateful:
            return
        now = _number(req.time.get("now"))
        if plan.needs_time and now is None:
            return
        hits = []
        for seq, j, test, _last in plan.steps:
            try:
                if test is None or test(req, _NO_CV):
                    hits.append((seq, j))
            except EvalError:
                continue
        self._apply(req, plan, hits, now)

    # --- plans and memo ----------------------------------------------------------------------

    def _plan_by_value(self, req: Request) -> _Plan:
        p, t, r = req.principal, req.tool, req.resource
        key = _target_key(req, p)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plan(key)
        if type(p) is MappingProxyType and type(t) is MappingProxyType and (
                r is None or type(r) is MappingProxyType):
            if len(self._by_identity) >= MAX_PLANS:
                self._by_identity = {}
            # What the candidates read from these immutable views is read and classed once.
            st = plan.statics(req) if plan.statics is not None else None
            self._by_identity[(id(p), id(t), id(r), req.action)] = (p, t, r, plan, st)
        return plan

    def _plan_for(self, req: Request) -> _Plan:
        key = _target_key(req, req.principal)
        plan = self._plans.get(key)
        return plan if plan is not None else self._plan(key)

    def _plan(self, key: TargetKey) -> _Plan:
        if type(key[2]) is not tuple:
            roles = key[2]
            norm = tuple(roles) if isinstance(roles, list | tuple) else roles
            key = (key[0], key[1], norm, *key[3:])
            hash(key)  # an unhashable principal/tool value fails here, and decide fails closed
            found = self._plans.get(key)
            if found is not None:
                return found
        policy = self._policy
        mask = policy.candidate_mask(key)
        known = self._shared.get(mask)
        if known is None:
            rules = tuple(policy.rules[i] for i in _bit_indexes(mask))
            ctx = self._context(policy)
            counter_reads: tuple[CompiledCounter, ...] = ()
            if policy.counters:
                read = {p for r in rules for p in ctx.tables.rule_paths.get(r.index, ())}
                counter_reads = tuple(c for c in policy.counters if "counter." + c.id in read)
            shared = _Shared(rules, mask, counter_reads, ctx.tables)
            known = self._shared[mask] = (shared, *_probe_function(shared, ctx))
        shared, probe, statics = known
        counters = tuple(c for c in policy.counters if c.target.matches(key))
        # Highest step first within a sequence, so that recording a request never lets it
        # serve as two consecutive steps.
        steps = tuple(
            (s, j, None if step.cond is None else step.test or step.cond.test,
             j == len(s.steps) - 1)
            for s in policy.sequences
            for j, step in reversed(list(enumerate(s.steps))) if step.target.matches(key))
        plan = _Plan(shared, probe, statics, counters, steps)
        if len(self._plans) >= MAX_PLANS:
            self._plans = {}
            self._by_identity = {}
            self._shared = {}
        self._plans[key] = plan
        return plan

    def _stateless(self, req: Request, plan: _Plan, cv: Mapping[str, Any]) -> Decision:
        """The rules' decision (no sequences), memoised per equivalence class of requests."""
        return plan.probe(req, cv, None)

    def _context(self, policy: CompiledPolicy) -> _Context:
        """What deciding against this policy needs beyond a candidate set (built once)."""
        if self._ctx is None:
            self._ctx = _Context(policy)
        return self._ctx

    def _owner(self, envelope: Envelope | None, principal: Mapping[str, Any]) -> str | None:
        if envelope is None:
            return None
        if envelope is _LEGAL:
            return self._policy.legal_owner
        owners = principal.get("owners")
        # Read exactly as the generated probe reads it, so memoised decisions compare equal.
        owner: str | None = owners.get(envelope) if owners is not None else None
        return owner

    # --- state: counters and sequences -----------------------------------------------------

    def _stateful(self, req: Request, plan: _Plan, st: tuple[Any, ...] | None = None
                  ) -> tuple[Decision, list[tuple[CompiledSequence, int]], float | None]:
        """Decide with counters and sequences; returns the matched steps for recording."""
        now = req.time.get("now")
        t = type(now)
        if not (t is int or t is float) or now != now:
            now = None
            if plan.needs_time:
                return (Decision(_DENY, Reason.ERROR, errors=(
                    "time.now is absent or not a number: the counters and sequence rules that "
                    "apply to this request need it",)), [], None)
        cv = self._counter_values(req, plan, now) if plan.counter_reads else _NO_CV
        base = plan.probe(req, cv, st)
        if not plan.steps:
            return base, [], now
        hits: list[tuple[CompiledSequence, int]] = []
        # Built only when a sequence completes or errs (rare): most requests need neither.
        completions: list[tuple[CompiledSequence, SequenceMatch]] | None = None
        seq_errors: list[tuple[CompiledSequence, str]] | None = None
        for seq, j, test, last in plan.steps:
            if test is not None:
                try:
                    if not test(req, cv):
                        continue
                except EvalError as exc:
                    if last and self._prefix(req, seq, now) is not None:
                        if seq_errors is None:
                            seq_errors = []
                        seq_errors.append((seq, f"sequence {seq.id} step {j + 1} skipped: "
                                                f"{exc}"))
                    continue
            hits.append((seq, j))
            if last:
                prefix = self._prefix(req, seq, now)
                if prefix is not None:
                    if completions is None:
                        completions = []
                    completions.append((seq, SequenceMatch(seq.id, seq.effect, seq.shadow,
                                                           prefix)))
        if completions is None and seq_errors is None:
            return base, hits, now
        return (self._with_sequences(req, base, completions or [], seq_errors or []), hits,
                now)

    def _prefix(self, req: Request, seq: CompiledSequence, now: float | None
                ) -> tuple[StepRef, ...] | None:
        """The earlier steps of ``seq`` matched in this request's scope, within the window."""
        scope = seq.scope
        skey = req.session.get("id") if scope == "session" else _scope_key(req, scope)
        if skey is None or now is None:
            return None
        per_key = self._seq[scope].get(skey)
        if per_key is None:
            return None
        partials = per_key.get(seq.index)
        if partials is None:
            return None
        last = partials[-1]
        if last is None or now - last[0] > seq.window:
            return None
        steps: tuple[StepRef, ...] = last[1]
        return steps

    def _with_sequences(self, req: Request, base: Decision,
                        completions: list[tuple[CompiledSequence, SequenceMatch]],
                        seq_errors: list[tuple[CompiledSequence, str]]) -> Decision:
        core = base._core
        effect, reason, rule = core.effect, core.reason, core.rule
        envelope, obligations = core.envelope, core.obligations
        owner = base.owner
        if reason not in (Reason.EXPLICIT_DENY, Reason.ERROR):
            best: CompiledSequence | None = None
            for seq, _ in completions:
                if seq.shadow:
                    continue
                if best is None or RESTRICTIVENESS[seq.effect] > RESTRICTIVENESS[best.effect]:
                    best = seq
            if best is not None and (
                    RESTRICTIVENESS[best.effect] > RESTRICTIVENESS[effect]
                    or (reason is Reason.NO_MATCHING_ALLOW and best.effect is _DENY)):
                effect, reason, rule = best.effect, Reason.SEQUENCE, best.id
                envelope, obligations = best.envelope, best.obligations
                owner = self._owner(envelope, req.principal)
        for seq, _ in seq_errors:
            if not seq.shadow and RESTRICTIVENESS[seq.effect] > RESTRICTIVENESS[effect]:
                effect, reason, rule = _DENY, Reason.ERROR, seq.id
                envelope, obligations = seq.envelope, ()
                owner = self._owner(envelope, req.principal)
                break
        shadow = core.shadow + tuple(ShadowMatch(s.id, s.effect) for s, _ in completions
                                     if s.shadow)
        new = _Core(effect, reason, rule, core.matched, shadow, core.failed,
                    tuple([m for _, m in completions]), obligations, envelope,
                    core.errors + tuple([text for _, text in seq_errors]))
        return Decision._make(new, base._values, owner)

    def _counter_values(self, req: Request, plan: _Plan, now: float | None) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for c in plan.counter_reads:
            skey = _scope_key(req, c.scope)
            if skey is None:
                values[c.id] = None  # absent: conditions reading it fail closed
                continue
            total: float = 0
            state = self._counters[c.scope].get(skey)
            slot = state.get(c.index) if state is not None else None
            if slot is not None:
                if c.window is not None and now is not None:
                    _prune(slot, now - c.window)
                total = slot[0]
            if c in plan.counters:
                total += _measure(req, c)
            values[c.id] = total
        return values

    def _apply(self, req: Request, plan: _Plan, hits: list[tuple[CompiledSequence, int]],
               now: float | None) -> None:
        """Record an executed request: counters add, sequence automata advance."""
        for c in plan.counters:
            skey = _scope_key(req, c.scope)
            if skey is None:
                continue
            amount = _measure(req, c)
            scoped = self._counters[c.scope]
            per_key = scoped.get(skey)
            if per_key is None:  # not setdefault: that builds a dict on every call
                per_key = scoped[skey] = {}
            slot = per_key.get(c.index)
            if slot is None:
                slot = per_key[c.index] = [0, deque() if c.window is not None else None]
            slot[0] += amount
            if slot[1] is not None and now is not None:
                slot[1].append((now, amount))
                _prune(slot, now - c.window)  # type: ignore[operator]
        if not hits or now is None:
            return
        ref: StepRef | None = None
        for seq, j in hits:  # in plan order: highest step first within a sequence
            last = len(seq.steps) - 1
            if j == last:
                continue
            scope = seq.scope
            skey = req.session.get("id") if scope == "session" else _scope_key(req, scope)
            if skey is None:
                continue
            if ref is None:
                ref = _new_tuple(StepRef, (now, req.tool.get("id"), req.ref))
            scoped = self._seq[scope]
            per_key = scoped.get(skey)
            if per_key is None:
                per_key = scoped[skey] = {}
            partials = per_key.get(seq.index)
            if partials is None:
                partials = per_key[seq.index] = [None] * last
            if j == 0:
                partials[0] = (now, (ref,))
                continue
            prev = partials[j - 1]
            if prev is None or now - prev[0] > seq.window:
                continue
            current = partials[j]
            # Keep the partial match that started latest: it stays inside the window longest.
            if current is None or current[0] <= prev[0] or now - current[0] > seq.window:
                partials[j] = (prev[0], (*prev[1], ref))

    # --- special decisions -----------------------------------------------------------------

    def _invalid_token(self, req: Request) -> Decision:
        token = req.token
        reason = token.get("reason") if "valid" in token else "not verified (token.valid absent)"
        owner = self._owner(Envelope.SECURITY, req.principal)
        key = ("token", str(reason), owner)
        decision = self._small.get(key)
        if decision is None:
            decision = Decision(_DENY, Reason.INVALID_TOKEN, envelope=Envelope.SECURITY,
                                owner=owner, errors=(f"token {reason or 'invalid'}",))
            self._small[key] = decision
        return self._in_chain(decision, req.chain)

    def _in_chain(self, decision: Decision, chain: Mapping[str, Any], hop: str | None = None
                  ) -> Decision:
        actors = tuple(chain.get("actors") or ()) if chain else ()
        if len(actors) < 2:
            actors = ()
        return Decision._make(decision._core, decision._values, decision.owner, actors, hop)

    def _decide_delegated(self, req: Request) -> Decision:
        chain = req.chain
        actors = tuple(chain.get("actors") or ())
        depth = chain.get("depth")
        if not isinstance(depth, int) or isinstance(depth, bool):
            depth = max(len(actors) - 1, 0)
        policy = self._policy
        if policy.max_depth is not None and depth > policy.max_depth:
            owner = self._owner(Envelope.SECURITY, req.principal)
            return Decision(
                _DENY, Reason.EXPLICIT_DENY, DEPTH_RULE, envelope=Envelope.SECURITY,
                owner=owner, chain=actors,
                errors=(f"delegation depth {depth} exceeds the policy's max_depth "
                        f"{policy.max_depth}",))
        plan = self._plan_for(req)
        hits: list[tuple[CompiledSequence, int]] = []
        now: float | None = None
        if plan.stateful:
            decision, hits, now = self._stateful(req, plan)
        else:
            decision = self._stateless(req, plan, _NO_CV)
        restricting: str | None = None
        if policy.attenuation and len(actors) > 1:
            for name, principal in self._hops(req, actors):
                if principal is None:
                    decision = Decision(_DENY, Reason.ERROR, errors=(
                        f"delegation hop {name!r} is not an agent of the scenario; cannot "
                        "attenuate",))
                    restricting = name
                    break
                hop_req = replace(req, principal=principal)
                hop_plan = self._plan_for(hop_req)
                cv = (self._counter_values(hop_req, hop_plan, now)
                      if hop_plan.counter_reads else _NO_CV)
                hop_decision = self._stateless(hop_req, hop_plan, cv)
                if RESTRICTIVENESS[hop_decision.effect] > RESTRICTIVENESS[decision.effect]:
                    decision, restricting = hop_decision, name
        decision = self._in_chain(decision, chain, restricting)
        if decision.effect is _ALLOW and plan.stateful:
            self._apply(req, plan, hits, now)
        return decision

    def _hops(self, req: Request, actors: tuple[str, ...]
              ) -> list[tuple[str, Mapping[str, Any] | None]]:
        names = actors[1:]
        if req.hops is not None and len(req.hops) == len(names):
            return list(zip(names, req.hops, strict=True))
        out: list[tuple[str, Mapping[str, Any] | None]] = []
        scenario = self._policy.scenario
        for name in names:
            principal = self._hop_principals.get(name)
            if principal is None:
                try:
                    principal = principal_attributes(scenario, name)
                except KeyError:
                    out.append((name, None))
                    continue
                self._hop_principals[name] = principal
            out.append((name, principal))
        return out


# --- helpers ------------------------------------------------------------------------------


_new_tuple = tuple.__new__
"""Builds a NamedTuple from a tuple in C (its generated ``__new__`` is a Python lambda)."""


def _number(value: Any) -> float | None:
    t = type(value)
    if (t is int or t is float) and value == value:
        return value
    return None


def _measure(req: Request, c: CompiledCounter) -> float:
    if c.measure is None:
        return 1
    value = _number(c.measure(req, _NO_CV))
    return 0 if value is None else value


def _prune(slot: list[Any], horizon: float) -> None:
    events: deque[tuple[float, float]] | None = slot[1]
    if events is None:
        return
    while events and events[0][0] <= horizon:
        slot[0] -= events.popleft()[1]
    if not events:
        slot[0] = 0  # no drift from repeated float subtraction


def _scope_key(req: Request, scope: str) -> Any:
    if scope == "session":
        return req.session.get("id")
    if scope == "chain":
        chain = req.chain
        cid = chain.get("id") if chain else None
        return cid if cid is not None else req.session.get("id")
    if scope == "agent":
        return req.principal.get("id")
    pid, tid = req.principal.get("id"), req.task.get("id")
    return None if pid is None or tid is None else (pid, tid)


def _target_key(req: Request, p: Mapping[str, Any]) -> TargetKey:
    r = req.resource
    roles = p.get("roles")
    if type(roles) is list:
        roles = tuple(roles)
    if r is None:
        return (p.get("id"), p.get("kind"), roles, req.action, req.tool.get("id"), None, None)
    return (p.get("id"), p.get("kind"), roles, req.action, req.tool.get("id"), r.get("id"),
            r.get("data_class"))


def _probe_function(shared: _Shared, ctx: _Context) -> tuple[ProbeFn, StaticsFn | None]:
    """Generate the decision function of a candidate set: read, classify, look up, adapt.

    Generated rather than looped because it runs for every request; only validated
    attribute paths reach the code, and every constant is bound as a name in ``env``. The
    text depends only on the kinds of the paths read and the number of slow rules, so it
    compiles once per shape.
    """
    tables = ctx.tables
    item_paths = tables.item_paths
    fast = {p for r in shared.rules if r.index in item_paths for p in item_paths[r.index]}
    kinds = []
    env: dict[str, Any] = {"Mapping": Mapping, "EvalError": EvalError, "full": ctx.full,
                           "shared": shared, "memo_get": shared.memo.get, "miss": ctx.miss,
                           "localise": shared.localise, "decisions": shared.decisions,
                           "decisions_get": shared.decisions.get,
                           "MAX_DECISIONS": MAX_DECISIONS,
                           "ERROR": ERROR, "make": _make, "LEGAL": _LEGAL,
                           "legal_owner": ctx.legal_owner}
    terms = shared.terms
    for i, path in enumerate(shared.paths):
        table = tables.paths.get(path) if path in fast else None
        if table is None:
            kinds.append("-")
            continue
        kinds.append("n" if table.numeric else "p")
        env[f"C{i}"] = table.classify
        env[f"G{i}"] = (table.by_number if table.numeric else table.by_key).get
        of_class: dict[int, int] = {}
        env[f"T{i}"], env[f"J{i}"] = of_class.get, len(terms)
        shared.local.append((table, of_class, {}))
        terms.append([])
    for k, rule in enumerate(shared.slow):
        env[f"SC{k}"] = rule.check
        j = shared.rules.index(rule)
        terms.append((*(1 << (c * shared.m + j) for c in range(shared.positions)), 0))
    shape = (tuple(zip(shared.paths, kinds, strict=True)), len(shared.slow))
    found = _PROBES.get(shape)
    if found is None:
        if len(_PROBES) >= MAX_SHAPES:
            _PROBES.clear()
        constants: dict[str, Any] = {}
        found = _PROBES[shape] = (_probe_code(shape, constants), constants)
    code, constants = found
    env.update(constants)
    exec(code, env)
    fn: ProbeFn = env.pop("probe")  # not left in its own globals: no reference cycle
    statics: StaticsFn | None = env.pop("statics", None)
    return fn, statics


_PROBES: dict[tuple[tuple[tuple[str, str], ...], int], tuple[CodeType, dict[str, Any]]] = {}
_EVALUATORS: dict[tuple[bool, ...], CodeType] = {}
MAX_SHAPES = 4096
"""Probe and evaluator shapes kept compiled (the source of each is built once per shape)."""


STATIC_NAMESPACES = ("principal", "tool", "resource")
"""Namespaces a request takes from the read-only views of its agent, tool and resource."""


def _is_static(path: str) -> bool:
    return path == "action" or path.partition(".")[0] in STATIC_NAMESPACES


def _probe_code(shape: tuple[tuple[tuple[str, str], ...], int], constants: dict[str, Any]
                ) -> CodeType:
    """The probe's code for paths read in this order (each: table n/p or value only -).

    Paths of the principal, tool and resource (and the action) can come precomputed, as
    ``st``: their values then their local classes, from the ``statics`` function generated
    alongside when there are any. The names of the attribute keys read go into ``constants``.
    """
    paths, slow = shape
    static = [i for i, (path, _kind) in enumerate(paths) if _is_static(path)]
    dynamic = [i for i in range(len(paths)) if i not in static]

    def classify(i: int, kind: str, indent: str) -> list[str]:
        if kind == "n":  # bool is not a number here (True == 1 as a key)
            head = [f"t = type(v{i})", f"k{i} = G{i}(v{i}) if t is int or t is float else None"]
        else:
            head = [f"k{i} = G{i}(v{i} if type(v{i}) is str else (type(v{i}), v{i}))"]
        body = [*head, f"if k{i} is None:", f"    k{i} = C{i}(v{i})", f"l{i} = T{i}(k{i})",
                f"if l{i} is None:", f"    l{i} = localise(J{i}, k{i})"]
        return [indent + line for line in body]

    static_reads = [line for i in static for line in read_lines(i, paths[i][0], constants)]
    classed = [i for i in static if paths[i][1] != "-"]
    unpack = "".join(f"v{i}, " for i in static) + "".join(f"l{i}, " for i in classed)
    lines = []
    if static:
        lines += ["def statics(req):", *static_reads]
        if classed:
            lines.append("    try:")
            for i in classed:
                lines += classify(i, paths[i][1], "        ")
            lines += ["    except (TypeError, EvalError):",
                      "        return None"]
        lines.append(f"    return ({unpack})")
    lines.append("def probe(req, cv, st=None):")
    for i in dynamic:
        lines += read_lines(i, paths[i][0], constants)
    if static:
        lines += ["    if st is not None:", f"        {unpack.rstrip()} = st"]
        lines += ["    else:", *("    " + line for line in static_reads)]
    values = "".join(f"v{i}, " for i in range(len(paths)))
    keys = [f"l{i}" for i in range(len(paths)) if paths[i][1] != "-"]
    lines.append("    try:")
    if classed:
        lines.append("        if st is None:")
        for i in classed:
            lines += classify(i, paths[i][1], "            ")
    for i in dynamic:
        if paths[i][1] != "-":
            lines += classify(i, paths[i][1], "        ")
    for k in range(slow):
        lines.append(f"        n{k} = SC{k}(req, cv)")
        keys.append(f"n{k}")
    key = keys[0] if len(keys) == 1 else "(" + "".join(f"{k}, " for k in keys) + ")"
    lines += [
        f"        key = {key}",
        "    except (TypeError, EvalError):  # unhashable value or an error: rule by rule",
        f"        return full(shared, req, cv, ({values}))",
        "    c = memo_get(key)",
        "    if c is None:",
        "        c = miss(shared, key)",
        "    if c is ERROR:  # some condition raises: rule by rule says where and what",
        f"        return full(shared, req, cv, ({values}))",
        "    env = c.envelope",
        "    if env is None:",
        "        owner = None",
        "    elif env is LEGAL:",
        "        owner = legal_owner",
        "    else:",
        "        owners = req.principal.get('owners')",
        "        owner = None if owners is None else owners.get(env)",
        "    # Requests with the same explanation and values share one (immutable) decision;",
        "    # one with nothing failed holds no values.",
        f"    values = ({values}) if c.stops else ()",
        "    try:",
        "        d = decisions_get((c, values))",
        "    except TypeError:  # an unhashable value: a decision of its own",
        "        return make(c, values, owner)",
        "    if d is None or d.owner != owner:",
        "        if len(decisions) >= MAX_DECISIONS:",
        "            decisions.clear()",
        "        d = decisions[(c, values)] = make(c, values, owner)",
        "    return d",
    ]
    return compiled("\n".join(lines))


EvalFn = Callable[[Request, Mapping[str, Any]], tuple[
    list[CompiledRule], list[ShadowMatch], list[tuple[str, str, str, int]], list[str],
    list[CompiledRule]]]
"""Evaluates every candidate rule: (matched, shadow, failed, errors, errored enforced rules)."""


def _holds(req: Request, cv: Mapping[str, Any]) -> int:
    return -1


def _evaluator(rules: tuple[CompiledRule, ...], index: Mapping[str, int]) -> EvalFn:
    """Generate the evaluation of a candidate set: each rule's check, in document order.

    The checks were generated once per rule by the compiler; this only strings calls to
    them together (the text depends on the rules' shapes alone, so it compiles rarely).
    """
    env: dict[str, Any] = {"EvalError": EvalError}
    for k, rule in enumerate(rules):
        check, failures = rule.check, rule.failures
        if rule.cond is not None and check is None:  # built without the compiler
            check, failures = rule_check(rule.cond)
        names = _names(k)
        env[names[0]] = rule
        if rule.shadow:
            env[names[4]] = ShadowMatch(rule.id, rule.effect)
        # A rule without a condition calls a check that always holds, so the text depends
        # only on the number of rules and which are shadow: built once per shape.
        env[names[1]], env[names[2]] = check or _holds, f"rule {rule.id} skipped: "
        env[names[3]] = tuple([(rule.id, text, path, index[path]) for text, path in failures])
    shape = tuple(rule.shadow for rule in rules)
    code = _EVALUATORS.get(shape)
    if code is None:
        if len(_EVALUATORS) >= MAX_SHAPES:
            _EVALUATORS.clear()
        code = _EVALUATORS[shape] = _evaluator_code(shape)
    exec(code, env)
    fn: EvalFn = env.pop("evaluate")
    return fn


_NAMES: list[tuple[str, str, str, str, str]] = []


def _names(k: int) -> tuple[str, str, str, str, str]:
    """The env names of candidate ``k``: rule, check, error prefix, failures, shadow match."""
    while len(_NAMES) <= k:
        n = len(_NAMES)
        _NAMES.append((f"R{n}", f"C{n}", f"E{n}", f"F{n}", f"SH{n}"))
    return _NAMES[k]


def _evaluator_code(shadow: tuple[bool, ...]) -> CodeType:
    lines = ["def evaluate(req, cv):",
             "    matched = []; shadow = []; failed = []; errors = []; errored = []"]
    for k, is_shadow in enumerate(shadow):
        on_match = f"shadow.append(SH{k})" if is_shadow else f"matched.append(R{k})"
        lines += [
            "    try:",
            f"        n = C{k}(req, cv)",
            "    except EvalError as exc:",
            f"        errors.append(E{k} + str(exc))",
            *([] if is_shadow else [f"        errored.append(R{k})"]),
            "    else:",
            "        if n < 0:",
            f"            {on_match}",
            "        else:",
            f"            failed.append(F{k}[n])",
        ]
    lines.append("    return matched, shadow, failed, errors, errored")
    return compiled("\n".join(lines))

"""What executed requests leave behind: counter totals and sequence automata, per scope key.

State changes only when a request is recorded as executed (:meth:`EngineState.apply`):
counters whose target matches add its measure; sequence steps it matches advance their
scope's automaton. Deciding reads the state (:meth:`EngineState.decide`) and never changes
it. Scopes are the task run (``session``), the delegation chain, the agent and the agent's
task; windows are pruned when read or written, and finished sessions and chains are dropped,
so the state stays bounded by the agents and tasks of a run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from engine.policy.caches import Entry
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
    _Fields,
    _forward,
    make_decision,
    owner_of,
)
from engine.policy.plans import Plan
from engine.policy.request import EMPTY, Request
from engine.policy.rules import CompiledCounter, CompiledSequence

_ALLOW, _DENY = Effect.ALLOW, Effect.DENY
_NO_CV: Mapping[str, Any] = EMPTY

Hits = list[tuple[CompiledSequence, int]]
"""Sequence steps a request matched: (sequence, step index), highest step first."""
_NO_HITS: Hits = []
"""What a request that matched no step shares (never appended to)."""


class _Sequenced(_Fields):
    """An explanation overridden by the sequences a request completed or errored on.

    The matched and failed rules stay the rules' own, read from the explanation it wraps (and
    spelled out only when read); everything a sequence can change is its own.
    """

    __slots__ = ("_of", "effect", "envelope", "errors", "obligations", "reason", "rule",
                 "sequences", "shadow")

    chain: tuple[str, ...] = ()
    hop: str | None = None

    if TYPE_CHECKING:
        failed: tuple[tuple[str, str, str, int], ...]
    else:
        _forward(locals(), "_of", ["matched", "failed"])

    def __init__(self, of: Any, effect: Effect, reason: Reason, rule: str | None,
                 shadow: tuple[ShadowMatch, ...], sequences: tuple[SequenceMatch, ...],
                 obligations: tuple[str, ...], envelope: Envelope | None,
                 errors: tuple[str, ...]) -> None:
        self._of = of
        self.effect, self.reason, self.rule = effect, reason, rule
        self.shadow, self.sequences, self.obligations = shadow, sequences, obligations
        self.envelope, self.errors = envelope, errors


class EngineState:
    """Counter totals and partial sequence matches of one engine, per scope and scope key.

    Args:
        legal_owner: The policy's legal owner (accountable for legal-envelope sequences).
    """

    __slots__ = ("counters", "legal_owner", "sequences")

    def __init__(self, legal_owner: str | None) -> None:
        self.legal_owner = legal_owner
        self.counters: dict[str, dict[Any, dict[int, list[Any]]]] = {
            "session": {}, "chain": {}, "agent": {}, "task": {}}
        """Scope -> scope key -> counter index -> [total, window events or None]."""
        self.sequences: dict[str, dict[Any, dict[int, list[Any]]]] = {
            "session": {}, "chain": {}, "agent": {}}
        """Scope -> scope key -> sequence index -> per step: (start, steps so far) or None."""

    def end_session(self, session_id: str) -> None:
        """Drop the counters and sequence state of a finished task run."""
        self.counters["session"].pop(session_id, None)
        self.sequences["session"].pop(session_id, None)

    def end_chain(self, chain_id: str) -> None:
        """Drop the counters and sequence state of a finished delegation chain."""
        self.counters["chain"].pop(chain_id, None)
        self.sequences["chain"].pop(chain_id, None)

    def size(self) -> int:
        """Number of scope keys holding state (to check that memory stays bounded)."""
        return sum(len(v) for v in self.counters.values()) + sum(
            len(v) for v in self.sequences.values())

    def decide(self, req: Request, e: Entry) -> tuple[Decision, Hits, float | None]:
        """Decide with counters and sequences; changes nothing.

        Args:
            req: The request.
            e: Its entry (plan and probe; see :mod:`engine.policy.caches`).

        Returns:
            (the decision, the sequence steps it matched, its time), the last two for
            :meth:`apply` should the request be executed.
        """
        plan = e.plan
        now = req.time.get("now")
        t = type(now)
        if not (t is int or t is float) or now != now:
            now = None
            if plan.needs_time:
                return (Decision(_DENY, Reason.ERROR, errors=(
                    "time.now is absent or not a number: the counters and sequence rules that "
                    "apply to this request need it",)), _NO_HITS, None)
        cv = self.counter_values(req, plan, now) if plan.counter_reads else _NO_CV
        base = e.probe(req, cv, e)
        if not plan.steps:
            return base, _NO_HITS, now
        hits: list[tuple[CompiledSequence, int]] | None = None
        # Built only when a sequence completes or errs (rare): most requests need neither.
        completions: list[tuple[CompiledSequence, SequenceMatch]] | None = None
        seq_errors: list[tuple[CompiledSequence, str]] | None = None
        for seq, j, test, last, hit in plan.steps:
            if test is not None:
                try:
                    if not test(req, cv):
                        continue
                except EvalError as exc:
                    if last and self.prefix(req, seq, now) is not None:
                        if seq_errors is None:
                            seq_errors = []
                        seq_errors.append((seq, f"sequence {seq.id} step {j + 1} skipped: "
                                                f"{exc}"))
                    continue
            if hits is None:
                hits = [hit]
            else:
                hits.append(hit)
            if last:
                prefix = self.prefix(req, seq, now)
                if prefix is not None:
                    if completions is None:
                        completions = []
                    completions.append((seq, SequenceMatch(seq.id, seq.effect, seq.shadow,
                                                           prefix)))
        if hits is None:
            hits = _NO_HITS
        if completions is None and seq_errors is None:
            return base, hits, now
        return (self.with_sequences(req, base, completions or [], seq_errors or []), hits,
                now)

    def prefix(self, req: Request, seq: CompiledSequence, now: float | None
               ) -> tuple[StepRef, ...] | None:
        """The earlier steps of ``seq`` matched in this request's scope, within the window."""
        scope = seq.scope
        skey = req.session.get("id") if scope == "session" else scope_key(req, scope)
        if skey is None or now is None:
            return None
        per_key = self.sequences[scope].get(skey)
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

    def with_sequences(self, req: Request, base: Decision,
                       completions: list[tuple[CompiledSequence, SequenceMatch]],
                       seq_errors: list[tuple[CompiledSequence, str]]) -> Decision:
        """The rules' decision overridden by the sequences completed or errored on ``req``.

        An enforced sequence that completes decides when it is more restrictive than the
        rules (or when no rule allowed); one whose last step raised denies (fail closed).
        """
        core = base._explanation()
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
                owner = owner_of(envelope, req.principal, self.legal_owner)
        for seq, _ in seq_errors:
            if not seq.shadow and RESTRICTIVENESS[seq.effect] > RESTRICTIVENESS[effect]:
                effect, reason, rule = _DENY, Reason.ERROR, seq.id
                envelope, obligations = seq.envelope, ()
                owner = owner_of(envelope, req.principal, self.legal_owner)
                break
        shadow = core.shadow
        for s, _ in completions:
            if s.shadow:
                shadow += (_new_tuple(ShadowMatch, (s.id, s.effect)),)
        errors = core.errors
        if seq_errors:
            errors += tuple([text for _, text in seq_errors])
        new = _Sequenced(core, effect, reason, rule, shadow, tuple([m for _, m in completions]),
                         obligations, envelope, errors)
        return make_decision(new, base._src, owner)

    def counter_values(self, req: Request, plan: Plan, now: float | None) -> dict[str, Any]:
        """The counters the plan's conditions read, as they would be with ``req`` executed."""
        values: dict[str, Any] = {}
        for c in plan.counter_reads:
            skey = scope_key(req, c.scope)
            if skey is None:
                values[c.id] = None  # absent: conditions reading it fail closed
                continue
            total: float = 0
            state = self.counters[c.scope].get(skey)
            slot = state.get(c.index) if state is not None else None
            if slot is not None:
                if c.window is not None and now is not None:
                    prune(slot, now - c.window)
                total = slot[0]
            if c in plan.counters:
                total += _measure(req, c)
            values[c.id] = total
        return values

    def apply(self, req: Request, plan: Plan, hits: Hits, now: float | None) -> None:
        """Record an executed request: counters add, sequence automata advance."""
        for c in plan.counters:
            skey = scope_key(req, c.scope)
            if skey is None:
                continue
            amount = _measure(req, c)
            scoped = self.counters[c.scope]
            per_key = scoped.get(skey)
            if per_key is None:  # not setdefault: that builds a dict on every call
                per_key = scoped[skey] = {}
            slot = per_key.get(c.index)
            if slot is None:
                slot = per_key[c.index] = [0, deque() if c.window is not None else None]
            slot[0] += amount
            if slot[1] is not None and now is not None:
                slot[1].append((now, amount))
                prune(slot, now - c.window)  # type: ignore[operator]
        if not hits or now is None:
            return
        ref: StepRef | None = None
        for seq, j in hits:  # in plan order: highest step first within a sequence
            last = len(seq.steps) - 1
            if j == last:
                continue
            scope = seq.scope
            skey = req.session.get("id") if scope == "session" else scope_key(req, scope)
            if skey is None:
                continue
            if ref is None:
                ref = _new_tuple(StepRef, (now, req.tool.get("id"), req.ref))
            scoped = self.sequences[scope]
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

    def commit(self, req: Request, plan: Plan) -> None:
        """Record a request executed after approval: every step it matches, its counters."""
        now = _number(req.time.get("now"))
        if plan.needs_time and now is None:
            return
        hits = []
        for seq, j, test, _last, _hit in plan.steps:
            try:
                if test is None or test(req, _NO_CV):
                    hits.append((seq, j))
            except EvalError:
                continue
        self.apply(req, plan, hits, now)


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


def prune(slot: list[Any], horizon: float) -> None:
    """Drop a windowed counter's events at or before ``horizon`` from its total."""
    events: deque[tuple[float, float]] | None = slot[1]
    if events is None:
        return
    while events and events[0][0] <= horizon:
        slot[0] -= events.popleft()[1]
    if not events:
        slot[0] = 0  # no drift from repeated float subtraction


def scope_key(req: Request, scope: str) -> Any:
    """The key of a request's state in ``scope`` (None: the request has none)."""
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



def general(state: EngineState, req: Request, e: Entry) -> Decision:
    """Decide a request with the state, then record it when its effect is ALLOW."""
    decision, hits, now = state.decide(req, e)
    if decision.effect is _ALLOW:
        state.apply(req, e.plan, hits, now)
    return decision

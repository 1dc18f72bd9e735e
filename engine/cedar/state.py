"""What Cedar cannot keep: counter totals and sequence automata, per scope key.

Cedar decides one request at a time from what it is given; the state a request leaves behind
is agentrange's. This keeps it with the native engine's rules (``engine/policy/state.py``),
read from the compiled policy's public counters and sequences: a request changes the state
only when it is recorded as executed (:meth:`CedarState.apply`, or :meth:`CedarState.commit`
after an approval); counters add its measure, sequence steps it matches advance their scope's
automaton (highest step first, so one request never serves as two steps), windows are pruned
when read or written, and finished sessions and chains are dropped. The differential tests
hold this to the native engine on every built-in scenario and on generated policies.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from engine.policy import CompiledPolicy, CompiledSequence, Request, SequenceMatch, StepRef
from engine.policy.conditions import EvalError
from engine.policy.request import EMPTY

Key = tuple[Any, Any, Any, Any, Any, Any, Any]
Test = Callable[[Any, Mapping[str, Any]], bool] | None
Step = tuple[CompiledSequence, int, Test, bool]
"""A sequence step a request may match: (sequence, step index, its test, is it the last)."""
Hits = list[tuple[CompiledSequence, int]]


class Plan(NamedTuple):
    """The counters and sequence steps whose targets admit one target key."""

    counters: tuple[Any, ...]
    steps: tuple[Step, ...]


class Steps(NamedTuple):
    """What a request does to the sequences: steps it matches, completions, errors."""

    hits: Hits
    completions: list[tuple[CompiledSequence, SequenceMatch]]
    errors: list[tuple[CompiledSequence, str]]


def target_key(req: Request, principal: Mapping[str, Any]) -> Key:
    """(principal id, kind, roles, action, tool, resource, data class) of a request."""
    r = req.resource
    roles = principal.get("roles")
    if type(roles) is list:
        roles = tuple(roles)
    return (principal.get("id"), principal.get("kind"), roles, req.action, req.tool.get("id"),
            None if r is None else r.get("id"), None if r is None else r.get("data_class"))


def scope_key(req: Request, scope: str) -> Any:
    """The key of a request's session, chain, agent or (agent, task) scope; None if absent."""
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


def number(value: Any) -> float | None:
    """A finite-or-infinite real number (not bool, not NaN), else None."""
    t = type(value)
    if (t is int or t is float) and value == value:
        return value
    return None


class CedarState:
    """Counters and partial sequence matches of one run, read from a compiled policy.

    Args:
        policy: The compiled policy whose counters and sequences to keep (its rules are
            Cedar's); :meth:`use` switches to a tightened copy.
    """

    def __init__(self, policy: CompiledPolicy) -> None:
        self.policy = policy
        self._plans: dict[Any, Plan] = {}
        self.counters: dict[str, dict[Any, dict[int, list[Any]]]] = {
            "session": {}, "chain": {}, "agent": {}, "task": {}}
        self.sequences: dict[str, dict[Any, dict[int, list[Any]]]] = {
            "session": {}, "chain": {}, "agent": {}}

    def use(self, policy: CompiledPolicy) -> None:
        """Read counters and sequences from ``policy`` from now on (state is kept)."""
        self.policy = policy
        self._plans = {}

    def end_session(self, session_id: str) -> None:
        """Drop the counters and sequence state of a finished task run."""
        self.counters["session"].pop(session_id, None)
        self.sequences["session"].pop(session_id, None)

    def end_chain(self, chain_id: str) -> None:
        """Drop the counters and sequence state of a finished delegation chain."""
        self.counters["chain"].pop(chain_id, None)
        self.sequences["chain"].pop(chain_id, None)

    def size(self) -> int:
        """Number of scope keys holding state."""
        return sum(len(v) for v in self.counters.values()) + sum(
            len(v) for v in self.sequences.values())

    def plan(self, key: Key) -> Plan:
        """The counters and sequence steps (highest step first) a target key matches."""
        found = self._plans.get(key)
        if found is None:
            policy = self.policy
            counters = tuple(c for c in policy.counters if c.target.matches(key))
            steps = tuple(
                (s, j, None if step.cond is None else step.test or step.cond.test,
                 j == len(s.steps) - 1)
                for s in policy.sequences
                for j, step in reversed(list(enumerate(s.steps))) if step.target.matches(key))
            if len(self._plans) >= 50_000:
                self._plans = {}
            found = self._plans[key] = Plan(counters, steps)
        return found

    def counter_values(self, req: Request, plan: Plan, reads: tuple[Any, ...],
                       now: float | None) -> dict[str, Any]:
        """The counters ``reads`` as they would be with ``req`` executed (None: no scope)."""
        values: dict[str, Any] = {}
        for c in reads:
            skey = scope_key(req, c.scope)
            if skey is None:
                values[c.id] = None
                continue
            total: float = 0
            per_key = self.counters[c.scope].get(skey)
            slot = per_key.get(c.index) if per_key is not None else None
            if slot is not None:
                if c.window is not None and now is not None:
                    _prune(slot, now - c.window)
                total = slot[0]
            if c in plan.counters:
                total += _measure(req, c)
            values[c.id] = total
        return values

    def steps(self, req: Request, plan: Plan, now: float | None,
              cv: Mapping[str, Any]) -> Steps:
        """The sequence steps ``req`` matches, the sequences it completes or errs on."""
        out = Steps([], [], [])
        for seq, j, test, last in plan.steps:
            if test is not None:
                try:
                    if not test(req, cv):
                        continue
                except EvalError as exc:
                    if last and self.prefix(req, seq, now) is not None:
                        out.errors.append((seq, f"sequence {seq.id} step {j + 1} skipped: "
                                                f"{exc}"))
                    continue
            out.hits.append((seq, j))
            if last:
                prefix = self.prefix(req, seq, now)
                if prefix is not None:
                    out.completions.append((seq, SequenceMatch(seq.id, seq.effect, seq.shadow,
                                                               prefix)))
        return out

    def prefix(self, req: Request, seq: CompiledSequence, now: float | None
               ) -> tuple[StepRef, ...] | None:
        """The earlier steps of ``seq`` matched in this request's scope, within the window."""
        skey = scope_key(req, seq.scope)
        if skey is None or now is None:
            return None
        per_key = self.sequences[seq.scope].get(skey)
        partials = per_key.get(seq.index) if per_key is not None else None
        if partials is None:
            return None
        last = partials[-1]
        if last is None or now - last[0] > seq.window:
            return None
        steps: tuple[StepRef, ...] = last[1]
        return steps

    def apply(self, req: Request, plan: Plan, hits: Hits, now: float | None) -> None:
        """Record an executed request: counters add, sequence automata advance."""
        for c in plan.counters:
            skey = scope_key(req, c.scope)
            if skey is None:
                continue
            amount = _measure(req, c)
            per_key = self.counters[c.scope].setdefault(skey, {})
            slot = per_key.get(c.index)
            if slot is None:
                slot = per_key[c.index] = [0, deque() if c.window is not None else None]
            slot[0] += amount
            if slot[1] is not None and now is not None:
                slot[1].append((now, amount))
                _prune(slot, now - c.window)
        if not hits or now is None:
            return
        ref = StepRef(now, req.tool.get("id"), req.ref)
        for seq, j in hits:
            last = len(seq.steps) - 1
            if j == last:
                continue
            skey = scope_key(req, seq.scope)
            if skey is None:
                continue
            per_key = self.sequences[seq.scope].setdefault(skey, {})
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

    def commit(self, req: Request, plan: Plan, needs_time: bool) -> None:
        """Record a request executed after approval: every step it matches, its counters."""
        now = number(req.time.get("now"))
        if needs_time and now is None:
            return
        hits: Hits = []
        for seq, j, test, _last in plan.steps:
            try:
                if test is None or test(req, EMPTY):
                    hits.append((seq, j))
            except EvalError:
                continue
        self.apply(req, plan, hits, now)


def _measure(req: Request, c: Any) -> float:
    if c.measure is None:
        return 1
    value = number(c.measure(req, EMPTY))
    return 0 if value is None else value


def _prune(slot: list[Any], horizon: float) -> None:
    events: deque[tuple[float, float]] | None = slot[1]
    if events is None:
        return
    while events and events[0][0] <= horizon:
        slot[0] -= events.popleft()[1]
    if not events:
        slot[0] = 0

"""Generated code of a stateful plan: decide a request and record it, in one pass.

A plan whose requests read or add to counters, or match sequence steps, is decided against
the engine's state (:mod:`engine.policy.state`): the counter values its conditions read, the
probe (:mod:`engine.policy.probes`), the sequences its request completes; and when the effect
is ALLOW, its counters add and its sequence automata advance. The simulator sends nearly
every request down this path, so it is generated per plan shape rather than looped:
straight-line code with the plan's counters and steps bound as names in its globals, each
measure read once and the scope keys read once. It does exactly what
:meth:`~engine.policy.state.EngineState.decide` followed by
:meth:`~engine.policy.state.EngineState.apply` do; a request without a numeric ``time.now``,
or whose sequence step test raises, takes that general path instead (deciding changes
nothing, so starting afresh is exact). Only plan shapes reach the source text, so each text
compiles once per shape; a plan's own values are its function's parameter defaults.
"""

from __future__ import annotations

import builtins
from collections import deque
from collections.abc import Callable
from types import CodeType, FunctionType
from typing import Any

from engine.policy.codegen import compiled
from engine.policy.conditions import EvalError
from engine.policy.decision import Decision, Effect, SequenceMatch, StepRef
from engine.policy.plans import Plan
from engine.policy.request import EMPTY, Request
from engine.policy.state import EngineState, general, prune, scope_key

RunFn = Callable[[EngineState, Request, Any], Decision]
"""``run(state, request, entry)``: the decision, recorded in ``state`` when allowed."""

_RUNNERS: dict[tuple[Any, ...], CodeType] = {}
MAX_SHAPES = 4096
"""Runner shapes kept compiled."""


def plan_runner(plan: Plan) -> RunFn:
    """The generated decide-and-record function of a stateful plan (made once per plan)."""
    found: RunFn | None = plan.runner
    if found is None:
        found = plan.runner = _bind(plan)
    return found


def _shape(plan: Plan) -> tuple[Any, ...]:
    counted = tuple((scope == "session", window is not None, measure is not None)
                    for scope, _index, window, measure in plan.counted)
    reads = tuple((scope == "session", window is not None, own)
                  for _id, scope, _index, window, own in plan.reads)
    steps = tuple((seq.scope == "session", test is not None, last, j)
                  for seq, j, test, last, _hit in plan.steps)
    return counted, reads, steps


_GLOBALS: dict[str, Any] = {
    "__builtins__": builtins, "GENERAL": general, "SCOPE_KEY": scope_key, "PRUNE": prune,
    "EvalError": EvalError, "NO_CV": EMPTY, "ALLOW": Effect.ALLOW, "MATCH": SequenceMatch,
    "STEPREF": StepRef, "NEW_TUPLE": tuple.__new__, "DEQUE": deque}
"""The names every runner reads as globals: one dict for all of them, so that CPython's
specialised global reads of a shape's code hold whichever plan runs it."""


def _constants(plan: Plan) -> tuple[Any, ...]:
    """The plan's own values, in the order :func:`_names` lists their parameters."""
    out: list[Any] = []
    for scope, index, window, measure in plan.counted:
        out += (scope, index, window, measure)
    for cid, scope, index, window, _own in plan.reads:
        out += (cid, scope, index, window)
    for seq, _j, test, _last, _hit in plan.steps:
        out += (seq, test, seq.scope, seq.index, seq.window, len(seq.steps) - 1, seq.id,
                seq.effect, seq.shadow)
    return tuple(out)


def _names(shape: tuple[Any, ...]) -> list[str]:
    counted, reads, steps = shape
    names: list[str] = []
    for i in range(len(counted)):
        names += (f"CS{i}", f"CI{i}", f"CW{i}", f"M{i}")
    for k in range(len(reads)):
        names += (f"RID{k}", f"RS{k}", f"RI{k}", f"RW{k}")
    for n in range(len(steps)):
        names += (f"SEQ{n}", f"TEST{n}", f"SS{n}", f"SI{n}", f"SW{n}", f"SL{n}", f"SID{n}",
                  f"SEF{n}", f"SSH{n}")
    return names


def _bind(plan: Plan) -> RunFn:
    """The plan's runner: its shape's code, the plan's values as parameter defaults.

    Plans of one shape share one code object (compiled, quickened and specialised once)
    and one globals dict; what differs between them is in the defaults, read as locals.
    """
    shape = _shape(plan)
    code = _RUNNERS.get(shape)
    if code is None:
        if len(_RUNNERS) >= MAX_SHAPES:
            _RUNNERS.clear()
        scratch: dict[str, Any] = {}
        exec(_code(shape), scratch)
        code = _RUNNERS[shape] = scratch["run"].__code__
    fn: RunFn = FunctionType(code, _GLOBALS, "run", _constants(plan))
    return fn


def _key(session: bool, scope: str) -> str:
    """The expression of a request's key in a scope (the session's read once, as ``sid``)."""
    return "sid" if session else f"SCOPE_KEY(req, {scope})"


def _code(shape: tuple[Any, ...]) -> Any:
    counted, reads, steps = shape
    lines = [
        f"def run(S, req, e, {', '.join(_names(shape))}):",
        "    now = req.time.get('now')",
        "    t = type(now)",
        "    if not (t is int or t is float) or now != now:",
        "        return GENERAL(S, req, e)",
    ]
    if any(s[0] for s in (*counted, *reads, *steps)):
        lines.append("    sid = req.session.get('id')")
    for i, (_session, _window, measured) in enumerate(counted):
        if not measured:
            lines.append(f"    a{i} = 1")
            continue
        lines += [f"    a{i} = M{i}(req, NO_CV)",
                  f"    t = type(a{i})",
                  f"    if not ((t is int or t is float) and a{i} == a{i}):",
                  f"        a{i} = 0"]
    if counted or reads:
        lines.append("    counters = S.counters")
    for k, (session, window, own) in enumerate(reads):
        lines += [f"    key = {_key(session, f'RS{k}')}",
                  "    if key is None:",
                  f"        r{k} = None  # absent: conditions reading it fail closed",
                  "    else:",
                  f"        st = counters[RS{k}].get(key)",
                  f"        slot = None if st is None else st.get(RI{k})",
                  "        if slot is None:",
                  f"            r{k} = 0",
                  "        else:"]
        if window:
            lines.append(f"            PRUNE(slot, now - RW{k})")
        lines.append(f"            r{k} = slot[0]")
        if own >= 0:
            lines.append(f"        r{k} += a{own}")
    cv = ", ".join(f"RID{k}: r{k}" for k in range(len(reads)))
    lines += [f"    cv = {{{cv}}}" if reads else "    cv = NO_CV",
              "    d = e.probe(req, cv, e)"]
    if any(last for _s, _t, last, _j in steps):
        lines.append("    comps = None")
    for n, (session, tested, last, _j) in enumerate(steps):
        pad = "    "
        if tested:
            lines += ["    try:",
                      f"        h{n} = TEST{n}(req, cv)",
                      "    except EvalError:",
                      "        return GENERAL(S, req, e)"]
            if last:
                lines.append(f"    if h{n}:")
                pad = "        "
        if last:  # a completion when an earlier prefix is within the window
            lines += [f"{pad}key = {_key(session, f'SS{n}')}",
                      f"{pad}pk = None if key is None else S.sequences[SS{n}].get(key)",
                      f"{pad}pa = None if pk is None else pk.get(SI{n})",
                      f"{pad}if pa is not None:",
                      f"{pad}    lt = pa[-1]",
                      f"{pad}    if lt is not None and not now - lt[0] > SW{n}:",
                      f"{pad}        m = NEW_TUPLE(MATCH, (SID{n}, SEF{n}, SSH{n}, lt[1]))",
                      f"{pad}        if comps is None:",
                      f"{pad}            comps = [(SEQ{n}, m)]",
                      f"{pad}        else:",
                      f"{pad}            comps.append((SEQ{n}, m))"]
    if any(last for _s, _t, last, _j in steps):
        lines += ["    if comps is not None:",
                  "        d = S.with_sequences(req, d, comps, [])"]
    # The effect read off the explanation (a property of the decision costs a call).
    lines += ["    if d._core.effect is not ALLOW:",
              "        return d"]
    for i, (session, window, _measured) in enumerate(counted):
        lines += [f"    key = {_key(session, f'CS{i}')}",
                  "    if key is not None:",
                  f"        sc = counters[CS{i}]",
                  "        pk = sc.get(key)",
                  "        if pk is None:",
                  "            pk = sc[key] = {}",
                  f"        slot = pk.get(CI{i})",
                  "        if slot is None:",
                  f"            slot = pk[CI{i}] = [0, {'DEQUE()' if window else 'None'}]",
                  f"        slot[0] += a{i}"]
        if window:
            lines += [f"        slot[1].append((now, a{i}))",
                      f"        PRUNE(slot, now - CW{i})"]
    advancing = [(n, s) for n, s in enumerate(steps) if not s[2]]
    if advancing:
        lines.append("    ref = None")
    for n, (session, tested, _last, j) in advancing:
        # In plan order, highest step first within a sequence: a request never serves as
        # two consecutive steps.
        pad = "        " if tested else "    "
        if tested:
            lines.append(f"    if h{n}:")
        lines += [f"{pad}key = {_key(session, f'SS{n}')}",
                  f"{pad}if key is not None:",
                  f"{pad}    if ref is None:",
                  f"{pad}        ref = NEW_TUPLE(STEPREF, (now, req.tool.get('id'), req.ref))",
                  f"{pad}    sc = S.sequences[SS{n}]",
                  f"{pad}    pk = sc.get(key)",
                  f"{pad}    if pk is None:",
                  f"{pad}        pk = sc[key] = {{}}",
                  f"{pad}    pa = pk.get(SI{n})",
                  f"{pad}    if pa is None:",
                  f"{pad}        pa = pk[SI{n}] = [None] * SL{n}"]
        if j == 0:
            lines.append(f"{pad}    pa[0] = (now, (ref,))")
        else:
            # Keep the partial match that started latest: it stays inside the window longest.
            lines += [f"{pad}    prev = pa[{j - 1}]",
                      f"{pad}    if prev is not None and not now - prev[0] > SW{n}:",
                      f"{pad}        cur = pa[{j}]",
                      f"{pad}        if (cur is None or cur[0] <= prev[0]",
                      f"{pad}                or now - cur[0] > SW{n}):",
                      f"{pad}            pa[{j}] = (prev[0], (*prev[1], ref))"]
    lines.append("    return d")
    return compiled("\n".join(lines))

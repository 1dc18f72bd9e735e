"""Timing: medians of repeated passes, the collector's share, warmed and memoised engines.

Also the "CPython floor": a hand-written loop doing only what any decision point returning
per-request explanations must do, kept and dropped, to set the rates against this machine.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import engine.policy.decision as decisions
from engine.policy import Decision, PolicyEngine, Request


class GcClock:
    """Time spent in the cyclic garbage collector while switched on (via ``gc.callbacks``).

    Also by generation: how many passes over the young (0), middle (1) and whole (2) heap,
    and their time, since a full pass costs what everything alive costs, not what the timed
    code made.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.timed = 0.0
        self._started = 0.0
        self.passes = [0, 0, 0]
        self.by_generation = [0.0, 0.0, 0.0]

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            took = time.perf_counter() - self._started
            self.seconds += took
            generation = info["generation"]
            self.passes[generation] += 1
            self.by_generation[generation] += took

    def run(self, fn: Callable[[], Any]) -> tuple[float, Any]:
        """Call ``fn``; its wall time (collections included) and result."""
        gc.callbacks.append(self._callback)
        start = time.perf_counter()
        try:
            result = fn()
        finally:
            elapsed = time.perf_counter() - start
            gc.callbacks.remove(self._callback)
        self.timed += elapsed
        return elapsed, result

    @property
    def share(self) -> float:
        """Collector time as a share of the timed calls."""
        return self.seconds / self.timed if self.timed else 0.0


def timed(fn: Callable[[], Any], repeats: int, clock: GcClock | None = None
          ) -> tuple[float, Any]:
    """Median wall time of ``fn`` over ``repeats`` runs, and the last result."""
    clock = clock or GcClock()
    times = []
    result = None
    for _ in range(repeats):
        result = None  # the last repeat's result is not alive during this one
        elapsed, result = clock.run(fn)
        times.append(elapsed)
    return statistics.median(times), result


def timed_steady(compiled: Any, warmup: tuple[list[Request], frozenset[int]],
                 requests: Sequence[Request], session_last: frozenset[int], repeats: int,
                 clock: GcClock | None = None) -> tuple[float, list[Decision]]:
    """Median time of one pass over ``requests`` by an engine that has already decided others.

    The engine first decides the warm-up requests (untimed), so its compiled caches are
    warm, then its session state is reset; each repeat starts from a new engine. What the
    warm-up left alive (the engine's caches) is then collected into the oldest generation, as
    in a process that has been deciding for a while. Left in the young generations, it let
    the timed pass start full passes over it (CPython starts one only once the objects
    promoted since the last full pass exceed a quarter of the old ones: with the warm-up
    collected, the old ones include it).
    """
    times = []
    decisions: list[Decision] = []
    for _ in range(repeats):
        decisions = []  # the last repeat's decisions are not alive during this one
        engine = PolicyEngine(compiled)
        for i, r in enumerate(warmup[0]):
            engine.decide(r)
            if i in warmup[1]:
                engine.end_session(r.session["id"])
        engine.reset()
        gc.collect()  # the warmed caches are long-lived now: see the docstring
        decide, end = engine.decide, engine.end_session

        def one_pass(decide: Callable[[Request], Decision] = decide,
                     end: Callable[[str], None] = end) -> list[Decision]:
            if not session_last:
                return [decide(r) for r in requests]
            out = []
            for i, r in enumerate(requests):
                out.append(decide(r))
                if i in session_last:
                    end(r.session["id"])
            return out

        elapsed, decisions = (clock or GcClock()).run(one_pass)
        times.append(elapsed)
    return statistics.median(times), decisions


def timed_seen(compiled: Any, warmup: tuple[list[Request], frozenset[int]],
               requests: Sequence[Request], repeats: int) -> float:
    """Median time of a pass over ``requests`` by an engine that has decided them all before.

    Every candidate set, class, explanation and shared decision is then memoised: the
    memo design's best case (its ceiling), not a figure for the targets.
    """
    times = []
    for _ in range(repeats):
        engine = PolicyEngine(compiled)
        decide = engine.decide
        for r in (*warmup[0], *requests):
            decide(r)
        elapsed, _ = GcClock().run(lambda decide=decide: [decide(r) for r in requests])
        times.append(elapsed)
    return statistics.median(times)


def timed_floor(requests: Sequence[Request], like: Decision, repeats: int, *,
                keep: bool = True, flat: bool = False, clock: GcClock | None = None) -> float:
    """Median time of CPython's floor for this workload: nothing decided, nothing explained.

    Per request only what any decision point returning decisions that carry each request's
    own attribute values must do: check the token, find the candidate rules (one dict lookup
    by the request's agent, tool and resource views and action, filled beforehand), read the
    attribute values the conditions name, and build one Decision (on ``like``'s shared
    explanation) holding them. A hand-written loop with no calls of its own.

    ``keep``: every decision is kept, as the timed engines' are (the collector then rescans
    them); False: each is dropped at once, the floor without retained objects. ``clock``
    times the collector's passes (the floor keeps one tracked object per request, its
    Decision: what any decision point handing out a Python object per request pays).
    ``flat``: keep each request's values as one flat tuple of atoms instead of a Decision
    (the compact record the collector untracks at its first pass: the best alternative
    shape for a kept decision, measured; it has no methods and no explanation).
    """
    static = {}
    for r in requests:
        p, t, res = r.principal, r.tool, r.resource
        static[(id(p), id(t), id(res), r.action)] = (
            p, t, res, (res.get("sensitivity"), p.get("roles")) if res is not None else None)
    # The engine's own constructor and a shared explanation (an older tree's: Decision._make).
    make = getattr(Decision, "_make", None) or decisions.make_decision
    core = like._explanation() if hasattr(like, "_explanation") else like._core

    def one_pass() -> list[Any]:
        out: list[Any] = []
        append = out.append
        for req in requests:
            if req.token.get("valid") is not True:
                continue
            p, t, res = req.principal, req.tool, req.resource
            known = static.get((id(p), id(t), id(res), req.action))
            if known is None or known[0] is not p or known[1] is not t or known[2] is not res:
                continue
            # The per-request paths the conditions read; the view's were read beforehand.
            step = req.request
            values = (step.get("records"), step.get("destination"), req.time.get("hour"),
                      known[3])
            decision = values if flat else make(core, values, None)
            if keep:
                append(decision)
        return out

    times = []
    for _ in range(repeats):
        out: list[Any] = []  # the last repeat's are not alive during this one
        elapsed, out = (clock or GcClock()).run(one_pass)
        assert len(out) == (len(requests) if keep else 0)
        times.append(elapsed)
    return statistics.median(times)

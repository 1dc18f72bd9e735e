"""A decision point and its decisions are freed by reference counting, leaving no cycles.

Long simulations create and drop engines (compare, replay) and hold millions of decisions;
anything cyclic would wait for the full cycle collector, whose pauses grow with the heap.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable

from policy_support import make_request

from engine.policy import PolicyEngine

POLICY = """
    policy: p
    legal_owner: dpo
    rules:
      - id: small-reads
        envelope: security
        effect: allow
        target: {actions: [read]}
        when: {all: [{attr: request.records, lte: 100}, {attr: time.hour, gte: 8}]}
      - id: shadow-deny
        envelope: legal
        effect: deny
        mode: shadow
        when: {attr: request.records, gt: 50}
      - id: either
        envelope: business
        effect: require_approval
        when: {any: [{attr: request.records, gt: 1000}, {attr: request.destination, eq: external}]}
    sequences:
      - id: read-then-send
        envelope: security
        effect: deny
        scope: session
        window: 10m
        steps:
          - {target: {actions: [read]}, when: {attr: request.records, gt: 10}}
          - {target: {actions: [send]}}
"""


def test_dropped_engine_and_decisions_leave_no_cyclic_garbage(
        make_engine: Callable[[str], PolicyEngine]) -> None:
    engine = make_engine(POLICY)
    decisions = [engine.decide(make_request(records=n, now=hour * 3600.0, destination=dest))
                 for n in (1, 20, 60, 500, 5000, 20) for hour in (3, 9)
                 for dest in ("internal", "external", 7)]
    assert {d.effect for d in decisions} == {"allow", "deny", "require_approval"}
    assert any(d.failed for d in decisions) and any(d.shadow for d in decisions)
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        alive = weakref.ref(engine)
        del engine, decisions
        assert alive() is None  # freed at once, by reference counting
        assert gc.collect() == 0  # and nothing cyclic was left behind
    finally:
        if was_enabled:
            gc.enable()

"""A decision point and its decisions are freed by reference counting, leaving no cycles.

Long simulations create and drop engines (compare, replay) and hold millions of decisions;
anything cyclic would wait for the full cycle collector, whose pauses grow with the heap.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


CHECK = """
import gc, sys, weakref
from pathlib import Path
from policy_support import SCENARIO_MODEL, make_request, policy_from_text
from engine.policy import PolicyEngine

engine = PolicyEngine(policy_from_text(sys.argv[1], SCENARIO_MODEL, Path(sys.argv[2])))
decisions = [engine.decide(make_request(records=n, now=hour * 3600.0, destination=dest))
             for n in (1, 20, 60, 500, 5000, 20) for hour in (3, 9)
             for dest in ("internal", "external", 7)]
assert {d.effect for d in decisions} == {"allow", "deny", "require_approval"}
assert any(d.failed for d in decisions) and any(d.shadow for d in decisions)
gc.collect()
gc.disable()
alive = weakref.ref(engine)
del engine, decisions
assert alive() is None, "not freed at once by reference counting"
found = gc.collect()
assert found == 0, f"{found} objects left in reference cycles"
"""


def test_dropped_engine_and_decisions_leave_no_cyclic_garbage(tmp_path: Path) -> None:
    # In a process of its own: in the suite's workers, other tests' threads (a Dask cluster
    # shutting down, a served app) make cyclic garbage of their own at any moment, which the
    # collector would count here too.
    done = subprocess.run([sys.executable, "-c", CHECK, POLICY, str(tmp_path)],
                          cwd=Path(__file__).parent, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr

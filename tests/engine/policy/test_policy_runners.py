"""The generated decide-and-record code of stateful plans against the general path.

``engine.policy.runners`` replaces, for plans with counters or sequence steps, what
``EngineState.decide`` followed by ``EngineState.apply`` do. Two engines of the same policy
(each its own compiled copy, so they share no plans) decide the same stream of requests, one
through the generated code and one through the general path, and must agree on every decision
and on the state they leave after each request.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from policy_support import AGENTS, TOOLS, make_request, policy_from_text

import engine.policy.engine as engine_module
from engine.model import Scenario
from engine.policy import PolicyEngine
from engine.policy.state import general

POLICY = """
policy: p
legal_owner: dpo
counters:
  - {id: per-run, scope: session, measure: request.records, target: {data_classes: [pii]}}
  - {id: per-chain, scope: chain, measure: request.amount}
  - {id: per-agent, scope: agent, measure: count, window: 30s}
  - {id: per-task, scope: task, measure: request.records, window: 1m,
     target: {actions: [read, send]}}
rules:
  - {id: base, envelope: security, effect: allow}
  - {id: cap-run, envelope: legal, effect: deny, when: {attr: counter.per-run, gt: 12}}
  - {id: cap-chain, envelope: business, effect: require_approval,
     when: {attr: counter.per-chain, gte: 40}}
  - {id: burst, envelope: security, effect: deny, mode: shadow,
     when: {attr: counter.per-agent, gt: 3}}
  - {id: task-cap, envelope: security, effect: deny, when: {attr: counter.per-task, gt: 20}}
sequences:
  - id: pii-then-mail
    envelope: legal
    effect: deny
    scope: session
    window: 40s
    steps:
      - target: {data_classes: [pii]}
      - target: {tools: [email.send]}
        when: {attr: request.amount, gt: 2}
  - id: three-steps
    envelope: legal
    effect: require_approval
    scope: chain
    window: 1m
    steps:
      - target: {actions: [read]}
      - target: {actions: [export]}
        when: {attr: request.records, gte: 2}
      - target: {actions: [send]}
  - id: watch
    envelope: business
    effect: deny
    mode: shadow
    scope: agent
    window: 20s
    steps:
      - target: {tools: [kb.search]}
      - target: {tools: [http.post, email.send]}
"""


def _stream(seed: int, n: int = 400) -> list[tuple[str, Any]]:
    """Requests over a few sessions and chains, time moving on; some odd values."""
    rng = random.Random(seed)
    out: list[tuple[str, Any]] = []
    now: float = 0.0
    for _ in range(n):
        now += rng.choice((0, 1, 2.5, 7, 15))
        session = f"run-{rng.randrange(4)}"
        if rng.random() < 0.05:
            out.append(("end_session", session))
            continue
        agent = rng.choice(AGENTS)
        chain_id = rng.choice((session, "root-1", "root-2"))
        when: Any = now
        if rng.random() < 0.03:
            when = rng.choice((None, "soon", float("nan")))
        amount: Any = rng.choice((None, 0, 1, 3, 5.5, 9, "lots"))
        req = make_request(agent, rng.choice(TOOLS), records=rng.choice((0, 1, 2, 3, 5)),
                           amount=amount, now=0.0, session=session,
                           task=rng.choice(("task-a", "task-b")), chain_id=chain_id,
                           ref=len(out))
        out.append(("decide", _at(req, when)))
    return out


def _at(req: Any, when: Any) -> Any:
    return replace(req, time={"now": when, "hour": 0, "weekday": 0})


@pytest.mark.parametrize("seed", range(6))
def test_generated_runners_agree_with_decide_then_apply(
        seed: int, scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generated = PolicyEngine(policy_from_text(POLICY, scenario, tmp_path, "a.yaml"))
    plain = PolicyEngine(policy_from_text(POLICY, scenario, tmp_path, "b.yaml"))
    runs = 0
    for kind, x in _stream(seed):
        if kind == "end_session":
            generated.end_session(x)
            plain.end_session(x)
            continue
        mine = generated.decide(x)
        with monkeypatch.context() as m:  # this engine's entries take the general path
            m.setattr(engine_module, "plan_runner", lambda plan: general)
            theirs = plain.decide(x)
        assert mine.to_dict() == theirs.to_dict()
        assert mine == theirs
        assert generated._state.counters == plain._state.counters
        assert generated._state.sequences == plain._state.sequences
        runs += 1
    # The stream did reach the generated code, and its decisions and state were not trivial.
    assert all(e.run is not None and e.run is not general
               for e in generated._entries.values() if e.stateful)
    assert runs > 300
    assert any(generated._state.counters[s] for s in ("session", "chain", "agent", "task"))

"""Every built-in scenario and profile decides the same natively and with ``--engine cedar``.

Each profile runs on its seed through its Cedar export (cedarpy deciding every rule), and
every request is also decided by the native engine beside it, which sees the same history:
every decision must have the same effect, reason and deciding rule, the same shadow matches,
completed sequences, obligations, owner and restricting hop. The built-in profile written by
hand in Cedar (refunds-cedar's jit-context) must decide as the YAML policy it was written
from (refunds-customer-facing's jit-context), and give the same result on every figure.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.cedar.engine import CedarEngine
from engine.cedar.profile import engine_for
from engine.policy import PolicyEngine
from scenarios import library
from scenarios.library import load_scenario
from sim.events import Event, EventKind
from sim.runner import Simulation


def yaml_profiles() -> list[tuple[str, str]]:
    return [(name, p.id) for name in library.names() for p in load_scenario(name).profiles
            if getattr(p, "cedar", None) is None]


def decisions(name: str, profile: str, engine: Any = None
              ) -> tuple[list[tuple[Any, ...]], dict[str, Any], Simulation]:
    """What each decision of a run says, in order, the run's result, and the run."""
    out: list[tuple[Any, ...]] = []

    def sink(event: Event) -> None:
        if event.kind is EventKind.DECISION:
            d = event.data["decision"].decision
            out.append((event.seq, event.data["tool"], str(d.effect), str(d.reason), d.rule,
                        d.shadow, tuple(s.sequence for s in d.sequences), d.obligations,
                        d.envelope, d.owner, d.hop, event.data["outcome"]))

    scenario = load_scenario(name)
    factory = engine_for(scenario, profile, engine) if engine else None
    sim = Simulation(scenario, profile, sink=sink, record_decisions=False, engine=factory)
    return out, sim.run().to_dict(), sim


class Beside:
    """The Cedar engine deciding a run, the native engine deciding every request beside it."""

    def __init__(self, native: PolicyEngine, cedar: CedarEngine) -> None:
        self.native, self.cedar = native, cedar
        self.decided = 0
        self.differences: list[str] = []

    @property
    def policy(self) -> Any:
        return self.cedar.policy

    def decide(self, req: Any) -> Any:
        want, got = self.native.decide(req), self.cedar.decide(req)
        self.decided += 1
        if _said(got) != _said(want):
            self.differences.append(f"{req.tool.get('id')} at {req.time.get('now')}:\n"
                                    f"  cedar:  {got.explain()}\n  native: {want.explain()}")
        return got

    def __getattr__(self, name: str) -> Any:  # commit, end_session, end_chain, tighten
        def both(*args: Any) -> Any:
            getattr(self.native, name)(*args)
            return getattr(self.cedar, name)(*args)
        return both


def _said(d: Any) -> tuple[Any, ...]:
    return (d.effect, d.reason, d.rule, d.shadow, tuple(s.sequence for s in d.sequences),
            d.obligations, d.envelope, d.owner, d.chain, d.hop)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "profile"), yaml_profiles())
def test_native_and_cedar_decide_alike(name: str, profile: str) -> None:
    scenario = load_scenario(name)
    cedar = engine_for(scenario, profile, "cedar")
    assert cedar is not None
    beside: list[Beside] = []

    def factory(policy: Any) -> Any:
        engine = cedar(policy)
        assert isinstance(engine, CedarEngine)
        beside.append(Beside(PolicyEngine(policy), engine))
        return beside[-1]

    Simulation(scenario, profile, record_decisions=False, engine=factory).run()
    (run,) = beside
    assert run.decided > 0
    assert not run.differences, f"{name}/{profile}: {len(run.differences)} of {run.decided} " \
        f"decisions differ; the first:\n" + "\n".join(run.differences[:3])


@pytest.mark.slow
def test_the_profile_written_in_cedar_decides_as_the_yaml_it_was_written_from() -> None:
    got, got_result, written = decisions("refunds-cedar", "jit-context")
    assert isinstance(written.engine, CedarEngine)  # the profile's own engine: Cedar
    fact = written.policy.fact("large-refund-approval")
    assert fact is not None and fact.effect == "require_approval"
    want, want_result, _ = decisions("refunds-customer-facing", "jit-context")
    assert [g[1:5] + g[7:] for g in got] == [w[1:5] + w[7:] for w in want]
    got_result.pop("scenario")
    want_result.pop("scenario")
    assert got_result == want_result

"""Every built-in scenario and profile decides the same natively and with ``--engine cedar``.

Each profile runs twice on its seed: with the native engine and through its Cedar export
(cedarpy deciding every rule). Every decision must have the same effect, reason and deciding
rule, the same shadow matches, sequences and obligations, and the two runs the same result on
every figure. The built-in profile written by hand in Cedar (refunds-cedar's jit-context)
must decide as the YAML policy it was written from (refunds-customer-facing's jit-context).
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.cedar.engine import CedarEngine
from engine.cedar.profile import engine_for
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


@pytest.mark.slow
@pytest.mark.parametrize(("name", "profile"), yaml_profiles())
def test_native_and_cedar_decide_alike(name: str, profile: str) -> None:
    want, want_result, _ = decisions(name, profile)
    got, got_result, cedar = decisions(name, profile, "cedar")
    assert isinstance(cedar.engine, CedarEngine)
    assert len(got) == len(want) > 0
    for a, b in zip(got, want, strict=True):
        assert a == b, f"{name}/{profile}: decision {b[0]} differs:\ncedar:  {a}\nnative: {b}"
    assert got_result == want_result


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

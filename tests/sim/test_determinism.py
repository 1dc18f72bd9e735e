"""Same scenario, profile and seed: the same event stream, byte for byte."""

from __future__ import annotations

import hashlib

import pytest

from scenarios.library import load_scenario
from sim.events import Event
from sim.runner import Simulation


def digest(scenario: str, profile: str, seed: int | None = None,
           steps: tuple[float, ...] = ()) -> tuple[str, int]:
    s = load_scenario(scenario)
    h = hashlib.sha256()
    count = 0

    def sink(event: Event) -> None:
        nonlocal count
        count += 1
        h.update(event.to_json().encode())
        h.update(b"\n")

    sim = Simulation(s, profile, seed=seed, sink=sink)
    for t in steps:
        sim.step_until(t)
    sim.run()
    return h.hexdigest(), count


@pytest.mark.parametrize("profile", ["static-rbac", "jit-context"])
def test_two_runs_give_an_identical_event_stream(profile: str) -> None:
    first = digest("support-pii-injection", profile)
    assert first[1] > 100
    assert digest("support-pii-injection", profile) == first


def test_stepping_in_increments_gives_the_same_stream_as_one_run() -> None:
    whole = digest("support-pii-injection", "jit-context")
    stepped = digest("support-pii-injection", "jit-context",
                     steps=(1.0, 59.5, 3600.0, 7200.0, 7220.0, 20000.0))
    assert stepped == whole


def test_another_seed_gives_another_stream() -> None:
    assert digest("support-pii-injection", "jit-context", seed=8) != digest(
        "support-pii-injection", "jit-context")

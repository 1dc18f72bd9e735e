"""The metrics fold's tally of live decisions: read at any moment, it gives the same figures."""

from __future__ import annotations

from scenarios.library import load_scenario
from sim.collectors.metrics import MetricsCollector
from sim.events import Event
from sim.runner import Simulation


def _events(profile: str) -> list[Event]:
    events: list[Event] = []
    Simulation(load_scenario("refunds-customer-facing"), profile, sink=events.append).run()
    return events


def test_counters_read_between_events_agree_with_one_read_at_the_end() -> None:
    for profile in ("static-rbac", "jit-context"):
        events = _events(profile)
        at_end = MetricsCollector.of(events)
        watched = MetricsCollector()
        for n, event in enumerate(events):
            watched(event)
            if n % 7 == 0:  # a dashboard reading the figures while the run goes on
                assert watched.total == sum(watched.effects.values())
                assert watched.benign_denied <= watched.benign_steps
        assert watched.result().to_dict() == at_end.result().to_dict()
        assert (watched.benign_steps, watched.benign_denied, watched.oos_attempts,
                watched.oos_stopped) == (at_end.benign_steps, at_end.benign_denied,
                                         at_end.oos_attempts, at_end.oos_stopped)


def test_live_decisions_and_decisions_read_back_fold_to_the_same_counters() -> None:
    events = _events("static-rbac")
    live = MetricsCollector.of(events)
    read_back = MetricsCollector.of(Event.from_dict(e.to_dict()) for e in events)
    assert live.effects == read_back.effects
    assert live.outcomes == read_back.outcomes
    assert live.total == read_back.total > 0
    assert (live.benign_steps, live.benign_denied, live.oos_attempts, live.oos_stopped) == (
        read_back.benign_steps, read_back.benign_denied, read_back.oos_attempts,
        read_back.oos_stopped)
    assert live.result().to_dict() == read_back.result().to_dict()

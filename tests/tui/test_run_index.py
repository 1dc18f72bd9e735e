"""The run index: compact rows of a real run, bounded, with alerts' records and shadow counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from engine.policy.what_if import shadow_effects, would_change
from scenarios.library import load_scenario
from sim.events import Event, EventKind
from sim.runner import Simulation
from tui.run_index import RunIndex
from tui.run_query import parse_query


def run(name: str, profile: str) -> list[Event]:
    scenario = load_scenario(name)
    events: list[Event] = []
    Simulation(scenario, profile, seed=scenario.seed, sink=events.append).step_until(
        scenario.duration)
    return events


def ticks(events: list[Event], size: int = 40) -> Iterator[list[Event]]:
    for start in range(0, len(events), size):
        yield events[start:start + size]


def fold(index: RunIndex, events: list[Event]) -> None:
    """As the live screen folds a tick: its decisions, then its other events."""
    for batch in ticks(events):
        index.add_decisions(batch)
        index.add_others([e for e in batch if e.kind is not EventKind.DECISION])


def test_rows_stay_bounded_and_the_oldest_are_counted_as_dropped() -> None:
    events = run("support-pii-injection", "jit-context")
    decisions = [e for e in events if e.kind is EventKind.DECISION]
    index = RunIndex(recent=20, pinned=3, max_rows=300)
    fold(index, events)
    assert index.total == len(decisions)
    assert len(index) <= 300
    assert index.dropped == len(decisions) - len(index)
    assert index.position(decisions[0].seq) is None
    assert index.select(parse_query("")) == [e.seq for e in decisions[-len(index):]]


def test_an_alerts_decision_keeps_its_full_record_and_others_an_abridged_one() -> None:
    events = run("support-pii-injection", "jit-context")
    index = RunIndex(recent=20, pinned=3)
    fold(index, events)
    alert = next(e for e in events if e.kind is EventKind.ALERT)
    pinned = index.event(alert.data["decision"])
    assert pinned is not None and pinned.seq == alert.data["decision"]
    assert pinned.data["decision"]["effect"] == "deny"
    old = next(e for e in events if e.kind is EventKind.DECISION)
    assert index.event(old.seq) is None
    summary = index.summary(old.seq)
    assert summary is not None and summary.data["summary"]
    assert summary.agent == old.agent and summary.data["tool"] == old.data["tool"]
    assert summary.data["decision"]["effect"] == old.data["decision"]["effect"]


def test_shadow_counts_equal_a_direct_count_over_the_decisions() -> None:
    events = run("productivity-bot-overhead", "jit-shadow")
    index = RunIndex()
    fold(index, events)
    matched: Counter[str] = Counter()
    changes: Counter[str] = Counter()
    for e in events:
        if e.kind is EventKind.DECISION:
            record = e.data["decision"]
            for rule, effect in shadow_effects(record):
                matched[rule] += 1
                changes[rule] += would_change(record["effect"], record["reason"], effect)
    counts = index.shadow_counts()
    assert matched, "the shadow profile matched no shadow rule"
    assert {r: c.matched for r, c in counts.items()} == dict(matched)
    assert {r: c.changes for r, c in counts.items()} == {r: changes[r] for r in matched}

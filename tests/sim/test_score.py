"""The score fold, the unanswered baseline, the blind view and the drill's files."""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scenarios.library import load_scenario
from sim.blind import BlindView
from sim.drill import Drill, DrillError, ranking
from sim.events import Event, EventKind
from sim.runner import Simulation
from sim.score import Action, Injection, ScoreFold, score_events, unanswered
from sim.score_log import ScoreLogError, append_record, read_records

VENDOR = "vendor-hosted-agent"
BREACH = 16 * 3600.0


@cache
def _events(scenario: str, profile: str) -> tuple[Event, ...]:
    loaded = load_scenario(scenario)
    events: list[Event] = []
    Simulation(loaded, profile, seed=loaded.seed, sink=events.append,
               record_decisions=False).run()
    return tuple(events)


@pytest.fixture(scope="module", autouse=True)
def _forget_runs() -> Iterator[None]:
    """Let the cached runs' events go when the module's tests end: kept to the end of the worker,
    they made every full collection the dashboard tests run later in it walk them too."""
    yield
    _events.cache_clear()


def test_a_live_quarantine_is_scored_with_its_time_and_cuts_the_records_exposed() -> None:
    scenario = load_scenario(VENDOR)
    fold = ScoreFold()
    sim = Simulation(scenario, "static-rbac", seed=scenario.seed, sink=fold)
    sim.step_until(BREACH + 60)
    sim.quarantine("leadlens")
    sim.step_until(scenario.duration)
    score = fold.score()
    assert score.actions == (Action(BREACH + 60, "quarantine_agent", "leadlens", True),)
    assert score.time_to_contain == 60.0
    unanswered_score = score_events(_events(VENDOR, "static-rbac"))
    assert unanswered_score.actions == ()
    assert score.records_exposed < unanswered_score.records_exposed


def test_the_unanswered_baseline_replays_live_injections_and_nothing_else() -> None:
    scenario = load_scenario("support-pii-injection")
    played = ScoreFold()
    sim = Simulation(scenario, "jit-context", seed=scenario.seed, sink=played)
    sim.step_until(3600.0)
    sim.inject("credential_theft", "support-bot")
    sim.step_until(3700.0)
    sim.revoke("support-bot")
    sim.step_until(scenario.duration)
    score = played.score()
    assert score.injections == (Injection(3600.0, "credential_theft", "support-bot"),)
    base = ScoreFold()
    unanswered(Simulation(scenario, "jit-context", seed=scenario.seed, sink=base),
               scenario.duration, score.injections)
    again = base.score()
    assert again.injections == score.injections and again.actions == ()
    assert [i["id"] for i in base.metrics.result().data["incidents"]] == \
        [i["id"] for i in played.metrics.result().data["incidents"]]


def test_a_score_round_trips_through_json() -> None:
    score = score_events(_events("support-pii-injection", "jit-context"))
    data = json.loads(json.dumps(score.to_dict()))
    assert data["time_to_detect"] == score.time_to_detect
    assert data["records_exposed"] == score.records_exposed


@pytest.mark.parametrize(("scenario", "profile"), [("support-pii-injection", "jit-context"),
                                                   ("support-pii-injection", "static-rbac"),
                                                   (VENDOR, "static-rbac")])
def test_the_blind_view_hides_incidents_until_detected_and_loses_nothing(
        scenario: str, profile: str) -> None:
    events = _events(scenario, profile)
    view = BlindView()
    shown = view.visible(events)

    def named(event: Event) -> str | None:
        value = event.data.get("id") if event.kind is EventKind.INCIDENT else \
            event.data.get("incident")
        return None if value is None else str(value)

    alerts = {}
    for i, event in enumerate(shown):
        if event.kind is EventKind.ALERT and named(event) is not None:
            alerts.setdefault(named(event), i)
    held_kinds = (EventKind.INCIDENT, EventKind.EXPOSED, EventKind.CONTAINED)
    for incident, at in alerts.items():
        before = [i for i, e in enumerate(shown[:at]) if named(e) == incident]
        # Released together, just before the alert that detected the incident.
        assert before == list(range(at - len(before), at))
        assert all(shown[i].kind in held_kinds for i in before)
    assert all(named(e) in alerts for e in shown if named(e) is not None)
    # Nothing is lost: every event shows, save those of incidents never detected.
    held = sum(len(v) for v in view.held.values())
    assert len(shown) + held == len(events)
    assert set(view.held).isdisjoint(view.detected)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=400), max_size=12))
def test_the_blind_view_is_the_same_whatever_the_batches(cuts: list[int]) -> None:
    events = _events("support-pii-injection", "jit-context")[:3000]
    whole = BlindView().visible(events)
    view = BlindView()
    batched: list[Event] = []
    start = 0
    for cut in sorted(set(cuts)):
        batched += view.visible(events[start:start + cut])
        start += cut
    batched += view.visible(events[start:])
    assert [(e.seq, dict(e.data)) for e in batched] == [(e.seq, dict(e.data)) for e in whole]


def _append_many(path: str, writer: int, count: int) -> None:
    for n in range(count):
        append_record(Path(path), {"participant": f"p{writer}", "n": n, "pad": "x" * 9000})


def test_concurrent_appends_from_processes_never_tear_or_lose_a_line(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    writers, each = 6, 40
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(str(path), w, each)) for w in range(writers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    records = read_records(path)
    assert len(records) == writers * each
    for w in range(writers):
        assert [r["n"] for r in records if r["participant"] == f"p{w}"] == list(range(each))


def test_a_torn_results_line_is_named_by_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    append_record(path, {"participant": "a"})
    with path.open("a") as handle:
        handle.write('{"participant": "b", "rec')
    with pytest.raises(ScoreLogError, match=r"results.jsonl:2: expected a JSON object"):
        read_records(path)


def test_a_drill_round_trips_and_refuses_a_second_definition(tmp_path: Path) -> None:
    drill = Drill(tmp_path / "d", VENDOR, "static-rbac", 5, 7200.0)
    drill.save()
    assert Drill.load(tmp_path / "d") == drill
    with pytest.raises(DrillError, match="already defined"):
        drill.save()
    staged = drill.staged(load_scenario(VENDOR))
    assert staged.incidents[0].at == 7200.0


@pytest.mark.parametrize(("text", "where"), [
    ("[]", "expected a JSON object"), ('{"scenario": 1}', "'scenario': expected str"),
    ('{"scenario": "x", "profile": "p", "seed": true}', "'seed': expected int"),
    ('{"scenario": "x", "profile": "p", "seed": 1, "incident_at": -1}', "'incident_at'"),
    ("{", "expected a JSON drill definition")])
def test_a_malformed_drill_definition_is_named(tmp_path: Path, text: str, where: str) -> None:
    (tmp_path / "drill.json").write_text(text)
    with pytest.raises(DrillError, match=f"drill.json: .*{where}"):
        Drill.load(tmp_path)


def test_an_incident_time_past_the_end_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DrillError, match="before the run's end"):
        Drill(tmp_path, VENDOR, "static-rbac", 5, 90000.0).staged(load_scenario(VENDOR))


def test_the_ranking_puts_fewer_records_then_faster_containment_first() -> None:
    entries = [
        {"participant": "slow", "records_exposed": 10, "time_to_contain": 600.0},
        {"participant": "never", "records_exposed": 10, "time_to_contain": None},
        {"participant": "best", "records_exposed": 1, "time_to_contain": 900.0},
        {"participant": "fast", "records_exposed": 10, "time_to_contain": 60.0},
        {"participant": "slow", "records_exposed": 0, "time_to_contain": 30.0},  # retried
    ]
    assert [(r["rank"], r["participant"]) for r in ranking(entries)] == [
        (1, "slow"), (2, "best"), (3, "fast"), (4, "never")]

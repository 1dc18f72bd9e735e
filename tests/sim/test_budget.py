"""A run's budget: a run over its events or memory, or interrupted, stops cleanly and says why."""

from __future__ import annotations

import pickle

import pytest

from engine.bounds import DEFAULT_MAX_EVENTS, DEFAULT_MAX_MEMORY_MB
from engine.model import Scenario
from scenarios.library import load_scenario
from sim.budget import (
    CHECK_EVERY,
    BudgetError,
    BudgetExceededError,
    RunBudget,
    RunInterrupted,
    RunStopped,
    resident_mb,
)
from sim.events import Event
from sim.runner import Simulation
from tests.sim.support import ALLOW_ALL, base, policy, scenario


@pytest.fixture(scope="module")
def support() -> Scenario:
    return load_scenario("support-pii-injection")


def test_a_run_has_the_shared_default_budget(support: Scenario) -> None:
    budget = Simulation(support).watch.budget
    assert (budget.max_events, budget.max_memory_mb) == (DEFAULT_MAX_EVENTS,
                                                         DEFAULT_MAX_MEMORY_MB)


@pytest.mark.parametrize("limits", [{"max_events": 0}, {"max_memory_mb": -1},
                                    {"max_events": True}, {"max_memory_mb": 1.5}])
def test_a_budget_is_a_positive_whole_number(support: Scenario, limits: dict) -> None:
    with pytest.raises(BudgetError, match="expected a whole number above 0"):
        Simulation(support, **limits)


def test_a_run_over_its_event_budget_stops_naming_the_budget_and_what_drove_it(
        support: Scenario) -> None:
    sim = Simulation(support, "static-rbac", max_events=300)
    with pytest.raises(BudgetExceededError) as info:
        sim.run()
    stop = info.value
    assert stop.budget == "events" and stop.limit == 300
    # Only support-bot answers tickets, most of this scenario's events.
    assert stop.driver == ("support-bot", "answer-ticket")
    message = str(stop)
    assert "\n" not in message
    assert "budget of 300 events" in message and "--max-events" in message
    assert "agent support-bot, task answer-ticket" in message
    assert sim.done and sim.stopped is stop and stop.at == sim.now < sim.end
    # Checked every CHECK_EVERY steps, not per event: a bounded overshoot.
    assert 300 < sim.events < 300 + 4 * CHECK_EVERY
    assert stop.reason.startswith("over its events budget")


def test_a_stopped_run_stays_stopped_and_keeps_its_figures(support: Scenario) -> None:
    sim = Simulation(support, "static-rbac", max_events=300)
    with pytest.raises(BudgetExceededError):
        sim.run()
    events, now = sim.events, sim.now
    sim.step_until(sim.end)  # nothing more happens, and no run_ended is made up
    assert (sim.events, sim.now) == (events, now)
    result = sim.result().to_dict()
    assert result["events"] == events and result["decisions"]["total"] > 0


def test_a_run_that_grows_past_its_memory_budget_stops_saying_by_how_much(
        support: Scenario) -> None:
    hoard: list[bytearray] = []

    def hoarding(event: Event) -> None:  # a run whose events cost 64 KiB each
        hoard.append(bytearray(b"x") * 65536)

    sim = Simulation(support, sink=hoarding, max_memory_mb=20)
    with pytest.raises(BudgetExceededError) as info:
        sim.run()
    stop = info.value
    assert stop.budget == "memory" and stop.limit == 20
    message = str(stop)
    assert "\n" not in message
    assert "budget of 20 MB of memory (grew by " in message and "--max-memory" in message
    grown = int(message.split("(grew by ")[1].split(" MB")[0])
    # Paced by the clock (a read at most every MEMORY_EVERY seconds): a bounded overshoot.
    assert 20 < grown < 200 and sim.events * 65536 / 2**20 < 200
    assert sim.done and stop.at < sim.end


def test_a_run_in_a_process_already_large_is_measured_by_its_own_growth(
        support: Scenario) -> None:
    # A grown pytest worker, a long dashboard session, a sweep worker: the host's size is
    # not the run's. 300 MB of ballast, written so that it is resident, then a 200 MB budget.
    before = resident_mb()
    ballast = bytearray(b"x") * (300 * 2**20)
    assert resident_mb() - before > 250
    result = Simulation(support, max_memory_mb=200).run()
    assert result.to_dict()["events"] > 1000
    del ballast


def test_the_baseline_is_the_resident_memory_when_the_run_is_made(support: Scenario) -> None:
    now = resident_mb()
    baseline = Simulation(support).watch.baseline
    assert abs(baseline - now) < 20  # the current size, not the process's peak


def test_the_budget_changes_nothing_of_the_events_before_it(support: Scenario) -> None:
    full: list[Event] = []
    Simulation(support, "jit-context", sink=full.append).run()
    cut: list[Event] = []
    with pytest.raises(BudgetExceededError):
        Simulation(support, "jit-context", sink=cut.append, max_events=700).run()
    assert 700 < len(cut) < len(full)
    assert [e.to_json() for e in cut] == [e.to_json() for e in full[:len(cut)]]


def test_interrupt_stops_the_run_at_its_next_check_with_the_simulated_time(
        support: Scenario) -> None:
    seen: list[Event] = []
    sim: Simulation

    def sink(event: Event) -> None:
        seen.append(event)
        if len(seen) == 200:
            sim.interrupt("SIGINT")  # as a signal handler would, mid-step

    sim = Simulation(support, sink=sink)
    with pytest.raises(RunInterrupted) as info:
        sim.run()
    stop = info.value
    assert stop.signal == "SIGINT" and stop.reason == "interrupted by SIGINT"
    assert stop.at == sim.now and str(stop).startswith("interrupted by SIGINT at ")
    assert 200 <= len(seen) < 200 + 4 * CHECK_EVERY
    assert sim.stopped is stop and sim.done


def test_an_interrupt_before_a_step_stops_it_before_anything_more(support: Scenario) -> None:
    sim = Simulation(support)
    sim.step_until(600)
    events = sim.events
    sim.interrupt("SIGTERM")
    with pytest.raises(RunInterrupted, match="SIGTERM"):
        sim.step_until(1200)
    assert sim.events == events and sim.now == 600


def test_an_arrival_burst_that_never_returns_to_the_loop_is_stopped_from_the_arrivals(
) -> None:
    # 20,000 arrivals at one instant start their runs inside one simpy step: the driving
    # loop's checks never come, so the arrivals check the budget themselves.
    data = base()
    data["agents"][0]["tasks"][0]["arrival"] = {"kind": "scripted", "at": [60.0] * 20_000}
    s = scenario(data)
    sim = Simulation(s, "static", policy=policy(s, ALLOW_ALL), max_events=5_000)
    with pytest.raises(BudgetExceededError) as info:
        sim.run()
    assert info.value.driver == ("worker", "job")
    assert sim.now == 60.0
    # Stopped before the events themselves reached the budget: each run started in the burst
    # counts as an event to come.
    assert sim.events < 5_000


def test_progress_is_called_within_a_single_step(support: Scenario) -> None:
    calls: list[int] = []
    sim = Simulation(support, progress=lambda: calls.append(sim.events))
    sim.step_until(sim.end)
    assert len(calls) > 3 and calls == sorted(calls)


def test_a_stop_survives_the_trip_back_from_a_worker_process() -> None:
    stop = BudgetExceededError("run stopped", reason="over its events budget", at=12.5)
    stop.budget, stop.limit, stop.driver = "events", 10, ("a", "t")
    back = pickle.loads(pickle.dumps(stop))
    assert isinstance(back, RunStopped)
    assert (str(back), back.reason, back.at, back.budget, back.limit, back.driver) == (
        "run stopped", "over its events budget", 12.5, "events", 10, ("a", "t"))


def test_a_default_budget_is_as_engine_bounds_says() -> None:
    assert RunBudget() == RunBudget.of() == RunBudget(DEFAULT_MAX_EVENTS, DEFAULT_MAX_MEMORY_MB)


def test_compare_gives_each_run_the_budget_asked_for(support: Scenario) -> None:
    from sim.compare import compare

    with pytest.raises(BudgetExceededError) as info:
        compare(support, ["static-rbac", "jit-context"], max_events=300)
    assert info.value.budget == "events" and info.value.limit == 300
    # Memory is read every MEMORY_EVERY wall seconds: the run must last longer than that
    # (the scenario's 8 hours take about 40 ms now), so it plays 30 days, hoarding as it goes.
    month = support.model_copy(update={"duration": 30 * 86400.0})
    with pytest.raises(BudgetExceededError, match="budget of 1 MB of memory"):
        compare(month, ["static-rbac"], max_memory_mb=1,
                sink_for=lambda _p: lambda _e: hoard.append(bytearray(b"x") * 65536))
    hoard.clear()
    assert compare(support, ["static-rbac"], max_events=100_000).results[0].to_dict()[
        "events"] < 100_000


hoard: list[bytearray] = []

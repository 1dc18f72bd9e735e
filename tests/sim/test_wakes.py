"""Runs resumed by simpy's loop without a Process end and fail as processes do."""

from __future__ import annotations

import pytest

from sim.events import Event
from sim.runner import Simulation
from tests.sim.support import ALLOW_ALL, base, kinds, policy, scenario


class _Refused(RuntimeError):
    """What the sink below raises."""


def _failing_at(decision: int) -> tuple[Simulation, list[Event]]:
    """A run whose sink raises on its ``decision``-th decision event (1-based), once."""
    s = scenario(base())
    events: list[Event] = []

    def sink(event: Event) -> None:
        events.append(event)
        if event.kind == "decision" and len(kinds(events, "decision")) == decision:
            raise _Refused(f"decision {decision}")

    return Simulation(s, "static", policy=policy(s, ALLOW_ALL), sink=sink), events


@pytest.mark.parametrize("decision", [1, 2, 3])
def test_an_error_in_a_top_level_run_stops_the_simulation_with_a_copy_caused_by_it(
        decision: int) -> None:
    # 1: raised on the run's start; 2: after a step's duration; 3: in the second run.
    sim, events = _failing_at(decision)
    with pytest.raises(_Refused) as raised:
        sim.run()
    assert raised.value.args == (f"decision {decision}",)
    assert isinstance(raised.value.__cause__, _Refused)  # simpy raises a failed process's copy
    assert raised.value.__cause__ is not raised.value
    assert not kinds(events, "run_ended")
    failed_at = kinds(events, "decision")[decision - 1].time
    assert all(e.time == failed_at for e in events[events.index(
        kinds(events, "decision")[decision - 1]):])  # nothing after that instant


def test_top_level_runs_end_and_the_run_reaches_its_end() -> None:
    s = scenario(base())
    events: list[Event] = []
    Simulation(s, "static", policy=policy(s, ALLOW_ALL), sink=events.append).run()
    started = {e.data["run"] for e in kinds(events, "task_started")}
    ended = {e.data["run"] for e in kinds(events, "task_completed")}
    assert started and ended == started
    assert events[-1].kind == "run_ended"

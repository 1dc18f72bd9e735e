"""The agenda processes events in simpy's own order: (time, priority, event id)."""

from __future__ import annotations

from typing import Any

import simpy
from hypothesis import given, settings
from hypothesis import strategies as st
from simpy.events import NORMAL, URGENT

from sim.agenda import Agenda

# Each process: a list of (delay, urgent) steps; a delay of 0 schedules at the same instant.
_steps = st.lists(st.tuples(st.sampled_from([0.0, 0.5, 1.0, 2.0]), st.booleans()),
                  max_size=6)


def _order(env: simpy.Environment, plans: list[list[tuple[float, bool]]]) -> list[Any]:
    seen: list[Any] = []

    def proc(n: int, plan: list[tuple[float, bool]]) -> Any:
        for k, (delay, urgent) in enumerate(plan):
            seen.append((env.now, n, k))
            if urgent:
                event = env.event()
                env.schedule(event, URGENT, delay)
                event._ok, event._value = True, None
                yield event
            else:
                yield env.timeout(delay)
        seen.append((env.now, n, "end"))

    for n, plan in enumerate(plans):
        env.process(proc(n, plan))
    env.run()
    return seen


@settings(max_examples=200, deadline=None)
@given(st.lists(_steps, max_size=8))
def test_agenda_runs_processes_in_simpys_order(plans: list[list[tuple[float, bool]]]) -> None:
    assert _order(Agenda(0.0), plans) == _order(simpy.Environment(0.0), plans)


def test_an_event_inserted_under_an_earlier_id_goes_before_later_ones_of_its_instant() -> None:
    env = Agenda(0.0)
    early = next(env._eid)  # taken now, scheduled later (as a token's lazy expiry is)
    fired: list[str] = []
    for name in ("a", "b"):
        event = env.event()
        event._ok, event._value = True, None
        event.callbacks.append(lambda _e, name=name: fired.append(name))
        env.schedule(event, NORMAL, 1.0)
    late = env.event()
    late._ok, late._value = True, None
    late.callbacks.append(lambda _e: fired.append("early"))
    env.insert(1.0, NORMAL, early, late)
    assert env.peek() == 1.0
    env.run()
    assert fired == ["early", "a", "b"]
    assert env.peek() == simpy.core.Infinity

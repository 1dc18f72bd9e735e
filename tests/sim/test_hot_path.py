"""The simulator's per-tool-call shortcuts keep the meaning of what they replace."""

from __future__ import annotations

import gc
import threading
from typing import Any

from sim.events import Event
from sim.runner import YOUNG_GC_THRESHOLD, Simulation, fewer_gc_passes
from tests.sim.support import base, kinds, policy, run, scenario

TIME_RULES = {"policy": "clock", "rules": [
    {"id": "everything", "envelope": "security", "effect": "allow"},
    {"id": "second-hour", "envelope": "security", "effect": "deny",
     "when": {"attr": "time.hour", "eq": 1}},
    {"id": "fridays", "envelope": "security", "effect": "deny",
     "when": {"attr": "time.weekday", "eq": 4}},
]}


def _two_agents_on_one_clock() -> dict[str, Any]:
    data = base(duration="26h")
    helper = data["agents"][1]
    helper["tasks"][0]["arrival"] = {"kind": "fixed", "interval": "10m"}
    return data


def test_time_rules_see_the_hour_and_weekday_of_each_request() -> None:
    _, events = run(_two_agents_on_one_clock(), "static", TIME_RULES)
    decisions = kinds(events, "decision")
    instants = [e.time for e in decisions]
    assert len(instants) > len(set(instants))  # requests share instants
    for e in decisions:
        # Simulated 0 is a Thursday (weekday 3) at midnight.
        hour = int(e.time // 3600) % 24
        weekday = int((e.time + 3 * 86400) // 86400) % 7
        expected = "deny" if hour == 1 or weekday == 4 else "allow"
        assert e.data["decision"]["effect"] == expected, (e.time, e.data["decision"])
    effects = {e.data["decision"]["effect"] for e in decisions}
    assert effects == {"allow", "deny"}


def test_run_collects_young_garbage_less_often_and_restores_the_setting() -> None:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        seen: list[tuple[int, ...]] = []
        s = scenario(base())

        def sink(event: Event) -> None:
            seen.append(gc.get_threshold())

        Simulation(s, "jit", policy=policy(s, TIME_RULES), sink=sink).run()
        assert seen and all(t == (YOUNG_GC_THRESHOLD, 10, 10) for t in seen)
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)


def test_fewer_gc_passes_restores_the_threshold_when_the_block_raises() -> None:
    before = gc.get_threshold()
    gc.set_threshold(500, 7, 9)
    try:
        try:
            with fewer_gc_passes():
                assert gc.get_threshold() == (YOUNG_GC_THRESHOLD, 7, 9)
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        assert gc.get_threshold() == (500, 7, 9)
    finally:
        gc.set_threshold(*before)


def test_a_higher_threshold_already_set_is_left_alone() -> None:
    before = gc.get_threshold()
    gc.set_threshold(10 * YOUNG_GC_THRESHOLD, 10, 10)
    try:
        with fewer_gc_passes():
            assert gc.get_threshold()[0] == 10 * YOUNG_GC_THRESHOLD
        assert gc.get_threshold()[0] == 10 * YOUNG_GC_THRESHOLD
    finally:
        gc.set_threshold(*before)


def test_a_run_in_a_worker_thread_leaves_the_collector_setting_alone() -> None:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        seen: list[tuple[int, ...]] = []
        s = scenario(base())

        def sink(event: Event) -> None:
            seen.append(gc.get_threshold())

        worker = threading.Thread(
            target=lambda: Simulation(s, "jit", policy=policy(s, TIME_RULES), sink=sink).run())
        worker.start()
        worker.join()
        assert seen and all(t == (700, 10, 10) for t in seen)
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)

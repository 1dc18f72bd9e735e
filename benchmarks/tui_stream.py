"""Dashboard ingest benchmark: the app, headless, fed a real run at maximum speed.

Two feeds, each through the real app (``make_app`` + ``run_test``, the live screen at
unbounded speed) and measured the same way:

* ``live``: the simulator itself runs in the dashboard's worker thread, as in the product.
  Simulator and UI share one interpreter lock, so this rate cannot exceed the simulator's.
* ``recorded``: the same run's events, recorded beforehand from the real simulator, are
  replayed by simulated time; this is what the dashboard alone can take in.

For each it prints the events per second ingested (from the first tick to the end of the
run) and the longest main-thread stall seen by a 5 ms heartbeat on the event loop while
events stream (the app's start-up is excluded), plus the longest single tick handler and the
longest full (oldest-generation) pass of the cyclic garbage collector while events stream, with
how many ran and how many of them the worker thread started (a full pass holds the interpreter
lock, so it stalls the UI whichever thread runs it; the app schedules them on the UI thread).
Figures are medians over ``--repeats`` runs; the worst stall of all runs is shown too.

    python benchmarks/tui_stream.py [--hours 300] [--profile jit-context] [--repeats 3]

Target: >= 20,000 events/s ingested with no stall over 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import gc
import math
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.model import Scenario
from scenarios.library import load_scenario
from sim.events import Event, Sink
from tui.app import SimulationFactory, make_app, real_simulation
from tui.screens.live import LiveScreen


def longer(scenario: Scenario, hours: float) -> Scenario:
    """The same scenario run for ``hours`` of simulated time (more events, same shape)."""
    return scenario.model_copy(update={"duration": hours * 3600.0})


class RecordedRun:
    """Replays a real run's recorded events by simulated time (the playback contract)."""

    def __init__(self, events: list[Event], end: float, sink: Sink) -> None:
        self._events = events
        self._times = [e.time for e in events]
        self._end = end
        self._sink = sink
        self._next = 0
        self._now = 0.0

    @property
    def now(self) -> float:
        """The replayed clock."""
        return self._now

    @property
    def done(self) -> bool:
        """True once every event has been emitted."""
        return self._next >= len(self._events)

    def step_until(self, t: float) -> None:
        """Emit the events before ``t`` (all of them at the end of the run)."""
        stop = len(self._events) if t >= self._end else bisect.bisect_left(self._times, t)
        sink = self._sink
        for event in self._events[self._next:stop]:
            sink(event)
        self._next = max(self._next, stop)
        self._now = max(self._now, min(t, self._end))


def recorded(events: list[Event], end: float) -> SimulationFactory:
    """A simulation factory that replays ``events``."""

    def factory(scenario: Scenario, profile: str, seed: int, sink: Sink, *,
                record_decisions: bool = True) -> Any:
        return RecordedRun(events, end, sink)

    return factory


async def one_run(scenario: Scenario, profile: str, size: tuple[int, int],
                  simulation: SimulationFactory) -> dict[str, float]:
    """Play the whole run through the app; measure ingest rate and stalls."""
    app = make_app(scenario, profile=profile, speed=math.inf, debrief=False,
                   simulation=simulation)
    longest_gap = 0.0
    streaming = False
    stop = False
    full_passes: list[tuple[float, bool]] = []  # (seconds, in the worker thread)
    started_at: dict[int, float] = {}

    def collector(phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2 or not streaming or stop:
            return
        now = time.perf_counter()
        if phase == "start":
            started_at[threading.get_ident()] = now
        elif (began := started_at.pop(threading.get_ident(), None)) is not None:
            full_passes.append((now - began,
                                threading.current_thread() is not threading.main_thread()))

    async def heartbeat() -> None:
        nonlocal longest_gap
        last = time.perf_counter()
        while not stop:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            if streaming:
                longest_gap = max(longest_gap, now - last - 0.005)
            last = now

    def live() -> LiveScreen | None:
        screen = app.screen
        return screen if isinstance(screen, LiveScreen) else None

    async def until(predicate: Callable[[], bool]) -> None:
        deadline = time.perf_counter() + 600
        while not predicate():
            if time.perf_counter() > deadline:
                raise RuntimeError("the run did not finish in 10 minutes")
            await asyncio.sleep(0.01)

    gc.callbacks.append(collector)
    try:
        async with app.run_test(size=size):
            beat = asyncio.create_task(heartbeat())
            await until(lambda: (s := live()) is not None and s.ticks_handled > 0)
            screen = live()
            assert screen is not None
            first = screen.events_seen
            start = time.perf_counter()
            streaming = True
            await until(lambda: screen.done)
            elapsed = time.perf_counter() - start
            stop = True
            await beat
    finally:
        gc.callbacks.remove(collector)
    events = screen.events_seen - first
    return {"events": screen.events_seen, "seconds": elapsed, "rate": events / elapsed,
            "stall": longest_gap, "tick": screen.longest_tick, "ticks": screen.ticks_handled,
            "full_pass": max((d for d, _ in full_passes), default=0.0),
            "full_passes": len(full_passes),
            "worker_passes": sum(1 for _, worker in full_passes if worker)}


def headless(scenario: Scenario, profile: str) -> tuple[list[Event], float]:
    """The simulator alone with a list sink: its events and its rate."""
    events: list[Event] = []
    sim: Any = real_simulation(scenario, profile, scenario.seed, events.append,
                               record_decisions=False)
    start = time.perf_counter()
    sim.run()
    return events, len(events) / (time.perf_counter() - start)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--scenario", default="support-pii-injection")
    parser.add_argument("--profile", help="default: the scenario's default profile")
    parser.add_argument("--hours", type=float, default=300.0,
                        help="simulated hours per run (default 300: about 100,000 events)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", default="120x40", help="terminal size, e.g. 120x40")
    args = parser.parse_args()
    width, height = (int(x) for x in args.size.split("x"))
    scenario = longer(load_scenario(args.scenario), args.hours)
    profile = args.profile or scenario.default_profile_id

    sims = [headless(scenario, profile) for _ in range(args.repeats)]
    events = sims[0][0]
    feeds: dict[str, SimulationFactory] = {
        "live": real_simulation, "recorded": recorded(events, scenario.duration)}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in feeds}
    for _ in range(args.repeats):  # interleaved, so machine load affects both alike
        for name, factory in feeds.items():
            runs[name].append(asyncio.run(one_run(scenario, profile, (width, height),
                                                  factory)))

    def med(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    sim_rate = statistics.median(rate for _, rate in sims)
    print(f"scenario {args.scenario} ({args.hours:g} h simulated), profile {profile}, "
          f"{len(events):,} events per run, terminal {width}x{height}, "
          f"{args.repeats} repeats (medians)")
    print(f"  simulator alone (list sink)       {sim_rate:>10,.0f} events/s")
    for name, rows in runs.items():
        rate = med(rows, "rate")
        print(f"  dashboard, {name:<8} feed          {rate:>10,.0f} events/s "
              f"(target >= 20,000; {rate / sim_rate:.2f} x simulator alone)")
        print(f"    longest main-thread stall       {1000 * med(rows, 'stall'):>10.1f} ms "
              f"(target <= 100; worst of all runs {1000 * max(r['stall'] for r in rows):.1f})")
        print(f"    longest tick handler            {1000 * med(rows, 'tick'):>10.1f} ms "
              f"({med(rows, 'events') / max(1.0, med(rows, 'ticks')):,.0f} events per tick)")
        print(f"    longest full GC pass            {1000 * med(rows, 'full_pass'):>10.1f} ms "
              f"({med(rows, 'full_passes'):.0f} full passes per run, "
              f"{med(rows, 'worker_passes'):.0f} started by the worker thread)")


if __name__ == "__main__":
    main()

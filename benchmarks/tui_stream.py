"""Dashboard ingest benchmark: the app, headless, fed a real run at maximum speed.

Prints the events per second the live screen ingests (medians over several repeats), the
longest main-thread stall seen by a 5 ms heartbeat on the event loop, the longest single tick
handler, and the ratio to the simulator's own headless speed on the same run.

    python benchmarks/tui_stream.py [--hours 160] [--profile static-rbac] [--repeats 3]

Target: >= 20,000 events/s ingested with no stall over 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.loader import load_scenario
from engine.model import Scenario
from sim.events import Event
from tui.app import real_simulation


def longer(scenario: Scenario, hours: float) -> Scenario:
    """The same scenario run for ``hours`` of simulated time (more events, same shape)."""
    return scenario.model_copy(update={"duration": hours * 3600.0})


async def one_run(scenario: Scenario, profile: str, size: tuple[int, int]) -> dict[str, float]:
    """Play the whole run through the app; measure ingest rate and stalls."""
    from tui.app import make_app
    from tui.screens.live import LiveScreen

    app = make_app(scenario, profile=profile, speed=math.inf, debrief=False)
    longest_gap = 0.0
    stop = False

    async def heartbeat() -> None:
        nonlocal longest_gap
        last = time.perf_counter()
        while not stop:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            longest_gap = max(longest_gap, now - last - 0.005)
            last = now

    async with app.run_test(size=size) as pilot:
        beat = asyncio.create_task(heartbeat())
        start = time.perf_counter()
        while True:
            screen = app.screen
            if isinstance(screen, LiveScreen) and screen.done:
                break
            if time.perf_counter() - start > 600:
                raise RuntimeError("run did not finish in 10 minutes")
            await pilot.pause(0.02)
        elapsed = time.perf_counter() - start
        stop = True
        await beat
        assert isinstance(screen, LiveScreen)
        return {"events": screen.events_seen, "seconds": elapsed,
                "rate": screen.events_seen / elapsed, "stall": longest_gap,
                "tick": screen.longest_tick, "ticks": screen.ticks_handled}


def headless(scenario: Scenario, profile: str) -> dict[str, float]:
    """The simulator alone, list sink, same run: the ceiling the app can reach."""
    events: list[Event] = []
    sim: Any = real_simulation(scenario, profile, scenario.seed, events.append)
    start = time.perf_counter()
    sim.run()
    elapsed = time.perf_counter() - start
    return {"events": len(events), "seconds": elapsed, "rate": len(events) / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default="support-pii-injection")
    parser.add_argument("--profile", default="static-rbac")
    parser.add_argument("--hours", type=float, default=160.0,
                        help="simulated hours per run (default 160)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", default="120x40", help="terminal size, e.g. 120x40")
    args = parser.parse_args()
    width, height = (int(x) for x in args.size.split("x"))
    scenario = longer(load_scenario(args.scenario), args.hours)

    sims = [headless(scenario, args.profile) for _ in range(args.repeats)]
    runs = [asyncio.run(one_run(scenario, args.profile, (width, height)))
            for _ in range(args.repeats)]

    def med(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    print(f"scenario {args.scenario} ({args.hours:g} h simulated), profile {args.profile}, "
          f"terminal {width}x{height}, {args.repeats} repeats (medians)")
    print(f"  events per run              {med(runs, 'events'):>12,.0f}")
    print(f"  simulator alone             {med(sims, 'rate'):>12,.0f} events/s")
    print(f"  dashboard ingest            {med(runs, 'rate'):>12,.0f} events/s "
          f"(target >= 20,000)")
    print(f"  ingest / simulator          {med(runs, 'rate') / med(sims, 'rate'):>12.2f}")
    print(f"  ticks per run               {med(runs, 'ticks'):>12,.0f} "
          f"({med(runs, 'events') / max(1.0, med(runs, 'ticks')):,.0f} events per tick)")
    print(f"  longest tick handler        {1000 * med(runs, 'tick'):>12.1f} ms")
    print(f"  longest main-thread stall   {1000 * med(runs, 'stall'):>12.1f} ms "
          f"(target <= 100; worst of all runs "
          f"{1000 * max(r['stall'] for r in runs):.1f} ms)")


if __name__ == "__main__":
    main()

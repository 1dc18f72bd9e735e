"""OTLP export and trace judging: what ``--otlp`` adds to a run, and how fast traces are judged.

Three timings per repeat, on the same scenario, profile and seed:

- ``run``: the run alone (its events into a list's ``append``, as a caller's sink);
- ``run+otlp``: the same run with :class:`sim.otlp.export.OtlpSink` writing OTLP/JSON lines
  to a temporary file (the cost of ``--otlp``);
- ``judge``: reading that file, matching and re-deciding every call under the profile's
  policy (``agentrange replay TRACES``), without printing;
- ``replay events``: the same run's ``--events`` file replayed under the same policy
  (``agentrange replay EVENTS``), the baseline for ``judge``.

Prints medians over the repeats and the same-run ratios ``run+otlp / run`` and
``judge / replay events``, with spans, bytes and rates. It is not a test.

Run: ``python benchmarks/otlp.py [--scenario S] [--until SECONDS] [--repeats R] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from engine.policy.loading import load_profile_policy
from scenarios.library import load_scenario
from sim.events import JsonlSink
from sim.otlp.calls import match_calls
from sim.otlp.export import OtlpFile, OtlpSink
from sim.otlp.judge import judge
from sim.otlp.traces import read_traces
from sim.replay import read_events, replay
from sim.runner import Simulation


def measure(scenario_name: str, until: float | None, repeats: int) -> dict[str, Any]:
    scenario = load_scenario(scenario_name)
    profile = scenario.default_profile_id
    policy = load_profile_policy(scenario, profile)
    runs: list[float] = []
    exports: list[float] = []
    judges: list[float] = []
    replays: list[float] = []
    spans = size = calls = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "traces.jsonl"
        events_path = Path(tmp) / "events.jsonl"
        with open(events_path, "w", encoding="utf-8") as f:
            Simulation(scenario, profile, seed=scenario.seed, sink=JsonlSink(f),
                       until=until).run()
        for _ in range(repeats):
            events: list[Any] = []
            started = time.perf_counter()
            Simulation(scenario, profile, seed=scenario.seed, sink=events.append,
                       until=until).run()
            runs.append(time.perf_counter() - started)
            with open(path, "w", encoding="utf-8") as f:
                started = time.perf_counter()
                sink = OtlpSink(OtlpFile(f, str(path)), "bench")
                Simulation(scenario, profile, seed=scenario.seed, sink=sink, until=until).run()
                sink.close()
                exports.append(time.perf_counter() - started)
            spans, size = sink.spans, os.path.getsize(path)
            started = time.perf_counter()
            traces = read_traces(path)
            result = judge(traces, match_calls(traces, scenario), policy)
            judges.append(time.perf_counter() - started)
            calls = result.calls
            started = time.perf_counter()
            replay(read_events(events_path), policy)
            replays.append(time.perf_counter() - started)
    run, export, judged, replayed = (statistics.median(x)
                                     for x in (runs, exports, judges, replays))
    return {"scenario": scenario_name, "profile": profile, "until": until,
            "repeats": repeats, "spans": spans, "bytes": size, "calls": calls,
            "run_s": run, "run_otlp_s": export, "judge_s": judged,
            "replay_events_s": replayed, "otlp_ratio": export / run if run else None,
            "judge_ratio": judged / replayed if replayed else None,
            "export_spans_per_s": spans / max(export - run, 1e-9),
            "judge_calls_per_s": calls / judged if judged else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="productivity-bot-overhead")
    parser.add_argument("--until", type=float, default=None,
                        help="simulated seconds (default: the scenario's duration)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = measure(args.scenario, args.until, max(args.repeats, 1))
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{figures['scenario']} under {figures['profile']}: {figures['spans']:,} spans, "
          f"{figures['bytes'] / 1e6:.1f} MB, {figures['calls']:,} calls "
          f"(median of {figures['repeats']})")
    print(f"  run            {figures['run_s']:.2f} s")
    print(f"  run + --otlp   {figures['run_otlp_s']:.2f} s  ({figures['otlp_ratio']:.2f}x the run; "
          f"{figures['export_spans_per_s']:,.0f} spans/s for the export alone)")
    print(f"  judge traces   {figures['judge_s']:.2f} s  ({figures['judge_calls_per_s']:,.0f} "
          f"calls/s: read, match, re-decide; {figures['judge_ratio']:.2f}x replaying the "
          "events)")
    print(f"  replay events  {figures['replay_events_s']:.2f} s")


if __name__ == "__main__":
    main()

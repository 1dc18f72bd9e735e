"""What deciding through Cedar costs a built-in run, against the native engine in the same run.

For one built-in scenario and profile (default: refunds-customer-facing under jit-context,
whose counter changes the Cedar request of every refund) this times, alternately in one
process, the whole run with the native engine, with ``--engine cedar`` as it runs (Cedar's
answers remembered per distinct request), and with that memo off (Cedar asked for every
decision). It prints the medians, the ratios to native, decisions per second and the Cedar
authorisations made. The simulator decides one request at a time (each decision changes the
counters and sequences the next one reads), so a run cannot batch; the last table shows what
batching would buy where requests are independent: the run's distinct Cedar requests decided
one call each against one ``is_authorized_batch`` call.

Run: ``python benchmarks/cedar_engine.py [--scenario NAME] [--profile P] [--repeats R]
[--json]``. No target: the figures are reported as measured (issue 16).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cedar.engine import CedarEngine
from engine.cedar.profile import export_profile
from engine.policy import CompiledPolicy
from scenarios.library import load_scenario
from sim.runner import Simulation

BATCH_SAMPLE = 500
"""Cedar requests of the run asked again one by one and as one batch."""


def run_once(scenario: Any, profile: str, engine: str, sink: Any = None
             ) -> tuple[float, int, int]:
    """One whole run: (wall seconds, decisions, Cedar authorisations)."""
    exported = None
    if engine != "native":
        exported, _ = export_profile(scenario, profile)

    def factory(policy: CompiledPolicy) -> CedarEngine:
        assert exported is not None
        return CedarEngine(policy, exported.policies, exported.model, exported.entities,
                           memo=engine == "cedar")

    sim = Simulation(scenario, profile, record_decisions=False, sink=sink,
                     engine=None if engine == "native" else factory)
    started = time.perf_counter()
    result = sim.run()
    elapsed = time.perf_counter() - started
    calls = sim.engine.calls if isinstance(sim.engine, CedarEngine) else 0
    return elapsed, int(result.to_dict()["decisions"]["total"]), calls


def cedar_requests(scenario: Any, profile: str) -> tuple[Any, list[dict[str, Any]]]:
    """The Cedar requests a run sends (one per distinct request), and what it sends them to."""
    sent: list[dict[str, Any]] = []
    engines: list[CedarEngine] = []
    exported, _ = export_profile(scenario, profile)

    def factory(policy: CompiledPolicy) -> CedarEngine:
        engine = CedarEngine(policy, exported.policies, exported.model, exported.entities)
        decide = engine._rules.decide  # measurement only: see what the run asks Cedar

        def recording(requests: list[dict[str, Any]]) -> Any:
            sent.extend(requests)
            return decide(requests)

        engine._rules.decide = recording  # type: ignore[method-assign]
        engines.append(engine)
        return engine

    Simulation(scenario, profile, record_decisions=False, engine=factory).run()
    return engines[0]._rules, sent


def batch_figures(scenario: Any, profile: str, repeats: int) -> dict[str, float]:
    """Microseconds per Cedar request, one call each against one batch (medians)."""
    rules, sent = cedar_requests(scenario, profile)
    sent = sent[:BATCH_SAMPLE]
    single, batch = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        for request in sent:
            rules.decide([request])
        single.append((time.perf_counter() - started) / len(sent) * 1e6)
        started = time.perf_counter()
        rules.decide(sent)
        batch.append((time.perf_counter() - started) / len(sent) * 1e6)
    one, many = statistics.median(single), statistics.median(batch)
    return {"requests": len(sent), "single_us": one, "batch_us": many,
            "batch_speedup": one / many}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="refunds-customer-facing")
    parser.add_argument("--profile", default=None, help="default: the scenario's")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    scenario = load_scenario(args.scenario)
    profile = args.profile or scenario.default_profile_id
    times: dict[str, list[float]] = {"native": [], "cedar": [], "cedar-no-memo": []}
    decisions, calls = 0, {"native": 0, "cedar": 0, "cedar-no-memo": 0}
    run_once(scenario, profile, "cedar")  # warm imports and caches alike
    for _ in range(args.repeats):
        for engine in times:  # alternated, so machine load hits each engine alike
            elapsed, decisions, calls[engine] = run_once(scenario, profile, engine)
            times[engine].append(elapsed)
    medians = {k: statistics.median(v) for k, v in times.items()}
    batch = batch_figures(scenario, profile, args.repeats)
    figures = {"scenario": scenario.name, "profile": profile, "decisions": decisions,
               "load": os.getloadavg()[0],
               "seconds": medians,
               "ratio": {k: medians[k] / medians["native"] for k in medians},
               "decisions_per_second": {k: decisions / v for k, v in medians.items()},
               "cedar_calls": calls, "batch": batch}
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"{scenario.name} under {profile}: {decisions} decisions per run, medians of "
          f"{args.repeats} alternated runs; load average {os.getloadavg()[0]:.1f}")
    print(f"{'engine':<16}{'run s':>9}{'x native':>10}{'decisions/s':>13}{'Cedar calls':>13}")
    for engine, seconds in medians.items():
        print(f"{engine:<16}{seconds:>9.2f}{seconds / medians['native']:>10.2f}"
              f"{decisions / seconds:>13,.0f}{calls[engine]:>13,}")
    print(f"\n{batch['requests']:,} Cedar requests of the run, asked again (independent "
          "requests could be batched; a run's cannot):")
    print(f"  one is_authorized_batch call per request  {batch['single_us']:>8.1f} us per "
          "request")
    print(f"  one is_authorized_batch call for all      {batch['batch_us']:>8.1f} us per "
          f"request ({batch['batch_speedup']:.2f}x faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Sweep scaling: the same 40-run sweep on 1 and 2 workers, local pool and Dask, in one run.

Each round runs every configuration once, in an order that turns round by round (a drift in
the machine's load hits them alike); each time is the whole ``sweep()`` call, the start of the
pool or LocalCluster included. "dask, running cluster" sends the runs to a LocalCluster that
was started before the clock, as a sweep on an existing cluster (``--scheduler``) would.

Printed: the median wall time of each configuration over the rounds, its range, the speedup of
2 workers over 1 on each executor, and Dask's overhead over the local pool at the same number
of workers; with the load average, since on a shared machine the speedups say as much about
the neighbours as about the code. Every configuration's output is checked to be the same.

Targets (issue 20): 2 workers >= 1.7x one on each executor; Dask within 15% of the local pool
at 2 workers.

Run: ``python benchmarks/sweep_scaling.py [--rounds 3] [--until 6h]``. Needs
``agentrange[dask]``. It prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from engine.durations import parse_duration
from scenarios.library import load_scenario
from sim.sweep import SweepResult, sweep
from sim.sweep_dask import DaskExecutor
from sim.sweep_grid import parse_variation
from sim.sweep_pool import LocalExecutor, SweepExecutor

SCENARIO = "support-pii-injection"
PROFILES = ["static-rbac", "jit-context"]
SEEDS = list(range(1, 11))
VARY = "profile.credentials.ttl=5m,1h"
"""2 profiles x 2 values x 10 seeds: 40 runs."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--until", default=None, help="cut each run at this simulated time")
    args = parser.parse_args()
    import distributed

    scenario = load_scenario(SCENARIO)
    until = parse_duration(args.until) if args.until else None
    grid: dict[str, Any] = {"profiles": PROFILES, "seeds": SEEDS,
                            "variations": [parse_variation(VARY)], "until": until}
    clusters = {n: distributed.LocalCluster(n_workers=n, threads_per_worker=1,
                                            processes=True, protocol="tcp://",
                                            host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                            silence_logs=logging.CRITICAL)
                for n in (1, 2)}
    configs: dict[str, Callable[[], SweepExecutor]] = {
        "local, 1 worker": lambda: LocalExecutor(1),
        "local, 2 workers": lambda: LocalExecutor(2),
        "dask, 1 worker": lambda: DaskExecutor(1),
        "dask, 2 workers": lambda: DaskExecutor(2),
        "dask, running cluster of 1": lambda: DaskExecutor(
            scheduler=clusters[1].scheduler_address),
        "dask, running cluster of 2": lambda: DaskExecutor(
            scheduler=clusters[2].scheduler_address),
    }
    times: dict[str, list[float]] = {name: [] for name in configs}
    loads: list[float] = []
    reference: dict[str, Any] | None = None
    names = list(configs)
    try:
        for r in range(args.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                loads.append(os.getloadavg()[0])
                start = time.perf_counter()
                result: SweepResult = sweep(scenario, executor=configs[name](), **grid)
                times[name].append(time.perf_counter() - start)
                data = result.to_dict()
                if reference is None:
                    reference = data
                assert data == reference, f"{name}: a different result"
                print(f"  round {r + 1}: {name:28} {times[name][-1]:6.2f} s", flush=True)
    finally:
        for c in clusters.values():
            c.close()
    med = {name: statistics.median(t) for name, t in times.items()}
    runs = len(PROFILES) * 2 * len(SEEDS)
    print(f"\n{SCENARIO}: {runs} runs, {args.rounds} rounds, on {os.cpu_count()} CPUs; "
          f"load average at the starts {min(loads):.1f}-{max(loads):.1f}")
    print(f"{'configuration':30} {'median':>8} {'range':>17} {'runs/s':>7}")
    for name, t in times.items():
        print(f"{name:30} {med[name]:7.2f}s {min(t):7.2f}-{max(t):7.2f}s "
              f"{runs / med[name]:7.2f}")
    print()
    for label, one, two in (("local", "local, 1 worker", "local, 2 workers"),
                            ("dask", "dask, 1 worker", "dask, 2 workers"),
                            ("dask, running cluster", "dask, running cluster of 1",
                             "dask, running cluster of 2")):
        print(f"speedup of 2 workers over 1, {label:22} {med[one] / med[two]:5.2f}x "
              f"(target >= 1.7x)")
    for label, dask in (("cluster started per sweep", "dask, 2 workers"),
                        ("running cluster", "dask, running cluster of 2")):
        over = med[dask] / med["local, 2 workers"] - 1
        print(f"dask overhead over the local pool at 2 workers, {label:26} {100 * over:+6.1f}% "
              f"(target < 15%)")


if __name__ == "__main__":
    main()

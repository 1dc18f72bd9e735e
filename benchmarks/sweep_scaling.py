"""Sweep scaling: the same 40-run sweep on 1 and 2 workers, local pool and Dask, in one run.

Each round runs every configuration once, in an order that turns round by round (a drift in
the machine's load hits them alike), each in a fresh process as ``agentrange sweep`` would
(one thread, so the local pool forks); each time is the whole ``sweep()`` call, the start of
the pool or LocalCluster included. "dask, running cluster" sends the runs to a LocalCluster
that was started before the clock, its workers having imported the simulator, as a sweep on an
existing cluster (``--scheduler``) used for earlier sweeps would.

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
import hashlib
import importlib
import json
import logging
import os
import statistics
import subprocess
import sys
import time
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


CONFIGS = ("local, 1 worker", "local, 2 workers", "dask, 1 worker", "dask, 2 workers",
           "dask, running cluster of 1", "dask, running cluster of 2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--until", default=None, help="cut each run at this simulated time")
    parser.add_argument("--one", choices=CONFIGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        _time_one(args.one, args.until)
        return
    times: dict[str, list[float]] = {name: [] for name in CONFIGS}
    loads: list[float] = []
    reference: str | None = None
    names = list(CONFIGS)
    for r in range(args.rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            loads.append(os.getloadavg()[0])
            command = [sys.executable, __file__, "--one", name]
            if args.until:
                command += ["--until", args.until]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            seconds, digest = done.stdout.split()
            times[name].append(float(seconds))
            reference = reference or digest
            assert digest == reference, f"{name}: a different result"
            print(f"  round {r + 1}: {name:28} {float(seconds):6.2f} s", flush=True)
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


def _time_one(name: str, until_text: str | None) -> None:
    """Time one configuration's sweep in this fresh process; print the seconds and a digest.

    Each configuration runs in its own process, as ``agentrange sweep`` would: one thread, so
    the local pool forks its workers as the command line does. A running cluster is started
    before the clock.
    """
    import distributed

    scenario = load_scenario(SCENARIO)
    until = parse_duration(until_text) if until_text else None
    grid: dict[str, Any] = {"profiles": PROFILES, "seeds": SEEDS,
                            "variations": [parse_variation(VARY)], "until": until}
    cluster = None
    executor: SweepExecutor
    if name.startswith("local"):
        executor = LocalExecutor(int(name.split(", ")[1][0]))
    elif name.startswith("dask, running"):
        cluster = distributed.LocalCluster(n_workers=int(name[-1]), threads_per_worker=1,
                                           processes=True, protocol="tcp://", host="127.0.0.1",
                                           dashboard_address="127.0.0.1:0",
                                           silence_logs=logging.CRITICAL)
        executor = DaskExecutor(scheduler=cluster.scheduler_address)
        # A cluster kept for sweeps has the simulator imported from its earlier sweeps.
        with distributed.Client(cluster) as client:
            client.run(importlib.import_module, "sim.sweep_pool")
    else:
        executor = DaskExecutor(int(name.split(", ")[1][0]))
    try:
        start = time.perf_counter()
        result: SweepResult = sweep(scenario, executor=executor, **grid)
        seconds = time.perf_counter() - start
    finally:
        if cluster is not None:
            cluster.close()
    digest = hashlib.sha256(json.dumps(result.to_dict(), sort_keys=True).encode()).hexdigest()
    print(f"{seconds:.4f} {digest}")


if __name__ == "__main__":
    main()

"""Scenario loading: each built-in, and generated 2 MB and 10 MB scenarios without aliases.

For every built-in it prints the median time of loading the scenario (read, parse, validate,
check references: what the dashboard's picker does per scenario) and of loading it with every
profile's policy (what ``agentrange validate`` does), wall and CPU (on a loaded machine the
wall time is the noisier figure). Then, each in a fresh child process (so
peak RSS is that load's own), it loads the support scenario grown with generated owners to
2 MB and to just under 10 MB (the issue's reproducer: "many owners, no aliases") and prints
the time (wall and CPU), peak RSS and the outcome: loaded, or refused with the message.

Target (issue 23): a built-in loads in under 50 ms (median); a 10 MB file is accepted or
refused within seconds.

Run: ``python benchmarks/loading.py [--repeats R] [--sizes 2,9.8] [--timeout S] [--json]``.
``--json`` prints the speeds as one JSON object on standard output (the report goes to
standard error): ``<built-in>.loads_per_s``, ``<built-in>.validates_per_s`` and
``file_<size>MB.loads_per_hour``, higher is faster. To compare with a commit that has no
copy of this script, give :mod:`benchmarks.against` its absolute path, so both trees run
this one against their own packages::

    python benchmarks/against.py HEAD~1 --rounds 3 -- "$PWD/benchmarks/loading.py" --json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# No sys.path insert: the packages come from PYTHONPATH or the installed tree, so that
# benchmarks/against.py can run this script against an older commit's packages.
from engine.errors import AgentrangeError
from engine.loader import load_scenario
from engine.policy import load_profile_policies
from scenarios import library

TARGET_MS = 50.0
GROWN = "support-pii-injection"


def many_owners(dest: Path, size: int) -> Path:
    """The support scenario, with owners appended until its file is ``size`` bytes.

    Returns:
        ``dest``: a scenario directory (its scenario file and the policies beside it).
    """
    shutil.copytree(Path(str(library.path_of(GROWN))), dest)
    text = (dest / "scenario.yaml").read_text()
    head, tail = text.split("owners:\n", 1)
    parts = [head, "owners:\n"]
    total, n = len(text), 0
    while total < size:
        line = (f"  - {{id: owner-{n:07d}, name: Owner {n}, title: Generated owner, "
                f"contact: owner-{n}@acme.example}}\n")
        parts.append(line)
        total += len(line)
        n += 1
    parts.append(tail)
    (dest / "scenario.yaml").write_text("".join(parts))
    return dest


def medians_ms(run: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Median wall and CPU time of ``run()`` in milliseconds, after one untimed warm-up."""
    run()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000


def builtins(repeats: int) -> dict[str, float]:
    """Print each built-in's median load and validate times; return their speeds."""
    figures: dict[str, float] = {}
    print(f"{'built-in':<28}{'load ms':>9}{'(CPU)':>8}{'validate ms':>13}{'(CPU)':>8}")
    loads = []
    for name in library.names():
        load, load_cpu = medians_ms(lambda name=name: library.load_scenario(name), repeats)
        scenario = library.load_scenario(name)
        policies, policies_cpu = medians_ms(lambda s=scenario: load_profile_policies(s),
                                            repeats)
        loads.append(load)
        print(f"{name:<28}{load:>9.1f}{load_cpu:>8.1f}{load + policies:>13.1f}"
              f"{load_cpu + policies_cpu:>8.1f}")
        figures[f"{name}.loads_per_s"] = 1000 / load
        figures[f"{name}.validates_per_s"] = 1000 / (load + policies)
    verdict = "met" if max(loads) < TARGET_MS else "NOT met"
    print(f"{'all, one after another':<28}{sum(loads):>9.1f}   (target: each under "
          f"{TARGET_MS:.0f} ms: {verdict})")
    return figures


def child(path: str) -> None:
    """Load one scenario file (in a fresh process); print time, peak RSS, outcome as JSON."""
    start, cpu = time.perf_counter(), time.process_time()
    try:
        scenario = load_scenario(Path(path))
        outcome = f"loaded, {len(scenario.owners):,} owners"
    except AgentrangeError as exc:
        outcome = "refused: " + str(exc).splitlines()[0][:160]
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "rss_mb": rss_mb,
                      "outcome": outcome}))


def big_files(sizes: list[float], timeout: float) -> dict[str, float]:
    """Load each generated file in a child process; print and return its figures."""
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="agentrange-loading-") as tmp:
        for size in sizes:
            scenario = many_owners(Path(tmp) / f"{size}MB", int(size * 1024 * 1024))
            file = scenario / "scenario.yaml"
            label = f"{file.stat().st_size / 1024 / 1024:.1f} MB, no aliases"
            try:
                done = subprocess.run([sys.executable, __file__, "--child", str(file)],
                                      capture_output=True, text=True, timeout=timeout,
                                      check=True)
            except subprocess.TimeoutExpired:
                print(f"{label:<28} still loading after {timeout:.0f} s (stopped)")
                figures[f"file_{size}MB.loads_per_hour"] = 3600 / timeout
                continue
            run = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"{label:<28}{run['seconds']:>8.2f} s ({run['cpu_seconds']:.2f} s CPU)  "
                  f"peak RSS {run['rss_mb']:>4.0f} MB  {run['outcome']}")
            figures[f"file_{size}MB.loads_per_hour"] = 3600 / run["seconds"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--repeats", type=int, default=21,
                        help="timed loads per built-in (default 21)")
    parser.add_argument("--sizes", default="2,9.8",
                        help="generated file sizes in MB, comma-separated (default 2,9.8; "
                        "'' for none)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds a generated file may take before it is stopped")
    parser.add_argument("--json", action="store_true",
                        help="print the speeds as one JSON object (the report goes to stderr)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    sizes = [float(s) for s in args.sizes.split(",") if s.strip()]
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        print(f"scenario loading: median of {args.repeats} warm loads per built-in; "
              f"engine from {Path(sys.modules['engine'].__file__ or '.').parent.parent}; "
              f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average "
              f"{os.getloadavg()[0]:.1f}")
        figures = builtins(args.repeats)
        figures.update(big_files(sizes, args.timeout))
    if args.json:
        print(json.dumps({"benchmark": "loading", "repeats": args.repeats, "sizes": sizes,
                          "figures": figures, "load_average": os.getloadavg()[0],
                          "cores": os.cpu_count()}))


if __name__ == "__main__":
    main()

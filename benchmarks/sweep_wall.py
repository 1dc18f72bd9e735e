"""The README's 60-run refunds sweep with ``--jobs 1``, timed in one process (issue 21).

Runs ``agentrange sweep refunds-customer-facing --profiles static-rbac,jit-context --seeds 1-10
--vary approvers.count=1,2,4 --jobs 1 --format csv`` through the CLI's own entry point and
prints its wall and CPU time, from before the CLI is imported to the end of the output (what a
user waits for, less the interpreter's start). It imports nothing but ``tui.cli``, so
``benchmarks/against.py`` can run this file against an older tree that lacks it: pass its
absolute path, e.g.
``python benchmarks/against.py e8961fc --rounds 3 -- $PWD/benchmarks/sweep_wall.py``.

Run: ``python benchmarks/sweep_wall.py [--seeds 1-10] [--json]``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1-10", help="the sweep's seeds (default 1-10)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    argv = ["sweep", "refunds-customer-facing", "--profiles", "static-rbac,jit-context",
            "--seeds", args.seeds, "--vary", "approvers.count=1,2,4", "--jobs", "1",
            "--format", "csv"]
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    from tui.cli import main as cli

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            cli(argv)
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    runs = out.getvalue().count("\n") - 1
    digest = hashlib.sha256(out.getvalue().encode()).hexdigest()[:12]
    if args.json:
        # Runs per minute: against.py prints whole numbers, and a run takes about a second.
        print(json.dumps({"figures": {"runs_per_wall_minute": 60 * runs / wall,
                                      "runs_per_cpu_minute": 60 * runs / cpu},
                          "wall_s": wall, "cpu_s": cpu, "csv_sha256": digest}))
        return
    print(f"agentrange {' '.join(argv)}")
    print(f"{runs} rows of CSV (sha256 {digest}...), load average {load:.1f} at the start")
    print(f"wall {wall:.2f} s, CPU {cpu:.2f} s ({runs / wall:.2f} rows/s, "
          f"{runs / cpu:.2f} rows per CPU-second)")


if __name__ == "__main__":
    sys.exit(main())

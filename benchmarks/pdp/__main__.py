"""The PDP benchmark's command line: ``python -m benchmarks.pdp`` (or benchmarks/pdp_vs_peers.py).

Options as documented in :mod:`benchmarks.pdp`; ``--profile`` runs pyinstrument over
agentrange instead of benchmarking.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import benchmarks.pdp as pdp
from benchmarks.pdp.agentrange import (
    agentrange_requests,
    build_scenario,
    compile_agentrange,
    run_agentrange,
    warmup_requests,
)
from benchmarks.pdp.benchmark import run
from benchmarks.pdp.report import to_json
from benchmarks.pdp.workload import FULL, QUICK, Sizes, make_workload
from engine.policy import PolicyEngine

PROFILE_MODES = ("fresh", "steady", "sequences", "sequences-steady")


def profile(sizes: Sizes, seed: int, mode: str) -> None:
    """Profile agentrange deciding the workload with pyinstrument and print the call tree.

    Args:
        sizes: Workload sizes (the profile covers ``sizes.repeats`` passes).
        seed: Workload seed.
        mode: ``fresh`` (a new engine per pass), ``steady`` (an engine warmed on other
            requests, as in the benchmark), and the same two with the sequence rules.
    """
    from pyinstrument import Profiler

    sequences = mode.startswith("sequences")
    w = make_workload(sizes, seed)
    scenario = build_scenario(w)
    compiled = compile_agentrange(w, scenario, sequences=sequences)
    requests = agentrange_requests(w, scenario)
    ends = w.session_last if sequences else frozenset()
    warmup = warmup_requests(w, scenario) if mode.endswith("steady") else None
    profiler = Profiler(interval=0.0002)
    for _ in range(sizes.repeats):
        if warmup is None:
            profiler.start()
            run_agentrange(compiled, requests, ends)
        else:
            # timed_steady warms untimed; profile only its timed pass.
            engine = PolicyEngine(compiled)
            for r in warmup[0]:
                engine.decide(r)
            engine.reset()
            profiler.start()
            for i, r in enumerate(requests):
                engine.decide(r)
                if i in ends:
                    engine.end_session(r.session["id"])
        profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(pdp.__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (a couple of seconds)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=None,
                        help="agentrange repeats (default 5; quick 3)")
    parser.add_argument("--cedar-repeats", type=int, default=None,
                        help="cedarpy repeats (default 3: ~20 s each at full size)")
    parser.add_argument("--casbin-repeats", type=int, default=1,
                        help="PyCasbin repeats (default 1: ~100 s at full size)")
    parser.add_argument("--no-freeze", action="store_true",
                        help="leave the setup heap to the cycle collector (no gc.freeze())")
    parser.add_argument("--profile", choices=PROFILE_MODES, default=None,
                        help="profile agentrange with pyinstrument instead of benchmarking")
    parser.add_argument("--json", action="store_true",
                        help="print the figures as one JSON object (the report goes to stderr)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.profile:
        profile(sizes, args.seed, args.profile)
        return 0
    out = _to_stderr if args.json else print
    report = run(sizes, args.seed, repeats=args.repeats, cedar_repeats=args.cedar_repeats,
                 casbin_repeats=args.casbin_repeats, freeze=not args.no_freeze, out=out)
    if args.json:
        print(json.dumps(to_json(report, args.seed)))
    if not (report.agreement.ok and report.sequence_agreement.ok):
        print("FAILED: the engines disagree (see above)", file=sys.stderr)
        return 1
    return 0


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

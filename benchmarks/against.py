"""Same-run comparison of a benchmark between this working tree and a previous commit.

Checks REF out into a temporary ``git worktree`` (removed afterwards), then runs the same
benchmark command in this tree and in REF's, alternately (this/ref, ref/this, ...: a drift in
the machine's load hits both sides alike), each run a fresh process with ``PYTHONPATH`` and the
working directory set to its tree. Each run's speeds come from the benchmark's ``--json``
output, or, for a tree whose benchmark has no ``--json`` yet, from its printed report (known
formats of ``pdp_vs_peers.py``, ``sim_throughput.py`` and ``audit.py``). It prints the medians
side by side with their ratio (this / REF; above 1 is faster), each side's range over the
rounds, and the machine's load average when each run started. "this tree" is the working
tree as it is, uncommitted changes included.

With ``--same-benchmark`` both sides run THIS tree's benchmark (its harness, workload and
report), each measuring its own tree's product: the script gets ``AGENTRANGE_PRODUCT_TREE``
set to the side's tree, must take ``--json`` and must report the tree whose engine it
imported as ``product_tree`` (a run that measured another tree fails). Use it when the
benchmark's harness changed since REF, so that a harness change is not read as a speed-up.

Run: ``python benchmarks/against.py REF [--rounds N] [--same-benchmark] -- SCRIPT [ARGS...]``,
e.g.
``python benchmarks/against.py main --rounds 3 -- benchmarks/sim_throughput.py --calls 200000``.
It prints figures; it is not a test and passes no judgement beyond marking figures whose
ranges do not overlap.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


class AgainstError(Exception):
    """A run that cannot be compared: a bad REF, a missing script, a failed benchmark."""


@dataclass
class Side:
    """One tree's runs: where it is, how it is named, and the figures and load of each run."""

    label: str
    root: Path
    json: bool = False
    bench_root: Path | None = None
    """Where the benchmark script is taken from (``--same-benchmark``: this tree), else root."""
    runs: list[dict[str, float]] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    shares: list[dict[str, float]] = field(default_factory=list)
    """Each run's shares of time (``gc_share`` in its JSON: the collector's, by mode)."""


# --- figures from a report printed without --json --------------------------------------------

PDP_ROWS = {
    "agentrange, fresh engine (cold caches)": "agentrange",
    "agentrange, steady (engine warmed on other requests)": "agentrange_steady",
    "cedarpy is_authorized_batch (policies parsed once)": "cedarpy",
    "PyCasbin batch_enforce": "casbin",
    "fresh engine (cold caches)": "agentrange_sequences",
    "steady (engine warmed on other requests)": "agentrange_sequences_steady",
    "agentrange, every explanation already seen (the ceiling of its memo)": "agentrange_seen",
    "CPython floor: read each request's values, build its Decision, decide nothing": "floor",
    "the same floor, each Decision dropped at once (no retained objects)": "floor_shared",
    "the same floor, keeping a flat tuple of atoms per request (untracked)": "floor_flat",
}
PDP_ROW = re.compile(r"^  (?P<label>\S.*?)\s+(?P<rate>[\d,]+)(/s = .*)?$")
PDP_DROPPED = re.compile(r"each decision dropped once made .*?: (?P<rate>[\d,]+)/s")
PDP_SIM_GC = re.compile(r"collector setting .*: (?P<fresh>[\d,]+) fresh, (?P<steady>[\d,]+) "
                        r"steady, (?P<seq>[\d,]+) steady with sequences")
SIM_PROFILE = re.compile(r"^\[(?P<profile>[^\]]+)\]")
SIM_CALLS = re.compile(r"^  tool calls/s\s+median\s+(?P<rate>[\d,]+)\s+\(per CPU-second "
                       r"(?P<cpu>[\d,]+)")
SIM_SIMPY = re.compile(r"^  raw simpy events/s\s+median\s+(?P<rate>[\d,]+)")
SIM_FIXED = re.compile(r"^  fixed-answer engine  tool calls/s median (?P<rate>[\d,]+) "
                       r"\(per CPU-second (?P<cpu>[\d,]+)\); raw simpy events/s median "
                       r"(?P<simpy>[\d,]+)")
SIM_OWN = re.compile(r"^  simulator calls per own second (?P<real>[\d,]+) with the policy "
                     r"engine, (?P<fixed>[\d,]+) with a fixed answer")


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def pdp_figures(text: str) -> dict[str, float]:
    """The speeds in a report printed by ``pdp_vs_peers.py``, named as its ``--json`` names them."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        row = PDP_ROW.match(line)
        if row and row["label"] in PDP_ROWS:
            out[PDP_ROWS[row["label"]]] = _number(row["rate"])
        dropped = PDP_DROPPED.search(line)
        if dropped:
            out["agentrange_dropped"] = _number(dropped["rate"])
        gc_row = PDP_SIM_GC.search(line)
        if gc_row:
            out.update(sim_gc_fresh=_number(gc_row["fresh"]),
                       sim_gc_steady=_number(gc_row["steady"]),
                       sim_gc_sequences_steady=_number(gc_row["seq"]))
    return out


def sim_figures(text: str) -> dict[str, float]:
    """The speeds in a report printed by ``sim_throughput.py``, named as its ``--json`` does."""
    out: dict[str, float] = {}
    profile = "?"
    for line in text.splitlines():
        if m := SIM_PROFILE.match(line):
            profile = m["profile"]
        elif m := SIM_CALLS.match(line):
            out[f"{profile}.calls_per_s"] = _number(m["rate"])
            out[f"{profile}.calls_per_cpu_s"] = _number(m["cpu"])
        elif m := SIM_SIMPY.match(line):
            out[f"{profile}.raw_simpy_events_per_s"] = _number(m["rate"])
        elif m := SIM_FIXED.match(line):
            out[f"{profile}.fixed_engine.calls_per_s"] = _number(m["rate"])
            out[f"{profile}.fixed_engine.calls_per_cpu_s"] = _number(m["cpu"])
            out[f"{profile}.fixed_engine.raw_simpy_events_per_s"] = _number(m["simpy"])
        elif m := SIM_OWN.match(line):
            out[f"{profile}.simulator_calls_per_own_s"] = _number(m["real"])
            out[f"{profile}.fixed_engine.simulator_calls_per_own_s"] = _number(m["fixed"])
    return out


AUDIT_RATE = re.compile(r"^  (?P<name>write|verify)\s+(?P<rate>[\d,]+) records/s.*?"
                        r"(?P<cpu>[\d,]+) records per CPU-second")
AUDIT_FLOOR = re.compile(r"^  (?:canonical_bytes alone|canonical-bytes floor)\s+"
                         r"(?P<rate>[\d,]+) records/s")


def audit_figures(text: str) -> dict[str, float]:
    """The speeds in a report printed by ``audit.py``, named as its ``--json`` names them."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if m := AUDIT_RATE.match(line):
            out[m["name"]] = _number(m["rate"])
            out[f"{m['name']}_per_cpu_s"] = _number(m["cpu"])
        elif m := AUDIT_FLOOR.match(line):
            out["canonical_bytes"] = _number(m["rate"])
    if "canonical_bytes" in out:
        for name in ("write", "verify"):
            if name in out:
                out[f"{name}_floor_ratio_x1000"] = 1000 * out[name] / out["canonical_bytes"]
    return out


TEXT_PARSERS: dict[str, Callable[[str], dict[str, float]]] = {
    "pdp_vs_peers.py": pdp_figures,
    "sim_throughput.py": sim_figures,
    "audit.py": audit_figures,
}
"""Report parsers by script name, for trees whose benchmark has no ``--json``."""


# --- running ---------------------------------------------------------------------------------


def git(root: Path, *args: str) -> str:
    """Run git in ``root``; its standard output, stripped.

    Raises:
        AgainstError: when git fails (its message included).
    """
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise AgainstError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


@contextmanager
def worktree(repo: Path, commit: str) -> Iterator[Path]:
    """A detached worktree of ``commit`` in a temporary directory, removed on exit."""
    parent = Path(tempfile.mkdtemp(prefix="agentrange-against-"))
    tree = parent / "tree"
    try:
        git(repo, "worktree", "add", "--detach", "--quiet", str(tree), commit)
        yield tree
    finally:
        # Only this worktree is removed: the repository's other worktrees are not ours to prune.
        if tree.exists():
            done = subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force",
                                   str(tree)], capture_output=True, text=True)
            if done.returncode != 0:
                print(f"against: could not remove the worktree {tree}: {done.stderr.strip()}",
                      file=sys.stderr)
        shutil.rmtree(parent, ignore_errors=True)


def _env(side: Side) -> dict[str, str]:
    env = dict(os.environ)
    # The tree's own packages first, ahead of the editable install of this tree.
    env["PYTHONPATH"] = str(side.root)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if side.bench_root is not None:
        env["AGENTRANGE_PRODUCT_TREE"] = str(side.root)
    return env


def _script(side: Side, script: str) -> str:
    return script if side.bench_root is None else str(side.bench_root / script)


def has_json(side: Side, script: str) -> bool:
    """Whether the tree's benchmark takes ``--json`` (its ``--help`` lists it)."""
    done = subprocess.run([sys.executable, _script(side, script), "--help"], cwd=side.root,
                          env=_env(side), capture_output=True, text=True)
    return done.returncode == 0 and "--json" in done.stdout


def run_once(side: Side, script: str, args: Sequence[str]) -> None:
    """Run the benchmark once in the side's tree, in a fresh process; record its figures.

    Raises:
        AgainstError: when it fails or prints no figures.
    """
    cmd = [sys.executable, _script(side, script), *args, *(["--json"] if side.json else [])]
    side.loads.append(os.getloadavg()[0])
    done = subprocess.run(cmd, cwd=side.root, env=_env(side), capture_output=True,
                          text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise AgainstError(f"{side.label}: {' '.join(cmd[1:])} exited {done.returncode}:\n"
                           f"{tail}")
    if side.json:
        report = json.loads(done.stdout.strip().splitlines()[-1])
        figures = report["figures"]
        if isinstance(report.get("gc_share"), dict):
            side.shares.append({k: float(v) for k, v in report["gc_share"].items()})
        if side.bench_root is not None and (
                Path(report.get("product_tree") or "/").resolve() != side.root.resolve()):
            raise AgainstError(f"{side.label}: {script} measured the product in "
                               f"{report.get('product_tree')}, not {side.root} "
                               "(it does not follow AGENTRANGE_PRODUCT_TREE)")
    else:
        figures = TEXT_PARSERS[Path(script).name](done.stdout)
    if not figures:
        raise AgainstError(f"{side.label}: no figures found in the output of {script}")
    side.runs.append({k: float(v) for k, v in figures.items()})


def compare(this: Side, ref: Side, script: str, args: Sequence[str], rounds: int) -> None:
    """Alternate the two sides for ``rounds`` rounds (this/ref, then ref/this, ...)."""
    for side in (this, ref):
        if not Path(side.bench_root or side.root, script).is_file():
            raise AgainstError(f"{side.label}: no {script} in {side.bench_root or side.root}")
        side.json = has_json(side, script)
        if side.bench_root is not None and not side.json:
            raise AgainstError(f"--same-benchmark: {script} takes no --json")
        if not side.json and Path(script).name not in TEXT_PARSERS:
            raise AgainstError(f"{side.label}: {script} has no --json and no known report "
                               f"format ({', '.join(TEXT_PARSERS)})")
    for i in range(rounds):
        for side in (this, ref) if i % 2 == 0 else (ref, this):
            print(f"round {i + 1}/{rounds}: {side.label} ...", file=sys.stderr, flush=True)
            run_once(side, script, args)


def table(this: Side, ref: Side) -> list[str]:
    """Medians side by side, their ratio and each side's range; one line per figure."""
    names = [k for k in this.runs[0] if all(k in r for r in (*this.runs, *ref.runs))]
    width = max(len(n) for n in [*names, "figure"]) + 2
    lines = [f"{'figure':<{width}}{this.label:>14}{ref.label:>14}{'ratio':>8}   "
             f"range {this.label} | {ref.label}"]
    for name in names:
        a = [r[name] for r in this.runs]
        b = [r[name] for r in ref.runs]
        ma, mb = statistics.median(a), statistics.median(b)
        mark = "  slower" if max(a) < min(b) else "  faster" if min(a) > max(b) else ""
        lines.append(f"{name:<{width}}{ma:>14,.0f}{mb:>14,.0f}{ma / mb:>7.2f}x   "
                     f"{min(a):,.0f}-{max(a):,.0f} | {min(b):,.0f}-{max(b):,.0f}{mark}")
    missing = sorted({k for r in (*this.runs, *ref.runs) for k in r} - set(names))
    if missing:
        lines.append(f"(not in both trees: {', '.join(missing)})")
    if this.shares and ref.shares:
        lines.append("time in the cyclic garbage collector (lower is better), medians:")
        for name in [k for k in this.shares[0] if all(k in r for r in (*this.shares,
                                                                         *ref.shares))]:
            a = [r[name] for r in this.shares]
            b = [r[name] for r in ref.shares]
            label = f"gc_share.{name}"
            lines.append(f"{label:<{width}}{statistics.median(a):>14.1%}"
                         f"{statistics.median(b):>14.1%}{'':>8}   {min(a):.1%}-{max(a):.1%} | "
                         f"{min(b):.1%}-{max(b):.1%}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        argv.append("--")
    split = argv.index("--")
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        usage="python benchmarks/against.py REF [--rounds N] -- SCRIPT [ARGS...]")
    parser.add_argument("ref", metavar="REF", help="the commit to compare with (e.g. HEAD~1)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs per side, alternating (default 3)")
    parser.add_argument("--same-benchmark", action="store_true",
                        help="run this tree's benchmark on both sides, each measuring its "
                        "own tree's product")
    args = parser.parse_args(argv[:split])
    bench = argv[split + 1:]
    if not bench or args.rounds < 1:
        parser.error("give the benchmark after '--' (e.g. -- benchmarks/sim_throughput.py) "
                     "and at least one round")
    script, bench_args = bench[0], bench[1:]
    here = Path(git(Path(__file__).resolve().parent, "rev-parse", "--show-toplevel"))
    try:
        try:
            commit = git(here, "rev-parse", "--verify", "--quiet", f"{args.ref}^{{commit}}")
        except AgainstError:
            raise AgainstError(f"{args.ref}: not a commit") from None
        short, subject = git(here, "log", "-1", "--format=%h%n%s", commit).split("\n", 1)
        dirty = " + uncommitted changes" if git(here, "status", "--porcelain") else ""
        with worktree(here, commit) as tree:
            bench_root = here if args.same_benchmark else None
            this = Side("this tree", here, bench_root=bench_root)
            ref = Side(short, tree, bench_root=bench_root)
            compare(this, ref, script, bench_args, args.rounds)
    except AgainstError as exc:
        print(f"against: {exc}", file=sys.stderr)
        return 1
    loads = [*this.loads, *ref.loads]
    print(f"{script} {' '.join(bench_args)}".rstrip())
    print(f"  this tree: {here} ({git(here, 'log', '-1', '--format=%h')}{dirty})")
    print(f"  against: {ref.label} {subject}")
    if args.same_benchmark:
        print("  --same-benchmark: this tree's benchmark on both sides, each measuring its own "
              "tree's product")
    print(f"  {args.rounds} round(s), alternating, each run a fresh process; figures from "
          f"{'--json' if this.json else 'the report'} (this tree), "
          f"{'--json' if ref.json else 'the report'} ({ref.label})")
    print(f"  machine: {os.cpu_count()} cores, load average at run starts median "
          f"{statistics.median(loads):.1f} (range {min(loads):.1f}-{max(loads):.1f}); "
          "figures on a loaded machine are lower and noisier")
    for line in table(this, ref):
        print(line)
    print("ratio = this tree / ref (above 1: faster); 'slower'/'faster' only where the "
          "rounds' ranges do not overlap")
    return 0


if __name__ == "__main__":
    sys.exit(main())

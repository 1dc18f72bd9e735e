"""How quickly the command line answers: ``--version``, ``--help`` and ``validate`` of a built-in.

Each figure is the median wall time of N fresh ``agentrange`` processes (the installed console
script; ``python -m tui.cli`` where there is none), after one untimed warm-up run per command so
that both sides have their bytecode cached. With ``--against REF`` (default ``HEAD~1``) the same
commands also run in a temporary worktree of REF (``PYTHONPATH`` and working directory set to
it, as ``benchmarks/against.py`` does), alternating with this tree run by run, so a drift in the
machine's load hits both alike. Issue 23's target: ``--version`` and ``--help`` under 0.3 s.

Run: ``python benchmarks/startup.py [--runs N] [--against REF|none] [--builtin NAME] [--json]``.
It prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.against import AgainstError, git, worktree

TARGET = 0.3
"""Seconds ``--version`` and ``--help`` may take (issue 23)."""


def agentrange() -> list[str]:
    """The command that starts the command line: the console script beside this Python."""
    script = Path(sys.executable).with_name("agentrange")
    if script.exists():
        return [str(script)]
    found = shutil.which("agentrange")
    return [found] if found else [sys.executable, "-m", "tui.cli"]


def commands(builtin: str) -> dict[str, list[str]]:
    """The timed command lines by label."""
    return {"--version": ["--version"], "--help": ["--help"],
            f"validate {builtin}": ["validate", builtin]}


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root)  # the tree's own packages, ahead of the installed ones
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # start-up is measured with bytecode cached
    return env


def wall_time(root: Path, argv: Sequence[str]) -> float:
    """Seconds one fresh process takes to run ``agentrange ARGV`` in ``root``.

    Raises:
        AgainstError: when it exits with an error.
    """
    start = time.perf_counter()
    done = subprocess.run([*agentrange(), *argv], cwd=root, env=_env(root),
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise AgainstError(f"{root}: agentrange {' '.join(argv)} exited {done.returncode}: "
                           f"{done.stderr.strip()[-500:]}")
    return elapsed


def measure(sides: dict[str, Path], cmds: dict[str, list[str]], runs: int
            ) -> dict[str, dict[str, list[float]]]:
    """Times by side and command label; sides alternate run by run."""
    times: dict[str, dict[str, list[float]]] = {s: {c: [] for c in cmds} for s in sides}
    labels = list(sides)
    for root in sides.values():
        for argv in cmds.values():
            wall_time(root, argv)  # warm-up: bytecode compiled and cached, files in page cache
    for i in range(runs):
        for side in labels if i % 2 == 0 else labels[::-1]:
            for label, argv in cmds.items():
                times[side][label].append(wall_time(sides[side], argv))
    return times


def report(times: dict[str, dict[str, list[float]]], runs: int, header: Sequence[str]) -> None:
    """Print the medians, the ranges and (with two sides) how many times quicker this tree is."""
    sides = list(times)
    cmds = list(times[sides[0]])
    width = max(len(c) for c in cmds) + len("agentrange ") + 2
    for line in header:
        print(line)
    print(f"  median wall time of {runs} fresh processes per command (after a warm-up run)")
    print(f"{'command':<{width}}" + "".join(f"{s:>14}" for s in sides)
          + (f"{'speed-up':>10}" if len(sides) == 2 else "") + "   range " + " | ".join(sides))
    for cmd in cmds:
        medians = [statistics.median(times[s][cmd]) for s in sides]
        ranges = " | ".join(f"{min(times[s][cmd]):.3f}-{max(times[s][cmd]):.3f}" for s in sides)
        ratio = f"{medians[1] / medians[0]:>9.2f}x" if len(sides) == 2 else ""
        print(f"{'agentrange ' + cmd:<{width}}" + "".join(f"{m:>12.3f} s" for m in medians)
              + ratio + "   " + ranges)
    quick = [c for c in ("--version", "--help") if statistics.median(times[sides[0]][c]) < TARGET]
    print(f"target: --version and --help under {TARGET} s (median, this tree): "
          + ("met" if len(quick) == 2 else "not met"))
    if len(sides) == 2:
        print("speed-up = ref / this tree (above 1: this tree starts quicker)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="timed runs per command and side "
                        "(default 11)")
    parser.add_argument("--against", default="HEAD~1", metavar="REF",
                        help="the commit to compare with (default HEAD~1; 'none' for this "
                        "tree alone)")
    parser.add_argument("--builtin", default="support-pii-injection",
                        help="the built-in scenario to validate (default support-pii-injection)")
    parser.add_argument("--json", action="store_true",
                        help="also print the medians as one JSON object (last line)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    here = Path(git(Path(__file__).resolve().parent, "rev-parse", "--show-toplevel"))
    dirty = " + uncommitted changes" if git(here, "status", "--porcelain") else ""
    header = [f"agentrange start-up, {os.cpu_count()} cores, load average "
              f"{os.getloadavg()[0]:.1f} at the start",
              f"  this tree: {here} ({git(here, 'log', '-1', '--format=%h')}{dirty})"]
    cmds = commands(args.builtin)
    try:
        with ExitStack() as stack:
            sides = {"this tree": here}
            if args.against.lower() != "none":
                try:
                    commit = git(here, "rev-parse", "--verify", "--quiet",
                                 f"{args.against}^{{commit}}")
                except AgainstError:
                    raise AgainstError(f"{args.against}: not a commit") from None
                short, subject = git(here, "log", "-1", "--format=%h%n%s", commit).split("\n", 1)
                sides[short] = stack.enter_context(worktree(here, commit))
                header.append(f"  against: {short} {subject}")
            times = measure(sides, cmds, args.runs)
    except AgainstError as exc:
        print(f"startup: {exc}", file=sys.stderr)
        return 1
    header.append(f"  load average at the end {os.getloadavg()[0]:.1f}")
    report(times, args.runs, header)
    if args.json:
        print(json.dumps({"figures": {f"{c} s": statistics.median(times['this tree'][c])
                                      for c in cmds}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``agentrange audit show`` on a large log: render time and peak memory, against another commit.

The log is a real run: the support-pii-injection scenario with its ticket arrivals multiplied
(``--scale``, default 40: about 87,000 records, 125 MB) written by ``agentrange run
--audit-log``; it is made once and kept at ``--log``. Then ``agentrange audit show LOG`` (as a
table, and with ``--format json``) runs in this tree and in REF's (a temporary ``git worktree``,
as :mod:`benchmarks.against` makes them), alternately, each run a fresh process writing to
/dev/null with ``COLUMNS`` set; the figures are each side's median wall time (process start
included), its peak resident memory and the ratio. Before issue 15 the table took minutes and
over a gigabyte, so REF's table runs get a long ``--timeout``.

Run: ``python benchmarks/audit_show.py [--ref main] [--rounds 1] [--log PATH] [--scale 40]
[--formats table,json] [--no-ref] [--json]``. It prints figures; it is not a test.
``--json`` prints this tree's rates (records/s) on its last line, for ``against.py``.
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
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

try:
    from benchmarks.against import AgainstError, git, worktree
except ModuleNotFoundError:  # run as a script: benchmarks/ itself is on sys.path
    from against import AgainstError, git, worktree  # type: ignore[no-redef,import-not-found]

HERE = Path(__file__).resolve().parent.parent
SCENARIO = "support-pii-injection"
ARRIVAL = re.compile(r"arrival: \{kind: poisson, rate: (\d+), per: 1h\}")


class ShowBenchError(Exception):
    """A log that cannot be made or a run that fails."""


@dataclass
class Timing:
    """One tree's runs of one format: wall seconds and peak resident MB per run."""

    seconds: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)


def make_log(path: Path, scale: int) -> int:
    """Write the big log at ``path`` (unless it is there) and return its record count."""
    if not path.exists():
        source = HERE / "scenarios" / SCENARIO
        with tempfile.TemporaryDirectory(prefix="audit-show-") as tmp:
            folder = Path(tmp) / SCENARIO
            shutil.copytree(source, folder)
            text = (folder / "scenario.yaml").read_text()
            rates = ARRIVAL.findall(text)
            if not rates:
                raise ShowBenchError(f"{source}/scenario.yaml: no poisson arrival to scale")
            busiest = max(rates, key=int)
            text = text.replace(f"rate: {busiest}, per: 1h", f"rate: {int(busiest) * scale}, "
                                "per: 1h", 1)
            (folder / "scenario.yaml").write_text(text)
            print(f"making {path}: {SCENARIO} with {int(busiest) * scale} tickets/h ...",
                  file=sys.stderr, flush=True)
            done = subprocess.run([sys.executable, "-m", "tui.cli", "run", str(folder),
                                   "--audit-log", str(path), "--format", "json"],
                                  cwd=HERE, capture_output=True, text=True)
            if done.returncode != 0:
                raise ShowBenchError(f"run failed: {done.stderr.strip()[-500:]}")
    with path.open("rb") as log:
        return sum(not line.startswith(b'{"checkpoint":') for line in log) - 1  # the header


def show_once(root: Path, log: Path, fmt: str, timeout: float) -> tuple[float, float]:
    """Run ``audit show`` once in ``root``'s tree: wall seconds and peak resident MB."""
    env = dict(os.environ, PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1", COLUMNS="120")
    cmd = [sys.executable, "-m", "tui.cli", "audit", "show", str(log), "--format", fmt]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - start > timeout:
            proc.kill()
            os.wait4(proc.pid, 0)
            raise ShowBenchError(f"{root}: audit show --format {fmt} took over {timeout:.0f} s")
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise ShowBenchError(f"{root}: audit show exited {proc.returncode}: {err[-500:]}")
    return seconds, usage.ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--ref", default="main", help="the commit to compare with")
    parser.add_argument("--no-ref", action="store_true", help="time this tree only")
    parser.add_argument("--rounds", type=int, default=1, help="runs per tree and format")
    parser.add_argument("--log", type=Path,
                        default=Path(tempfile.gettempdir()) / "agentrange-audit-show.jsonl",
                        help="the big log (made when missing)")
    parser.add_argument("--scale", type=int, default=40,
                        help="how many times the scenario's ticket rate (default 40)")
    parser.add_argument("--formats", default="table,json", help="table, json or both")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="seconds one run may take (default 1800)")
    parser.add_argument("--json", action="store_true", help="this tree's rates as JSON")
    args = parser.parse_args(argv)
    formats = [f for f in args.formats.split(",") if f]
    try:
        records = make_log(args.log.resolve(), args.scale)
        size = args.log.stat().st_size / 2**20
        label = ""
        tree: AbstractContextManager[Path | None] = nullcontext(None)
        if not args.no_ref:
            commit = git(HERE, "rev-parse", "--verify", "--quiet", f"{args.ref}^{{commit}}")
            label = git(HERE, "log", "-1", "--format=%h", commit)
            tree = worktree(HERE, commit)
        sides: dict[str, dict[str, Timing]] = {}
        with tree as ref_root:
            roots = [("this tree", HERE)] + ([(label, ref_root)] if ref_root else [])
            for name, _ in roots:
                sides[name] = {fmt: Timing() for fmt in formats}
            for i in range(args.rounds):
                for name, root in roots if i % 2 == 0 else roots[::-1]:
                    for fmt in formats:
                        print(f"round {i + 1}/{args.rounds}: {name}, --format {fmt} ...",
                              file=sys.stderr, flush=True)
                        seconds, peak = show_once(root, args.log.resolve(), fmt, args.timeout)
                        sides[name][fmt].seconds.append(seconds)
                        sides[name][fmt].peak_mb.append(peak)
    except (ShowBenchError, AgainstError) as exc:
        print(f"audit_show: {exc}", file=sys.stderr)
        return 1
    ours = sides["this tree"]
    if args.json:
        print(json.dumps({"figures": {f"{fmt}_records_per_s": records
                                      / statistics.median(ours[fmt].seconds)
                                      for fmt in formats}}))
        return 0
    print(f"audit show on {args.log} ({records:,} records, {size:.0f} MB), COLUMNS=120, "
          f"{args.rounds} round(s), each a fresh process; machine load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    header = f"{'format':<8}{'tree':<12}{'median s':>10}{'peak MB':>10}{'records/s':>12}"
    print(header + ("   ratio (this / ref time)" if label else ""))
    for fmt in formats:
        for name, timings in sides.items():
            t = timings[fmt]
            median = statistics.median(t.seconds)
            line = (f"{fmt:<8}{name:<12}{median:>10.2f}{max(t.peak_mb):>10.0f}"
                    f"{records / median:>12,.0f}")
            if label and name == "this tree":
                ref = statistics.median(sides[label][fmt].seconds)
                speed = ref / median
                line += (f"   {median / ref:.3f}x ({speed:.1f}x faster)" if speed >= 1
                         else f"   {median / ref:.3f}x ({1 / speed:.2f}x slower)")
            print(line)
    return 0



if __name__ == "__main__":
    sys.exit(main())

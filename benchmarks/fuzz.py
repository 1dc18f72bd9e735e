"""Mutation fuzz of the command line: built-in scenarios with one value changed (issue 23).

Each mutant (see ``benchmarks/fuzz_mutants.py``) goes through ``agentrange validate`` and a
short ``agentrange run --until T --format json``, each in a fresh process under a time limit
and an address-space limit (``RLIMIT_AS``). A case passes when both commands end in time, with
exit 0 or 2, no traceback, no crash, peak RSS under 500 MB, and, on exit 2, a plain error
(``agentrange: error: ...``, no line over 1,000 characters; a refused ``validate`` names the
file and line). ``run`` must refuse what ``validate`` refused (unless only another profile's
policy changed), and print its JSON result otherwise.

``tests/test_fuzz.py`` runs the issue's reproducers and a few seeded cases in the suite; this
script runs many: ``python benchmarks/fuzz.py --cases N --seed S [--known] [--jobs J]
[--keep DIR]``, and prints a summary of outcomes, by operator, and every failing case with how
to rebuild it. It exits 1 when a case failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.fuzz_mutants import Mutant, known_mutant, known_mutants, random_mutant

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 20.0
"""Seconds each command may take before it counts as a hang."""
MEMORY_MB = 1024
"""Address space each command may map (RLIMIT_AS), in MiB."""
MAX_RSS_MB = 500
"""Resident memory a command may reach (issue 23: never above 500 MB)."""
MAX_LINE = 1000
"""Characters an error line may have (a long value in an error is cut)."""
LOCATED = re.compile(r"\.yaml:\d+")
"""How a load error names its place: ``FILE.yaml:LINE``."""
AGENTRANGE = (sys.executable, "-m", "tui.cli")
"""The command line, run from this checkout."""


@dataclass(frozen=True)
class Result:
    """How one command ended.

    Attributes:
        command: ``validate`` or ``run``.
        returncode: The exit code, negative for a signal; None when killed at the time limit.
        seconds: Wall time.
        peak_rss_mb: The process's peak resident memory.
        stdout: What it printed.
        stderr: What it printed on stderr.
    """

    command: str
    returncode: int | None
    seconds: float
    peak_rss_mb: float
    stdout: str
    stderr: str

    def first_error_line(self) -> str:
        """The first line on stderr, cut for a report."""
        return _cut(next(iter(self.stderr.splitlines()), ""))

    def last_error_line(self) -> str:
        """The last non-blank line on stderr (where a crash says what happened), cut."""
        return _cut(next((ln for ln in reversed(self.stderr.splitlines()) if ln.strip()), ""))


def _cut(line: str) -> str:
    return line if len(line) <= 200 else line[:200] + f"...({len(line)} chars)"


def run_limited(argv: Sequence[str], *, timeout: float = TIMEOUT, memory_mb: int = MEMORY_MB,
                program: Sequence[str] = AGENTRANGE) -> Result:
    """Run ``agentrange ARGV`` in a fresh process under a time and an address-space limit.

    Args:
        argv: The command line after the program; its first word names the result.
        timeout: Wall seconds before the process (and its process group) is killed.
        memory_mb: Its address-space limit (``RLIMIT_AS``), set in the child before it starts.
        program: What to run ARGV with (another program only to test this harness).
    """
    memory = memory_mb * 1024 * 1024

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    cmd = [*program, *argv]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                preexec_fn=limit, start_new_session=True)
        timed_out = False
        peak_kb = 0
        while proc.poll() is None:
            peak_kb = max(peak_kb, _high_water_kb(proc.pid))
            if time.perf_counter() - start > timeout:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                break
            time.sleep(0.02)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        return Result(argv[0], None if timed_out else proc.returncode, seconds, peak_kb / 1024,
                      out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"))


def _high_water_kb(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in KiB; 0 once it has ended.

    Read from /proc while it runs rather than from wait4's ru_maxrss, which counts the
    parent's resident memory at fork time (a large test process would inflate every child).
    The last 20 ms before the process ends can be missed.
    """
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def problems(result: Result, timeout: float = TIMEOUT) -> list[str]:
    """What is wrong with how one command ended (nothing when it ended well)."""
    name, rc, err = result.command, result.returncode, result.stderr
    found: list[str] = []
    if rc is None:
        found.append(f"{name}: hang (killed after {timeout:g} s, peak RSS "
                     f"{result.peak_rss_mb:.0f} MB)")
    elif rc < 0:
        found.append(f"{name}: killed by {signal.Signals(-rc).name} (peak RSS "
                     f"{result.peak_rss_mb:.0f} MB)")
    elif rc not in (0, 2):
        found.append(f"{name}: exit {rc}: {result.first_error_line()}")
    if "Traceback" in err:
        found.append(f"{name}: traceback: {result.last_error_line()}")
    elif "MemoryError" in err:
        found.append(f"{name}: MemoryError: {result.first_error_line()}")
    if result.peak_rss_mb > MAX_RSS_MB:
        found.append(f"{name}: peak RSS {result.peak_rss_mb:.0f} MB, over {MAX_RSS_MB} MB")
    long = max((len(line) for line in err.splitlines()), default=0)
    if long > MAX_LINE:
        found.append(f"{name}: an error line of {long} characters")
    if rc == 2 and not err.startswith("agentrange: error: "):
        found.append(f"{name}: exit 2 without a plain error: {result.first_error_line()!r}")
    if rc == 2 and name == "validate" and not LOCATED.search(result.first_error_line()):
        found.append(f"{name}: the error names no file and line: {result.first_error_line()!r}")
    if rc == 0 and name == "run" and not _json_object(result.stdout):
        found.append("run: exit 0 without its JSON result on stdout")
    return found


def _json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


@dataclass
class Outcome:
    """A mutant, how ``validate`` and ``run`` ended with it, and what was wrong."""

    mutant: Mutant
    validate: Result
    run: Result
    problems: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """``ok``, ``refused by validate``, ``refused by run`` or ``FAIL: <first problem>``."""
        if self.problems:
            kind = self.problems[0].split(":", 2)[:2]
            return "FAIL " + ":".join(kind).split(" (")[0]
        if self.validate.returncode == 2:
            return "refused by validate"
        return "refused by run" if self.run.returncode == 2 else "ok"

    def explain(self) -> str:
        """Several lines: the case, its change, how each command ended, the problems."""
        m = self.mutant
        lines = [f"{m.name}: {m.builtin} [{m.operator}] {m.change}",
                 f"  run with --until {m.until}" + (f" --profile {m.profile}" if m.profile else "")]
        for r in (self.validate, self.run):
            lines.append(f"  {r.command}: exit {r.returncode} in {r.seconds:.1f} s, peak "
                         f"{r.peak_rss_mb:.0f} MB; stderr: {r.first_error_line()!r}")
            if r.last_error_line() != r.first_error_line():
                lines.append(f"    ... {r.last_error_line()!r}")
        lines += [f"  problem: {p}" for p in self.problems]
        return "\n".join(lines)


def check(mutant: Mutant, workdir: Path, *, timeout: float = TIMEOUT,
          memory_mb: int = MEMORY_MB) -> Outcome:
    """Write the mutant under ``workdir``, validate it and run it briefly; judge both."""
    path = str(mutant.write(workdir / "scenario"))
    validate = run_limited(["validate", path], timeout=timeout, memory_mb=memory_mb)
    run_argv = ["run", path, "--until", mutant.until, "--format", "json"]
    if mutant.profile:
        run_argv += ["--profile", mutant.profile]
    run = run_limited(run_argv, timeout=timeout, memory_mb=memory_mb)
    found = problems(validate, timeout) + problems(run, timeout)
    if validate.returncode == 2 and run.returncode == 0 and mutant.changes_what_runs():
        found.append("run: exit 0 on a scenario validate refused")
    return Outcome(mutant, validate, run, found)


# --- the script -----------------------------------------------------------------------------------


def _summary(outcomes: Sequence[Outcome], header: str) -> list[str]:
    lines = [header, "", f"{'outcome':<58}{'cases':>6}"]
    for verdict, n in sorted(Counter(o.verdict for o in outcomes).items(),
                             key=lambda item: (item[0].startswith("FAIL"), -item[1])):
        lines.append(f"{verdict[:57]:<58}{n:>6}")
    lines += ["", f"{'operator':<24}{'cases':>6}{'ok':>6}{'refused':>9}{'failed':>8}"]
    by_operator: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_operator.setdefault(o.mutant.operator, []).append(o)
    for operator, cases in sorted(by_operator.items()):
        failed = sum(1 for o in cases if o.problems)
        ok = sum(1 for o in cases if o.verdict == "ok")
        lines.append(f"{operator:<24}{len(cases):>6}{ok:>6}{len(cases) - ok - failed:>9}"
                     f"{failed:>8}")
    for command in ("validate", "run"):
        results = [getattr(o, command) for o in outcomes]
        times = [r.seconds for r in results]
        peak = max(r.peak_rss_mb for r in results)
        lines.append(f"{command}: median {statistics.median(times):.2f} s, slowest "
                     f"{max(times):.1f} s, peak RSS max {peak:.0f} MB")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=50, help="seeded random cases (default 50)")
    parser.add_argument("--seed", type=int, default=1, help="the fuzz's seed (default 1)")
    parser.add_argument("--known", action="store_true",
                        help="also run issue 23's reproducers (the suite's known corpus)")
    parser.add_argument("--jobs", type=int, default=2, help="cases at once (default 2)")
    parser.add_argument("--timeout", type=float, default=TIMEOUT,
                        help=f"seconds a command may take before it counts as a hang "
                        f"(default {TIMEOUT:g})")
    parser.add_argument("--memory-mb", type=int, default=MEMORY_MB,
                        help=f"address-space limit per command, MiB (default {MEMORY_MB})")
    parser.add_argument("--keep", metavar="DIR", type=Path,
                        help="keep each failing case's scenario directory under DIR")
    args = parser.parse_args(argv)
    if args.cases < 0 or args.jobs < 1:
        parser.error("--cases must be at least 0 and --jobs at least 1")
    makers: list[Callable[[], Mutant]] = [
        *([lambda n=n: known_mutant(n) for n in known_mutants()] if args.known else []),
        *[lambda i=i: random_mutant(args.seed, i) for i in range(args.cases)]]
    if not makers:
        parser.error("nothing to run: give --cases N or --known")

    def one(make: Callable[[], Mutant]) -> Outcome:
        mutant = make()
        with tempfile.TemporaryDirectory(prefix="agentrange-fuzz-") as tmp:
            outcome = check(mutant, Path(tmp), timeout=args.timeout, memory_mb=args.memory_mb)
            if outcome.problems and args.keep:
                mutant.write(args.keep / mutant.name.replace(" ", "-").replace("#", ""))
        print(f"{outcome.verdict:<40} {mutant.name}: {mutant.operator}", file=sys.stderr,
              flush=True)
        return outcome

    start = time.perf_counter()
    with ThreadPoolExecutor(args.jobs) as pool:
        outcomes = list(pool.map(one, makers))
    header = (f"fuzz: {len(outcomes)} cases (seed {args.seed}"
              f"{', with the known reproducers' if args.known else ''}), {args.jobs} at once, "
              f"{time.perf_counter() - start:.0f} s; limits {args.timeout:g} s and "
              f"{args.memory_mb} MiB address space per command; load average "
              f"{os.getloadavg()[0]:.1f}")
    for line in _summary(outcomes, header):
        print(line)
    failing = [o for o in outcomes if o.problems]
    if failing:
        print(f"\nfailing cases ({len(failing)}; rebuild one with "
              "benchmarks.fuzz_mutants.random_mutant(SEED, N) or known_mutant(NAME)):")
        for o in failing:
            print(o.explain())
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())

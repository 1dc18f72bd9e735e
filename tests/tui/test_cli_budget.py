"""``run``, ``compare`` and ``sweep`` under a budget: one line, exit 2, a sealed audit log.

The reproducers of issue 23 (built-ins with one value changed) run in a child process each,
which must end within 10 seconds and stay under 500 MB: validation refuses them at load
(engine.bounds_check), and whatever it lets through the budget stops (on the branch that built
the budget, before validation knew them, every one of them was stopped by it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from scenarios import library
from tui.cli import main

ROOT = Path(__file__).resolve().parents[2]


def mutant(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """A copy of a built-in scenario's directory with one piece of text changed."""
    target = tmp_path / f"{name}-mutant"
    shutil.copytree(library.path_of(name), target)
    doc = target / "scenario.yaml"
    text = doc.read_text()
    assert text.count(old) == 1, old
    doc.write_text(text.replace(old, new))
    return target


# Runs the command as its own child and prints that child's peak RSS (KiB) on stdout. A child
# forked straight from the pytest worker would report the worker's size at fork time as its
# peak (Linux keeps ru_maxrss across exec), so the command is forked from this small process.
_MEASURE = """
import os, resource, subprocess, sys
try:
    code = subprocess.call(sys.argv[2:], stdout=subprocess.DEVNULL, timeout=float(sys.argv[1]))
except subprocess.TimeoutExpired:
    code = -9
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.stdout.flush()
if code < 0:
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


def child(args: list[str], *, limit: float = 60.0) -> tuple[int, str, float, float]:
    """Run ``agentrange ARGS`` in a child process: exit code, stderr, wall seconds, peak MB.

    The command is killed after ``limit`` seconds, so a hang fails the test rather than the
    suite.
    """
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", _MEASURE, str(limit), sys.executable, "-m",
                           "tui.cli", *args], cwd=ROOT, capture_output=True,
                          timeout=limit + 30)
    elapsed = time.monotonic() - started
    peak_kib = int(proc.stdout.split()[-1]) if proc.stdout.split() else 0
    return proc.returncode, proc.stderr.decode(), elapsed, peak_kib / 1024


REPRODUCERS: dict[str, Callable[[Path], list[str]]] = {
    "arrival-interval-0.0001s": lambda tmp: [str(mutant(
        tmp, "devops-static-keys", "interval: 24h, start: 7h", "interval: 0.0001s, start: 7h")),
        "--until", "12h"],
    "arrival-rate-10**30": lambda tmp: [str(mutant(
        tmp, "support-pii-injection", "rate: 30, per: 1h", f"rate: {10**30}, per: 1h"))],
    # After its start the clock cannot move between arrivals: a loop inside one simpy step.
    "arrival-rate-10**30-from-1h": lambda tmp: [str(mutant(
        tmp, "support-pii-injection", "rate: 30, per: 1h", f"rate: {10**30}, per: 1h, "
        "start: 1h"))],
    "per-1s-typo": lambda tmp: [str(mutant(
        tmp, "support-pii-injection", "rate: 30, per: 1h", "rate: 30, per: 1s"))],
    "delegation-cycle-after-a-0s-step": lambda tmp: [str(mutant(
        tmp, "support-pii-injection",
        "- {tool: kb.search, resource: kb.articles, records: 5, duration: 30s}\n"
        "          - {delegate: support-bot, task: answer-ticket}",
        "- {tool: kb.search, resource: kb.articles, records: 5, duration: 0s}\n"
        "          - {delegate: triage-bot, task: triage}")), "--profile", "static-rbac"],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REPRODUCERS))
def test_a_runaway_scenario_ends_within_10s_under_500mb_with_one_line(
        name: str, tmp_path: Path) -> None:
    args = ["run", *REPRODUCERS[name](tmp_path), "--max-events", "1000", "--max-memory", "400"]
    code, err, elapsed, peak_mb = child(args)
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("agentrange: error: "), err
    assert elapsed < 10, f"took {elapsed:.1f}s"
    assert peak_mb < 500, f"peak {peak_mb:.0f} MB"


def test_a_run_that_grows_past_its_memory_budget_stops_with_one_line(tmp_path: Path) -> None:
    # The busiest arrival validation allows (one ticket a second all day, about 1.6 million
    # events in the estimate), decisions recorded: the run itself grows past 5 MB in seconds.
    scenario = mutant(tmp_path, "support-pii-injection", "rate: 30, per: 1h", "rate: 1, per: 1s")
    code, err, elapsed, peak_mb = child(["run", str(scenario), "--max-memory", "5"])
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("agentrange: error: run stopped at "), err
    # Not at 0s although the interpreter and the loaded scenario already take 50 MB and more.
    assert not lines[0].startswith("agentrange: error: run stopped at 0s "), err
    assert "over its budget of 5 MB of memory (grew by " in lines[0]
    assert "(raise it with --max-memory)" in lines[0]
    assert elapsed < 20, f"took {elapsed:.1f}s"
    assert peak_mb < 500, f"peak {peak_mb:.0f} MB"


def test_run_over_its_event_budget_says_which_and_exits_2(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "support-pii-injection", "--profile", "static-rbac",
                 "--max-events", "300"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("agentrange: error: run stopped at ")
    assert "over its budget of 300 events, driven by agent support-bot, task answer-ticket" \
        in captured.err


def test_the_audit_log_of_a_run_over_budget_is_sealed_and_says_so(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    assert main(["run", "support-pii-injection", "--max-events", "300",
                 "--audit-log", str(log)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"audit log {log} closed as incomplete" in err
    last = json.loads(log.read_bytes().splitlines()[-1])["checkpoint"]
    assert last["final"] and last["seq"] > 300
    reason = last["incomplete"]["reason"]
    assert reason.startswith("over its events budget (300 events), driven by agent ")
    assert last["incomplete"]["at"] > 0


def test_compare_over_budget_names_the_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "support-pii-injection", "--max-events", "300"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("agentrange: error: jit-context: run stopped at ")


def test_a_larger_budget_lets_the_same_run_finish(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "support-pii-injection", "--max-events", "100000",
                 "--max-memory", "4G", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["events"] < 100000


@pytest.mark.parametrize("option", [["--max-events", "0"], ["--max-events", "many"],
                                    ["--max-memory", "-5"], ["--max-memory", "2T"]])
def test_a_bad_budget_is_a_usage_error(option: list[str],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "support-pii-injection", *option])
    assert info.value.code == 2
    assert f"argument {option[0]}: expected" in capsys.readouterr().err


def test_sweep_over_budget_names_the_combination_and_seed(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "support-pii-injection", "--seeds", "1-3", "--jobs", "1",
                 "--vary", "approvers.count=1,2", "--max-events", "600"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("agentrange: error: the run of static-rbac count=1 with seed 1 "
                          "stopped the sweep: run stopped at ")


@pytest.mark.slow
def test_a_sweep_pool_stops_at_the_first_run_over_budget_without_hanging(
        tmp_path: Path) -> None:
    # A hundred times the tickets, within validation's bounds: every run would take a
    # minute or more, and the pool must not wait for the queued ones.
    scenario = mutant(tmp_path, "support-pii-injection", "rate: 30, per: 1h",
                      "rate: 3000, per: 1h")
    code, err, elapsed, _peak = child(["sweep", str(scenario), "--seeds", "1-40", "--jobs",
                                       "2", "--max-events", "3000"])
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1
    assert "with seed " in err and "stopped the sweep" in err
    assert elapsed < 30


def test_a_long_run_reports_its_progress(capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from tui.commands import run

    monkeypatch.setattr(run, "PROGRESS_AFTER", 0.0)
    monkeypatch.setattr(run, "PROGRESS_EVERY", 0.0)
    monkeypatch.setattr(run, "PLAIN_PROGRESS_EVERY", 0.0)
    assert main(["run", "support-pii-injection", "--format", "json"]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("agentrange: running for ")]
    assert lines and "jit-context at " in lines[-1] and " events" in lines[-1]

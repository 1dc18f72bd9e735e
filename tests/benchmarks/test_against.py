"""benchmarks/against.py with the quickest settings, and its report parsers against --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.against import Side, audit_figures, pdp_figures, sim_figures, table, worktree

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
QUICK_SIM = ["benchmarks/sim_throughput.py", "--agents", "10", "--calls", "500", "--repeats", "1",
             "--profiles", "static"]
QUICK_AUDIT = ["benchmarks/audit.py", "--records", "2000", "--repeats", "1"]


def _worktrees() -> list[str]:
    listing = subprocess.run(["git", "-C", str(ROOT), "worktree", "list", "--porcelain"],
                             capture_output=True, text=True, check=True).stdout
    return [line.removeprefix("worktree ") for line in listing.splitlines()
            if line.startswith("worktree ")]


def _json_run(*cmd: str) -> tuple[dict[str, float], str]:
    done = subprocess.run([sys.executable, *cmd, "--json"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])["figures"], done.stderr


def test_against_head_prints_both_sides_and_removes_its_worktree(tmp_path: Path) -> None:
    # Another against.py (a developer's benchmark) may add and remove worktrees of the same
    # repository meanwhile: one is added while this run goes on, and stays. Only the worktree
    # this run made counts, found by the temporary directory it is given.
    ours = tmp_path / "ours"
    ours.mkdir()
    run = subprocess.Popen([sys.executable, "benchmarks/against.py", "HEAD", "--rounds", "1",
                            "--", *QUICK_AUDIT], cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "TMPDIR": str(ours)})
    with worktree(ROOT, "HEAD") as other:
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err
        assert str(other) in _worktrees()  # not ours to remove
    row = next(line for line in out.splitlines() if line.startswith("write "))
    assert row.split()[3].endswith("x")  # this tree, ref, ratio
    assert "load average" in out
    assert not [tree for tree in _worktrees() if tree.startswith(str(ours))]
    assert list(ours.iterdir()) == []


def test_against_an_unknown_ref_fails_cleanly() -> None:
    done = subprocess.run([sys.executable, "benchmarks/against.py", "no-such-ref", "--",
                           *QUICK_SIM], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "no-such-ref: not a commit" in done.stderr


def test_sim_report_parser_reads_the_figures_json_gives() -> None:
    figures, report = _json_run(*QUICK_SIM)
    parsed = sim_figures(report)
    assert parsed.keys() == figures.keys()
    for name, value in figures.items():
        assert parsed[name] == pytest.approx(value, abs=1)


def test_pdp_report_parser_reads_the_figures_json_gives() -> None:
    figures, report = _json_run("benchmarks/pdp_vs_peers.py", "--quick", "--repeats", "1",
                                "--cedar-repeats", "1")
    parsed = pdp_figures(report)
    assert parsed.keys() == figures.keys()
    for name, value in figures.items():
        assert parsed[name] == pytest.approx(value, abs=1)


def test_audit_report_parser_reads_the_figures_json_gives() -> None:
    figures, report = _json_run(*QUICK_AUDIT)
    parsed = audit_figures(report)
    assert parsed.keys() == figures.keys()
    for name, value in figures.items():
        assert parsed[name] == pytest.approx(value, abs=1)


def test_audit_report_parser_reads_the_report_before_json() -> None:
    # As benchmarks/audit.py printed it before it had --json (what REF=main prints).
    report = """\
  write       39,811 records/s   target 100,000  (0.40x target; 81,413 records per CPU-second)
  verify      65,805 records/s   target 200,000  (0.33x target; 145,777 records per CPU-second)
  plain json.dumps + write      24,517 records/s   (audit write costs 0.62x)
  canonical_bytes alone        122,125 records/s   (audit write costs 3.07x)
"""
    figures = audit_figures(report)
    assert {k: round(v) for k, v in figures.items()} == {
        "write": 39811, "verify": 65805, "write_per_cpu_s": 81413, "verify_per_cpu_s": 145777,
        "canonical_bytes": 122125, "write_floor_ratio_x1000": 326,
        "verify_floor_ratio_x1000": 539}


def test_same_benchmark_refuses_a_benchmark_that_does_not_follow_the_product_tree() -> None:
    # audit.py takes --json but imports this tree's product whatever the variable says: a
    # --same-benchmark comparison would then measure this tree twice, so it must fail.
    done = subprocess.run([sys.executable, "benchmarks/against.py", "HEAD", "--rounds", "1",
                           "--same-benchmark", "--", *QUICK_AUDIT], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stdout
    assert "does not follow AGENTRANGE_PRODUCT_TREE" in done.stderr


def test_pdp_benchmark_measures_the_engine_of_the_product_tree_it_is_given() -> None:
    # What --same-benchmark relies on: this tree's benchmark, another tree's engine.
    with worktree(ROOT, "HEAD") as other:
        done = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks/pdp_vs_peers.py"), "--quick", "--repeats",
             "1", "--cedar-repeats", "1", "--json"], cwd=other, capture_output=True, text=True,
            timeout=600, env={**os.environ, "AGENTRANGE_PRODUCT_TREE": str(other),
                              "PYTHONPATH": str(other)})
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout.strip().splitlines()[-1])
        assert Path(report["product_tree"]).resolve() == other.resolve()
        assert report["agreement"] and report["figures"]["agentrange"] > 0


def test_table_sets_the_collector_shares_side_by_side_when_both_sides_give_them() -> None:
    this, ref = Side("this tree", ROOT), Side("abc1234", ROOT)
    this.runs = [{"agentrange": 120.0}, {"agentrange": 100.0}]
    ref.runs = [{"agentrange": 50.0}, {"agentrange": 60.0}]
    this.shares = [{"fresh": 0.08, "steady": 0.05}, {"fresh": 0.10, "steady": 0.07}]
    ref.shares = [{"fresh": 0.30}, {"fresh": 0.20}]
    lines = table(this, ref)
    assert lines[1].split()[:4] == ["agentrange", "110", "55", "2.00x"]
    row = next(line for line in lines if line.startswith("gc_share.fresh"))
    assert row.split()[1:3] == ["9.0%", "25.0%"]
    assert not any(line.startswith("gc_share.steady") for line in lines)  # not in both
    ref.shares = []
    assert not any("gc_share" in line for line in table(this, ref))

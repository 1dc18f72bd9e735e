"""No scenario can hang the command line or exhaust the machine: a mutation fuzz (issue 23).

Each case is a built-in scenario with one value changed (``benchmarks/fuzz_mutants.py``), put
through ``agentrange validate`` and a short ``agentrange run`` in fresh processes under 20 s and
1 GiB of address space each (``benchmarks/fuzz.py``). Both must end with exit 0 or 2, no
traceback, no crash, under 500 MB RSS and, on exit 2, with a plain error; ``run`` must refuse
what ``validate`` refused. The corpus: issue 23's reproducers by name, then a seeded, bounded
number of random mutants. ``python benchmarks/fuzz.py --cases N --seed S`` runs many more.

Each case is its own test so pytest-xdist spreads them over the workers; they are ``slow``
(two interpreter start-ups each).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from benchmarks.fuzz import Outcome, Result, check, problems, run_limited
from benchmarks.fuzz_mutants import (
    SCENARIO,
    documents,
    dump,
    known_mutant,
    known_mutants,
    random_mutant,
)

SEED = 23
RANDOM_CASES = 8
"""Bounded for the suite's time (about 2 s a case on an idle core): the script runs more."""


def _assert_ends_cleanly(outcome: Outcome) -> None:
    assert outcome.problems == [], outcome.explain()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(known_mutants()))
def test_issue_23_reproducer_ends_cleanly(name: str, tmp_path: Path) -> None:
    _assert_ends_cleanly(check(known_mutant(name), tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("case", range(RANDOM_CASES))
def test_seeded_mutant_ends_cleanly(case: int, tmp_path: Path) -> None:
    _assert_ends_cleanly(check(random_mutant(SEED, case), tmp_path))


# --- the harness itself ----------------------------------------------------------------------


def test_a_command_over_its_time_limit_is_a_hang() -> None:
    result = run_limited(["run", "support-pii-injection", "--format", "json"], timeout=0.3)
    assert result.returncode is None
    assert [p.split(" (")[0] for p in problems(result, 0.3)] == ["run: hang"]


def test_the_address_space_limit_stops_a_greedy_process() -> None:
    greedy = [sys.executable, "-c", "x = bytearray(2 << 30)"]
    result = run_limited(["run"], memory_mb=256, program=greedy)
    assert result.returncode == 1
    assert "MemoryError" in result.stderr
    assert result.peak_rss_mb < 256
    assert any(p.startswith("run: traceback") for p in problems(result))


def test_peak_rss_is_the_childs_own_not_the_parents() -> None:
    # wait4's ru_maxrss would report at least this process's 300 MB for every child.
    ballast = bytearray(300 << 20)
    child = [sys.executable, "-c", "x = bytearray(100 << 20); import time; time.sleep(0.5)"]
    result = run_limited(["run"], program=child)
    assert len(ballast) and result.returncode == 0
    assert 100 <= result.peak_rss_mb < 250


@pytest.mark.parametrize(("result", "expected"), [
    (Result("run", 0, 1.0, 80, '{"metrics": {}}', ""), []),
    (Result("validate", 2, 1.0, 80, "", "agentrange: error: s/scenario.yaml:3:1: at x: bad\n"),
     []),
    (Result("run", 1, 1.0, 80, "", "Traceback (most recent call last):\nKeyError: 'x'\n"),
     ["run: exit 1", "run: traceback"]),
    (Result("run", -11, 1.0, 80, "", ""), ["run: killed by SIGSEGV"]),
    (Result("run", 2, 1.0, 600, "", "agentrange: error: over budget\n"), ["run: peak RSS 600 MB"]),
    (Result("run", 2, 1.0, 80, "", "agentrange: error: " + "A" * 2000 + "\n"),
     ["run: an error line of 2019 characters"]),
    (Result("run", 2, 1.0, 80, "", "something went wrong\n"), ["run: exit 2 without"]),
    (Result("validate", 2, 1.0, 80, "", "agentrange: error: bad\n"), ["validate: the error"]),
    (Result("validate", 2, 1.0, 80, "", "agentrange: error: s/scenario.yaml: nested too deep\n"),
     ["validate: the error names no file and line"]),
    (Result("run", 0, 1.0, 80, "", ""), ["run: exit 0 without its JSON result"]),
    (Result("run", 1, 1.0, 80, "", "Fatal Python error: MemoryError\n"),
     ["run: exit 1", "run: MemoryError"]),
])
def test_the_oracle_names_what_went_wrong(result: Result, expected: list[str]) -> None:
    found = problems(result)
    assert len(found) == len(expected), found
    for problem, start in zip(found, expected, strict=True):
        assert problem.startswith(start), found


def test_a_seeded_case_is_the_same_every_time() -> None:
    first, again = random_mutant(SEED, 3), random_mutant(SEED, 3)
    assert (first.builtin, first.change, first.profile) == (again.builtin, again.change,
                                                            again.profile)
    assert {f: dump(d) for f, d in first.documents.items()} == {
        f: dump(d) for f, d in again.documents.items()}


@pytest.mark.parametrize("name", sorted(set(known_mutants()) - {"issue23-large-file-9.8MB"}))
def test_each_reproducer_changes_its_scenario(name: str) -> None:
    mutant = known_mutant(name)
    assert mutant.change and mutant.documents
    assert mutant.documents[SCENARIO] != documents(mutant.builtin)[SCENARIO]

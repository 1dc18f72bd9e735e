"""The PDP benchmark's quick mode: agentrange, Cedar and PyCasbin agree with the reference."""

from __future__ import annotations

import dataclasses

import pytest

pytest.importorskip("cedarpy", reason="the benchmark's peers are in the 'bench' extra")
pytest.importorskip("casbin", reason="the benchmark's peers are in the 'bench' extra")

from benchmarks.pdp.benchmark import run
from benchmarks.pdp.cedar import cedar_outcome, cedar_setup, run_cedar
from benchmarks.pdp.reference import ALLOW, DENY, NO_MATCH, check_agreement, reference_outcome
from benchmarks.pdp.report import Report
from benchmarks.pdp.workload import QUICK, make_workload

_REPORTS: dict[int, tuple[Report, list[str]]] = {}


def _quick(seed: int) -> tuple[Report, list[str]]:
    # One quick run per seed serves every test that reads it (each run takes ~2 s).
    if seed not in _REPORTS:
        lines: list[str] = []
        _REPORTS[seed] = (run(QUICK, seed, time_it=False, out=lines.append), lines)
    return _REPORTS[seed]


@pytest.mark.parametrize("seed", [7, 2024])
def test_quick_mode_three_engines_agree_with_reference_on_every_request(seed: int) -> None:
    report, lines = _quick(seed)
    assert report.agreement.ok, "\n".join(report.agreement.examples)
    assert report.agreement.checked == QUICK.requests
    assert report.sequence_agreement.ok, "\n".join(report.sequence_agreement.examples)
    assert any(line.startswith("agreement: agentrange, cedarpy and PyCasbin agree")
               for line in lines)


def test_quick_workload_exercises_allow_deny_no_match_and_sequences() -> None:
    report, _ = _quick(7)
    counts = report.agreement.counts
    total = sum(counts.values())
    for outcome in (ALLOW, DENY, NO_MATCH):
        assert counts[outcome] > total // 20, counts
    assert report.extra["sequence_denials"] > 0
    assert "not matched" in report.extra["explanation"]


def test_workload_is_deterministic_per_seed() -> None:
    a = make_workload(QUICK, 3)
    b = make_workload(QUICK, 3)
    c = make_workload(QUICK, 4)
    assert (a.rules, a.calls, a.session_last) == (b.rules, b.calls, b.session_last)
    assert a.calls != c.calls


def test_agreement_check_reports_a_single_flipped_decision() -> None:
    w = make_workload(QUICK, 7)
    reference = [reference_outcome(w, c) for c in w.calls[:200]]
    allowed = [o == ALLOW for o, _ in reference]
    allowed[17] = not allowed[17]
    result = check_agreement(w, reference, {"casbin": allowed})
    assert result.mismatched == {17}
    assert result.examples[0].startswith("call 17 ")


def test_cedar_encoding_disagrees_when_a_forbid_rule_is_dropped() -> None:
    w = make_workload(QUICK, 7)
    reference = [reference_outcome(w, c) for c in w.calls]
    # The deny rule that decides the most calls: removing it from Cedar alone must show.
    deciding = [r for o, rules in reference if o == DENY for r in rules]
    victim = max(set(deciding), key=deciding.count)
    weakened = dataclasses.replace(w, rules=tuple(
        dataclasses.replace(r, effect="allow", records_lte=-1) if r.id == victim else r
        for r in w.rules))
    results = run_cedar(cedar_setup(weakened))
    outcomes = [cedar_outcome(w, r) for r in results]
    assert not check_agreement(w, reference, {"cedar": outcomes}).ok

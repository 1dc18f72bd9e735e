"""The built-in scenario end to end: its expectations, a golden summary, and the comparison.

Golden file: ``tests/sim/golden/support-pii-injection.json`` holds, per profile, the summary
metrics and the decision counts per tool and effect of a run with the scenario's seed and
shipped policies. After an intended change (a policy, the scenario, the simulator's rules),
regenerate it with ``AGENTRANGE_REGEN_GOLDEN=1 pytest tests/sim/test_builtin.py`` and review
the diff like code.
"""

from __future__ import annotations

import difflib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from engine.loader import load_scenario
from sim.compare import compare
from sim.expectations import check
from sim.metrics import RunResult
from sim.runner import Simulation

NAME = "support-pii-injection"
GOLDEN = Path(__file__).parent / "golden" / f"{NAME}.json"
REGEN = os.environ.get("AGENTRANGE_REGEN_GOLDEN") == "1"
SUMMARY = ("decisions", "outcomes", "out_of_scope", "blast_radius", "time_to_detect",
           "time_to_contain", "delivery", "approvals", "alerts", "tokens")


def summary(result: RunResult) -> dict[str, Any]:
    data = result.to_dict()
    out: dict[str, Any] = {key: data[key] for key in SUMMARY}
    counts = Counter(f"{tool} {effect}" for effect, tool, _rule in result.decisions.values())
    out["decisions_by_tool"] = dict(sorted(counts.items()))
    out["incidents"] = [{k: i[k] for k in ("id", "how", "time_to_detect", "time_to_contain",
                                           "exposure_window")} for i in data["incidents"]]
    return out


def test_the_scenario_run_matches_its_golden_summary() -> None:
    scenario = load_scenario(NAME)
    actual = {p.id: summary(Simulation(scenario, p.id).run()) for p in scenario.profiles}
    text = json.dumps(actual, indent=2, sort_keys=True) + "\n"
    if REGEN or not GOLDEN.exists():
        GOLDEN.write_text(text)
        if not REGEN:
            pytest.fail(f"wrote the missing golden file {GOLDEN}; review and commit it")
        return
    expected = GOLDEN.read_text()
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(keepends=True),
                                            text.splitlines(keepends=True),
                                            "golden", "this run", n=2))
        pytest.fail("the run differs from the golden summary (regenerate with "
                    f"AGENTRANGE_REGEN_GOLDEN=1 if intended):\n{diff}")


def test_the_shipped_policies_meet_the_scenarios_expectations() -> None:
    scenario = load_scenario(NAME)
    results = {p.id: Simulation(scenario, p.id).run() for p in scenario.profiles}
    verdicts = check(scenario, results)
    assert len(verdicts) == len(scenario.expect)
    failed = [v for v in verdicts if not v.passed]
    assert not failed, "\n".join(f"[{v.profile}] expected {v.what}; got {v.actual}"
                                 for v in failed)
    static, jit = results["static-rbac"], results["jit-context"]
    assert static.decision_of("support-bot", "answer-ticket", 3, "ticket-injection") == (
        "allow", "email.send_external", "support-agent-role")
    assert jit.metric("blast_radius.records") < static.metric("blast_radius.records")
    assert jit.metric("time_to_contain") < static.metric("time_to_contain")
    assert jit.metric("out_of_scope.stopped") == jit.metric("out_of_scope.attempts") == 1


def test_compare_lines_up_the_injected_requests_across_profiles() -> None:
    scenario = load_scenario(NAME)
    comparison = compare(scenario, until=3 * 3600.0)
    assert comparison.profiles == ("static-rbac", "jit-context")
    keys = {d.key for d in comparison.diff}
    for result in comparison.results:
        assert result.metric("time") == 3 * 3600.0
    assert comparison.total >= comparison.common >= comparison.changed
    assert f"% of decisions changed ({comparison.changed}/{comparison.common})" in \
        comparison.summary
    assert all(len(d.effects) == 2 and len(set(d.effects)) == 2 for d in comparison.diff)
    assert all(k in comparison.results[0].decisions or k in comparison.results[1].decisions
               for k in keys)

"""The support scenario in depth: the decisions behind its expectations, and the comparison.

Every built-in scenario's golden summary and expectations are in tests/scenarios.
"""

from __future__ import annotations

from scenarios.library import load_scenario
from sim.compare import compare
from sim.expectations import check
from sim.runner import Simulation

NAME = "support-pii-injection"


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

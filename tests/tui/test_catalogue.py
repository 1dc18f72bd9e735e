"""The screens' rule catalogue: the compiled policy's facts by id, or why there are none."""

from __future__ import annotations

from pathlib import Path

from scenarios.library import load_scenario
from tui.screens.catalogue import RuleCatalogue


def test_the_catalogue_holds_each_rule_s_facts_by_id() -> None:
    scenario = load_scenario("support-pii-injection")
    catalogue = RuleCatalogue.load(scenario, "jit-context")
    assert catalogue.problem is None and catalogue.rules
    for rule_id, info in catalogue.rules.items():
        assert catalogue.get(rule_id) is info and info.id == rule_id
    assert catalogue.get(None) is None and catalogue.get("no-such-rule") is None


def test_a_bad_policy_file_leaves_a_problem_instead_of_rules(scenario_dir: Path) -> None:
    scenario = load_scenario(scenario_dir)
    profile = scenario.profiles[0]
    (scenario_dir / profile.policy).write_text("policy: p\nrules: [{id: r}]\n")
    catalogue = RuleCatalogue.load(scenario, profile.id)
    assert catalogue.rules == {} and catalogue.problem is not None
    assert profile.policy in catalogue.problem
